/**
 * RFC 3156 PGP/MIME: the encrypted message's outer shell, and the MIME
 * entity inside it that the recipient's mail client shows once decrypted.
 */
import MimeNode from "nodemailer/lib/mime-node/index.js";
import qp from "nodemailer/lib/qp/index.js";

/** The plain-text MIME entity that is encrypted (headers, blank line, body). */
export function textEntity(text: string): string {
  return [
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
    "",
    qp.wrap(qp.encode(text.replace(/\r?\n/g, "\r\n")), 76),
  ].join("\r\n");
}

/**
 * A whole message: `headers` (From, To, Subject, Message-ID …) on a
 * multipart/encrypted body of two parts, the version part and the armored
 * OpenPGP message.
 */
export function pgpMimeMessage(
  headers: Record<string, string>,
  armored: string,
): Promise<Buffer> {
  const root = new MimeNode(
    'multipart/encrypted; protocol="application/pgp-encrypted"',
  );
  root.setHeader(headers);
  root
    .createChild("application/pgp-encrypted")
    .setHeader({
      "Content-Description": "PGP/MIME version identification",
      "Content-Transfer-Encoding": "7bit",
    })
    .setContent("Version: 1\r\n");
  root
    .createChild('application/octet-stream; name="encrypted.asc"')
    .setHeader({
      "Content-Description": "OpenPGP encrypted message",
      "Content-Disposition": 'inline; filename="encrypted.asc"',
      "Content-Transfer-Encoding": "7bit",
    })
    .setContent(armored);
  return root.build();
}

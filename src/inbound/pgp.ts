/**
 * OpenPGP mail to the desk: PGP/MIME (RFC 3156 multipart/encrypted) and
 * inline PGP (an armored message in the text) are decrypted with the desk's
 * key (src/mail/desk-key.ts), and the signature inside is verified against
 * the key the sender keeps on their account (found by the From address).
 *
 * The result is a message ingestion parses as if it had arrived in clear:
 * the outer headers (From, Subject, Message-ID, In-Reply-To …) on the
 * decrypted body. What cannot be decrypted is never dropped: the caller
 * holds it, with the reason, for a triager.
 */
import { simpleParser, type ParsedMail } from "mailparser";
import * as openpgp from "openpgp";
import MimeNode from "nodemailer/lib/mime-node/index.js";
import type { Deps } from "../deps.js";
import { deskKey } from "../mail/desk-key.js";
import { validityDate } from "../mail/pgp.js";
import { findPgpKey } from "../users/pgp-key-repository.js";
import { findUserByEmail } from "../users/repository.js";
import { parseMail, type Envelope } from "./parse.js";
import type { InboundMail } from "./types.js";

export type OpenedMail =
  | {
      /** The message to parse: decrypted when `encrypted`, else as received. */
      raw: Buffer;
      encrypted: boolean;
      /** The fingerprint (upper-case hex) of the sender's key whose signature verified. */
      signedBy: string | null;
      /** Why a signature present did not count, for the record; null otherwise. */
      note: string | null;
    }
  | { held: string };

const CLOCK_SKEW_MS = 60 * 60 * 1000;

/**
 * When a signature is checked: a little later than now, for a sender whose
 * clock runs ahead, and never before the sender's key was made (a key made
 * ahead of the desk's clock signs good mail too; see validityDate).
 */
function verifyAt(
  deps: Pick<Deps, "clock">,
  sender: { key: openpgp.Key } | null,
): Date {
  const now = deps.clock.now();
  const from = sender ? validityDate(sender.key, now) : now;
  return new Date(from.getTime() + CLOCK_SKEW_MS);
}

const ARMOR =
  /-----BEGIN PGP MESSAGE-----\r?\n[\s\S]*?\r?\n-----END PGP MESSAGE-----/;

/** Where the header block ends: the index of the body's first byte. */
function headerEnd(raw: Buffer): { headers: string; bodyStart: number } {
  const text = raw.toString("latin1");
  const crlf = text.indexOf("\r\n\r\n");
  const lf = text.indexOf("\n\n");
  if (crlf !== -1 && (lf === -1 || crlf < lf))
    return { headers: text.slice(0, crlf), bodyStart: crlf + 4 };
  if (lf !== -1) return { headers: text.slice(0, lf), bodyStart: lf + 2 };
  return { headers: text, bodyStart: text.length };
}

/**
 * The outer header fields, unfolded into whole fields but kept byte for
 * byte, without those describing the body (the decrypted body brings its
 * own Content-Type).
 */
function outerHeaders(raw: Buffer): string {
  const fields: string[] = [];
  for (const line of headerEnd(raw).headers.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0)
      fields[fields.length - 1] += `\r\n${line}`;
    else if (line !== "") fields.push(line);
  }
  return fields
    .filter((f) => !/^(content-[\w-]+|mime-version)\s*:/i.test(f))
    .map((f) => `${f}\r\n`)
    .join("");
}

function isPgpMime(mail: ParsedMail): boolean {
  const type = mail.headers.get("content-type") as
    { value: string; params: Record<string, string> } | undefined;
  return (
    type?.value.toLowerCase() === "multipart/encrypted" &&
    type.params.protocol?.toLowerCase() === "application/pgp-encrypted"
  );
}

/** The sender's key, if their account has one. */
async function senderKey(
  deps: Pick<Deps, "db">,
  from: string | undefined,
): Promise<{ key: openpgp.Key; fingerprint: string } | null> {
  if (!from) return null;
  const user = await findUserByEmail(deps.db, from);
  if (!user) return null;
  const stored = await findPgpKey(deps.db, user.id);
  if (!stored) return null;
  try {
    const key = await openpgp.readKey({ armoredKey: stored.armored });
    return { key, fingerprint: stored.fingerprint.toUpperCase() };
  } catch {
    return null;
  }
}

function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.replace(/\s+/g, " ").trim().slice(0, 300);
}

interface Decrypted {
  data: Uint8Array;
  signedBy: string | null;
  note: string | null;
}

async function decrypt(
  deps: Pick<Deps, "db" | "config" | "clock">,
  armored: string,
  from: string | undefined,
): Promise<Decrypted | { held: string }> {
  const [desk, sender] = await Promise.all([
    deskKey(deps.config),
    senderKey(deps, from),
  ]);
  // A signature made moments ago by a sender whose clock runs ahead is
  // still good: checked as of a little later than now.
  const now = verifyAt(deps, sender);
  let result;
  try {
    const message = await openpgp.readMessage({ armoredMessage: armored });
    result = await openpgp.decrypt({
      message,
      decryptionKeys: desk.privateKey,
      verificationKeys: sender ? [sender.key] : [],
      expectSigned: false,
      format: "binary",
      date: now,
    });
  } catch (e) {
    return { held: `could not decrypt: ${reason(e)}` };
  }
  const data = result.data as Uint8Array;
  // RFC 3156 section 6.1: signed first, then encrypted (a multipart/signed
  // entity inside); the signature is then the one on that entity.
  const nested = signedParts(Buffer.from(data).toString("latin1"));
  if (nested)
    return {
      data: Buffer.from(nested.signed, "latin1"),
      ...(await verifyDetached(deps, nested, sender)),
    };
  return { data, ...(await signerOf(result.signatures, sender)) };
}

type Signer = { signedBy: string | null; note: string | null };

/** Whose signature verified: the sender's key, or nobody (with why). */
async function signerOf(
  signatures: { verified: Promise<boolean> }[],
  sender: Awaited<ReturnType<typeof senderKey>>,
): Promise<Signer> {
  if (signatures.length === 0) return { signedBy: null, note: null };
  if (!sender)
    return {
      signedBy: null,
      note: "signed, but the sender has no OpenPGP key on their account",
    };
  for (const signature of signatures) {
    try {
      if (await signature.verified)
        return { signedBy: sender.fingerprint, note: null };
    } catch (e) {
      return {
        signedBy: null,
        note: `the signature did not verify: ${reason(e)}`,
      };
    }
  }
  return { signedBy: null, note: "the signature did not verify" };
}

/**
 * RFC 3156 section 5, multipart/signed with an OpenPGP signature: the signed
 * entity exactly as sent (lines ending CRLF, as it was signed) and the
 * armored signature; null when the entity is not that.
 */
function signedParts(
  entity: string,
): { signed: string; signature: string } | null {
  const crlf = entity.replace(/\r?\n/g, "\r\n");
  const end = crlf.indexOf("\r\n\r\n");
  if (end === -1) return null;
  const headers = crlf.slice(0, end).replace(/\r\n[ \t]+/g, " ");
  const type = /^content-type:[ \t]*(.*)$/im.exec(headers)?.[1] ?? "";
  if (
    !/^multipart\/signed\b/i.test(type) ||
    !/protocol="?application\/pgp-signature"?/i.test(type)
  )
    return null;
  const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type);
  if (!boundary) return null;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  const body = `\r\n${crlf.slice(end + 4)}`;
  const first = body.indexOf(`\r\n${delimiter}\r\n`);
  if (first === -1) return null;
  const start = first + delimiter.length + 4;
  const second = body.indexOf(`\r\n${delimiter}`, start);
  if (second === -1) return null;
  const signature =
    /-----BEGIN PGP SIGNATURE-----[\s\S]*?-----END PGP SIGNATURE-----/.exec(
      body.slice(second),
    )?.[0];
  if (!signature) return null;
  return { signed: body.slice(start, second), signature };
}

async function verifyDetached(
  deps: Pick<Deps, "clock">,
  parts: { signed: string; signature: string },
  sender: Awaited<ReturnType<typeof senderKey>>,
): Promise<Signer> {
  if (!sender) return signerOf([{ verified: Promise.resolve(false) }], null);
  try {
    const result = await openpgp.verify({
      message: await openpgp.createMessage({
        binary: Buffer.from(parts.signed, "latin1"),
      }),
      signature: await openpgp.readSignature({
        armoredSignature: parts.signature,
      }),
      verificationKeys: [sender.key],
      date: verifyAt(deps, sender),
    });
    return await signerOf(result.signatures, sender);
  } catch (e) {
    return {
      signedBy: null,
      note: `the signature did not verify: ${reason(e)}`,
    };
  }
}

/** The decrypted text in place of the armored block, as a text/plain body (attachments kept). */
async function inlineBody(mail: ParsedMail, text: string): Promise<Buffer> {
  const holder = new MimeNode("multipart/mixed");
  const body =
    mail.attachments.length === 0
      ? holder.createChild("text/plain; charset=utf-8")
      : holder.createChild("multipart/mixed");
  const textNode =
    mail.attachments.length === 0
      ? body
      : body.createChild("text/plain; charset=utf-8");
  textNode.setContent(text);
  for (const a of mail.attachments)
    body
      .createChild(a.contentType, { filename: a.filename ?? "attachment" })
      .setContent(a.content);
  return body.build();
}

/**
 * The message to parse, decrypted when it was encrypted to the desk, with
 * who signed it; or the reason to hold it.
 */
export async function openPgpMail(
  deps: Pick<Deps, "db" | "config" | "clock">,
  raw: Buffer,
): Promise<OpenedMail> {
  const mail = await simpleParser(raw, { skipHtmlToText: true });
  const from = mail.from?.value[0]?.address?.toLowerCase();
  if (isPgpMime(mail)) {
    const part = mail.attachments.find(
      (a) => a.contentType.toLowerCase() === "application/octet-stream",
    );
    if (!part)
      return {
        held: "could not decrypt: a PGP/MIME message without its encrypted part",
      };
    const opened = await decrypt(deps, part.content.toString("latin1"), from);
    if ("held" in opened) return opened;
    return {
      raw: Buffer.concat([
        Buffer.from(outerHeaders(raw), "latin1"),
        Buffer.from(opened.data),
      ]),
      encrypted: true,
      signedBy: opened.signedBy,
      note: opened.note,
    };
  }
  // Signed, not encrypted: who signed it, and the signed entity to read.
  const signed = signedParts(raw.toString("latin1"));
  if (signed) {
    const sender = await senderKey(deps, from);
    return {
      raw: Buffer.concat([
        Buffer.from(outerHeaders(raw), "latin1"),
        Buffer.from(signed.signed, "latin1"),
      ]),
      encrypted: false,
      ...(await verifyDetached(deps, signed, sender)),
    };
  }
  const armored = mail.text ? ARMOR.exec(mail.text) : null;
  if (armored) {
    const opened = await decrypt(deps, armored[0], from);
    if ("held" in opened) return opened;
    const plain = Buffer.from(opened.data).toString("utf8");
    const text = mail.text!.replace(armored[0], () => plain);
    return {
      raw: Buffer.concat([
        Buffer.from(outerHeaders(raw), "latin1"),
        await inlineBody(mail, text),
      ]),
      encrypted: true,
      signedBy: opened.signedBy,
      note: opened.note,
    };
  }
  return { raw, encrypted: false, signedBy: null, note: null };
}

/**
 * The mail as the handlers read it: when it was encrypted to the desk, its
 * decrypted content under the outer headers, marked encrypted and signed
 * (the raw message, the Message-ID and the DMARC result stay those of the
 * message as received). `held` says why it cannot be read: ingestion holds
 * it with that reason, never drops it.
 */
export async function openInboundMail(
  deps: Pick<Deps, "db" | "config" | "clock">,
  mail: InboundMail,
  envelope: Envelope,
): Promise<{ mail: InboundMail; held: string | null; note: string | null }> {
  let opened: OpenedMail;
  try {
    opened = await openPgpMail(deps, mail.raw);
  } catch (e) {
    opened = { held: `could not decrypt: ${reason(e)}` };
  }
  if ("held" in opened)
    return {
      mail: { ...mail, encrypted: true },
      held: opened.held,
      note: null,
    };
  // Plain mail, or signed with nobody's key we know: read as it came.
  if (!opened.encrypted && opened.signedBy === null)
    return { mail, held: null, note: opened.note };
  const inner = await parseMail(opened.raw, envelope);
  if (!inner.ok && !opened.encrypted)
    return { mail, held: null, note: opened.note };
  if (!inner.ok)
    return {
      mail: { ...mail, encrypted: true },
      held: `could not decrypt: the decrypted message is not readable (${inner.malformed})`,
      note: null,
    };
  return {
    mail: {
      ...inner.mail,
      messageId: mail.messageId,
      raw: mail.raw,
      dmarc: mail.dmarc,
      encrypted: opened.encrypted,
      signedBy: opened.signedBy,
    },
    held: null,
    note: opened.note,
  };
}

import { randomBytes } from "node:crypto";
import MailComposer from "nodemailer/lib/mail-composer/index.js";
import type { InboundMail } from "../../src/inbound/types.js";

/** Builds raw MIME with nodemailer's composer (a real message, not a string template). */
export function compose(
  options: ConstructorParameters<typeof MailComposer>[0],
): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    new MailComposer(options)
      .compile()
      .build((err, raw) => (err ? reject(err) : resolve(raw))),
  );
}

/** An InboundMail as the ingestion path hands it to a handler. */
export function inboundMail(fields: Partial<InboundMail> = {}): InboundMail {
  return {
    messageId: `${randomBytes(8).toString("hex")}@mail.example.test`,
    envelopeFrom: fields.from ?? "someone@example.test",
    recipients: [],
    from: "someone@example.test",
    fromName: null,
    subject: "",
    text: "",
    attachments: [],
    headers: {},
    raw: Buffer.from(""),
    encrypted: false,
    signedBy: null,
    dmarc: "pass",
    ...fields,
  };
}

/**
 * A delivery status notification (RFC 3464) as a remote MTA writes it:
 * multipart/report with a human part, message/delivery-status and the
 * returned headers, sent with an empty envelope sender to `to`.
 */
export async function deliveryReport(options: {
  to: string;
  finalRecipient: string;
  action: "failed" | "delayed" | "delivered";
  status: string;
  diagnostic?: string;
}): Promise<InboundMail> {
  const perRecipient = [
    `Final-Recipient: rfc822; ${options.finalRecipient}`,
    `Action: ${options.action}`,
    `Status: ${options.status}`,
    ...(options.diagnostic
      ? [`Diagnostic-Code: smtp; ${options.diagnostic}`]
      : []),
  ].join("\r\n");
  const built = await compose({
    from: "Mail Delivery System <MAILER-DAEMON@mx.example.test>",
    to: options.to,
    subject: "Undelivered Mail Returned to Sender",
    text: "This is the mail system at host mx.example.test.\n\nI'm sorry to have to inform you that your message could not be delivered.",
    attachments: [
      {
        contentType: "message/delivery-status",
        contentDisposition: "inline",
        content: `Reporting-MTA: dns; mx.example.test\r\nArrival-Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\n${perRecipient}\r\n`,
      },
      {
        contentType: "text/rfc822-headers",
        contentDisposition: "inline",
        content: "Message-ID: <m.abc@localhost>\r\nSubject: Report DD-X\r\n",
      },
    ],
  });
  // The composer writes multipart/mixed; a DSN is multipart/report.
  const raw = Buffer.from(
    built
      .toString("utf8")
      .replace(
        /Content-Type: multipart\/mixed;/,
        "Content-Type: multipart/report; report-type=delivery-status;",
      ),
  );
  const contentType =
    /Content-Type: (multipart\/report;[^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/
      .exec(raw.toString("utf8"))![1]!
      .replace(/\r\n[ \t]+/g, " ");
  return inboundMail({
    envelopeFrom: "",
    recipients: [options.to.toLowerCase()],
    from: "mailer-daemon@mx.example.test",
    fromName: "Mail Delivery System",
    subject: "Undelivered Mail Returned to Sender",
    text: "This is the mail system.",
    headers: { "content-type": contentType, "auto-submitted": "auto-replied" },
    raw,
  });
}

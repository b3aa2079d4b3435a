import type { DNSResolver } from "mailauth";

/** DNS for the DMARC check in tests: the test domains have no records at all. */
export const noDns: DNSResolver = async (domain) => {
  const error = new Error(`queryTxt ENOTFOUND ${domain}`) as Error & {
    code: string;
  };
  error.code = "ENOTFOUND";
  throw error;
};

/**
 * DNS where `domain` publishes a reject policy and nothing else: no SPF, no
 * DKIM key, so mail claiming to be from it fails DMARC.
 */
export function rejectingDmarc(domain: string): DNSResolver {
  return async (name, rrtype) => {
    if (rrtype === "TXT" && name === `_dmarc.${domain}`)
      return [["v=DMARC1; p=reject"]];
    return noDns(name, rrtype);
  };
}

/** A plain message as a mail client would write it. */
export function rawMail(fields: {
  from: string;
  to: string;
  subject?: string;
  messageId?: string;
  headers?: Record<string, string>;
  body?: string;
}): Buffer {
  const lines = [
    `From: ${fields.from}`,
    `To: ${fields.to}`,
    `Subject: ${fields.subject ?? "Re: your report"}`,
    `Message-ID: <${fields.messageId ?? `${Math.random().toString(36).slice(2)}@mail.example.test`}>`,
    `Date: Mon, 02 Mar 2026 09:00:00 +0000`,
    ...Object.entries(fields.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    fields.body ?? "Hello.",
    "",
  ];
  return Buffer.from(lines.join("\r\n"));
}

/** A message composed by nodemailer's MIME composer, as a mail client writes one. */
export async function composeMail(
  options: import("nodemailer/lib/mailer/index.js").Options,
): Promise<Buffer> {
  const { default: MailComposer } =
    await import("nodemailer/lib/mail-composer/index.js");
  return new MailComposer(options).compile().build();
}

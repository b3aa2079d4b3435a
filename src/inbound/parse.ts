import { createHash } from "node:crypto";
import { promises as dnsPromises } from "node:dns";
import { authenticate, type DNSResolver } from "mailauth";
import { simpleParser, type ParsedMail } from "mailparser";
import type { InboundMail } from "./types.js";

export type { DNSResolver };

export interface Envelope {
  /** MAIL FROM; empty for bounces. */
  from: string;
  /** RCPT TO. */
  recipients: string[];
  /** The connecting client, when known (the listener); for the DMARC check. */
  clientIp?: string;
  helo?: string;
}

export type ParseResult =
  { ok: true; mail: InboundMail } | { ok: false; malformed: string };

/** The DNS lookups mailauth makes; tests pass one that answers nothing, or a failing policy. */
export const systemResolver: DNSResolver = async (domain, rrtype) =>
  (await dnsResolver().resolve(domain, rrtype)) as string[][] | string[];

let resolver: InstanceType<typeof dnsPromises.Resolver> | undefined;
/** A resolver that gives up after two seconds: a DNS outage delays mail, never stops it. */
function dnsResolver() {
  resolver ??= new dnsPromises.Resolver({ timeout: 2000, tries: 1 });
  return resolver;
}

const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/**
 * The headers as sent, names lowercased, folded lines unfolded, repeated
 * headers joined with ", "; null when a line is not a header at all.
 */
function headerMap(parsed: ParsedMail): Record<string, string> | null {
  const headers: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    if (!key || !HEADER_NAME.test(key)) return null;
    const colon = line.indexOf(":");
    const value = line
      .slice(colon + 1)
      .replace(/\r?\n[ \t]+/g, " ")
      .trim();
    headers[key] = key in headers ? `${headers[key]}, ${value}` : value;
  }
  return headers;
}

const angle = (id: string) => id.trim().replace(/^<+|>+$/g, "");

/**
 * A message without a Message-ID gets one from its content, so the same
 * message delivered twice is still recognized.
 */
function messageIdOf(parsed: ParsedMail, raw: Buffer): string {
  const id = parsed.messageId ? angle(parsed.messageId) : "";
  if (id && id.length <= 900) return id;
  return `sha256-${createHash("sha256").update(raw).digest("hex")}@no-message-id`;
}

/** Turns a message as received into an InboundMail, or says why it is not one. */
export async function parseMail(
  raw: Buffer,
  envelope: Envelope,
): Promise<ParseResult> {
  if (raw.length === 0) return { ok: false, malformed: "empty message" };
  let parsed: ParsedMail;
  try {
    parsed = await simpleParser(raw, {
      skipImageLinks: true,
      skipTextToHtml: true,
      skipTextLinks: true,
    });
  } catch (error) {
    return {
      ok: false,
      malformed: `unreadable MIME: ${(error as Error).message}`,
    };
  }
  const headers = headerMap(parsed);
  if (!headers || Object.keys(headers).length === 0)
    return { ok: false, malformed: "no header section" };
  const from = parsed.from?.value.find((a) => a.address);
  if (!from?.address || !from.address.includes("@"))
    return { ok: false, malformed: "no From address" };
  const text =
    parsed.text ??
    (typeof parsed.html === "string" ? stripHtml(parsed.html) : "");
  return {
    ok: true,
    mail: {
      messageId: messageIdOf(parsed, raw),
      envelopeFrom: envelope.from.trim().replace(/^<|>$/g, "").toLowerCase(),
      recipients: envelope.recipients.map((r) =>
        r.trim().replace(/^<|>$/g, "").toLowerCase(),
      ),
      from: from.address.toLowerCase(),
      fromName: from.name || null,
      // One line: a folded or encoded subject cannot smuggle headers along.
      subject: (parsed.subject ?? "").replace(/[\r\n\t]+/g, " ").trim(),
      text,
      attachments: parsed.attachments
        .filter((a) => a.contentDisposition !== "inline" || a.filename)
        .map((a) => ({
          filename: a.filename ?? "attachment",
          contentType: a.contentType,
          content: a.content,
        })),
      headers,
      raw,
      encrypted: false,
      signedBy: null,
      dmarc: "none",
    },
  };
}

/** The last resort when mailparser gave HTML only: tags, scripts and styles dropped. */
function stripHtml(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1\s*>/gi, "")
    .replace(/<br\s*\/?>|<\/p>/gi, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

const DMARC_RESULTS = new Set([
  "pass",
  "fail",
  "none",
  "temperror",
  "permerror",
]);

/**
 * The DMARC result for the From domain. A message with no policy (or whose
 * domain has no DNS at all) is "none"; only "fail" holds a reply.
 */
export async function checkDmarc(
  raw: Buffer,
  envelope: Envelope,
  resolver: DNSResolver = systemResolver,
): Promise<InboundMail["dmarc"]> {
  try {
    const loopback =
      !envelope.clientIp ||
      /^(127\.|::1$|::ffff:127\.)/.test(envelope.clientIp);
    const result = await authenticate(raw, {
      sender: envelope.from || undefined,
      // Behind a local MTA the client is the MTA: the Received header it
      // added names the sending server.
      ...(loopback
        ? { trustReceived: true }
        : { ip: envelope.clientIp, helo: envelope.helo }),
      resolver,
      disableArc: true,
      disableBimi: true,
    });
    if (!result.dmarc) return "none";
    const status = result.dmarc.status.result;
    if (status === "temperr") return "temperror";
    return DMARC_RESULTS.has(status)
      ? (status as InboundMail["dmarc"])
      : "none";
  } catch {
    return "temperror";
  }
}

import type { Clock } from "../clock.js";
import { DAY } from "../clock.js";
import type { Config } from "../config.js";
import type { Db } from "../db/index.js";
import { checkVerp, looksLikeVerp } from "../mail/verp.js";
import {
  clearBouncing,
  countHardBounces,
  findOutboxForBounce,
  flagBouncing,
  markOutboxBounced,
} from "./bounce-repository.js";
import type { InboundMail, InboundOutcome } from "./types.js";

/**
 * Delivery reports (RFC 3464 DSNs). Outgoing mail leaves with a VERP envelope
 * sender (src/mail/verp.ts), so the report comes back to an address naming
 * the outbox message; its signature is checked before anything is marked.
 * A failed delivery with a 5.x.x status is a hard bounce; enough of them to
 * one address in a window flags the address on its account, which the
 * account pages and, for an organization's contact, its reports show. A
 * positive report (delivered, relayed) for the address clears the flag, as
 * does an address change.
 */

export interface BounceDeps {
  db: Db;
  config: Config;
  clock: Clock;
}

function contentType(mail: InboundMail): string {
  return (mail.headers["content-type"] ?? "").toLowerCase();
}

/** A delivery status notification, or anything sent to one of our bounce addresses. */
export function isDeliveryReport(
  config: Pick<Config, "mailDomain">,
  mail: InboundMail,
): boolean {
  const type = contentType(mail);
  if (
    /^\s*multipart\/report\b/.test(type) &&
    /report-type\s*=\s*"?(global-)?delivery-status"?/.test(type)
  )
    return true;
  return mail.recipients.some((r) => looksLikeVerp(config, r));
}

export interface DeliveryStatus {
  action: string;
  status: string;
  finalRecipient: string | null;
  diagnostic: string | null;
}

function unfoldFields(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  const unfolded = block.replace(/\r?\n[ \t]+/g, " ");
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^([A-Za-z0-9-]+)\s*:\s*(.*)$/.exec(line);
    if (m && !fields.has(m[1]!.toLowerCase()))
      fields.set(m[1]!.toLowerCase(), m[2]!.trim());
  }
  return fields;
}

function decodeBody(body: string, encoding: string): string {
  if (encoding === "base64")
    return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (encoding === "quoted-printable")
    return body
      .replace(/=\r?\n/g, "")
      .replace(/=([0-9A-Fa-f]{2})/g, (_, h: string) =>
        String.fromCharCode(parseInt(h, 16)),
      );
  return body;
}

/** The message/delivery-status part of a multipart/report, as text. */
function deliveryStatusPart(raw: string): string | null {
  const boundary = /boundary\s*=\s*"?([^";\r\n]+)"?/i.exec(
    raw.slice(0, raw.search(/\r?\n\r?\n/) + 1 || raw.length),
  )?.[1];
  const parts = boundary ? raw.split(`--${boundary}`) : [];
  for (const part of parts) {
    const split = part.search(/\r?\n\r?\n/);
    if (split < 0) continue;
    const headers = unfoldFields(part.slice(0, split).replace(/^\r?\n/, ""));
    const type = (headers.get("content-type") ?? "").toLowerCase();
    if (!/^message\/(global-)?delivery-status\b/.test(type)) continue;
    const encoding = (
      headers.get("content-transfer-encoding") ?? "7bit"
    ).toLowerCase();
    return decodeBody(part.slice(split).replace(/^\r?\n\r?\n/, ""), encoding);
  }
  return null;
}

/**
 * The per-recipient fields of a DSN (RFC 3464 §2.3): one entry per recipient
 * block, after the per-message block.
 */
export function parseDeliveryStatus(raw: Buffer | string): DeliveryStatus[] {
  const text = deliveryStatusPart(
    typeof raw === "string" ? raw : raw.toString("utf8"),
  );
  if (text === null) return [];
  const blocks = text.split(/\r?\n\s*\r?\n/).filter((b) => b.trim());
  const result: DeliveryStatus[] = [];
  for (const block of blocks) {
    const fields = unfoldFields(block);
    const action = fields.get("action")?.toLowerCase();
    if (!action) continue;
    const status = /\b([245])\.\d{1,3}\.\d{1,3}\b/.exec(
      fields.get("status") ?? "",
    )?.[0];
    result.push({
      action,
      status: status ?? (action === "failed" ? "5.0.0" : "4.0.0"),
      finalRecipient:
        fields
          .get("final-recipient")
          ?.replace(/^[^;]*;\s*/, "")
          .toLowerCase() ?? null,
      diagnostic:
        fields
          .get("diagnostic-code")
          ?.replace(/^[^;]*;\s*/, "")
          .slice(0, 300) ?? null,
    });
  }
  return result;
}

/** A short reason for the admin page: "user unknown" out of "550 5.1.1 <x>: user unknown". */
function reasonOf(status: DeliveryStatus): string {
  const diagnostic = (status.diagnostic ?? "")
    .replace(/^\d{3}[ -]/, "")
    .replace(/^[245]\.\d{1,3}\.\d{1,3}\s*/, "")
    // Control characters and markup never reach a page or a log line.
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .trim();
  return (diagnostic || status.action).slice(0, 200);
}

/** Marks the outbox message a delivery report is about, and flags an address that keeps bouncing. */
export async function recordBounce(
  deps: BounceDeps,
  mail: InboundMail,
): Promise<InboundOutcome> {
  const { config, clock } = deps;
  const verp = mail.recipients.find((r) => looksLikeVerp(config, r));
  if (!verp)
    return {
      kind: "ignored",
      reason: "delivery report not sent to a bounce address",
    };
  const check = checkVerp(config, verp);
  if (!check.ok) return { kind: "ignored", reason: check.reason };
  const statuses = parseDeliveryStatus(mail.raw);
  if (statuses.length === 0)
    return {
      kind: "ignored",
      reason: "mail to a bounce address without a delivery status",
    };
  const now = clock.now();
  return deps.db.transaction().execute(async (tx) => {
    const message = await findOutboxForBounce(tx, check.outboxId);
    if (!message)
      return {
        kind: "ignored",
        reason: "delivery report for a message no longer in the outbox",
      } satisfies InboundOutcome;
    // One message has one recipient: the report's worst word counts.
    const failed = statuses.find((s) => s.action === "failed");
    const delayed = statuses.find((s) => s.action === "delayed");
    const delivered = statuses.find((s) =>
      ["delivered", "relayed", "expanded"].includes(s.action),
    );
    if (failed) {
      const hard = failed.status.startsWith("5.");
      await markOutboxBounced(tx, message.id, {
        at: now,
        status: failed.status,
        reason: reasonOf(failed),
      });
      let flagged = false;
      if (hard) {
        const since = new Date(now.getTime() - config.bounceWindowDays * DAY);
        const count = await countHardBounces(tx, message.toAddress, since);
        if (count >= config.bounceLimit) {
          await flagBouncing(tx, message.toAddress, now);
          flagged = true;
        }
      }
      return {
        kind: "posted",
        reportId: message.reportId,
        note:
          `${hard ? "hard" : "soft"} bounce ${failed.status} recorded on outbox message ${message.id}` +
          (flagged ? `; ${message.toAddress} flagged as bouncing` : ""),
      } satisfies InboundOutcome;
    }
    if (delayed) {
      await markOutboxBounced(tx, message.id, {
        at: null,
        status: delayed.status,
        reason: reasonOf(delayed),
      });
      return {
        kind: "posted",
        reportId: message.reportId,
        note: `delivery delayed (${delayed.status}) for outbox message ${message.id}`,
      } satisfies InboundOutcome;
    }
    if (delivered) {
      await clearBouncing(tx, message.toAddress);
      return {
        kind: "posted",
        reportId: message.reportId,
        note: `delivered: outbox message ${message.id}`,
      } satisfies InboundOutcome;
    }
    return {
      kind: "ignored",
      reason: `delivery report with no action we act on (${statuses.map((s) => s.action).join(", ")})`,
    } satisfies InboundOutcome;
  });
}

/**
 * Mail from an address proves its mailbox lives: the reply path may call
 * this to clear a bouncing flag.
 */
export async function mailboxAnswered(deps: BounceDeps, address: string) {
  await clearBouncing(deps.db, address);
}

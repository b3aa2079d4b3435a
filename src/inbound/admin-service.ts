/**
 * The staff "Inbound mail" page: every message the desk received, what
 * became of it, and for a held one the triager's decision (release: post it
 * again; discard), audited. A message is only ever read as text here: the
 * raw message is a download, never rendered as HTML.
 */
import { simpleParser } from "mailparser";
import { z } from "zod";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import { can, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { formatFingerprint } from "../mail/pgp.js";
import { findUserById } from "../users/repository.js";
import {
  claimHeld,
  countInboundByStatus,
  discardHeld,
  listInboundPage,
  type InboundListItem,
} from "./admin-repository.js";
import { repostInbound, type HandlerOutcome } from "./ingest.js";
import { openPgpMail } from "./pgp.js";
import {
  findInboundById,
  findInboundByMessageId,
  recordDecision,
  type InboundMessage,
  type InboundStatus,
} from "./repository.js";
import type { InboundOutcome } from "./types.js";

export const INBOUND_STATUSES = [
  "held",
  "posted",
  "ignored",
  "discarded",
  "received",
] as const satisfies readonly InboundStatus[];

const STATUS_LABELS: Record<InboundStatus, string> = {
  held: "Held",
  posted: "Posted",
  ignored: "Ignored",
  discarded: "Discarded",
  received: "Being received",
};

export const STATUS_OPTIONS = [
  ...INBOUND_STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] })),
  { value: "all", label: "Any status" },
];

export const listQuerySchema = z.object({
  status: z
    .enum([...INBOUND_STATUSES, "all"], { error: "Choose a status." })
    .default("held"),
  before: z
    .string()
    .regex(/^\d{1,15}$/, "Not a valid page.")
    .optional(),
});
export type ListQuery = z.infer<typeof listQuerySchema>;

export const releaseSchema = z.object({
  // A checkbox: present when ticked.
  confirmSender: z.literal("yes").optional(),
});

const PAGE_SIZE = 50;

function staffOnly(actor: Actor | null | undefined): Actor {
  if (!actor || !can(actor, "inbound:manage")) throw new NotFoundError();
  return actor;
}

/** Numeric row IDs only; anything else is a page that does not exist. */
export function parseInboundId(raw: string): number {
  if (!/^[1-9]\d{0,14}$/.test(raw)) throw new NotFoundError();
  return Number(raw);
}

/**
 * Hold reasons a triager may overrule by confirming the sender: the From
 * address did not match the token's user, or the DMARC check failed. The
 * other holds (unknown token, no access any more, undecryptable) are kept
 * whatever the triager says: a release re-runs the same checks.
 */
export function senderHold(reason: string | null): boolean {
  return reason !== null && /\b(from|dmarc)\b/i.test(reason);
}

function listRow(m: InboundListItem) {
  return {
    id: m.id,
    href: `/admin/inbound/${m.id}`,
    received: formatDateTime(m.receivedAt),
    from: m.fromAddress || "(no From address)",
    subject: m.subject || "(no subject)",
    status: STATUS_LABELS[m.status],
    reason: m.reason,
    encrypted: m.encrypted,
    reportHref: m.reportPublicId ? `/reports/${m.reportPublicId}` : null,
    reportId: m.reportPublicId,
  };
}

function pageHref(status: string, before?: number): string {
  const params = new URLSearchParams({ status });
  if (before !== undefined) params.set("before", String(before));
  return `/admin/inbound?${params.toString()}`;
}

export async function inboundOverview(
  deps: Pick<Deps, "db">,
  actor: Actor | null | undefined,
  query: ListQuery,
) {
  staffOnly(actor);
  const [counts, page] = await Promise.all([
    countInboundByStatus(deps.db),
    listInboundPage(deps.db, {
      status: query.status === "all" ? null : query.status,
      beforeId: query.before ? Number(query.before) : null,
      limit: PAGE_SIZE,
    }),
  ]);
  return {
    counts,
    status: query.status,
    statusLabel:
      query.status === "all" ? "Any status" : STATUS_LABELS[query.status],
    messages: page.items.map(listRow),
    nextHref:
      page.nextBeforeId === null
        ? null
        : pageHref(query.status, page.nextBeforeId),
    newestHref: query.before ? pageHref(query.status) : null,
  };
}

/** Header fields as received, unfolded, for reading. */
function headerLines(raw: Buffer): { name: string; value: string }[] {
  const text = raw.toString("latin1");
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const fields: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length > 0)
      fields[fields.length - 1] += ` ${line.trim()}`;
    else if (line !== "") fields.push(line);
  }
  return fields.slice(0, 200).map((f) => {
    const colon = f.indexOf(":");
    return colon === -1
      ? { name: "", value: f.slice(0, 2000) }
      : {
          name: f.slice(0, colon).trim(),
          value: f
            .slice(colon + 1)
            .trim()
            .slice(0, 2000),
        };
  });
}

/** What the message says, as text: decrypted for staff when it was sent encrypted to the desk. */
async function readable(
  deps: Pick<Deps, "db" | "config" | "clock">,
  message: InboundMessage,
) {
  let raw = message.raw;
  let decryption: string | null = null;
  try {
    const opened = await openPgpMail(deps, message.raw);
    if ("held" in opened) decryption = opened.held;
    else if (opened.encrypted) {
      raw = opened.raw;
      decryption = "Decrypted with the desk's key for this page.";
    }
  } catch {
    // Unreadable MIME: the text below is what the parser makes of it.
  }
  try {
    const parsed = await simpleParser(raw);
    return {
      text: parsed.text ?? "",
      attachments: parsed.attachments.map((a) => ({
        name: a.filename ?? "(no name)",
        type: a.contentType,
        size: `${Math.ceil(a.size / 1024)} KB`,
      })),
      decryption,
    };
  } catch (e) {
    return {
      text: `(not readable as MIME: ${(e as Error).message})`,
      attachments: [],
      decryption,
    };
  }
}

/** Where a timeline entry that came by email leads staff: its message here. */
export async function inboundIdByMessageId(
  deps: Pick<Deps, "db">,
  actor: Actor | null | undefined,
  messageId: string,
): Promise<number> {
  staffOnly(actor);
  const message = await findInboundByMessageId(deps.db, messageId);
  if (!message) throw new NotFoundError();
  return message.id;
}

export async function inboundDetail(
  deps: Pick<Deps, "db" | "config" | "clock">,
  actor: Actor | null | undefined,
  id: number,
) {
  staffOnly(actor);
  const message = await findInboundById(deps.db, id);
  if (!message) throw new NotFoundError();
  const [content, decider, report] = await Promise.all([
    readable(deps, message),
    message.decidedBy === null
      ? undefined
      : findUserById(deps.db, message.decidedBy),
    message.reportId === null
      ? undefined
      : deps.db
          .selectFrom("reports")
          .select("public_id")
          .where("id", "=", message.reportId)
          .executeTakeFirst(),
  ]);
  const held = message.status === "held";
  return {
    message: {
      id: message.id,
      messageId: message.messageId,
      received: formatDateTime(message.receivedAt),
      envelopeFrom: message.envelopeFrom || "(empty)",
      recipients: message.recipients.join(", "),
      from: message.fromAddress || "(no From address)",
      subject: message.subject || "(no subject)",
      status: STATUS_LABELS[message.status],
      reason: message.reason,
      dmarc: message.dmarc ?? "not checked",
      encrypted: message.encrypted,
      signedBy: message.signedBy && formatFingerprint(message.signedBy),
      reportHref: report ? `/reports/${report.public_id}` : null,
      reportId: report?.public_id ?? null,
      decided:
        message.decidedAt && decider
          ? `${decider.displayName}, ${formatDateTime(message.decidedAt)}`
          : message.decidedAt
            ? `Automatically, ${formatDateTime(message.decidedAt)}`
            : null,
      rawHref: `/admin/inbound/${message.id}/raw`,
      size: `${Math.ceil(message.raw.length / 1024)} KB`,
    },
    headers: headerLines(message.raw),
    ...content,
    canDecide: held,
    // Offered only where the triager's word can change the outcome.
    askSenderConfirmation: held && senderHold(message.reason),
  };
}

/** The message as received, for download (never shown as a page). */
export async function inboundRaw(
  deps: Pick<Deps, "db">,
  actor: Actor | null | undefined,
  id: number,
): Promise<{ fileName: string; raw: Buffer }> {
  staffOnly(actor);
  const message = await findInboundById(deps.db, id);
  if (!message) throw new NotFoundError();
  return { fileName: `inbound-${message.id}.eml`, raw: message.raw };
}

export async function discardInbound(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor | null | undefined,
  id: number,
  request: AuditRequestContext | null,
): Promise<boolean> {
  const who = staffOnly(actor);
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    const message = await findInboundById(tx, id);
    if (!message) throw new NotFoundError();
    if (!(await discardHeld(tx, id, who.id, now))) return false;
    await recordAudit(tx, {
      action: "inbound.discarded",
      actor: who,
      target: { type: "inbound", id: String(id) },
      details: { messageId: message.messageId, reason: message.reason },
      request,
      at: now,
    });
    return true;
  });
}

/**
 * Releases a held message: posted again through the ingestion path's
 * checks (repostInbound), overruling only a From mismatch or a failed DMARC
 * check, and only when the triager confirms the sender. What it decides is
 * recorded as theirs. Null: the message was not held (any more).
 */
export async function releaseInbound(
  deps: Deps,
  actor: Actor | null | undefined,
  id: number,
  input: { confirmSender: boolean },
  request: AuditRequestContext | null,
): Promise<InboundOutcome | null> {
  const who = staffOnly(actor);
  const message = await findInboundById(deps.db, id);
  if (!message) throw new NotFoundError();
  if (!(await claimHeld(deps.db, id))) return null;
  const trustSender = input.confirmSender && senderHold(message.reason);
  let outcome: HandlerOutcome;
  try {
    outcome = await repostInbound(deps, id, { trustSender });
  } catch (error) {
    deps.logger.error({ err: error, inboundId: id }, "inbound release failed");
    outcome = {
      kind: "held",
      reason: `could not be posted: ${(error as Error).message}`,
    };
  }
  const now = deps.clock.now();
  const reason = outcome.kind === "posted" ? outcome.note : outcome.reason;
  await deps.db.transaction().execute(async (tx) => {
    await recordDecision(tx, id, {
      status: outcome.kind,
      reason,
      reportId: outcome.kind === "ignored" ? undefined : outcome.reportId,
      userId: outcome.userId,
      eventId: outcome.eventId,
      decidedAt: now,
      decidedBy: who.id,
    });
    await recordAudit(tx, {
      action: "inbound.released",
      actor: who,
      target: { type: "inbound", id: String(id) },
      details: {
        messageId: message.messageId,
        heldFor: message.reason,
        trustedSender: trustSender,
        outcome: outcome.kind,
        reason,
      },
      request,
      at: now,
    });
  });
  return outcome.kind === "posted"
    ? { kind: "posted", reportId: outcome.reportId, note: outcome.note }
    : { kind: outcome.kind, reason: outcome.reason };
}

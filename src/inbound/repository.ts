import type { Selectable } from "kysely";
import type { DbOrTx } from "../db/index.js";
import type { InboundMessagesTable } from "../db/schema.js";

/** The SQL of src/inbound: received messages and reply tokens. */

export type InboundStatus =
  "received" | "posted" | "held" | "ignored" | "discarded";

export interface InboundMessage {
  id: number;
  messageId: string;
  receivedAt: Date;
  envelopeFrom: string;
  recipients: string[];
  fromAddress: string;
  subject: string;
  raw: Buffer;
  status: InboundStatus;
  reason: string | null;
  reportId: number | null;
  userId: number | null;
  eventId: number | null;
  encrypted: boolean;
  signedBy: string | null;
  dmarc: string | null;
  decidedAt: Date | null;
  decidedBy: number | null;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toMessage(row: Selectable<InboundMessagesTable>): InboundMessage {
  return {
    id: row.id,
    messageId: row.message_id,
    receivedAt: new Date(row.received_at),
    envelopeFrom: row.envelope_from,
    recipients: JSON.parse(row.recipients) as string[],
    fromAddress: row.from_address,
    subject: row.subject,
    raw: row.raw,
    status: row.status as InboundStatus,
    reason: row.reason,
    reportId: row.report_id,
    userId: row.user_id,
    eventId: row.event_id,
    encrypted: row.encrypted === 1,
    signedBy: row.signed_by,
    dmarc: row.dmarc,
    decidedAt: date(row.decided_at),
    decidedBy: row.decided_by,
  };
}

export interface NewInboundMessage {
  messageId: string;
  receivedAt: Date;
  envelopeFrom: string;
  recipients: string[];
  fromAddress: string;
  subject: string;
  raw: Buffer;
  encrypted: boolean;
  signedBy: string | null;
  dmarc: string | null;
}

/**
 * Stores a message as "received"; undefined when one with this Message-ID is
 * already stored (a redelivery), so the caller posts it at most once.
 */
export async function insertReceived(
  db: DbOrTx,
  message: NewInboundMessage,
): Promise<number | undefined> {
  const row = await db
    .insertInto("inbound_messages")
    .values({
      message_id: message.messageId,
      received_at: message.receivedAt.getTime(),
      envelope_from: message.envelopeFrom,
      recipients: JSON.stringify(message.recipients),
      from_address: message.fromAddress,
      subject: message.subject,
      raw: message.raw,
      status: "received",
      encrypted: message.encrypted ? 1 : 0,
      signed_by: message.signedBy,
      dmarc: message.dmarc,
    })
    .onConflict((c) => c.column("message_id").doNothing())
    .returning("id")
    .executeTakeFirst();
  return row?.id;
}

export interface InboundDecision {
  status: Exclude<InboundStatus, "received">;
  reason: string | null;
  reportId?: number | null;
  userId?: number | null;
  eventId?: number | null;
  decidedAt: Date;
  /** The staff member who released or discarded it; null for ingestion. */
  decidedBy?: number | null;
}

/** Records what became of a stored message. */
export async function recordDecision(
  db: DbOrTx,
  id: number,
  decision: InboundDecision,
): Promise<void> {
  await db
    .updateTable("inbound_messages")
    .set({
      status: decision.status,
      reason: decision.reason,
      ...(decision.reportId !== undefined
        ? { report_id: decision.reportId }
        : {}),
      ...(decision.userId !== undefined ? { user_id: decision.userId } : {}),
      ...(decision.eventId !== undefined ? { event_id: decision.eventId } : {}),
      decided_at: decision.decidedAt.getTime(),
      decided_by: decision.decidedBy ?? null,
    })
    .where("id", "=", id)
    .execute();
}

export async function findInboundById(
  db: DbOrTx,
  id: number,
): Promise<InboundMessage | undefined> {
  const row = await db
    .selectFrom("inbound_messages")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row && toMessage(row);
}

export async function findInboundByMessageId(
  db: DbOrTx,
  messageId: string,
): Promise<InboundMessage | undefined> {
  const row = await db
    .selectFrom("inbound_messages")
    .selectAll()
    .where("message_id", "=", messageId)
    .executeTakeFirst();
  return row && toMessage(row);
}

/** Newest first, optionally of one status; for the staff page and tests. */
export async function listInbound(
  db: DbOrTx,
  options: { status?: InboundStatus; limit?: number } = {},
): Promise<InboundMessage[]> {
  let query = db.selectFrom("inbound_messages").selectAll();
  if (options.status) query = query.where("status", "=", options.status);
  const rows = await query
    .orderBy("received_at", "desc")
    .orderBy("id", "desc")
    .limit(options.limit ?? 100)
    .execute();
  return rows.map(toMessage);
}

// Reply tokens ---------------------------------------------------------------

export async function insertReplyToken(
  db: DbOrTx,
  token: { tokenHash: string; userId: number; reportId: number; at: Date },
): Promise<void> {
  await db
    .insertInto("reply_tokens")
    .values({
      token_hash: token.tokenHash,
      user_id: token.userId,
      report_id: token.reportId,
      created_at: token.at.getTime(),
    })
    .execute();
}

export async function findReplyToken(
  db: DbOrTx,
  tokenHash: string,
): Promise<{ userId: number; reportId: number } | undefined> {
  const row = await db
    .selectFrom("reply_tokens")
    .select(["user_id", "report_id"])
    .where("token_hash", "=", tokenHash)
    .executeTakeFirst();
  return row && { userId: row.user_id, reportId: row.report_id };
}

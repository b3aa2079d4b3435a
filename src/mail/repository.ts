import type { Selectable } from "kysely";
import { lockedForClaim } from "../db/dialect.js";
import type { DbOrTx } from "../db/index.js";
import type { OutboxTable } from "../db/schema.js";

export type OutboxStatus = "queued" | "sending" | "sent" | "failed";

export interface OutboxMessage {
  id: number;
  messageId: string;
  reportId: number | null;
  toAddress: string;
  template: string;
  subject: string;
  text: string;
  html: string;
  threadId: string | null;
  toUserId: number | null;
  eventId: number | null;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: Date;
  leaseUntil: Date | null;
  lastError: string | null;
  smtpResponse: string | null;
  createdAt: Date;
  sentAt: Date | null;
  /** A delivery report came back (src/inbound/bounces.ts); delayed: status without bouncedAt. */
  bouncedAt: Date | null;
  bounceStatus: string | null;
  bounceReason: string | null;
  replyTo: string | null;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toMessage(row: Selectable<OutboxTable>): OutboxMessage {
  return {
    id: row.id,
    messageId: row.message_id,
    reportId: row.report_id,
    toAddress: row.to_address,
    template: row.template,
    subject: row.subject,
    text: row.text_body,
    html: row.html_body,
    threadId: row.thread_id,
    toUserId: row.to_user_id,
    eventId: row.event_id,
    status: row.status as OutboxStatus,
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    leaseUntil: date(row.lease_until),
    lastError: row.last_error,
    smtpResponse: row.smtp_response,
    createdAt: new Date(row.created_at),
    sentAt: date(row.sent_at),
    bouncedAt: date(row.bounced_at),
    bounceStatus: row.bounce_status,
    bounceReason: row.bounce_reason,
    replyTo: row.reply_to,
  };
}

export interface NewOutboxMessage {
  messageId: string;
  reportId: number | null;
  toUserId: number | null;
  toAddress: string;
  template: string;
  subject: string;
  text: string;
  html: string;
  threadId: string | null;
  eventId: number | null;
  replyTo?: string | null;
  at: Date;
}

/** One message for many recipients, before the worker addresses it to each. */
export interface OutboxFanout {
  reportId: number | null;
  template: string;
  data: Record<string, unknown>;
  userIds: number[];
  threadId: string | null;
  eventId: number | null;
  at: Date;
}

export async function insertFanout(db: DbOrTx, fanout: OutboxFanout) {
  await db
    .insertInto("outbox_fanouts")
    .values({
      report_id: fanout.reportId,
      template: fanout.template,
      data: JSON.stringify(fanout.data),
      user_ids: JSON.stringify(fanout.userIds),
      recipient_count: fanout.userIds.length,
      thread_id: fanout.threadId,
      event_id: fanout.eventId,
      created_at: fanout.at.getTime(),
    })
    .execute();
}

/**
 * Removes the oldest fanout and returns it, in one statement: the caller
 * writes its messages in the same transaction, so a fanout is addressed
 * exactly once even if two workers reach for it.
 */
export async function takeOldestFanout(
  db: DbOrTx,
): Promise<OutboxFanout | undefined> {
  const row = await db
    .deleteFrom("outbox_fanouts")
    .where("id", "=", (eb) =>
      eb.selectFrom("outbox_fanouts").select(eb.fn.min("id").as("id")),
    )
    .returningAll()
    .executeTakeFirst();
  return (
    row && {
      reportId: row.report_id,
      template: row.template,
      data: JSON.parse(row.data) as Record<string, unknown>,
      userIds: JSON.parse(row.user_ids) as number[],
      threadId: row.thread_id,
      eventId: row.event_id,
      at: new Date(row.created_at),
    }
  );
}

/** Fanouts not yet addressed, and how many messages they stand for. */
export async function countFanouts(
  db: DbOrTx,
): Promise<{ fanouts: number; recipients: number }> {
  const row = await db
    .selectFrom("outbox_fanouts")
    .select((eb) => [
      eb.fn.countAll<number>().as("fanouts"),
      eb.fn
        .coalesce(eb.fn.sum<number>("recipient_count"), eb.lit(0))
        .as("recipients"),
    ])
    .executeTakeFirstOrThrow();
  return { fanouts: Number(row.fanouts), recipients: Number(row.recipients) };
}

export async function insertOutboxMessage(db: DbOrTx, m: NewOutboxMessage) {
  await insertOutboxMessages(db, [m]);
}

/** Rows per insert statement (12 parameters each, well under SQLite's limit). */
const INSERT_CHUNK = 100;

/** Several messages, in as few statements as possible. */
export async function insertOutboxMessages(
  db: DbOrTx,
  messages: readonly NewOutboxMessage[],
) {
  for (let i = 0; i < messages.length; i += INSERT_CHUNK) {
    await db
      .insertInto("outbox")
      .values(
        messages.slice(i, i + INSERT_CHUNK).map((m) => ({
          message_id: m.messageId,
          report_id: m.reportId,
          to_user_id: m.toUserId,
          to_address: m.toAddress,
          template: m.template,
          subject: m.subject,
          text_body: m.text,
          html_body: m.html,
          thread_id: m.threadId,
          event_id: m.eventId,
          reply_to: m.replyTo ?? null,
          next_attempt_at: m.at.getTime(),
          created_at: m.at.getTime(),
        })),
      )
      .execute();
  }
}

/**
 * Claims what is due in one statement: queued messages whose time has come,
 * and messages a worker claimed but never finished (its lease ran out, so it
 * died). Claimed rows carry a lease; nobody else takes them until it ends.
 */
export async function claimDueMessages(
  db: DbOrTx,
  now: Date,
  leaseMs: number,
  limit: number,
): Promise<OutboxMessage[]> {
  const at = now.getTime();
  // Two walks of the (status, next_attempt_at) index, each stopping at the
  // limit: ordering one OR of both by id read and sorted every queued row
  // (7 ms a claim behind a backlog of 74,000 messages, growing with it).
  // Several instances (PostgreSQL): each claim skips the rows another is
  // claiming (lockedForClaim), and the conditions are checked again here.
  const rows = await db
    .updateTable("outbox")
    .set({ status: "sending", lease_until: at + leaseMs })
    .where("id", "in", (eb) =>
      eb
        .selectFrom((sub) =>
          lockedForClaim(
            db,
            sub
              .selectFrom("outbox")
              .select("id")
              .where("status", "=", "queued")
              .where("next_attempt_at", "<=", at)
              .orderBy("next_attempt_at")
              .orderBy("id")
              .limit(limit),
          ).as("due"),
        )
        .select("id")
        .unionAll(
          eb
            .selectFrom((sub) =>
              lockedForClaim(
                db,
                sub
                  .selectFrom("outbox")
                  .select("id")
                  .where("status", "=", "sending")
                  .where("lease_until", "<", at)
                  .limit(limit),
              ).as("abandoned"),
            )
            .select("id"),
        ),
    )
    .where((w) =>
      w.or([
        w.and([w("status", "=", "queued"), w("next_attempt_at", "<=", at)]),
        w.and([w("status", "=", "sending"), w("lease_until", "<", at)]),
      ]),
    )
    .returningAll()
    .execute();
  return rows.map(toMessage).sort((a, b) => a.id - b.id);
}

export async function markSent(
  db: DbOrTx,
  id: number,
  at: Date,
  response: string,
) {
  await db
    .updateTable("outbox")
    .set({
      status: "sent",
      sent_at: at.getTime(),
      smtp_response: response.slice(0, 500),
      lease_until: null,
      attempts: (eb) => eb("attempts", "+", 1),
    })
    .where("id", "=", id)
    .execute();
}

/**
 * Gives claimed messages back to the queue, due as they were (an instance
 * stopping hands what it has not started to the others at once, not when
 * the lease ends). Only while the claim is still this one's.
 */
export async function releaseClaims(
  db: DbOrTx,
  ids: number[],
  leaseUntil: number,
) {
  if (ids.length === 0) return;
  await db
    .updateTable("outbox")
    .set({ status: "queued", lease_until: null })
    .where("id", "in", ids)
    .where("status", "=", "sending")
    .where("lease_until", "=", leaseUntil)
    .execute();
}

/** A failed attempt: try again at `retryAt`, or give up (null) and mark it failed. */
export async function markAttemptFailed(
  db: DbOrTx,
  id: number,
  error: string,
  retryAt: Date | null,
) {
  await db
    .updateTable("outbox")
    .set({
      status: retryAt ? "queued" : "failed",
      next_attempt_at: retryAt
        ? retryAt.getTime()
        : (eb) => eb.ref("next_attempt_at"),
      lease_until: null,
      last_error: error.slice(0, 500),
      attempts: (eb) => eb("attempts", "+", 1),
    })
    .where("id", "=", id)
    .execute();
}

export async function findMessageById(db: DbOrTx, messageId: string) {
  const row = await db
    .selectFrom("outbox")
    .selectAll()
    .where("message_id", "=", messageId)
    .executeTakeFirst();
  return row && toMessage(row);
}

/** Puts a failed message back in the queue, due now, with a fresh count of attempts. */
export async function requeueFailed(
  db: DbOrTx,
  messageId: string,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("outbox")
    .set({
      status: "queued",
      attempts: 0,
      next_attempt_at: now.getTime(),
      lease_until: null,
    })
    .where("message_id", "=", messageId)
    .where("status", "=", "failed")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countByStatus(
  db: DbOrTx,
): Promise<Record<OutboxStatus, number>> {
  const rows = await db
    .selectFrom("outbox")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  const counts: Record<OutboxStatus, number> = {
    queued: 0,
    sending: 0,
    sent: 0,
    failed: 0,
  };
  for (const r of rows) counts[r.status as OutboxStatus] = Number(r.n);
  return counts;
}

export async function listMessages(
  db: DbOrTx,
  statuses: readonly OutboxStatus[],
  limit: number,
): Promise<OutboxMessage[]> {
  const rows = await db
    .selectFrom("outbox")
    .selectAll()
    .where("status", "in", statuses as OutboxStatus[])
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map(toMessage);
}

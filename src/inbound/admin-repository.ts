/**
 * The SQL of the staff "Inbound mail" page: a page of received messages
 * (without their bodies), and the decision a triager takes on a held one.
 */
import type { DbOrTx } from "../db/index.js";
import type { InboundStatus } from "./repository.js";

export interface InboundListItem {
  id: number;
  messageId: string;
  receivedAt: Date;
  fromAddress: string;
  subject: string;
  status: InboundStatus;
  reason: string | null;
  encrypted: boolean;
  signedBy: string | null;
  /** The report it was posted to or concerns. */
  reportPublicId: string | null;
}

/** Newest first, `limit` + 1 rows read to know whether there is a next page. */
export async function listInboundPage(
  db: DbOrTx,
  query: {
    status: InboundStatus | null;
    beforeId: number | null;
    limit: number;
  },
): Promise<{ items: InboundListItem[]; nextBeforeId: number | null }> {
  let q = db
    .selectFrom("inbound_messages as m")
    .leftJoin("reports as r", "r.id", "m.report_id")
    .select([
      "m.id",
      "m.message_id",
      "m.received_at",
      "m.from_address",
      "m.subject",
      "m.status",
      "m.reason",
      "m.encrypted",
      "m.signed_by",
      "r.public_id as report_public_id",
    ]);
  if (query.status) q = q.where("m.status", "=", query.status);
  if (query.beforeId !== null) q = q.where("m.id", "<", query.beforeId);
  const rows = await q
    .orderBy("m.id", "desc")
    .limit(query.limit + 1)
    .execute();
  const items = rows.slice(0, query.limit).map((r) => ({
    id: r.id,
    messageId: r.message_id,
    receivedAt: new Date(r.received_at),
    fromAddress: r.from_address,
    subject: r.subject,
    status: r.status as InboundStatus,
    reason: r.reason,
    encrypted: r.encrypted === 1,
    signedBy: r.signed_by,
    reportPublicId: r.report_public_id,
  }));
  return {
    items,
    nextBeforeId:
      rows.length > query.limit ? items[items.length - 1]!.id : null,
  };
}

/** How many messages stand in each status. */
export async function countInboundByStatus(
  db: DbOrTx,
): Promise<Record<InboundStatus, number>> {
  const rows = await db
    .selectFrom("inbound_messages")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  const counts: Record<InboundStatus, number> = {
    received: 0,
    posted: 0,
    held: 0,
    ignored: 0,
    discarded: 0,
  };
  for (const r of rows) counts[r.status as InboundStatus] = Number(r.n);
  return counts;
}

/**
 * Marks a held message discarded by a triager; false when it is not held
 * (any more): someone else decided first, or it never was.
 */
export async function discardHeld(
  db: DbOrTx,
  id: number,
  decidedBy: number,
  at: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("inbound_messages")
    .set({
      status: "discarded",
      decided_at: at.getTime(),
      decided_by: decidedBy,
    })
    .where("id", "=", id)
    .where("status", "=", "held")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Takes a held message for a release: back to "received" while it is
 * posted again, so two triagers releasing it at once post it once. False
 * when it is not held (any more).
 */
export async function claimHeld(db: DbOrTx, id: number): Promise<boolean> {
  const result = await db
    .updateTable("inbound_messages")
    .set({ status: "received" })
    .where("id", "=", id)
    .where("status", "=", "held")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** All SQL for webhooks: endpoints, their delivery queue and its attempts. */
import type { Selectable } from "kysely";
import { lockedForClaim } from "../db/dialect.js";
import type { DbOrTx } from "../db/index.js";
import type {
  WebhookAttemptsTable,
  WebhookDeliveriesTable,
  WebhookEndpointsTable,
} from "../db/schema.js";
import { isWebhookEvent, type WebhookEvent } from "./events.js";

export interface WebhookEndpoint {
  id: number;
  publicId: string;
  ownerId: number;
  orgId: number | null;
  url: string;
  description: string;
  events: WebhookEvent[];
  secret: string;
  enabled: boolean;
  disabledAt: Date | null;
  disabledReason: string | null;
  consecutiveFailures: number;
  createdAt: Date;
  secretRotatedAt: Date | null;
}

export type DeliveryStatus = "queued" | "sending" | "delivered" | "failed";

export interface WebhookDelivery {
  id: number;
  endpointId: number;
  eventId: string;
  eventType: string;
  reportId: number | null;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  leaseUntil: Date | null;
  claim: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

export interface WebhookAttempt {
  id: number;
  deliveryId: number;
  at: Date;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toEndpoint(row: Selectable<WebhookEndpointsTable>): WebhookEndpoint {
  const events = (JSON.parse(row.events) as unknown[]).filter(isWebhookEvent);
  return {
    id: row.id,
    publicId: row.public_id,
    ownerId: row.owner_id,
    orgId: row.org_id,
    url: row.url,
    description: row.description,
    events,
    secret: row.secret,
    enabled: row.enabled === 1,
    disabledAt: date(row.disabled_at),
    disabledReason: row.disabled_reason,
    consecutiveFailures: row.consecutive_failures,
    createdAt: new Date(row.created_at),
    secretRotatedAt: date(row.secret_rotated_at),
  };
}

function toDelivery(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    reportId: row.report_id,
    payload: row.payload,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: new Date(row.next_attempt_at),
    leaseUntil: date(row.lease_until),
    claim: row.claim,
    lastStatus: row.last_status,
    lastError: row.last_error,
    createdAt: new Date(row.created_at),
    deliveredAt: date(row.delivered_at),
  };
}

function toAttempt(row: Selectable<WebhookAttemptsTable>): WebhookAttempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    at: new Date(row.at),
    statusCode: row.status_code,
    error: row.error,
    durationMs: row.duration_ms,
  };
}

export interface NewEndpoint {
  publicId: string;
  ownerId: number;
  orgId: number | null;
  url: string;
  description: string;
  events: readonly WebhookEvent[];
  secret: string;
  at: Date;
}

export async function insertEndpoint(
  db: DbOrTx,
  e: NewEndpoint,
): Promise<WebhookEndpoint> {
  const row = await db
    .insertInto("webhook_endpoints")
    .values({
      public_id: e.publicId,
      owner_id: e.ownerId,
      org_id: e.orgId,
      url: e.url,
      description: e.description,
      events: JSON.stringify(e.events),
      secret: e.secret,
      created_at: e.at.getTime(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toEndpoint(row);
}

export async function findEndpointByPublicId(
  db: DbOrTx,
  publicId: string,
): Promise<WebhookEndpoint | undefined> {
  const row = await db
    .selectFrom("webhook_endpoints")
    .selectAll()
    .where("public_id", "=", publicId)
    .executeTakeFirst();
  return row && toEndpoint(row);
}

export async function findEndpointById(
  db: DbOrTx,
  id: number,
): Promise<WebhookEndpoint | undefined> {
  const row = await db
    .selectFrom("webhook_endpoints")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  return row && toEndpoint(row);
}

export async function listEndpoints(db: DbOrTx): Promise<WebhookEndpoint[]> {
  const rows = await db
    .selectFrom("webhook_endpoints")
    .selectAll()
    .orderBy("id")
    .execute();
  return rows.map(toEndpoint);
}

/** Enabled endpoints, the ones a change is written for. */
export async function listEnabledEndpoints(
  db: DbOrTx,
): Promise<WebhookEndpoint[]> {
  const rows = await db
    .selectFrom("webhook_endpoints")
    .selectAll()
    .where("enabled", "=", 1)
    .orderBy("id")
    .execute();
  return rows.map(toEndpoint);
}

/** Counts of deliveries by status, per endpoint. */
export async function deliveryCounts(
  db: DbOrTx,
): Promise<Map<number, Record<DeliveryStatus, number>>> {
  const rows = await db
    .selectFrom("webhook_deliveries")
    .select(["endpoint_id", "status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy(["endpoint_id", "status"])
    .execute();
  const counts = new Map<number, Record<DeliveryStatus, number>>();
  for (const r of rows) {
    let c = counts.get(r.endpoint_id);
    if (!c) {
      c = { queued: 0, sending: 0, delivered: 0, failed: 0 };
      counts.set(r.endpoint_id, c);
    }
    c[r.status as DeliveryStatus] = Number(r.n);
  }
  return counts;
}

/** Enabled again: its failures forgotten, what waits due now. */
export async function enableEndpoint(db: DbOrTx, id: number, now: Date) {
  await db
    .updateTable("webhook_endpoints")
    .set({
      enabled: 1,
      disabled_at: null,
      disabled_reason: null,
      consecutive_failures: 0,
    })
    .where("id", "=", id)
    .execute();
  await db
    .updateTable("webhook_deliveries")
    .set({ next_attempt_at: now.getTime() })
    .where("endpoint_id", "=", id)
    .where("status", "=", "queued")
    .execute();
}

/** Disables an endpoint; true when it was enabled (the caller tells its owner). */
export async function disableEndpoint(
  db: DbOrTx,
  id: number,
  now: Date,
  reason: string,
): Promise<boolean> {
  const result = await db
    .updateTable("webhook_endpoints")
    .set({
      enabled: 0,
      disabled_at: now.getTime(),
      disabled_reason: reason.slice(0, 500),
    })
    .where("id", "=", id)
    .where("enabled", "=", 1)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setEndpointSecret(
  db: DbOrTx,
  id: number,
  secret: string,
  now: Date,
) {
  await db
    .updateTable("webhook_endpoints")
    .set({ secret, secret_rotated_at: now.getTime() })
    .where("id", "=", id)
    .execute();
}

export async function deleteEndpoint(db: DbOrTx, id: number) {
  await db.deleteFrom("webhook_endpoints").where("id", "=", id).execute();
}

/** A failed attempt in a row; returns how many there now are. */
export async function countEndpointFailure(
  db: DbOrTx,
  id: number,
): Promise<number> {
  const row = await db
    .updateTable("webhook_endpoints")
    .set({ consecutive_failures: (eb) => eb("consecutive_failures", "+", 1) })
    .where("id", "=", id)
    .returning("consecutive_failures")
    .executeTakeFirst();
  return row?.consecutive_failures ?? 0;
}

export async function resetEndpointFailures(db: DbOrTx, id: number) {
  await db
    .updateTable("webhook_endpoints")
    .set({ consecutive_failures: 0 })
    .where("id", "=", id)
    .where("consecutive_failures", "!=", 0)
    .execute();
}

export interface NewDelivery {
  endpointId: number;
  eventId: string;
  eventType: WebhookEvent;
  reportId: number | null;
  payload: string;
  at: Date;
}

/** Queues deliveries; one per (event, endpoint): a second write is ignored. */
export async function insertDeliveries(
  db: DbOrTx,
  rows: readonly NewDelivery[],
) {
  if (rows.length === 0) return;
  await db
    .insertInto("webhook_deliveries")
    .values(
      rows.map((d) => ({
        endpoint_id: d.endpointId,
        event_id: d.eventId,
        event_type: d.eventType,
        report_id: d.reportId,
        payload: d.payload,
        next_attempt_at: d.at.getTime(),
        created_at: d.at.getTime(),
      })),
    )
    .onConflict((oc) => oc.columns(["event_id", "endpoint_id"]).doNothing())
    .execute();
}

/**
 * Claims what is due, in one statement: queued deliveries whose time has
 * come and claimed ones whose lease ran out (their worker died), of enabled
 * endpoints. Each claimed row gets this claim's token: only its holder may
 * record how it ended.
 */
export async function claimDueDeliveries(
  db: DbOrTx,
  now: Date,
  leaseMs: number,
  limit: number,
  claim: string,
): Promise<WebhookDelivery[]> {
  const at = now.getTime();
  const rows = await db
    .updateTable("webhook_deliveries")
    .set({ status: "sending", lease_until: at + leaseMs, claim })
    .where("id", "in", (eb) =>
      lockedForClaim(
        db,
        eb
          .selectFrom("webhook_deliveries as d")
          .innerJoin("webhook_endpoints as e", "e.id", "d.endpoint_id")
          .select("d.id")
          .where("e.enabled", "=", 1)
          .where((w) =>
            w.or([
              w.and([
                w("d.status", "=", "queued"),
                w("d.next_attempt_at", "<=", at),
              ]),
              w.and([
                w("d.status", "=", "sending"),
                w("d.lease_until", "<", at),
              ]),
            ]),
          )
          .orderBy("d.next_attempt_at")
          .orderBy("d.id")
          .limit(limit),
        "d",
      ),
    )
    // Checked again: another instance may have claimed a row meanwhile.
    .where((w) =>
      w.or([
        w.and([w("status", "=", "queued"), w("next_attempt_at", "<=", at)]),
        w.and([w("status", "=", "sending"), w("lease_until", "<", at)]),
      ]),
    )
    .returningAll()
    .execute();
  return rows.map(toDelivery).sort((a, b) => a.id - b.id);
}

export async function insertAttempt(
  db: DbOrTx,
  a: {
    deliveryId: number;
    at: Date;
    statusCode: number | null;
    error: string | null;
    durationMs: number;
  },
) {
  await db
    .insertInto("webhook_attempts")
    .values({
      delivery_id: a.deliveryId,
      at: a.at.getTime(),
      status_code: a.statusCode,
      error: a.error?.slice(0, 500) ?? null,
      duration_ms: a.durationMs,
    })
    .execute();
}

/** Delivered: true when this claim still held it (it is never sent again). */
export async function markDelivered(
  db: DbOrTx,
  id: number,
  claim: string,
  at: Date,
  status: number,
): Promise<boolean> {
  const result = await db
    .updateTable("webhook_deliveries")
    .set({
      status: "delivered",
      delivered_at: at.getTime(),
      last_status: status,
      last_error: null,
      lease_until: null,
      attempts: (eb) => eb("attempts", "+", 1),
    })
    .where("id", "=", id)
    .where("claim", "=", claim)
    .where("status", "=", "sending")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** A failed attempt: again at `retryAt`, or given up (null). */
export async function markDeliveryFailed(
  db: DbOrTx,
  id: number,
  claim: string,
  failure: { status: number | null; error: string },
  retryAt: Date | null,
): Promise<boolean> {
  const result = await db
    .updateTable("webhook_deliveries")
    .set({
      status: retryAt ? "queued" : "failed",
      next_attempt_at: retryAt
        ? retryAt.getTime()
        : (eb) => eb.ref("next_attempt_at"),
      last_status: failure.status,
      last_error: failure.error.slice(0, 500),
      lease_until: null,
      attempts: (eb) => eb("attempts", "+", 1),
    })
    .where("id", "=", id)
    .where("claim", "=", claim)
    .where("status", "=", "sending")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Extends this claim's lease just before an attempt; false when the claim
 * is no longer ours (its lease ran out and another worker took the row), so
 * two workers never send the same delivery at once.
 */
export async function renewClaim(
  db: DbOrTx,
  id: number,
  claim: string,
  leaseUntil: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("webhook_deliveries")
    .set({ lease_until: leaseUntil.getTime() })
    .where("id", "=", id)
    .where("claim", "=", claim)
    .where("status", "=", "sending")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Back in the queue untried (its endpoint was disabled after the claim). */
export async function releaseDelivery(db: DbOrTx, id: number, claim: string) {
  await db
    .updateTable("webhook_deliveries")
    .set({ status: "queued", lease_until: null })
    .where("id", "=", id)
    .where("claim", "=", claim)
    .where("status", "=", "sending")
    .execute();
}

/** Forgets finished deliveries (and their attempts) created before `before`. */
export async function pruneDeliveries(
  db: DbOrTx,
  before: Date,
): Promise<number> {
  const result = await db
    .deleteFrom("webhook_deliveries")
    .where("status", "in", ["delivered", "failed"])
    .where("created_at", "<", before.getTime())
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** An endpoint's latest deliveries, newest first, with their attempts. */
export async function listDeliveries(
  db: DbOrTx,
  endpointId: number,
  limit: number,
): Promise<(WebhookDelivery & { attemptLog: WebhookAttempt[] })[]> {
  const rows = await db
    .selectFrom("webhook_deliveries")
    .selectAll()
    .where("endpoint_id", "=", endpointId)
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  if (rows.length === 0) return [];
  const attempts = await db
    .selectFrom("webhook_attempts")
    .selectAll()
    .where(
      "delivery_id",
      "in",
      rows.map((r) => r.id),
    )
    .orderBy("id")
    .execute();
  const byDelivery = new Map<number, WebhookAttempt[]>();
  for (const a of attempts) {
    const list = byDelivery.get(a.delivery_id) ?? [];
    list.push(toAttempt(a));
    byDelivery.set(a.delivery_id, list);
  }
  return rows.map((r) => ({
    ...toDelivery(r),
    attemptLog: byDelivery.get(r.id) ?? [],
  }));
}

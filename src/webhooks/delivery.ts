/**
 * The webhook worker: delivers the queue written by recordChange, after
 * commit, like the mail worker delivers the outbox. Each delivery is claimed
 * with a lease (a worker that dies mid-delivery gives it up when the lease
 * ends, and it is tried again), signed as Standard Webhooks do, POSTed
 * through safe-fetch.ts, and retried with backoff for a day. An endpoint
 * whose deliveries keep failing is disabled and its owner mailed.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { recordAudit } from "../audit/service.js";
import { canManageWebhook } from "../auth/policy.js";
import { DAY, type Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { Db, DbOrTx } from "../db/index.js";
import { enqueueMail } from "../mail/outbox.js";
import { findUserById } from "../users/repository.js";
import { toActor } from "../users/service.js";
import {
  claimDueDeliveries,
  countEndpointFailure,
  disableEndpoint,
  findEndpointById,
  insertAttempt,
  markDelivered,
  markDeliveryFailed,
  pruneDeliveries,
  releaseDelivery,
  renewClaim,
  resetEndpointFailures,
  type WebhookDelivery,
  type WebhookEndpoint,
} from "./repository.js";
import { CalloutRefused, safePost, type Resolver } from "./safe-fetch.js";

/** How long a claimed delivery is ours: well past the 10 s timeout. */
export const LEASE_MS = 60_000;
/** Retries stop this long after the event. */
export const RETRY_FOR_MS = DAY;
/** Finished deliveries and their attempts are kept this long for the log. */
export const KEEP_LOG_MS = 30 * DAY;
const BATCH = 10;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 4 * 3_600_000;

/** About 30 s, 1 min, 2 min … capped at four hours: some 15 tries in a day. */
export function retryDelayMs(attempt: number, random = Math.random): number {
  const exp = Math.min(
    BACKOFF_CAP_MS,
    BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(exp * (0.5 + random() * 0.5));
}

/**
 * The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of
 * `id.timestamp.body`, keyed with the secret's base64-decoded bytes.
 */
export function signature(
  secret: string,
  id: string,
  timestampSeconds: number,
  body: string,
): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = createHmac("sha256", key)
    .update(`${id}.${timestampSeconds}.${body}`)
    .digest("base64");
  return `v1,${mac}`;
}

export interface WebhookWorkerDeps {
  db: Db;
  config: Config;
  clock: Clock;
  logger: Logger;
  /** DNS for the deliveries (Deps.webhookResolve; tests give their own). */
  webhookResolve?: Resolver;
  /** Tests shorten it; 10 s otherwise. */
  timeoutMs?: number;
}

export interface WebhookRunResult {
  delivered: number;
  retried: number;
  failed: number;
}

export function createWebhookWorker(deps: WebhookWorkerDeps) {
  const { db, config, clock, logger } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<WebhookRunResult> | undefined;
  let stopping = false;
  let lastPruned = 0;

  async function attempt(
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
  ): Promise<{ status: number | null; error: string | null }> {
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    try {
      const { status } = await safePost(
        endpoint.url,
        delivery.payload,
        {
          "webhook-id": delivery.eventId,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signature(
            endpoint.secret,
            delivery.eventId,
            timestamp,
            delivery.payload,
          ),
        },
        {
          allowLoopback: config.webhooks.allowLoopback,
          resolve: deps.webhookResolve,
          timeoutMs: deps.timeoutMs,
        },
      );
      if (status >= 200 && status < 300) return { status, error: null };
      return {
        status,
        error:
          status >= 300 && status < 400
            ? `HTTP ${status}: a redirect, not followed`
            : `HTTP ${status}`,
      };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return {
        status: null,
        error:
          err instanceof CalloutRefused ? message : `no answer: ${message}`,
      };
    }
  }

  async function deliverOne(
    delivery: WebhookDelivery,
    claim: string,
    result: WebhookRunResult,
  ) {
    const endpoint = await findEndpointById(db, delivery.endpointId);
    // Deleted since (its deliveries went with it), or disabled since the
    // claim: back in the queue, untried, for when it is enabled again.
    if (!endpoint) return;
    if (!endpoint.enabled) return releaseDelivery(db, delivery.id, claim);
    // Ours for another lease, or someone else's since: then not sent here.
    const renewed = await renewClaim(
      db,
      delivery.id,
      claim,
      new Date(clock.now().getTime() + LEASE_MS),
    );
    if (!renewed) return;
    const owner = await findUserById(db, endpoint.ownerId);
    const started = clock.now();
    const t0 = performance.now();
    const outcome =
      // Its owner's rights now: demoted or removed since, nothing more is sent.
      owner && !owner.disabledAt && canManageWebhook(toActor(owner), endpoint)
        ? await attempt(delivery, endpoint)
        : {
            status: null,
            error:
              "not sent: the endpoint's owner may no longer manage webhooks",
          };
    const durationMs = Math.round(performance.now() - t0);
    const now = clock.now();
    await db.transaction().execute(async (tx) => {
      await insertAttempt(tx, {
        deliveryId: delivery.id,
        at: started,
        statusCode: outcome.status,
        error: outcome.error,
        durationMs,
      });
      if (outcome.error === null) {
        await markDelivered(tx, delivery.id, claim, now, outcome.status!);
        await resetEndpointFailures(tx, endpoint.id);
        result.delivered += 1;
        return;
      }
      const attempts = delivery.attempts + 1;
      const retryAt = new Date(now.getTime() + retryDelayMs(attempts));
      const expired =
        retryAt.getTime() > delivery.createdAt.getTime() + RETRY_FOR_MS;
      await markDeliveryFailed(
        tx,
        delivery.id,
        claim,
        { status: outcome.status, error: outcome.error },
        expired ? null : retryAt,
      );
      if (expired) result.failed += 1;
      else result.retried += 1;
      const inARow = await countEndpointFailure(tx, endpoint.id);
      const reason = expired
        ? "a delivery kept failing for a day"
        : inARow >= config.webhooks.maxConsecutiveFailures
          ? `${inARow} delivery attempts in a row failed`
          : null;
      if (reason) await disableAndTell(tx, endpoint, reason, now);
    });
    if (outcome.error)
      logger.warn(
        {
          endpoint: endpoint.publicId,
          eventId: delivery.eventId,
          status: outcome.status,
          error: outcome.error,
        },
        "webhook delivery failed",
      );
  }

  /** Disables the endpoint and mails its owner, once (if it was enabled). */
  async function disableAndTell(
    tx: DbOrTx,
    endpoint: WebhookEndpoint,
    reason: string,
    now: Date,
  ) {
    if (!(await disableEndpoint(tx, endpoint.id, now, reason))) return;
    await recordAudit(tx, {
      action: "webhook.disabled",
      actor: null,
      target: { type: "webhook", id: endpoint.publicId },
      details: { reason, automatic: true },
      at: now,
    });
    const owner = await findUserById(tx, endpoint.ownerId);
    if (!owner || owner.disabledAt) return;
    await enqueueMail(
      tx,
      { config, clock },
      {
        template: "webhook_disabled",
        to: { address: owner.email, userId: owner.id },
        data: {
          displayName: owner.displayName,
          // The host only: a URL's path may carry a token of the receiver's.
          host: new URL(endpoint.url).host,
          reason,
          link: `${config.baseUrl}/admin/webhooks/${endpoint.publicId}`,
        },
      },
    );
  }

  async function deliverDue(): Promise<WebhookRunResult> {
    const result: WebhookRunResult = { delivered: 0, retried: 0, failed: 0 };
    // At most hourly: the log keeps a month of finished deliveries.
    if (clock.now().getTime() - lastPruned >= 3_600_000) {
      lastPruned = clock.now().getTime();
      await pruneDeliveries(db, new Date(lastPruned - KEEP_LOG_MS));
    }
    for (;;) {
      if (stopping) return result;
      const claim = randomBytes(12).toString("base64url");
      const batch = await claimDueDeliveries(
        db,
        clock.now(),
        LEASE_MS,
        BATCH,
        claim,
      );
      if (batch.length === 0) return result;
      // Endpoints side by side, each one's deliveries in order: a receiver
      // that times out holds up only its own.
      const byEndpoint = new Map<number, WebhookDelivery[]>();
      for (const d of batch)
        byEndpoint.set(d.endpointId, [
          ...(byEndpoint.get(d.endpointId) ?? []),
          d,
        ]);
      await Promise.all(
        [...byEndpoint.values()].map(async (deliveries) => {
          for (const delivery of deliveries) {
            // Claimed but not started: the lease hands these to the next run.
            if (stopping) return;
            await deliverOne(delivery, claim, result);
          }
        }),
      );
      if (stopping) return result;
    }
  }

  /** Delivers everything due now; concurrent calls share one run. */
  function runOnce(): Promise<WebhookRunResult> {
    running ??= deliverDue().finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule() {
    if (stopping) return;
    timer = setTimeout(() => {
      runOnce()
        .catch((err) => logger.error({ err }, "webhook worker run failed"))
        .finally(schedule);
    }, config.webhooks.pollMs);
    timer.unref();
  }

  return {
    runOnce,
    start() {
      stopping = false;
      schedule();
    },
    /** Stops polling and resolves once the deliveries in flight (one per endpoint at most) are finished. */
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

export type WebhookWorker = ReturnType<typeof createWebhookWorker>;

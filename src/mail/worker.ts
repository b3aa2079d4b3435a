import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import { isDatabaseUnavailable } from "../db/dialect.js";
import type { Db } from "../db/index.js";
import { addressNextFanout } from "./outbox.js";
import {
  claimDueMessages,
  markAttemptFailed,
  markSent,
  releaseClaims,
} from "./repository.js";
import type { MailTransport } from "./transport.js";
import { sealedVersion } from "./sealed.js";
import { replyAddressing } from "../inbound/reply-tokens.js";
import { intakeReference } from "../inbound/intake-address.js";
import { verpAddress } from "./verp.js";
import type { SettingsStore } from "../settings/service.js";

/** How long a claimed message is ours; a worker that died gives it up when this ends. */
export const LEASE_MS = 2 * 60_000;
const BATCH = 20;
const BACKOFF_BASE_MS = 30_000;
const BACKOFF_CAP_MS = 3_600_000;
/** Between tries to record mail delivery while the database is away. */
const RECORD_RETRY_MS = 500;

/** Exponential backoff with jitter: about 30 s, 1 min, 2 min … capped at an hour. */
export function backoffMs(attempt: number, random = Math.random): number {
  const exp = Math.min(
    BACKOFF_CAP_MS,
    BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1),
  );
  return Math.round(exp * (0.5 + random() * 0.5));
}

export interface MailWorkerDeps {
  db: Db;
  config: Config;
  clock: Clock;
  logger: Logger;
  settings: SettingsStore;
  transport: MailTransport;
}

export interface RunResult {
  sent: number;
  failed: number;
  retried: number;
}

/**
 * Delivers the outbox after commit, and addresses each fanout (one message
 * for many) to its recipients as it goes. One message is in flight at a time, so
 * stopping waits for at most one send; every message keeps the Message-ID it
 * was written with, so a retry is the same mail, never a second one.
 */
export function createMailWorker(deps: MailWorkerDeps) {
  const { db, config, clock, logger, transport } = deps;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<RunResult> | undefined;
  let stopping = false;

  async function deliverDue(): Promise<RunResult> {
    const result: RunResult = { sent: 0, failed: 0, retried: 0 };
    let addressing = true;
    for (;;) {
      if (stopping) return result;
      const claimedAt = clock.now();
      const leaseUntil = claimedAt.getTime() + LEASE_MS;
      const batch = await claimDueMessages(db, claimedAt, LEASE_MS, BATCH);
      if (batch.length < BATCH && addressing) {
        // A notice to many (the triage team's) is addressed once the queue
        // runs short: at the pace mail leaves, not all at once behind a
        // burst of submissions, and after the mail written for one person.
        const addressed = await addressNextFanout(db, { config, clock }).catch(
          (err: unknown) => {
            // It stays stored (its transaction rolled back) and is tried
            // again next run; the rest of the mail still goes out.
            logger.error({ err }, "could not address a notice to many");
            return null;
          },
        );
        // None waiting, or one that fails: no more addressing this run.
        if (addressed === null) addressing = false;
        else if (batch.length === 0) continue;
      }
      if (batch.length === 0) return result;
      for (const [i, message] of batch.entries()) {
        // Claimed but not started: given back, for another instance now.
        if (stopping) {
          await giveBack(batch.slice(i), leaseUntil);
          return result;
        }
        const threaded =
          message.threadId && message.threadId !== message.messageId;
        let response: string;
        let sending = false;
        try {
          // Resolved now, for the recipient as they stand now (sealed.ts).
          const encrypted = await sealedVersion(deps, message);
          const reply =
            message.reportId !== null && message.toUserId !== null
              ? await replyAddressing(
                  db,
                  config,
                  message.toUserId,
                  message.reportId,
                  clock.now(),
                )
              : null;
          const thread = threaded ? message.threadId! : null;
          // A report by email's mail: its intake token as a reference too.
          const intakeRef =
            !reply && message.replyTo ? intakeReference(message.replyTo) : null;
          sending = true;
          response = await transport.send({
            from: config.mailFrom,
            to: message.toAddress,
            subject: message.subject,
            text: message.text,
            html: message.html,
            messageId: message.messageId,
            // Its own envelope sender: a bounce names this message.
            envelopeFrom: verpAddress(config, message.id),
            ...(message.replyTo && { replyTo: message.replyTo }),
            ...(encrypted && { encrypted }),
            ...(threaded && {
              inReplyTo: message.threadId!,
              references: message.threadId!,
            }),
            // The reply address, and its token as a reference too, for
            // servers that drop the +token from the address.
            ...(intakeRef && {
              references: [thread, intakeRef].filter(Boolean).join(" "),
            }),
            ...(reply && {
              replyTo: reply.address,
              inReplyTo: thread ?? reply.reference,
              references: [thread, reply.reference].filter(Boolean).join(" "),
            }),
          });
        } catch (err) {
          if (!sending && isDatabaseUnavailable(err)) {
            // The desk's database failed, not the mail: this message and
            // the rest go back to the queue, no attempt counted.
            await giveBack(batch.slice(i), leaseUntil);
            return result;
          }
          const attempt = message.attempts + 1;
          const error = err instanceof Error ? err.message : String(err);
          const giveUp = attempt >= config.mailMaxAttempts;
          const retryAt = giveUp
            ? null
            : new Date(clock.now().getTime() + backoffMs(attempt));
          await persist(() =>
            markAttemptFailed(db, message.id, error, retryAt),
          );
          if (giveUp) result.failed += 1;
          else result.retried += 1;
          logger.warn(
            { messageId: message.messageId, attempt, error, giveUp },
            "mail delivery failed",
          );
          continue;
        }
        // It has left: it must be recorded, or another instance sends it
        // again when the lease ends.
        await persist(() => markSent(db, message.id, clock.now(), response));
        result.sent += 1;
      }
    }
  }

  /**
   * Writes what happened to claimed mail. While the database is unreachable
   * (PostgreSQL restarting) this tries again until half the lease is gone
   * (real time, not the clock); the claims hold meanwhile.
   */
  async function persist(write: () => Promise<void>) {
    const giveUpAt = Date.now() + LEASE_MS / 2;
    for (;;) {
      try {
        return await write();
      } catch (err) {
        if (!isDatabaseUnavailable(err) || Date.now() >= giveUpAt) throw err;
        logger.warn({ err }, "could not record mail delivery; trying again");
        await new Promise((resolve) => setTimeout(resolve, RECORD_RETRY_MS));
      }
    }
  }

  /** Gives claimed, unstarted mail back to the queue, for any instance now. */
  async function giveBack(messages: { id: number }[], leaseUntil: number) {
    await persist(() =>
      releaseClaims(
        db,
        messages.map((m) => m.id),
        leaseUntil,
      ),
    ).catch((err: unknown) =>
      // Then the lease hands them to the next run, as after a crash.
      logger.warn({ err }, "could not give back claimed mail"),
    );
  }

  /** Sends everything due now; concurrent calls share one run. */
  function runOnce(): Promise<RunResult> {
    running ??= deliverDue().finally(() => {
      running = undefined;
      transport.idle?.();
    });
    return running;
  }

  function schedule() {
    if (stopping) return;
    timer = setTimeout(() => {
      runOnce()
        .catch((err) => logger.error({ err }, "mail worker run failed"))
        .finally(schedule);
    }, config.mailPollMs);
    timer.unref();
  }

  return {
    runOnce,
    start() {
      stopping = false;
      schedule();
    },
    /** Stops polling and resolves once the message in flight is finished. */
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}

export type MailWorker = ReturnType<typeof createMailWorker>;

import { can, type Actor } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { messageIdFor } from "./outbox.js";
import {
  countByStatus,
  countFanouts,
  listMessages,
  requeueFailed,
  type OutboxMessage,
} from "./repository.js";

const LIST_LIMIT = 50;

/** The URL key of a message: its Message-ID's local part (never the row number). */
function keyOf(messageId: string): string {
  return messageId.replace(/^</, "").replace(/@[^@]*>$/, "");
}

function row(m: OutboxMessage) {
  return {
    key: keyOf(m.messageId),
    to: m.toAddress,
    subject: m.subject,
    status: m.status,
    attempts: m.attempts,
    lastError: m.lastError,
    created: formatDateTime(m.createdAt),
    next: m.status === "queued" ? formatDateTime(m.nextAttemptAt) : null,
    sent: m.sentAt ? formatDateTime(m.sentAt) : null,
    // "Bounced: 5.1.1 user unknown", or a delay the remote server reported.
    bounce: m.bounceStatus
      ? `${m.bouncedAt ? "Bounced" : "Delayed"}: ${m.bounceStatus} ${m.bounceReason ?? ""}`.trim()
      : null,
  };
}

export async function outboxOverview(deps: Deps, actor: Actor) {
  if (!can(actor, "outbox:manage")) throw new NotFoundError();
  const [counts, fanouts, failed, waiting, sent] = await Promise.all([
    countByStatus(deps.db),
    countFanouts(deps.db),
    listMessages(deps.db, ["failed"], LIST_LIMIT),
    listMessages(deps.db, ["queued", "sending"], LIST_LIMIT),
    listMessages(deps.db, ["sent"], LIST_LIMIT),
  ]);
  const notices = (n: number) => (n === 1 ? "1 notice" : `${n} notices`);
  const messages = (n: number) => (n === 1 ? "1 message" : `${n} messages`);
  return {
    counts,
    // A team notice is one row until the worker addresses it to each member.
    unaddressed:
      fanouts.fanouts === 0
        ? null
        : `${notices(fanouts.fanouts)} to many people (${messages(fanouts.recipients)}) not yet addressed`,
    failed: failed.map(row),
    waiting: waiting.map(row),
    sent: sent.map(row),
  };
}

export async function retryMessage(
  deps: Deps,
  actor: Actor,
  key: string,
  request: AuditRequestContext | null,
) {
  if (!can(actor, "outbox:manage") || !/^[\w.-]{1,120}$/.test(key))
    throw new NotFoundError();
  const messageId = messageIdFor(deps.config, key);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    if (!(await requeueFailed(tx, messageId, now))) throw new NotFoundError();
    await recordAudit(tx, {
      action: "outbox.retried",
      actor,
      target: { type: "outbox", id: key },
      request,
      at: now,
    });
  });
}

import { createHash } from "node:crypto";
import type { Deps } from "../deps.js";
import { openInboundMail } from "./pgp.js";
import {
  findInboundById,
  findInboundByMessageId,
  insertReceived,
  recordDecision,
} from "./repository.js";
import {
  checkDmarc,
  parseMail,
  type DNSResolver,
  type Envelope,
} from "./parse.js";
import { automaticMailReason } from "./automatic.js";
import { isDeliveryReport, recordBounce } from "./bounces.js";
import { handleIntakeMail } from "./intake.js";
import { handleReply, replyTokenOwner } from "./replies.js";
import { isOurAddress } from "./reply-tokens.js";
import type { InboundMail, InboundOutcome } from "./types.js";

/**
 * The one ingestion path every inbound channel (the SMTP/LMTP listener,
 * `mail:receive`) hands mail to. Order: parse → store (idempotent by
 * Message-ID: a redelivery is recognized and nothing happens twice) →
 * handlers before the automatic-mail filter (delivery reports) → the
 * automatic-mail filter → handlers after it (reports by email) → replies.
 * Every message is stored with its outcome; nothing is ever lost.
 */

export interface IngestDeps extends Deps {
  /** DNS for the DMARC check; tests pass their own. */
  dnsResolver?: DNSResolver;
}

/** What a handler sees besides the mail. */
export interface InboundContext {
  /** The inbound_messages row the mail is stored as. */
  inboundId: number;
  /**
   * Set when a triager releases a held message (the Inbound mail page).
   * `trustSender`: they checked that it really comes from the token's user,
   * so a From-address mismatch and a failed DMARC check no longer hold it;
   * every other check (the token, the user's access) runs as on arrival.
   */
  release?: { trustSender: boolean };
}

/**
 * A handler takes the mail when it is for it (answers an outcome), else
 * answers null and the next one is asked.
 */
export type InboundHandler = (
  deps: IngestDeps,
  mail: InboundMail,
  context: InboundContext,
) => Promise<HandlerOutcome | null>;

/** An outcome, and what it concerns when known (stored with the message). */
export type HandlerOutcome = InboundOutcome & {
  /** The report it concerns; held mail too, when its reply token is known. */
  reportId?: number | null;
  userId?: number | null;
  eventId?: number | null;
  /** The recipient or token is unknown to the desk (`mail:receive` exits 67). */
  unknownRecipient?: boolean;
};

/**
 * ---- HOOKS ---------------------------------------------------------------
 * Handlers asked BEFORE the automatic-mail filter: delivery status
 * notifications (RFC 3464) come from an empty envelope sender and carry
 * Auto-Submitted, so they must be taken before the filter ignores them.
 */
export const beforeAutomaticFilter: InboundHandler[] = [
  async (deps, mail) =>
    isDeliveryReport(deps.config, mail) ? recordBounce(deps, mail) : null,
];
/**
 * Handlers asked AFTER the automatic-mail filter and before replies: mail to
 * the intake address (reports by email).
 */
export const afterAutomaticFilter: InboundHandler[] = [
  (deps, mail) => handleIntakeMail(deps, mail),
];

export interface IngestResult {
  outcome: InboundOutcome;
  /** The Message-ID was already stored: nothing was done again. */
  duplicate: boolean;
  /** The inbound_messages row; null only for a message that could not be stored. */
  inboundId: number | null;
  /** Set when the message is not a readable mail (`mail:receive` exits 65). */
  malformed?: string;
  unknownRecipient?: boolean;
}

/** Receives one message. Throws only when it could not be stored (try again later). */
export async function ingestMail(
  deps: IngestDeps,
  raw: Buffer,
  envelope: Envelope,
): Promise<IngestResult> {
  const parsed = await parseMail(raw, envelope);
  if (!parsed.ok) return storeMalformed(deps, raw, envelope, parsed.malformed);
  parsed.mail.dmarc = await checkDmarc(raw, envelope, deps.dnsResolver);
  // OpenPGP mail to the desk is read decrypted; what cannot be is held.
  const content = contentKey(parsed.mail);
  const opened = await openInboundMail(deps, parsed.mail, envelope);
  return inTurn(deps.db, () => storeAndDecide(deps, raw, content, opened));
}

/**
 * How many messages one instance stores and decides at once; the others
 * wait their turn, in arrival order. Deciding a reply takes connections of
 * the database pool, whose wait for a free one is bounded: on PostgreSQL a
 * burst of 2,000 deliveries at once left 800 replies held ("could not be
 * posted: timeout exceeded when trying to connect") instead of posted.
 * Waiting here has no limit, and an MTA waits for its answer. (SQLite's one
 * connection serializes them anyway.)
 */
const DECIDING_AT_ONCE = 8;

const queues = new WeakMap<
  object,
  { running: number; waiting: (() => void)[] }
>();

/** Runs fn when fewer than DECIDING_AT_ONCE others run on this database. */
async function inTurn<T>(db: object, fn: () => Promise<T>): Promise<T> {
  let queue = queues.get(db);
  if (!queue) queues.set(db, (queue = { running: 0, waiting: [] }));
  const q = queue;
  if (q.running >= DECIDING_AT_ONCE)
    await new Promise<void>((resolve) => q.waiting.push(resolve));
  else q.running += 1;
  try {
    return await fn();
  } finally {
    // The next in line takes this one's place (running stays the same).
    const next = q.waiting.shift();
    if (next) next();
    else q.running -= 1;
  }
}

async function storeAndDecide(
  deps: IngestDeps,
  raw: Buffer,
  content: string,
  opened: Awaited<ReturnType<typeof openInboundMail>>,
): Promise<IngestResult> {
  let mail = opened.mail;
  const store = (messageId: string) =>
    insertReceived(deps.db, {
      messageId,
      receivedAt: deps.clock.now(),
      envelopeFrom: mail.envelopeFrom,
      recipients: mail.recipients,
      fromAddress: mail.from,
      subject: mail.subject,
      raw,
      encrypted: mail.encrypted,
      signedBy: mail.signedBy,
      dmarc: mail.dmarc,
    });
  let inboundId = await store(mail.messageId);
  if (inboundId === undefined) {
    // The Message-ID is taken: a redelivery of the same message is a
    // duplicate, but another message under that ID (a forger who knew a
    // genuine reply's ID in advance) must not get the genuine one dropped.
    const stored = await findInboundByMessageId(deps.db, mail.messageId);
    if (!stored || (await storedContentKey(stored)) === content)
      return duplicateOf(deps, mail.messageId);
    mail = { ...mail, messageId: `${mail.messageId}~${content.slice(0, 24)}` };
    inboundId = await store(mail.messageId);
    if (inboundId === undefined) return duplicateOf(deps, mail.messageId);
  }
  let outcome: HandlerOutcome;
  try {
    outcome = opened.held
      ? { kind: "held", reason: opened.held, ...(await heldFor(deps, mail)) }
      : await decide(deps, mail, { inboundId });
  } catch (error) {
    deps.logger.error({ err: error, inboundId }, "inbound mail not posted");
    outcome = {
      kind: "held",
      reason: `could not be posted: ${(error as Error).message}`,
    };
  }
  await recordDecision(deps.db, inboundId, {
    status: outcome.kind,
    reason: outcome.kind === "posted" ? outcome.note : outcome.reason,
    reportId: outcome.kind === "ignored" ? undefined : outcome.reportId,
    userId: outcome.userId,
    eventId: outcome.eventId,
    decidedAt: deps.clock.now(),
  });
  return {
    outcome: publicOutcome(outcome),
    duplicate: false,
    inboundId,
    ...(outcome.unknownRecipient ? { unknownRecipient: true } : {}),
  };
}

/**
 * What makes two messages under one Message-ID the same message: sender,
 * subject, text and attachments, not the trace headers a second delivery
 * path adds.
 */
function contentKey(mail: InboundMail): string {
  const hash = createHash("sha256");
  for (const part of [mail.from, mail.subject, mail.text])
    hash.update(part).update("\0");
  for (const file of mail.attachments) hash.update(file.content).update("\0");
  return hash.digest("hex");
}

async function storedContentKey(stored: {
  raw: Buffer;
  envelopeFrom: string;
  recipients: string[];
}): Promise<string | null> {
  const parsed = await parseMail(stored.raw, {
    from: stored.envelopeFrom,
    recipients: stored.recipients,
  });
  return parsed.ok ? contentKey(parsed.mail) : null;
}

/** Mail held before any handler saw it: the report its reply address names, if any. */
async function heldFor(deps: IngestDeps, mail: InboundMail) {
  const owner = await replyTokenOwner(deps, mail);
  return owner ? { reportId: owner.reportId } : {};
}

async function decide(
  deps: IngestDeps,
  mail: InboundMail,
  context: InboundContext,
): Promise<HandlerOutcome> {
  for (const handler of beforeAutomaticFilter) {
    const outcome = await handler(deps, mail, context);
    if (outcome) return outcome;
  }
  const automatic = automaticMailReason(deps.config, mail);
  if (automatic) return { kind: "ignored", reason: automatic };
  for (const handler of afterAutomaticFilter) {
    const outcome = await handler(deps, mail, context);
    if (outcome) return outcome;
  }
  const reply = await handleReply(deps, mail, context);
  if (reply) return reply;
  return {
    kind: "held",
    reason: mail.recipients.some((r) => isOurAddress(deps.config, r))
      ? "no reply token: not a reply to a notification"
      : "not addressed to the desk's mail domain",
    unknownRecipient: true,
  };
}

function publicOutcome(outcome: HandlerOutcome): InboundOutcome {
  if (outcome.kind === "posted")
    return { kind: "posted", reportId: outcome.reportId, note: outcome.note };
  return { kind: outcome.kind, reason: outcome.reason };
}

/** Longer than any delivery takes to decide: a row still undecided is a stopped one. */
const UNDECIDED_MS = 10 * 60_000;

async function duplicateOf(
  deps: IngestDeps,
  messageId: string,
): Promise<IngestResult> {
  let stored = await findInboundByMessageId(deps.db, messageId);
  // Stored but never decided, long after: the delivery that stored it
  // stopped mid-way. Hold it for a triager (release posts it) rather than
  // post it here, where a half-done first attempt could post twice.
  if (
    stored?.status === "received" &&
    deps.clock.now().getTime() - stored.receivedAt.getTime() > UNDECIDED_MS
  ) {
    await recordDecision(deps.db, stored.id, {
      status: "held",
      reason:
        "the delivery that stored it stopped before it was decided: release it to post it",
      decidedAt: deps.clock.now(),
    });
    stored = await findInboundByMessageId(deps.db, messageId);
  }
  const reason = stored?.reason ?? "already received";
  const outcome: InboundOutcome =
    stored?.status === "posted"
      ? { kind: "posted", reportId: stored.reportId, note: reason }
      : stored?.status === "ignored"
        ? { kind: "ignored", reason }
        : { kind: "held", reason };
  return { outcome, duplicate: true, inboundId: stored?.id ?? null };
}

/** A message that is not readable mail is kept too, held with the reason. */
async function storeMalformed(
  deps: IngestDeps,
  raw: Buffer,
  envelope: Envelope,
  malformed: string,
): Promise<IngestResult> {
  const messageId = `sha256-${createHash("sha256").update(raw).digest("hex")}@malformed`;
  const reason = `malformed: ${malformed}`;
  const inboundId = await insertReceived(deps.db, {
    messageId,
    receivedAt: deps.clock.now(),
    envelopeFrom: envelope.from.toLowerCase(),
    recipients: envelope.recipients.map((r) => r.toLowerCase()),
    fromAddress: "",
    subject: "",
    raw,
    encrypted: false,
    signedBy: null,
    dmarc: null,
  });
  if (inboundId !== undefined)
    await recordDecision(deps.db, inboundId, {
      status: "held",
      reason,
      decidedAt: deps.clock.now(),
    });
  return {
    outcome: { kind: "held", reason },
    duplicate: inboundId === undefined,
    inboundId: inboundId ?? null,
    malformed,
  };
}

/**
 * Posts a stored message again, as a triager's release does: parsed and
 * decrypted from the message as received, with the DMARC result found on
 * arrival, through the same handlers. The caller records the outcome.
 */
export async function repostInbound(
  deps: IngestDeps,
  inboundId: number,
  release: { trustSender: boolean },
): Promise<HandlerOutcome> {
  const stored = await findInboundById(deps.db, inboundId);
  if (!stored) throw new Error(`no inbound message ${inboundId}`);
  const envelope = { from: stored.envelopeFrom, recipients: stored.recipients };
  const parsed = await parseMail(stored.raw, envelope);
  if (!parsed.ok)
    return { kind: "held", reason: `malformed: ${parsed.malformed}` };
  parsed.mail.dmarc = (stored.dmarc ?? "none") as InboundMail["dmarc"];
  const opened = await openInboundMail(deps, parsed.mail, envelope);
  if (opened.held) return { kind: "held", reason: opened.held };
  return decide(deps, opened.mail, { inboundId, release });
}

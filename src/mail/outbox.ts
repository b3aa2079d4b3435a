import ejs from "ejs";
import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { Db, DbOrTx } from "../db/index.js";
import { findUsersByIds } from "../users/repository.js";
import { pooledRandomBytes } from "../ids.js";
import {
  insertFanout,
  insertOutboxMessages,
  takeOldestFanout,
  type NewOutboxMessage,
} from "./repository.js";
import {
  renderMail,
  type MailTemplate,
  type RenderedMail,
} from "./templates.js";

export interface MailContext {
  config: Config;
  clock: Clock;
}

export interface MailRequest {
  template: MailTemplate;
  to: { address: string; userId?: number | null };
  data: Record<string, unknown>;
  reportId?: number | null;
  /** Message-ID of the first message about the report, for threading. */
  threadId?: string | null;
  /** A fixed Message-ID (the first message of a report thread uses its thread ID). */
  messageId?: string;
  /** The timeline entry it announces (encrypted mail carries its text). */
  eventId?: number | null;
  /** Where replies go, when not to MAIL_FROM (a report by email's receipt). */
  replyTo?: string | null;
}

export function messageIdFor(config: Config, local: string): string {
  return `<${local}@${new URL(config.baseUrl).hostname}>`;
}

/**
 * Writes one outgoing message into the outbox. Call it inside the transaction
 * of the change it announces: if that rolls back, the mail never existed.
 * The Message-ID is fixed here, so a retry can never become a second mail.
 */
export async function enqueueMail(
  db: DbOrTx,
  ctx: MailContext,
  mail: MailRequest,
): Promise<string> {
  const [messageId] = await enqueueMails(db, ctx, [mail]);
  return messageId!;
}

/** Stands for the recipient's name while a message is rendered for many. */
const NAME_MARK = "\uE000&\uE000";
const ESCAPED_NAME_MARK = ejs.escapeXML(NAME_MARK);

/** A message rendered once for everybody who gets it, cut where the name goes. */
type SharedRendering =
  | {
      [K in keyof RenderedMail]: string[];
    }
  | null;

/**
 * Renders a message, once for every recipient of the same words: a report
 * event goes to the whole triage team (41 people in the benchmark), whose
 * messages differ only in the name they are addressed by. The shared
 * rendering is used only when the name appears nowhere but through
 * `<%= displayName %>` (escaped in HTML, as it is in plain text); otherwise
 * each is rendered.
 */
function renderFor(
  mail: MailRequest,
  baseUrl: string,
  shared: Map<string, SharedRendering>,
): RenderedMail {
  const { displayName, ...rest } = mail.data;
  const data = { ...rest, baseUrl };
  const key =
    typeof displayName === "string"
      ? `${mail.template}\u0000${JSON.stringify(data)}`
      : null;
  if (key === null || key.includes("\uE000"))
    return renderMail(mail.template, { ...mail.data, baseUrl });
  let cut = shared.get(key);
  if (cut === undefined) {
    const marked = renderMail(mail.template, {
      ...data,
      displayName: NAME_MARK,
    });
    const split = (s: string) =>
      s.includes(NAME_MARK) ? null : s.split(ESCAPED_NAME_MARK);
    const subject = split(marked.subject);
    const html = split(marked.html);
    // Plain text is not escaped (templates.ts): the name goes in as it is.
    const text = marked.text.includes(ESCAPED_NAME_MARK)
      ? null
      : marked.text.split(NAME_MARK);
    cut = subject && text && html ? { subject, text, html } : null;
    shared.set(key, cut);
  }
  if (cut === null) return renderMail(mail.template, { ...mail.data, baseUrl });
  const name = ejs.escapeXML(displayName as string);
  return {
    subject: cut.subject.join(name),
    text: cut.text.join(displayName as string),
    html: cut.html.join(name),
  };
}

/**
 * Writes several messages into the outbox in one go (see enqueueMail):
 * rendered once per distinct message, inserted in one statement, their
 * Message-IDs from one call for random bytes.
 */
export async function enqueueMails(
  db: DbOrTx,
  ctx: MailContext,
  mails: readonly MailRequest[],
): Promise<string[]> {
  if (mails.length === 0) return [];
  const { baseUrl } = ctx.config;
  const host = new URL(baseUrl).hostname;
  const random = pooledRandomBytes(32 * mails.length);
  const at = ctx.clock.now();
  const shared = new Map<string, SharedRendering>();
  const rows = mails.map((mail, i): NewOutboxMessage => {
    const rendered = renderFor(mail, baseUrl, shared);
    const token = random.subarray(32 * i, 32 * (i + 1)).toString("base64url");
    return {
      messageId: mail.messageId ?? `<m.${token}@${host}>`,
      reportId: mail.reportId ?? null,
      toUserId: mail.to.userId ?? null,
      toAddress: mail.to.address,
      template: mail.template,
      subject: rendered.subject,
      text: rendered.text,
      html: rendered.html,
      threadId: mail.threadId ?? null,
      eventId: mail.eventId ?? null,
      replyTo: mail.replyTo ?? null,
      at,
    };
  });
  await insertOutboxMessages(db, rows);
  return rows.map((r) => r.messageId);
}

/** One message for many accounts, each addressed by their own name. */
export interface FanoutRequest {
  template: MailTemplate;
  userIds: readonly number[];
  /** The template's data except `displayName`, which is each recipient's. */
  data: Record<string, unknown>;
  reportId?: number | null;
  threadId?: string | null;
  eventId?: number | null;
}

/**
 * Writes a message for many accounts as one row, inside the transaction of
 * the change it announces (like enqueueMail). The mail worker later turns it
 * into one outbox message per recipient (addressNextFanout), so a report's
 * notice to a triage team of forty costs its request one row, not forty
 * rendered messages.
 */
export async function enqueueFanout(
  db: DbOrTx,
  ctx: MailContext,
  fanout: FanoutRequest,
): Promise<void> {
  if (fanout.userIds.length === 0) return;
  await insertFanout(db, {
    reportId: fanout.reportId ?? null,
    template: fanout.template,
    data: fanout.data,
    userIds: [...fanout.userIds],
    threadId: fanout.threadId ?? null,
    eventId: fanout.eventId ?? null,
    at: ctx.clock.now(),
  });
}

/**
 * Turns the oldest fanout into its messages, one per recipient, in one
 * transaction: they are rendered and stored exactly as enqueueMails stores
 * any message (each with its own Message-ID). The recipients are those chosen
 * when it happened, at the address and name they have now; an account
 * disabled since gets nothing. Returns how many messages it wrote, or null
 * when no fanout was waiting.
 */
export async function addressNextFanout(
  db: Db,
  ctx: MailContext,
): Promise<number | null> {
  return db.transaction().execute(async (tx) => {
    const fanout = await takeOldestFanout(tx);
    if (!fanout) return null;
    const users = new Map(
      (await findUsersByIds(tx, fanout.userIds)).map((u) => [u.id, u]),
    );
    const mails: MailRequest[] = [];
    for (const id of fanout.userIds) {
      const user = users.get(id);
      if (!user || user.disabledAt) continue;
      mails.push({
        template: fanout.template as MailTemplate,
        to: { address: user.email, userId: user.id },
        reportId: fanout.reportId,
        threadId: fanout.threadId,
        eventId: fanout.eventId,
        data: { ...fanout.data, displayName: user.displayName },
      });
    }
    await enqueueMails(tx, ctx, mails);
    return mails.length;
  });
}

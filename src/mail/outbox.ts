import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { DbOrTx } from "../db/index.js";
import { newSecretToken } from "../ids.js";
import { insertOutboxMessage } from "./repository.js";
import { renderMail, type MailTemplate } from "./templates.js";

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
  const rendered = renderMail(mail.template, {
    ...mail.data,
    baseUrl: ctx.config.baseUrl,
  });
  const messageId =
    mail.messageId ?? messageIdFor(ctx.config, `m.${newSecretToken()}`);
  await insertOutboxMessage(db, {
    messageId,
    reportId: mail.reportId ?? null,
    toUserId: mail.to.userId ?? null,
    toAddress: mail.to.address,
    template: mail.template,
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    threadId: mail.threadId ?? null,
    at: ctx.clock.now(),
  });
  return messageId;
}

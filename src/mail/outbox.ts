import type { Clock } from "../clock.js";
import type { Config } from "../config.js";
import type { DbOrTx } from "../db/index.js";
import { newSecretToken } from "../ids.js";
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
  const now = ctx.clock.now().getTime();
  await db
    .insertInto("outbox")
    .values({
      message_id: messageId,
      report_id: mail.reportId ?? null,
      to_user_id: mail.to.userId ?? null,
      to_address: mail.to.address,
      template: mail.template,
      subject: rendered.subject,
      text_body: rendered.text,
      html_body: rendered.html,
      thread_id: mail.threadId ?? null,
      next_attempt_at: now,
      created_at: now,
    })
    .execute();
  return messageId;
}

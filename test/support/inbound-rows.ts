import {
  insertReceived,
  recordDecision,
} from "../../src/inbound/repository.js";
import type { TestContext } from "./harness.js";

let counter = 0;

/**
 * A reply by email from `from`, stored as the ingestion path would and held
 * (a From mismatch), about `reportId`: a row for the Inbound mail page.
 */
export async function insertHeldMail(
  ctx: Pick<TestContext, "db" | "clock">,
  from: string,
  reportId: number | null,
  /** More header lines, as sent ("Name: value"). */
  extraHeaders: string[] = [],
): Promise<{ id: number; messageId: string }> {
  counter++;
  const messageId = `held-${counter}-${Date.now()}@example.test`;
  const raw = Buffer.from(
    [
      `From: <${from}>`,
      "To: reply+token@localhost",
      "Subject: Re: your report",
      `Message-ID: <${messageId}>`,
      ...extraHeaders,
      "Content-Type: text/plain; charset=utf-8",
      "",
      "A held reply.",
      "",
    ].join("\r\n"),
  );
  const id = (await insertReceived(ctx.db, {
    messageId,
    receivedAt: ctx.clock.now(),
    envelopeFrom: from,
    recipients: ["reply+token@localhost"],
    fromAddress: from,
    subject: "Re: your report",
    raw,
    encrypted: false,
    signedBy: null,
    dmarc: "none",
  }))!;
  await recordDecision(ctx.db, id, {
    status: "held",
    reason: "From address does not match the token's user",
    reportId,
    decidedAt: ctx.clock.now(),
  });
  return { id, messageId };
}

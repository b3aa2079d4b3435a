import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { can } from "../auth/policy.js";
import { MAX_FILES } from "../http/uploads.js";
import { commentSchema } from "../reports/forms.js";
import { findReportById } from "../reports/repository.js";
import { addCommentByMail } from "../reports/service.js";
import { accessFacts } from "../reports/types.js";
import { attachFiles } from "../reports/uploads.js";
import { findUserById } from "../users/repository.js";
import { toActor } from "../users/service.js";
import type { HandlerOutcome, InboundContext, IngestDeps } from "./ingest.js";
import { lookUpReplyToken, tokensIn } from "./reply-tokens.js";
import { recordDecision } from "./repository.js";
import { stripReply } from "./strip.js";
import type { InboundMail } from "./types.js";

/**
 * A reply to a notification becomes a comment on that report, by the user
 * the token was issued to, through the same use case as the web form
 * (addCommentByMail: the policy, and a researcher's reply to a request for
 * information is their answer). Anything doubtful is held for a triager,
 * with the reason; nothing is posted on a From header's word alone.
 *
 * Answers null when the mail carries no reply token at all.
 */
export async function handleReply(
  deps: IngestDeps,
  mail: InboundMail,
  context: InboundContext,
): Promise<HandlerOutcome | null> {
  const tokens = tokensIn(deps.config, mail.recipients, mail.headers);
  if (tokens.length === 0) return null;
  const owner = await replyTokenOwner(deps, mail);
  if (!owner)
    return {
      kind: "held",
      reason: "unknown reply token",
      unknownRecipient: true,
    };
  const [user, report] = await Promise.all([
    findUserById(deps.db, owner.userId),
    findReportById(deps.db, owner.reportId),
  ]);
  // Held with the token's report, so the Inbound mail page names the case.
  const held = (reason: string): HandlerOutcome => ({
    kind: "held",
    reason,
    userId: user ? owner.userId : null,
    reportId: report ? report.id : null,
  });
  if (!user || !report)
    return held("the reply address's user or report is gone");
  // A triager who checked the sender may overrule these two (a release).
  const trusted = context.release?.trustSender === true;
  if (mail.from !== user.email.toLowerCase() && !trusted)
    return held(
      `the From address (${mail.from}) is not the address of the user this reply address was sent to`,
    );
  if (mail.dmarc === "fail" && !trusted)
    return held(`the sender's domain failed its DMARC check`);
  if (user.disabledAt) return held("the user's account is disabled");
  const actor = toActor(user);
  // The same question the comment form's route asks (allowedOn), and the
  // use case asks again.
  if (!can(actor, "report:comment", accessFacts(report)))
    return held("the user can no longer comment on this report");
  const body = stripReply(mail.text);
  if (!body && mail.attachments.length === 0) return held("empty reply");
  const form = commentSchema.safeParse({
    body: body || "(attached files only)",
  });
  if (!form.success)
    return held(
      `not a valid comment: ${form.error.issues[0]?.message ?? "refused"}`,
    );
  const notes: string[] = [];
  if (mail.attachments.length > 0)
    notes.push(await attachmentsOf(deps, actor, report, mail));
  let eventId: number | null = null;
  const outcome = await addCommentByMail(
    deps,
    actor,
    report,
    form.data,
    // The timeline says it came by mail, encrypted and signed or not.
    {
      messageId: mail.messageId,
      encrypted: mail.encrypted,
      signedBy: mail.signedBy,
    },
    async (tx, id) => {
      eventId = id;
      // In the comment's transaction: the comment and the message's record
      // are written together, or neither is.
      await recordDecision(tx, context.inboundId, {
        status: "posted",
        reason: "reply posted as a comment",
        reportId: report.id,
        userId: user.id,
        eventId: id,
        decidedAt: deps.clock.now(),
      });
    },
  );
  if (!outcome.ok)
    return held(
      `not posted: ${Object.values(outcome.errors).join(" ") || "refused"}`,
    );
  const note = [
    outcome.value === "answer"
      ? "reply posted as the answer to the request for information"
      : "reply posted as a comment",
    ...notes.filter(Boolean),
  ].join("; ");
  return {
    kind: "posted",
    reportId: report.id,
    note,
    userId: user.id,
    eventId,
  };
}

/** The user and report of the first reply token the mail names that the desk issued. */
export async function replyTokenOwner(
  deps: Pick<IngestDeps, "db" | "config">,
  mail: Pick<InboundMail, "recipients" | "headers">,
): Promise<{ userId: number; reportId: number } | undefined> {
  for (const token of tokensIn(deps.config, mail.recipients, mail.headers)) {
    const owner = await lookUpReplyToken(deps.db, token);
    if (owner) return owner;
  }
  return undefined;
}

/**
 * The reply's files go through the same checks as an upload from the report
 * page (type by content, size, metadata removed), by the same use case; the
 * answer says what was attached or refused.
 */
async function attachmentsOf(
  deps: IngestDeps,
  actor: ReturnType<typeof toActor>,
  report: NonNullable<Awaited<ReturnType<typeof findReportById>>>,
  mail: InboundMail,
): Promise<string> {
  if (!can(actor, "report:upload", accessFacts(report)))
    return `${mail.attachments.length} attachment(s) not added: this user cannot add files to the report`;
  const { MAX_FILE_BYTES } = await import("../http/uploads.js");
  const tooBig = mail.attachments.filter(
    (a) => a.content.length > MAX_FILE_BYTES,
  );
  const files = mail.attachments
    .filter((a) => a.content.length <= MAX_FILE_BYTES)
    .slice(0, MAX_FILES);
  const dir = await mkdtemp(path.join(os.tmpdir(), "dd-inbound-"));
  try {
    const uploaded = await Promise.all(
      files.map(async (a, i) => {
        const file = path.join(dir, String(i));
        await writeFile(file, a.content);
        return { path: file, originalname: a.filename };
      }),
    );
    const notes: string[] = [];
    if (tooBig.length)
      notes.push(
        `not attached (over ${MAX_FILE_BYTES / 1024 / 1024} MB): ${tooBig.map((a) => a.filename).join(", ")}`,
      );
    if (mail.attachments.length - tooBig.length > MAX_FILES)
      notes.push(`only the first ${MAX_FILES} files were taken`);
    // One at a time, so a refused file does not keep the others out.
    let attached = 0;
    for (const file of uploaded) {
      const result = await attachFiles(deps, actor, report, [file], undefined, {
        ip: null,
        userAgent: "email",
      });
      if (result.ok) attached += result.value;
      else
        notes.push(
          `${file.originalname} not attached: ${Object.values(result.errors).join(" ")}`,
        );
    }
    if (attached) notes.unshift(`${attached} file(s) attached`);
    return notes.join("; ");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { can, type Actor } from "../auth/policy.js";
import { hashPassword, passwordProblem } from "../auth/passwords.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import { DAY } from "../clock.js";
import { mailFromAddress } from "../config.js";
import type { DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { MAX_FILE_BYTES, MAX_FILES } from "../http/uploads.js";
import type { Outcome } from "../http/validation.js";
import { newPublicId, newSecretToken, sha256Hex } from "../ids.js";
import { enqueueMail } from "../mail/outbox.js";
import { threadIdFor } from "../mail/notifications.js";
import { CWE_OTHER } from "../reports/cwe.js";
import { NEW_ORGANIZATION } from "../reports/forms.js";
import { findReportById } from "../reports/repository.js";
import { addComment, fileReport } from "../reports/service.js";
import { acceptUploads } from "../reports/uploads.js";
import { STATE_INFO } from "../reports/workflow.js";
import {
  findUserByEmail,
  findUserById,
  insertUser,
} from "../users/repository.js";
import { toActor } from "../users/service.js";
import {
  claimEmailReport,
  countEmailReportsSince,
  findEmailReport,
  findEmailReportByClaimHash,
  findEmailReportByReplyHash,
  findIntakeAccountId,
  insertEmailReport,
  insertIntakeAccount,
  type EmailReport,
} from "./intake-repository.js";
import { automaticMailReason } from "./automatic.js";
import {
  intakeReplyAddress,
  intakeReplyToken,
  intakeTokenIn,
} from "./intake-address.js";
import type { HandlerOutcome } from "./ingest.js";
import type { InboundMail, InboundOutcome } from "./types.js";

/**
 * Reports by email. Mail to REPORT_ADDRESS files a report in `submitted`
 * through the same use case as the web form (fileReport: workflow, clocks,
 * audit, the triage team's mail), owned by the intake account (a system
 * account: disabled, no password, never listed) until its sender claims it.
 * The policy needs nothing new: the intake account never signs in, so only
 * staff can read an unclaimed report.
 *
 * The sender's receipt carries the tracking ID, a one-time claim link (the
 * report never joins an account on the strength of a From header) and a
 * Reply-To of the intake address with a token of its own
 * (`security+<token>@…`, intake-address.ts): a reply continues the thread as
 * a comment until the report is claimed, and the desk's later mail about the
 * report reaches the sender with the same Reply-To (notifications.ts). Both
 * tokens are stored hashed.
 */

const HOUR = 3_600_000;
const UNKNOWN_TOKEN = "unknown intake reply token";
const TITLE_MAX = 200;
const TEXT_MAX = 50_000;

/** How a recipient concerns the intake: a new report, or a reply with its token. */
export function intakeRecipient(
  config: Deps["config"],
  address: string,
): { kind: "new" } | { kind: "reply"; token: string } | null {
  const lower = address.toLowerCase();
  if (lower === config.reportAddress) return { kind: "new" };
  const [local, domain] = config.reportAddress.split("@") as [string, string];
  const at = lower.lastIndexOf("@");
  if (at < 0 || lower.slice(at + 1) !== domain) return null;
  const m = /^([^+]+)\+([a-z0-9_-]{16,64})$/i.exec(address.slice(0, at));
  if (!m || m[1]!.toLowerCase() !== local) return null;
  return { kind: "reply", token: m[2]! };
}

export function isIntakeMail(config: Deps["config"], mail: InboundMail) {
  return mail.recipients.some((r) => intakeRecipient(config, r) !== null);
}

/**
 * Whom the desk must never answer: an empty or our own sender, and anything
 * automatic (the ingestion path filters these first; this is the second lock
 * on the one door that writes back to a stranger).
 */
export function unanswerable(
  config: Deps["config"],
  mail: InboundMail,
): string | null {
  const from = mail.from.trim().toLowerCase();
  if (!from || !from.includes("@")) return "no sender address";
  if (!mail.envelopeFrom) return "empty return path (automatic mail)";
  const domain = from.slice(from.lastIndexOf("@") + 1);
  if (
    domain === config.mailDomain ||
    from === config.reportAddress ||
    from === mailFromAddress(config.mailFrom).toLowerCase()
  )
    return "from the desk's own address (a loop)";
  return automaticMailReason(config, mail);
}

/** A subject as a title: one line, no control characters, not too long. */
export function titleFrom(subject: string): string {
  const clean = subject
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  const cut =
    clean.length > TITLE_MAX ? clean.slice(0, TITLE_MAX - 1) + "…" : clean;
  return cut.length >= 5 ? cut : "Report received by email";
}

/** The sender's own words: quoted lines and the signature left out. */
function replyText(text: string): string {
  const lines: string[] = [];
  for (const line of text.replace(/\r\n/g, "\n").split("\n")) {
    if (line === "-- ") break;
    if (/^On .{1,200} wrote:$/.test(line.trim())) break;
    if (/^-----\s*Original Message\s*-----$/i.test(line.trim())) break;
    if (line.startsWith(">")) continue;
    lines.push(line);
  }
  return lines.join("\n").trim();
}

/** The intake account, made on first use. */
export async function intakeAccount(deps: Pick<Deps, "db" | "clock">) {
  const id =
    (await findIntakeAccountId(deps.db)) ??
    (await insertIntakeAccount(deps.db, {
      publicId: newPublicId(),
      at: deps.clock.now(),
    }));
  return (await findUserById(deps.db, id))!;
}

/**
 * The handler for mail to the intake address (asked after the automatic
 * filter): null when the mail is not for it.
 */
export async function handleIntakeMail(
  deps: Deps,
  mail: InboundMail,
): Promise<HandlerOutcome | null> {
  const targets = mail.recipients
    .map((r) => intakeRecipient(deps.config, r))
    .filter((t) => t !== null);
  if (targets.length === 0) return null;
  const never = unanswerable(deps.config, mail);
  if (never) return { kind: "ignored", reason: never };
  if (mail.dmarc === "fail")
    return {
      kind: "held",
      reason: "DMARC check failed for the sender's domain",
    };
  const reply = targets.find((t) => t.kind === "reply");
  if (reply && reply.kind === "reply")
    return replyToEmailReport(deps, mail, reply.token);
  // A reply whose server dropped the +token: the token in References.
  const referenced = intakeTokenIn(deps.config, mail.headers);
  if (referenced) {
    const outcome = await replyToEmailReport(deps, mail, referenced);
    if (outcome.kind !== "held" || outcome.reason !== UNKNOWN_TOKEN)
      return outcome;
  }
  return fileEmailReport(deps, mail);
}

async function storeAttachments(
  deps: Deps,
  actor: Actor,
  mail: InboundMail,
): Promise<{ kept: string[]; notes: string[] }> {
  const notes: string[] = [];
  const fitting = mail.attachments.filter((a) => {
    if (a.content.length <= MAX_FILE_BYTES) return true;
    notes.push(`${a.filename || "a file"} is larger than 10 MB`);
    return false;
  });
  if (fitting.length > MAX_FILES)
    notes.push(
      `only the first ${MAX_FILES} of ${fitting.length} files were kept`,
    );
  const chosen = fitting.slice(0, MAX_FILES);
  if (chosen.length === 0) return { kept: [], notes };
  const dir = mkdtempSync(path.join(deps.config.dataDir, "intake-"));
  try {
    const files = chosen.map((a, i) => {
      const file = path.join(dir, String(i));
      writeFileSync(file, a.content);
      return { path: file, originalname: a.filename || `attachment-${i + 1}` };
    });
    // The same checks as a web upload: type by content, metadata removed.
    const result = await acceptUploads(deps, actor, files, []);
    if (result.error) notes.push(result.error);
    return { kept: result.kept.map((k) => k.publicId), notes };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function fileEmailReport(
  deps: Deps,
  mail: InboundMail,
): Promise<InboundOutcome> {
  const { config, clock } = deps;
  const sender = mail.from.trim().toLowerCase();
  const now = clock.now();
  const hourAgo = new Date(now.getTime() - HOUR);
  const fromSender = await countEmailReportsSince(deps.db, hourAgo, sender);
  if (fromSender >= config.intake.perSenderPerHour)
    return {
      kind: "held",
      reason: `rate limit: ${fromSender} reports from this sender in the last hour`,
    };
  const overall = await countEmailReportsSince(deps.db, hourAgo);
  if (overall >= config.intake.perHour)
    return {
      kind: "held",
      reason: `rate limit: ${overall} reports by email in the last hour`,
    };
  const text = mail.text.trim().slice(0, TEXT_MAX);
  if (!text && mail.attachments.length === 0)
    return { kind: "held", reason: "empty message: nothing to file" };

  const account = await intakeAccount(deps);
  const actor = toActor(account);
  const files = await storeAttachments(deps, actor, mail);
  const description = [
    text || "(The mail had no text, only attachments.)",
    ...(files.notes.length
      ? [`Attachments not kept: ${files.notes.join("; ")}`]
      : []),
  ].join("\n\n");
  const claimToken = newSecretToken();
  const replyToken = newSecretToken()
    .replace(/[^a-z0-9]/gi, "")
    .slice(0, 32);
  const claimExpiresAt = new Date(
    now.getTime() + config.intake.claimTokenDays * DAY,
  );
  const outcome = await fileReport(
    deps,
    actor,
    {
      title: titleFrom(mail.subject),
      organization: NEW_ORGANIZATION,
      newOrganization: "",
      asset: "Not stated (filed by email)",
      cwe: CWE_OTHER,
      cvss: "",
      description,
      steps: "Not given separately (filed by email): see the description.",
      impact: "Not given separately (filed by email): see the description.",
      dataExposed: [],
      recordsAffected: null,
      // Nobody is credited before the sender says how (after claiming).
      creditKind: "anonymous",
      creditHandle: "",
      revealIdentity: false,
      keptAttachments: files.kept,
    },
    null,
    {
      alsoWrite: async (tx, report) => {
        await insertEmailReport(tx, {
          reportId: report.id,
          sender,
          claimTokenHash: sha256Hex(claimToken),
          claimExpiresAt,
          replyTokenHash: sha256Hex(intakeReplyToken(config, report.id)),
          at: now,
        });
        const current = (await findReportById(tx, report.id))!;
        const threadId = threadIdFor(deps, report.publicId);
        // The receipt opens the report's thread, as the web form's does.
        await enqueueMail(tx, deps, {
          template: "report_received_by_email",
          to: { address: sender },
          reportId: report.id,
          messageId: threadId,
          threadId,
          replyTo: intakeReplyAddress(config, report.id),
          data: {
            publicId: report.publicId,
            stateLabel: STATE_INFO[current.state].label,
            ackDue: current.ackDueAt
              ? `Acknowledgment due: ${formatDateTime(current.ackDueAt)}.`
              : null,
            claimLink: `${config.baseUrl}/claim/${claimToken}`,
            expires: formatDateTime(claimExpiresAt),
          },
        });
      },
    },
  );
  if (!outcome.ok)
    return {
      kind: "held",
      reason: `could not be filed: ${Object.values(outcome.errors).join(" ")}`,
    };
  return {
    kind: "posted",
    reportId: outcome.value.id,
    note: `filed as report ${outcome.value.publicId} by email from ${sender}`,
  };
}

/**
 * A reply to a report by email's receipt, before the report is claimed: a
 * comment from the reporter-by-email, through the same use case as the web
 * (a reply to a request for information answers it).
 */
export async function replyToEmailReport(
  deps: Deps,
  mail: InboundMail,
  token: string,
): Promise<HandlerOutcome> {
  const record = await findEmailReportByReplyHash(
    deps.db,
    sha256Hex(token.toLowerCase()),
  );
  // A guessed token: `mail:receive` answers 67, as for any unknown recipient.
  if (!record)
    return { kind: "held", reason: UNKNOWN_TOKEN, unknownRecipient: true };
  const outcome = await commentAsEmailReporter(deps, mail, record);
  // Held with the token's report, so the Inbound mail page names the case.
  return outcome.kind === "held"
    ? { ...outcome, reportId: record.reportId }
    : outcome;
}

/** For the reply path: a token's report that is still unclaimed takes the reply here. */
export async function commentAsEmailReporter(
  deps: Deps,
  mail: InboundMail,
  record: EmailReport,
): Promise<InboundOutcome> {
  if (record.claimedAt)
    return {
      kind: "held",
      reason:
        "the report was claimed by an account: replies go through that account's notifications",
    };
  if (mail.from.trim().toLowerCase() !== record.sender)
    return {
      kind: "held",
      reason: "From does not match the address the report came from",
    };
  const report = await findReportById(deps.db, record.reportId);
  if (!report) return { kind: "held", reason: "the report no longer exists" };
  const body = replyText(mail.text).slice(0, 20_000);
  if (!body) return { kind: "held", reason: "empty reply" };
  const account = await intakeAccount(deps);
  if (report.reporterId !== account.id)
    return { kind: "held", reason: "the report is no longer unclaimed" };
  const outcome = await addComment(deps, toActor(account), report, { body });
  if (!outcome.ok) return { kind: "held", reason: "comment refused" };
  return {
    kind: "posted",
    reportId: report.id,
    note:
      outcome.value === "answer"
        ? `answer to the request for information on ${report.publicId} (by email, unclaimed)`
        : `comment on ${report.publicId} (by email, unclaimed)`,
  };
}

/** Whether a report was filed by email (the report page says so), and by whom. */
export async function emailFiling(deps: Pick<Deps, "db">, reportId: number) {
  return findEmailReport(deps.db, reportId);
}

// ---- claiming ----

export type ClaimState =
  | { ok: false; problem: "unknown" | "expired" | "used" }
  | {
      ok: true;
      record: EmailReport;
      publicId: string;
      /** An account with the sender's address exists: sign in to attach. */
      accountExists: boolean;
    };

export async function claimState(
  deps: Deps,
  token: string,
): Promise<ClaimState> {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token))
    return { ok: false, problem: "unknown" };
  const record = await findEmailReportByClaimHash(deps.db, sha256Hex(token));
  if (!record) return { ok: false, problem: "unknown" };
  if (record.claimedAt) return { ok: false, problem: "used" };
  if (record.claimExpiresAt.getTime() <= deps.clock.now().getTime())
    return { ok: false, problem: "expired" };
  const report = await findReportById(deps.db, record.reportId);
  if (!report) return { ok: false, problem: "unknown" };
  return {
    ok: true,
    record,
    publicId: report.publicId,
    accountExists:
      (await findUserByEmail(deps.db, record.sender)) !== undefined,
  };
}

/** Claimed meanwhile: the transaction (and any account made for it) rolls back. */
class AlreadyClaimed extends Error {}

type Claimer = { id: number; role: Actor["role"] };

async function attach(
  deps: Deps,
  record: EmailReport,
  publicId: string,
  claimer: (tx: DbOrTx) => Promise<Claimer>,
  request: AuditRequestContext | null,
): Promise<boolean> {
  const intake = await intakeAccount(deps);
  const now = deps.clock.now();
  try {
    await deps.db.transaction().execute(async (tx) => {
      const user = await claimer(tx);
      const claimed = await claimEmailReport(tx, {
        reportId: record.reportId,
        intakeId: intake.id,
        userId: user.id,
        at: now,
      });
      if (!claimed) throw new AlreadyClaimed();
      await recordAudit(tx, {
        action: "report.claimed",
        actor: user,
        target: { type: "report", id: publicId },
        details: { via: "email" },
        request,
        at: now,
      });
    });
    return true;
  } catch (err) {
    if (err instanceof AlreadyClaimed) return false;
    throw err;
  }
}

/** A signed-in researcher confirms: the report joins their account. */
export async function claimForAccount(
  deps: Deps,
  token: string,
  actor: Actor,
  request: AuditRequestContext | null,
): Promise<Outcome<{ publicId: string }>> {
  const state = await claimState(deps, token);
  if (!state.ok) return { ok: false, errors: { claim: state.problem } };
  if (!can(actor, "report:claim"))
    return {
      ok: false,
      errors: {
        _form:
          "Only a researcher account can hold a report. Sign out, then open the link again to sign in with (or create) a researcher account.",
      },
    };
  const done = await attach(
    deps,
    state.record,
    state.publicId,
    async () => actor,
    request,
  );
  if (!done) return { ok: false, errors: { claim: "used" } };
  return { ok: true, value: { publicId: state.publicId } };
}

/** A new address: the sender chooses a password, and the account is made with the report in it. */
export async function claimWithNewAccount(
  deps: Deps,
  token: string,
  input: { displayName: string; password: string; confirm: string },
  request: AuditRequestContext | null,
): Promise<Outcome<{ publicId: string; email: string }>> {
  const state = await claimState(deps, token);
  if (!state.ok) return { ok: false, errors: { claim: state.problem } };
  const email = state.record.sender;
  if (state.accountExists)
    return {
      ok: false,
      errors: {
        _form: `An account with ${email} exists already: sign in with it, then confirm.`,
      },
    };
  const errors: Record<string, string> = {};
  const displayName = input.displayName.trim();
  if (displayName.length < 1 || displayName.length > 80)
    errors.displayName = "Enter a display name of at most 80 characters.";
  const problem = passwordProblem(input.password, email);
  if (problem) errors.password = problem;
  else if (input.password !== input.confirm)
    errors.confirm = "The two passwords differ.";
  if (Object.keys(errors).length) return { ok: false, errors };
  const passwordHash = await hashPassword(
    input.password,
    deps.config.scryptCost,
  );
  const now = deps.clock.now();
  const done = await attach(
    deps,
    state.record,
    state.publicId,
    async (tx) => {
      // The link came to this mailbox: the address counts as confirmed.
      const user = await insertUser(tx, {
        publicId: newPublicId(),
        email,
        displayName,
        role: "researcher",
        passwordHash,
        createdAt: now,
        emailVerifiedAt: now,
      });
      await recordAudit(tx, {
        action: "user.created",
        actor: user,
        target: { type: "user", id: user.publicId },
        details: { role: "researcher", via: "report by email" },
        at: now,
      });
      return user;
    },
    request,
  );
  if (!done) return { ok: false, errors: { claim: "used" } };
  return { ok: true, value: { publicId: state.publicId, email } };
}

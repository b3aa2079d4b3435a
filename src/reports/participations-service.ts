/**
 * The use cases of several organizations on one case: the CERT adds and
 * removes organizations and opens the case to its participants; each
 * organization answers for itself (status, statement, tracking ID, fix
 * target); the researcher checks each organization's fix. Each runs in one
 * transaction with its recordChange, and after a status change the
 * report's own state follows (participations.ts followingStep) through the
 * workflow's steps (service.ts applyTransition).
 *
 * The policy decides who answers for which organization (canAnswerFor,
 * speaksFor); anything else is the same 404 as a report that does not exist.
 */
import { z } from "zod";
import {
  can,
  canAnswerFor,
  canVerifyFixes,
  relationTo,
  speaksFor,
  standsFor,
  type Actor,
} from "../auth/policy.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { ConflictError, NotFoundError } from "../http/errors.js";
import {
  DONE,
  isCalendarDate,
  optionalText,
  text,
  type Outcome,
} from "../http/validation.js";
import { findOrganizationByPublicId } from "../orgs/repository.js";
import { recordChange, type ChangeName } from "./changes.js";
import {
  ANSWER_STATUSES,
  followingStep,
  PARTICIPATION_STATUS_LABELS,
  type Participation,
  type ParticipationStatus,
} from "./participations.js";
import {
  addParticipation,
  listParticipations,
  removeParticipation,
  setCaseOpen,
  syncLeadOrganization,
  updateParticipation,
  type ParticipationUpdate,
} from "./participations-repository.js";
import { findReportById } from "./repository.js";
import { applyTransition } from "./service.js";
import { isValidTrackingId } from "./tracking-id.js";
import { accessFacts, type Report } from "./types.js";
import {
  planTransition,
  TRANSITIONS,
  type TransitionName,
} from "./workflow.js";

// ---- forms ----

export const addParticipantSchema = z.object({
  organization: z
    .string({ error: "Choose an organization." })
    .trim()
    .min(1, "Choose an organization.")
    .max(40, "Choose an organization from the list."),
});

export const removeParticipantSchema = z.object({
  reason: text("Reason", 3, 2000),
});

export const statusSchema = z
  .object({
    status: z.enum(ANSWER_STATUSES as [ParticipationStatus], {
      error: "Choose a status from the list.",
    }),
    reason: optionalText("Reason", 2000),
  })
  .superRefine((v, ctx) => {
    if (v.status === "disputed" && v.reason.length < 3)
      ctx.addIssue({
        code: "custom",
        path: ["reason"],
        message: "Say why the organization disputes the report.",
      });
  });
export type StatusInput = z.infer<typeof statusSchema>;

export const statementSchema = z.object({
  statement: text("Statement", 3, 10_000),
  references: optionalText("References", 2000),
});

export const shareStatementSchema = z.object({
  shared: z.enum(["yes", "no"], { error: "Choose whether it is shared." }),
});

const dateField = z
  .string()
  .default("")
  .transform((s) => s.trim())
  .refine(
    (s) => s === "" || isCalendarDate(s),
    "Enter a date like 2027-03-31, or leave it empty.",
  );

/** The organization's own tracking ID goes into mail subjects: short, printable, one line. */
export const detailsSchema = z.object({
  trackingId: z
    .string()
    .default("")
    .transform((s) => s.trim())
    .refine((s) => s.length <= 64, "Tracking ID must be at most 64 characters.")
    // The same rule the mail subject checks again (tracking-id.ts): one
    // accepted here is never left out of a subject.
    .refine(
      (s) => s === "" || isValidTrackingId(s),
      "Tracking ID may hold letters, digits and punctuation other than [ ] on one line, like PSIRT-2027-0042.",
    ),
  fixTarget: dateField,
});

export const suggestSchema = z.object({
  name: text("Organization", 2, 200),
  why: optionalText("Why", 2000),
});

export const caseOpenSchema = z.object({
  open: z.enum(["yes", "no"], { error: "Choose open or closed." }),
});

export const fixCheckSchema = z
  .object({
    decision: z.enum(["verified", "not_fixed"], {
      error: "Choose whether the fix works.",
    }),
    message: optionalText("Message", 20_000),
  })
  .superRefine((v, ctx) => {
    if (v.decision === "not_fixed" && v.message.length === 0)
      ctx.addIssue({
        code: "custom",
        path: ["message"],
        message: "Say what is still not fixed.",
      });
  });

// ---- helpers ----

class Refused extends Error {
  constructor(readonly errors: Record<string, string>) {
    super("refused");
  }
}

async function refusedOrDone<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, errors: err.errors };
    throw err;
  }
}

/** End of that day, UTC, as the deadline form reads a date. */
const endOfDay = (date: string) => new Date(`${date}T23:59:00.000Z`);

/**
 * The organization on the case an URL names, if this actor may act on it
 * (`allowed`); anything else is the report's 404.
 */
export async function participationFor(
  deps: Pick<Deps, "db">,
  report: Report,
  orgPublicId: string,
  allowed: (p: Participation) => boolean,
): Promise<Participation> {
  const found = (await listParticipations(deps.db, report.id)).find(
    (p) => p.organizationPublicId === orgPublicId && p.removedAt === null,
  );
  if (!found || !allowed(found)) throw new NotFoundError();
  return found;
}

const entryFor = (p: Pick<Participation, "organizationId">) => ({
  audience: "org_researcher" as const,
  orgId: p.organizationId,
});
const orgOnly = (p: Pick<Participation, "organizationId">) => ({
  audience: "org" as const,
  orgId: p.organizationId,
});

/**
 * After a participation changed: the report's step that follows, taken as
 * the workflow table says (its entry to everyone on the case), in the same
 * transaction. The step is the app's consequence of the person's answer: it
 * is written in their name when the table lets them take it, else as the
 * role the table names.
 */
export async function applyFollowingStep(
  tx: DbOrTx,
  deps: Deps,
  actor: Actor,
  reportId: number,
  at: Date,
  request: AuditRequestContext | null,
  /** The person's message, carried on the step it takes. */
  message: string | null = null,
): Promise<TransitionName | null> {
  const report = (await findReportById(tx, reportId))!;
  const active = (await listParticipations(tx, reportId)).filter(
    (p) => p.removedAt === null,
  );
  const name = followingStep(report.state, active);
  if (!name) return null;
  // On a case with several organizations the step is the app's, from all of
  // their answers: its entry (read by everyone on the case) names no
  // organization's contact and carries no organization's words.
  const several = active.length > 1;
  if (several) message = null;
  const relation = relationTo(actor, accessFacts(report));
  const def = TRANSITIONS[name];
  const taker = def.by.includes(relation) ? relation : def.by[0]!;
  const plan = planTransition(
    report,
    taker,
    name,
    { message: message ?? undefined },
    at,
  );
  if (!plan.ok) return null;
  const applied = await applyTransition(tx, deps, {
    report,
    plan: plan.plan,
    actor: several ? null : actor,
    at,
    request,
  });
  if (!applied)
    throw new ConflictError(
      "Someone changed this report a moment ago. Reload the page and try again.",
    );
  return name;
}

/** Writes one participation's status (its answer stops its clock) and, if `record`, its timeline entry. */
async function writeStatus(
  tx: DbOrTx,
  deps: Deps,
  actor: Actor,
  report: Report,
  p: Participation,
  status: ParticipationStatus,
  reason: string | null,
  at: Date,
  request: AuditRequestContext | null,
  record: boolean,
) {
  const set: ParticipationUpdate = {
    status,
    status_reason: status === "disputed" ? reason : null,
    status_changed_at: at.getTime(),
    // Any answer stops the organization's acknowledgment clock.
    answered_at: p.answeredAt?.getTime() ?? at.getTime(),
  };
  if (status !== "fixed") set.fix_verified_at = null;
  await updateParticipation(tx, report.id, p.organizationId, set);
  if (record)
    await recordChange(tx, deps, {
      change: "participant_status",
      report,
      actor,
      at,
      request,
      body:
        `${p.organizationName}: ${PARTICIPATION_STATUS_LABELS[status]}` +
        (status === "disputed" && reason ? `. Why: ${reason}` : ""),
      details: { organization: p.organizationPublicId, status },
      audience: entryFor(p),
    });
}

// ---- the CERT's decisions ----

/**
 * Adds an organization to the case, at any time. Once the case's first
 * organization was notified, the new one is notified at once, with its own
 * mail; the disclosure deadline is the case's, the same for all.
 */
export async function addParticipant(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: z.infer<typeof addParticipantSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<string>> {
  if (!can(actor, "report:manage_participants", accessFacts(report)))
    throw new NotFoundError();
  const org = await findOrganizationByPublicId(deps.db, input.organization);
  if (!org)
    return {
      ok: false,
      errors: { organization: "Choose an organization from the list." },
    };
  if (report.participants.some((p) => p.organizationId === org.id))
    return {
      ok: false,
      errors: { organization: `${org.name} is already on this case.` },
    };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await addParticipation(tx, {
      reportId: report.id,
      organizationId: org.id,
      addedBy: actor.id,
      at: now,
      notifiedAt: report.vendorNotifiedAt !== null ? now : null,
    });
    await syncLeadOrganization(tx, report.id);
    await recordChange(tx, deps, {
      change: "participant_added",
      report,
      actor,
      at: now,
      request,
      body: org.name,
      details: {
        organization: org.publicId,
        notified: report.vendorNotifiedAt !== null,
      },
      audience: { audience: "org_researcher", orgId: org.id },
    });
  });
  return { ok: true, value: org.name };
}

/** Removes an organization with a reason: its contacts lose access at once. */
export async function removeParticipant(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  input: z.infer<typeof removeParticipantSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<string>> {
  const facts = accessFacts(report);
  if (!can(actor, "report:manage_participants", facts))
    throw new NotFoundError();
  const p = await participationFor(deps, report, orgPublicId, () => true);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await removeParticipation(
      tx,
      report.id,
      p.organizationId,
      actor.id,
      input.reason,
      now,
    );
    await syncLeadOrganization(tx, report.id);
    await recordChange(tx, deps, {
      change: "participant_removed",
      report,
      actor,
      at: now,
      request,
      body: `${p.organizationName}: ${input.reason}`,
      details: { organization: p.organizationPublicId },
      audience: { audience: "internal", orgId: null },
    });
    // The ones left may all have answered already.
    await applyFollowingStep(tx, deps, actor, report.id, now, request);
  });
  return { ok: true, value: p.organizationName };
}

/** Opens the case to its participants (names and statuses), or closes it again; everyone on it is told. */
export async function setCaseOpenness(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: z.infer<typeof caseOpenSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<boolean>> {
  if (!can(actor, "report:manage_participants", accessFacts(report)))
    throw new NotFoundError();
  const open = input.open === "yes";
  if (open === report.caseOpen)
    return {
      ok: false,
      errors: {
        open: open ? "The case is already open." : "The case is not open.",
      },
    };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await setCaseOpen(tx, report.id, open);
    await recordChange(tx, deps, {
      change: open ? "case_opened" : "case_closed",
      report,
      actor,
      at: now,
      request,
      details: { open },
      audience: { audience: "everyone", orgId: null },
    });
  });
  return { ok: true, value: open };
}

/** A triager approves an organization's statement as it stands, for the advisory. */
export async function approveStatement(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  request: AuditRequestContext | null,
): Promise<Outcome<string>> {
  if (!can(actor, "report:manage_participants", accessFacts(report)))
    throw new NotFoundError();
  const p = await participationFor(deps, report, orgPublicId, () => true);
  if (!p.statement)
    return {
      ok: false,
      errors: { _form: `${p.organizationName} has written no statement yet.` },
    };
  if (p.statementApprovedAt)
    return {
      ok: false,
      errors: { _form: "This statement is already approved." },
    };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await updateParticipation(tx, report.id, p.organizationId, {
      statement_approved_at: now.getTime(),
      statement_approved_by: actor.id,
    });
    await recordChange(tx, deps, {
      change: "statement_approved",
      report,
      actor,
      at: now,
      request,
      body: p.organizationName,
      details: { organization: p.organizationPublicId },
      audience: orgOnly(p),
    });
  });
  return { ok: true, value: p.organizationName };
}

// ---- an organization's answers (or a triager's for it) ----

/** Sets an organization's status; disputing needs a reason. The report's step follows. */
export async function setParticipantStatus(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  input: StatusInput,
  request: AuditRequestContext | null,
): Promise<Outcome<ParticipationStatus>> {
  const facts = accessFacts(report);
  const p = await participationFor(deps, report, orgPublicId, (p) =>
    canAnswerFor(actor, facts, p.organizationId),
  );
  if (p.notifiedAt === null)
    return {
      ok: false,
      errors: {
        status: `${p.organizationName} has not been notified yet: its status counts from its notification.`,
      },
    };
  if (p.status === input.status && input.status !== "disputed")
    return {
      ok: false,
      errors: {
        status: `The status is already “${PARTICIPATION_STATUS_LABELS[p.status]}”.`,
      },
    };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await writeStatus(
      tx,
      deps,
      actor,
      report,
      p,
      input.status,
      input.reason || null,
      now,
      request,
      true,
    );
    await applyFollowingStep(tx, deps, actor, report.id, now, request);
  });
  return { ok: true, value: input.status };
}

/**
 * The workflow's organization steps taken by an org contact mean "my
 * organization's status": acknowledging sets its participation(s) to
 * affected, "mark fixed" to fixed, and the report's step follows from all
 * participations (for one participant the same step as before; for
 * several, the report waits for the others).
 */
export async function answerStepAsOrganization(
  deps: Deps,
  actor: Actor,
  report: Report,
  name: "vendor_acknowledge" | "mark_fixed",
  message: string | null,
  request: AuditRequestContext | null,
): Promise<Outcome<Report>> {
  const facts = accessFacts(report);
  const own = standsFor(actor, facts);
  const status: ParticipationStatus =
    name === "mark_fixed" ? "fixed" : "affected";
  // With several organizations, one acknowledges while another already
  // works on its fix: the report is past "notified", its own answer is not.
  const from: readonly string[] =
    name === "mark_fixed" || report.participants.length > 1
      ? ["vendor_notified", "fix_in_progress"]
      : TRANSITIONS[name].from;
  if (!from.includes(report.state))
    return {
      ok: false,
      errors: {
        name: "This action is not possible in the report's current state.",
      },
    };
  const mine = (await listParticipations(deps.db, report.id)).filter(
    (p) =>
      p.removedAt === null &&
      own.includes(p.organizationId) &&
      p.status !== status,
  );
  if (mine.length === 0)
    return {
      ok: false,
      errors: {
        name: `Your organization's status is already “${PARTICIPATION_STATUS_LABELS[status]}”.`,
      },
    };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    for (const p of mine)
      await writeStatus(
        tx,
        deps,
        actor,
        report,
        p,
        status,
        null,
        now,
        request,
        false,
      );
    const step = await applyFollowingStep(
      tx,
      deps,
      actor,
      report.id,
      now,
      request,
      message,
    );
    // No step of the report followed (others have not answered), or the
    // case has several organizations: the organization's own answer is
    // what the timeline records, to it, the researcher and the CERT.
    if (step === null || report.participants.length > 1)
      for (const p of mine)
        await recordChange(tx, deps, {
          change: "participant_status",
          report,
          actor,
          at: now,
          request,
          body:
            `${p.organizationName}: ${PARTICIPATION_STATUS_LABELS[status]}` +
            (message ? `\n\n${message}` : ""),
          details: { organization: p.organizationPublicId, status },
          audience: entryFor(p),
        });
  });
  return { ok: true, value: (await findReportById(deps.db, report.id))! };
}

/** The organization's statement for the advisory; an edit withdraws the approval. */
export async function writeStatement(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  input: z.infer<typeof statementSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  const facts = accessFacts(report);
  const p = await participationFor(deps, report, orgPublicId, (p) =>
    canAnswerFor(actor, facts, p.organizationId),
  );
  if (
    p.statement === input.statement &&
    (p.statementReferences ?? "") === input.references
  )
    return { ok: false, errors: { statement: "Nothing was changed." } };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await updateParticipation(tx, report.id, p.organizationId, {
      statement: input.statement,
      statement_references: input.references || null,
      statement_updated_at: now.getTime(),
      statement_approved_at: null,
      statement_approved_by: null,
    });
    await recordChange(tx, deps, {
      change: "participant_statement",
      report,
      actor,
      at: now,
      request,
      body: p.organizationName,
      details: { organization: p.organizationPublicId },
      audience: entryFor(p),
    });
  });
  return DONE;
}

/** The organization lets the other participants of an opened case read its statement, or not. */
export async function shareStatement(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  input: z.infer<typeof shareStatementSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<boolean>> {
  const facts = accessFacts(report);
  const p = await participationFor(deps, report, orgPublicId, (p) =>
    speaksFor(actor, facts, p.organizationId),
  );
  const shared = input.shared === "yes";
  if (shared === p.statementShared)
    return {
      ok: false,
      errors: {
        shared: shared
          ? "The statement is already shared."
          : "The statement is not shared.",
      },
    };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await updateParticipation(tx, report.id, p.organizationId, {
      statement_shared: shared ? 1 : 0,
    });
    await recordChange(tx, deps, {
      change: "statement_shared",
      report,
      actor,
      at: now,
      request,
      body: `${p.organizationName}: ${shared ? "shared with the other organizations on the case" : "not shared"}`,
      details: { organization: p.organizationPublicId, shared },
      audience: orgOnly(p),
    });
  });
  return { ok: true, value: shared };
}

/** The organization's own tracking ID and its fix target date. */
export async function setParticipantDetails(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  input: z.infer<typeof detailsSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  const facts = accessFacts(report);
  const p = await participationFor(deps, report, orgPublicId, (p) =>
    canAnswerFor(actor, facts, p.organizationId),
  );
  const trackingId = input.trackingId || null;
  const fixTarget = input.fixTarget ? endOfDay(input.fixTarget) : null;
  if (
    trackingId === p.trackingId &&
    fixTarget?.getTime() === p.fixTargetAt?.getTime()
  )
    return { ok: false, errors: { trackingId: "Nothing was changed." } };
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await updateParticipation(tx, report.id, p.organizationId, {
      tracking_id: trackingId,
      fix_target_at: fixTarget?.getTime() ?? null,
    });
    await recordChange(tx, deps, {
      change: "participant_details",
      report,
      actor,
      at: now,
      request,
      body:
        `${p.organizationName}: tracking ID ${trackingId ?? "none"}; ` +
        `fix target ${fixTarget ? formatDateTime(fixTarget) : "none"}`,
      details: { organization: p.organizationPublicId },
      audience: orgOnly(p),
    });
  });
  return DONE;
}

/** An organization suggests involving another one: a message to the CERT, which decides by adding it. */
export async function suggestOrganization(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: z.infer<typeof suggestSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  const facts = accessFacts(report);
  const own = standsFor(actor, facts)[0];
  if (own === undefined || !speaksFor(actor, facts, own))
    throw new NotFoundError();
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await recordChange(tx, deps, {
      change: "organization_suggested",
      report,
      actor,
      at: now,
      request,
      body: `Suggested: ${input.name}` + (input.why ? `\n${input.why}` : ""),
      details: {},
      audience: { audience: "org", orgId: own },
    });
  });
  return DONE;
}

// ---- the researcher's check of each organization's fix ----

/**
 * The researcher (or a triager) confirms one organization's fix, or says
 * it does not work: that organization is back to affected and the report
 * back to "fix in progress".
 */
export async function checkParticipantFix(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  input: z.infer<typeof fixCheckSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<boolean>> {
  const facts = accessFacts(report);
  if (!canVerifyFixes(actor, facts)) throw new NotFoundError();
  const p = await participationFor(deps, report, orgPublicId, () => true);
  const checking: readonly string[] = ["fix_in_progress", "fixed"];
  if (p.status !== "fixed" || !checking.includes(report.state))
    return {
      ok: false,
      errors: {
        decision: `${p.organizationName} has no fix to check now.`,
      },
    };
  const verified = input.decision === "verified";
  if (verified && p.fixVerifiedAt)
    return {
      ok: false,
      errors: { decision: "This fix is already confirmed." },
    };
  const now = deps.clock.now();
  const done = await refusedOrDone(() =>
    deps.db.transaction().execute(async (tx) => {
      await updateParticipation(
        tx,
        report.id,
        p.organizationId,
        verified
          ? { fix_verified_at: now.getTime() }
          : {
              status: "affected",
              status_changed_at: now.getTime(),
              fix_verified_at: null,
            },
      );
      const change: ChangeName = verified
        ? "participant_fix_verified"
        : "participant_fix_rejected";
      await recordChange(tx, deps, {
        change,
        report,
        actor,
        at: now,
        request,
        body:
          `${p.organizationName}` +
          (input.message ? `\n\n${input.message}` : ""),
        details: { organization: p.organizationPublicId, verified },
        audience: entryFor(p),
      });
      if (verified) {
        await applyFollowingStep(tx, deps, actor, report.id, now, request);
        return;
      }
      const current = (await findReportById(tx, report.id))!;
      if (current.state !== "fixed") return;
      const relation = relationTo(actor, accessFacts(current));
      const plan = planTransition(
        current,
        relation === "staff" ? "staff" : "reporter",
        "reject_fix",
        // Read by everyone on the case: our words, no organization named
        // (the researcher's own are on the organization's entry above).
        {
          message:
            "The fix of an organization on the case was found not to work.",
        },
        now,
      );
      if (!plan.ok) throw new Refused({ decision: plan.error });
      if (
        !(await applyTransition(tx, deps, {
          report: current,
          plan: plan.plan,
          actor: null,
          at: now,
          request,
        }))
      )
        throw new ConflictError(
          "Someone changed this report a moment ago. Reload the page and try again.",
        );
    }),
  );
  if (!done.ok) return done;
  return { ok: true, value: verified };
}

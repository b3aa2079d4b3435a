import { can, relationTo, type Actor } from "../auth/policy.js";
import {
  audienceOrgs,
  notifyPendingParticipations,
  setLeadParticipant,
  answerForOnlyParticipant,
  reopenFixedParticipations,
  verifyFixedParticipations,
} from "./participations-repository.js";
import { answerStepAsOrganization } from "./participations-service.js";
import type { AuditDetails, AuditRequestContext } from "../audit/types.js";
import type { DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { ConflictError, NotFoundError } from "../http/errors.js";
import { DONE, type Outcome } from "../http/validation.js";
import { MAX_FILES } from "../http/uploads.js";
import { keptOptions } from "../http/option-tags.js";
import { newReportId, normalizeReportId } from "../ids.js";
import {
  findAdvisory,
  markAdvisoryPublished,
} from "../advisories/repository.js";
import {
  commentOnDraftAdvisory,
  creditBlocksPublication,
} from "../advisories/service.js";
import {
  AUDIENCE_REFUSED,
  audienceChoices,
  defaultAudience,
  resolveAudience,
} from "./audiences.js";
import { recordChange } from "./changes.js";
import { dueFrom } from "./clocks.js";
import {
  findOrganizationById,
  findOrganizationByPublicId,
  listOrganizations,
} from "../orgs/repository.js";
import { createOrganizationIn } from "../orgs/service.js";
import { SEVERITY_LABELS, scoreCvss, type Severity } from "./cvss.js";
import {
  NEW_ORGANIZATION,
  NOT_SHAREABLE,
  type ReportForm,
  type CommentInput,
  type ShareInput,
  type TransitionInput,
  type TriageChange,
  type TriageInput,
} from "./forms.js";
import { CWE_FORM_OPTIONS, cweLabel } from "./cwe.js";
import {
  changeReportState,
  findPendingAttachments,
  findReportById,
  findReportByPublicId,
  insertReport,
  linkAttachments,
  shareEventWithOrganization,
  touchReport,
  updateTriageFields,
} from "./repository.js";
import {
  accessFacts,
  DATA_KINDS,
  type MailOrigin,
  type Report,
} from "./types.js";
import { planTransition, type TransitionPlan } from "./workflow.js";

// ---- filing ----

/** What the report form needs besides the values typed. */
export async function reportFormOptions(deps: Deps) {
  const organizations = await listOrganizations(deps.db);
  return {
    organizations: keptOptions(organizations, "report form", () => [
      { value: "", label: "Choose…" },
      ...organizations.map((o) => ({ value: o.publicId, label: o.name })),
      {
        value: NEW_ORGANIZATION,
        label: "Another organization (name it below)",
      },
    ]),
    cweOptions: CWE_FORM_OPTIONS,
    dataKinds: DATA_KINDS,
    maxFiles: MAX_FILES,
  };
}

/** What a channel other than the web form writes with the report, in its transaction. */
export interface FilingExtra {
  /** Reports by email: the sender's record, claim link and receipt (src/inbound/intake.ts). */
  alsoWrite?: (tx: DbOrTx, report: Report) => Promise<void>;
}

/** Files a report: the report, its first timeline event, its files and its mail in one transaction. */
export async function fileReport(
  deps: Deps,
  actor: Actor,
  form: ReportForm,
  request: AuditRequestContext | null = null,
  extra: FilingExtra = {},
): Promise<Outcome<Report>> {
  if (!can(actor, "report:create")) throw new NotFoundError();
  let organizationId: number | null = null;
  if (form.organization !== NEW_ORGANIZATION) {
    const org = await findOrganizationByPublicId(deps.db, form.organization);
    if (!org)
      return {
        ok: false,
        errors: { organization: "Choose an organization from the list." },
      };
    organizationId = org.id;
  }
  const cvss = form.cvss ? scoreCvss(form.cvss) : null;
  const now = deps.clock.now();
  const clocks = deps.settings.clocks();
  const report = await deps.db.transaction().execute(async (tx) => {
    const attachments = await findPendingAttachments(
      tx,
      actor.id,
      form.keptAttachments,
    );
    const report = await insertReport(tx, {
      publicId: newReportId(),
      reporterId: actor.id,
      organizationId,
      suggestedOrgName:
        organizationId === null ? form.newOrganization || null : null,
      title: form.title,
      asset: form.asset,
      cwe: form.cwe,
      cvssVector: cvss?.vector ?? null,
      cvssScore: cvss?.score ?? null,
      severity: cvss?.severity ?? null,
      description: form.description,
      steps: form.steps,
      impact: form.impact,
      dataExposed: [...new Set(form.dataExposed)],
      recordsAffected: form.recordsAffected,
      creditKind: form.creditKind,
      creditHandle: form.creditKind === "handle" ? form.creditHandle : null,
      revealIdentity: form.revealIdentity,
      createdAt: now,
      ackDueAt: dueFrom("ack", now, clocks)!,
      triageDueAt: dueFrom("triage", now, clocks)!,
    });
    await linkAttachments(
      tx,
      report.id,
      attachments.map((a) => a.id),
    );
    await recordChange(tx, deps, {
      change: "submitted",
      report,
      actor,
      at: now,
      request,
      toState: "submitted",
      details: { attachments: attachments.map((a) => a.publicId) },
    });
    await extra.alsoWrite?.(tx, report);
    return report;
  });
  return { ok: true, value: report };
}

// ---- loading ----

/**
 * The one way a route gets a report: by its public ID, and only if the policy
 * lets this actor see it. Anything else is the same NotFoundError as a
 * report that does not exist.
 */
export async function loadReportFor(
  deps: Deps,
  actor: Actor | null,
  rawId: string,
): Promise<Report> {
  const publicId = normalizeReportId(rawId);
  const report = publicId
    ? await findReportByPublicId(deps.db, publicId)
    : undefined;
  if (!report || !can(actor, "report:view", accessFacts(report)))
    throw new NotFoundError();
  return report;
}

/** The service's own policy check, behind the route's allowedOn. */
export function requireOn(
  actor: Actor,
  action: Parameters<typeof can>[1],
  report: Report,
) {
  if (!can(actor, action as "report:view", accessFacts(report)))
    throw new NotFoundError();
}

// ---- actions ----

/**
 * Takes a workflow step: the workflow decides, then the state change, its
 * timeline event, its audit entry and its mail are written in one transaction.
 */
export async function takeTransition(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: TransitionInput,
  request: AuditRequestContext | null,
): Promise<Outcome<Report>> {
  const facts = accessFacts(report);
  requireOn(actor, "report:act", report);
  let duplicateOfId: number | null = null;
  let duplicateOf: string | null = null;
  if (input.name === "close" && input.resolution === "duplicate") {
    const id = normalizeReportId(input.duplicateOf);
    const original = id ? await findReportByPublicId(deps.db, id) : undefined;
    if (!original || original.id === report.id) {
      return {
        ok: false,
        errors: {
          duplicateOf: "Enter the ID of another report, like DD-7K2Q-9M4D.",
        },
      };
    }
    duplicateOfId = original.id;
    duplicateOf = original.publicId;
  }
  const now = deps.clock.now();
  const relation = relationTo(actor, facts);
  // An organization's steps mean "my organization's status"; the report's
  // step follows from every participation (participations-service.ts).
  if (
    relation === "org_contact" &&
    (input.name === "vendor_acknowledge" || input.name === "mark_fixed")
  )
    return answerStepAsOrganization(
      deps,
      actor,
      report,
      input.name,
      input.message?.trim() || null,
      request,
    );
  // The triage step saves the triage fields sent with it, in the same transaction.
  const triage =
    input.name === "triage" &&
    (input.cwe !== undefined ||
      input.cvss !== undefined ||
      input.organization !== undefined ||
      input.createSuggested)
      ? input
      : null;
  if (triage) requireOn(actor, "report:edit_triage", report);
  const plan = (current: Report) => {
    const decision = planTransition(
      current,
      relation,
      input.name,
      {
        message: input.message,
        resolution: input.resolution,
        duplicateOfId,
        confirmed: input.confirm,
      },
      now,
    );
    if (!decision.ok)
      throw new Refused({ [decision.field ?? "name"]: decision.error });
    return decision.plan;
  };
  // A step the report's state does not allow is refused before any field is read.
  if (triage) {
    const first = planTransition(report, relation, input.name, {}, now);
    if (!first.ok && first.field === undefined)
      return { ok: false, errors: { name: first.error } };
  }
  const checked = triage ? null : await refusedOrDone(async () => plan(report));
  if (checked && !checked.ok) return checked;
  // Only a triager-written advisory is ever published, never the raw report.
  if (input.name === "publish") {
    const draft = await findAdvisory(deps.db, report.id);
    if (!draft?.title)
      return {
        ok: false,
        errors: {
          message:
            "Write and save the advisory title and summary first (the Advisory panel); they are what the public page shows.",
        },
      };
    // The researcher accepts or declines their credit before it is public.
    const waiting = await creditBlocksPublication(deps, report, draft);
    if (waiting) return { ok: false, errors: { message: waiting } };
  }
  const done = await refusedOrDone(() =>
    deps.db.transaction().execute(async (tx) => {
      const current = triage
        ? await saveTriage(tx, deps, actor, report, triage, now, request)
        : report;
      const steps = plan(current);
      if (steps.transition.name === "publish")
        await markAdvisoryPublished(tx, report.id, now);
      const applied = await applyTransition(tx, deps, {
        report: current,
        plan: steps,
        actor,
        at: now,
        request,
        ...(duplicateOf !== null && { audited: { duplicateOf } }),
      });
      if (!applied)
        throw new ConflictError(
          "Someone changed this report a moment ago. Reload the page and try again.",
        );
      // "Not fixed" for the case: every organization that said fixed is
      // back to affected, so it marks its fix again.
      if (steps.transition.name === "reject_fix")
        await reopenFixedParticipations(tx, report.id, now);
      // A triager answering for the case's one organization (a phone call)
      // answers for it: its status says what the report's step says.
      if (
        steps.transition.name === "vendor_acknowledge" ||
        steps.transition.name === "mark_fixed"
      )
        await answerForOnlyParticipant(
          tx,
          report.id,
          steps.transition.name === "mark_fixed" ? "fixed" : "affected",
          now,
        );
    }),
  );
  if (!done.ok) return done;
  return { ok: true, value: (await findReportById(deps.db, report.id))! };
}

/**
 * Writes a planned workflow step, by a person or by the app itself (actor
 * null), if the report still stands where the plan was made: the state
 * change and its record. False when someone changed the report first.
 */
export async function applyTransition(
  tx: DbOrTx,
  deps: Pick<Deps, "db" | "clock" | "config" | "settings">,
  step: {
    report: Report;
    plan: TransitionPlan;
    actor: Actor | null;
    at: Date;
    request: AuditRequestContext | null;
    /** What the audit entry adds to the step (a duplicate's original). */
    audited?: AuditDetails;
    /** A line of our own words for the mail. */
    mailDetail?: string;
    /** Called in the transaction with the timeline entry written. */
    recorded?: (tx: DbOrTx, eventId: number) => Promise<void>;
    /** The step came by email (a researcher's reply answering a question). */
    viaMail?: MailOrigin | null;
  },
): Promise<boolean> {
  const { report, plan, at: now } = step;
  const changed = await changeReportState(tx, report.id, plan.from, {
    state: plan.to,
    stateBeforeInfo: plan.stateBeforeInfo,
    resolution: plan.resolution,
    duplicateOfId: plan.duplicateOfId,
    closedAt: plan.to === "closed" ? now : report.closedAt,
    at: now,
    ...(plan.transition.name === "acknowledge" && {
      triageDueAt: dueFrom("triage", now, deps.settings.clocks())!,
    }),
    infoRequestedAt: plan.to === "needs_info" ? now : null,
    ...(plan.fixVerified !== "keep" && {
      fixVerifiedAt: plan.fixVerified === "now" ? now : null,
    }),
    ...(plan.startsDisclosureClock && {
      vendorNotifiedAt: now,
      disclosureDueAt: dueFrom("disclosure", now, deps.settings.clocks())!,
    }),
  });
  if (!changed) return false;
  // Every organization on the case is told at once, with the same clocks.
  if (plan.startsDisclosureClock)
    await notifyPendingParticipations(tx, report.id, now);
  // Confirmed for the case as a whole: for each organization that fixed.
  if (plan.transition.name === "verify_fix")
    await verifyFixedParticipations(tx, report.id, now);
  const eventId = await recordChange(tx, deps, {
    change: plan.transition.name,
    report,
    actor: step.actor,
    at: now,
    request: step.request,
    body: plan.message,
    fromState: plan.from,
    toState: plan.to,
    details: {
      transition: plan.transition.name,
      from: plan.from,
      to: plan.to,
      ...step.audited,
    },
    mailDetail: step.mailDetail,
    viaMail: step.viaMail ?? null,
  });
  await step.recorded?.(tx, eventId);
  return true;
}

/** What a comment turned out to be: a plain comment, or the researcher's answer. */
export type CommentOutcome = "comment" | "answer";

/**
 * A public comment: on the timeline for everyone who sees the report, and
 * mailed. While the CERT waits for the researcher (needs_info), the
 * researcher's comment IS their answer: the workflow's provide_info step,
 * which returns the report to where it was and stops the request's clock.
 * Every channel (the page, a mail reply, the API) comes through here, so no
 * researcher who replied is left with a report that expires.
 */
export function addComment(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: CommentInput,
  request: AuditRequestContext | null = null,
): Promise<Outcome<CommentOutcome>> {
  return commentWithRecord(deps, actor, report, input, request);
}

/**
 * addComment, calling `recorded` in the comment's transaction with its
 * timeline entry: a reply by mail records there where it came from.
 */
export async function commentWithRecord(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: CommentInput,
  request: AuditRequestContext | null,
  recorded?: (tx: DbOrTx, eventId: number) => Promise<void>,
): Promise<Outcome<CommentOutcome>> {
  return comment(deps, actor, report, input, request, null, recorded);
}

/**
 * A reply by email, as addComment (the same policy and workflow): the
 * timeline says it came by mail, encrypted and signed or not, and staff can
 * open the message as received.
 */
export async function addCommentByMail(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: CommentInput,
  viaMail: MailOrigin,
  recorded?: (tx: DbOrTx, eventId: number) => Promise<void>,
): Promise<Outcome<CommentOutcome>> {
  // Audited as coming from no address of ours to know, by email.
  const request = { ip: null, userAgent: "email" };
  return comment(deps, actor, report, input, request, viaMail, recorded);
}

async function comment(
  deps: Deps,
  actor: Actor,
  report: Report,
  { body, audience: chosen }: CommentInput,
  request: AuditRequestContext | null,
  viaMail: MailOrigin | null,
  recorded?: (tx: DbOrTx, eventId: number) => Promise<void>,
): Promise<Outcome<CommentOutcome>> {
  requireOn(actor, "report:comment", report);
  // Who reads it: a choice the form offered (audiences.ts), or, with none
  // (a reply by mail, the API), the default for the writer.
  let audience = defaultAudience(actor, accessFacts(report));
  if (chosen !== undefined) {
    const choices = audienceChoices(
      actor,
      accessFacts(report),
      await audienceOrgs(deps.db, report.id),
    );
    const resolved = resolveAudience(chosen, choices);
    if (!resolved) return { ok: false, errors: { audience: AUDIENCE_REFUSED } };
    audience = resolved;
  }
  const now = deps.clock.now();
  const relation = relationTo(actor, accessFacts(report));
  const decision =
    report.state === "needs_info" && relation === "reporter"
      ? planTransition(report, relation, "provide_info", { message: body }, now)
      : null;
  const kind = await deps.db.transaction().execute(async (tx) => {
    if (
      decision?.ok &&
      (await applyTransition(tx, deps, {
        report,
        plan: decision.plan,
        actor,
        at: now,
        request,
        recorded,
        viaMail,
      }))
    )
      return "answer" as const;
    // Not an answer (or the report moved a moment ago): a comment, never lost.
    await touchReport(tx, report.id, now);
    const eventId = await recordChange(tx, deps, {
      change: "comment",
      report,
      actor,
      at: now,
      request,
      body,
      viaMail,
      audience,
    });
    await recorded?.(tx, eventId);
    return "comment" as const;
  });
  return { ok: true, value: kind };
}

/**
 * A comment on the draft advisory. While the CERT waits for the researcher
 * (needs_info), the researcher's comment there is their answer too, as on
 * the comment box: the report goes back to where it was and cannot expire.
 */
export async function commentOnDraft(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: CommentInput,
  request: AuditRequestContext | null = null,
): Promise<Outcome<CommentOutcome>> {
  if (
    report.state === "needs_info" &&
    relationTo(actor, accessFacts(report)) === "reporter"
  )
    return addComment(deps, actor, report, input, request);
  const outcome = await commentOnDraftAdvisory(
    deps,
    actor,
    report,
    input,
    request,
  );
  return outcome.ok ? { ok: true, value: "comment" } : outcome;
}

/** An internal note: staff only, never shown to researchers or organizations, never mailed. */
export async function addNote(
  deps: Deps,
  actor: Actor,
  report: Report,
  { body }: CommentInput,
  request: AuditRequestContext | null = null,
): Promise<Outcome<void>> {
  requireOn(actor, "report:add_note", report);
  const now = deps.clock.now();
  await deps.db.transaction().execute((tx) =>
    recordChange(tx, deps, {
      change: "note",
      report,
      actor,
      at: now,
      request,
      body,
    }),
  );
  return DONE;
}

/**
 * A triager shows the organization one message the researcher and the CERT
 * exchanged before it was involved: on purpose, audited, and on the timeline.
 */
export async function shareMessage(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: ShareInput,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  requireOn(actor, "report:share_message", report);
  if (!report.vendorNotifiedAt)
    return {
      ok: false,
      errors: {
        _form:
          "The organization has not been notified yet: there is nobody to share with.",
      },
      values: {},
    };
  // Shared with one organization: the one chosen, or the only one notified.
  const notified = (await audienceOrgs(deps.db, report.id)).filter((o) =>
    report.participants.some(
      (p) => p.organizationId === o.id && p.notifiedAt !== null,
    ),
  );
  const org =
    input.organization === undefined || input.organization === ""
      ? notified.length === 1
        ? notified[0]
        : undefined
      : notified.find((o) => o.publicId === input.organization);
  if (!org)
    return {
      ok: false,
      errors: {
        organization:
          "Choose one of the organizations notified on this case to share the message with.",
      },
    };
  const now = deps.clock.now();
  const shared = await deps.db.transaction().execute(async (tx) => {
    const writtenAt = await shareEventWithOrganization(
      tx,
      report.id,
      input.event,
      org.id,
      actor.id,
      now,
    );
    if (!writtenAt) return false;
    await touchReport(tx, report.id, now);
    await recordChange(tx, deps, {
      change: "share",
      report,
      actor,
      at: now,
      request,
      details: {
        writtenAt: writtenAt.toISOString(),
        organization: org.publicId,
      },
      // Said where the message now is: the other organizations learn nothing.
      audience: { audience: "org_researcher", orgId: org.id },
    });
    return true;
  });
  return shared
    ? DONE
    : { ok: false, errors: { _form: NOT_SHAREABLE }, values: {} };
}

/** Staff set severity, weakness and organization; each change is on the timeline. */
export async function updateTriage(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: TriageInput,
  request: AuditRequestContext | null = null,
): Promise<Outcome<void>> {
  requireOn(actor, "report:edit_triage", report);
  const now = deps.clock.now();
  return refusedOrDone(() =>
    deps.db.transaction().execute(async (tx) => {
      await saveTriage(tx, deps, actor, report, input, now, request);
    }),
  );
}

/** A refusal found inside a transaction: thrown to roll it back, returned as the form's errors. */
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

/**
 * Writes a triage change inside the caller's transaction (the details form,
 * or the "Mark as triaged" step with it): the organization, created from the
 * researcher's suggestion when asked, then the fields and their timeline
 * event. Throws Refused (rolling everything back) on a field it cannot take.
 * Returns the report as changed.
 */
async function saveTriage(
  tx: DbOrTx,
  deps: Deps,
  actor: Actor,
  report: Report,
  input: TriageChange,
  now: Date,
  request: AuditRequestContext | null,
): Promise<Report> {
  let org =
    input.organization === undefined
      ? report.organizationId === null
        ? undefined
        : await findOrganizationById(tx, report.organizationId)
      : input.organization
        ? await findOrganizationByPublicId(tx, input.organization)
        : undefined;
  if (input.organization && !org)
    throw new Refused({
      organization: "Choose an organization from the list.",
    });
  if (input.createSuggested) {
    if (!report.suggestedOrgName || report.organizationId !== null)
      throw new Refused({
        organization:
          "The researcher suggested no organization to create here; choose one from the list.",
      });
    const created = await createOrganizationIn(
      tx,
      actor,
      { name: report.suggestedOrgName },
      now,
      request,
    );
    if (!created.ok)
      throw new Refused({
        organization: `${created.errors.name ?? "The organization cannot be created."} Choose it from the list.`,
      });
    org = created.value;
  }
  // Once an organization was notified, moving the report would show it to another one.
  if (report.vendorNotifiedAt && (org?.id ?? null) !== report.organizationId)
    throw new Refused({
      organization:
        "The organization was already notified; it cannot be changed.",
    });
  const cwe = input.cwe ?? report.cwe;
  const cvss =
    input.cvss === undefined
      ? report.cvssVector
        ? scoreCvss(report.cvssVector)
        : null
      : input.cvss
        ? scoreCvss(input.cvss)
        : null;
  const changes: string[] = [];
  // The log keeps IDs beside names: a name can change later, an ID cannot.
  const audited: AuditDetails = {};
  if (cwe !== report.cwe) {
    changes.push(`Weakness: ${cweLabel(report.cwe)} → ${cweLabel(cwe)}`);
    audited.cwe = `${report.cwe} → ${cwe}`;
  }
  if ((cvss?.vector ?? null) !== report.cvssVector) {
    const change = `${report.cvssVector ?? "none"} → ${cvss ? `${cvss.vector} (${cvss.score})` : "none"}`;
    changes.push(`CVSS: ${change}`);
    audited.cvss = change;
  }
  if ((org?.id ?? null) !== report.organizationId) {
    const before = report.organizationId
      ? await findOrganizationById(tx, report.organizationId)
      : undefined;
    changes.push(
      `Organization: ${before?.name ?? "not set"} → ${org?.name ?? "not set"}`,
    );
    const named = (o: typeof org) =>
      o ? `${o.name} (${o.publicId})` : "not set";
    audited.organization = `${named(before)} → ${named(org)}`;
  }
  if (changes.length === 0) return report;
  const fields = {
    cwe,
    cvssVector: cvss?.vector ?? null,
    cvssScore: cvss?.score ?? null,
    // A severity set without a vector (setSeverityIn) stays until a vector rates it.
    severity:
      cvss?.severity ?? (report.cvssVector === null ? report.severity : null),
    organizationId: org?.id ?? null,
  };
  await updateTriageFields(tx, report.id, fields, now);
  if (fields.organizationId !== report.organizationId)
    await setLeadParticipant(
      tx,
      report.id,
      report.organizationId,
      fields.organizationId,
      actor.id,
      now,
    );
  await recordChange(tx, deps, {
    change: "triage_changed",
    report,
    actor,
    at: now,
    request,
    body: changes.join("\n"),
    details: audited,
  });
  return { ...report, ...fields };
}

/**
 * Why this report's severity cannot be set to `severity` by itself, or
 * null: a report scored by a CVSS vector takes its severity from the
 * vector, changed on the report page.
 */
export function severityRefusal(
  report: Pick<Report, "cvssVector" | "severity">,
  severity: Severity,
): string | null {
  if (report.cvssVector === null) return null;
  const scored = scoreCvss(report.cvssVector)?.severity ?? report.severity;
  if (scored === severity) return null;
  return `Its CVSS vector rates it ${scored ? SEVERITY_LABELS[scored] : "unrated"}: change the vector on the report page instead.`;
}

/**
 * Sets the severity of a report not scored by a vector, inside the
 * caller's transaction: the field, then its timeline entry and audit entry
 * as any triage change (bulk.ts). False when nothing changes.
 */
export async function setSeverityIn(
  tx: DbOrTx,
  deps: Deps,
  step: {
    actor: Actor;
    report: Report;
    severity: Severity;
    at: Date;
    request: AuditRequestContext | null;
  },
): Promise<boolean> {
  const { actor, report, severity, at } = step;
  requireOn(actor, "report:edit_triage", report);
  const refused = severityRefusal(report, severity);
  if (refused) throw new Refused({ severity: refused });
  if (report.severity === severity) return false;
  await updateTriageFields(
    tx,
    report.id,
    {
      cwe: report.cwe,
      cvssVector: report.cvssVector,
      cvssScore: report.cvssScore,
      severity,
      organizationId: report.organizationId,
    },
    at,
  );
  const label = (s: Severity | null) => (s ? SEVERITY_LABELS[s] : "Not rated");
  await recordChange(tx, deps, {
    change: "triage_changed",
    report,
    actor,
    at,
    request: step.request,
    body: `Severity: ${label(report.severity)} → ${label(severity)}`,
    details: { severity: `${report.severity ?? "not rated"} → ${severity}` },
  });
  return true;
}

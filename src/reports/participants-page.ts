/**
 * The report page's participants panel: the organizations on the case, as
 * each reader may see them (policy.ts participantSight, canReadStatement),
 * with the forms this reader may use. Reads only; the view stays dumb.
 */
import {
  can,
  canAnswerFor,
  canReadStatement,
  canVerifyFixes,
  participantSight,
  relationTo,
  speaksFor,
  standsFor,
  type Actor,
} from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { keptOptions } from "../http/option-tags.js";
import { listOrganizations } from "../orgs/repository.js";
import { formState, type PageForm } from "./page.js";
import {
  ANSWER_STATUSES,
  answeredCount,
  PARTICIPATION_STATUS_LABELS,
  type Participation,
} from "./participations.js";
import { listParticipations } from "./participations-repository.js";
import { accessFacts, type Report } from "./types.js";
import { orgAnswerDue, spanText, type ClockSettings } from "./clocks.js";

const isoDate = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : "");

/** The form names of one organization's forms on the page (each keeps its own errors and values). */
export const participantForm = (
  kind:
    "status" | "statement" | "share" | "details" | "remove" | "approve" | "fix",
  orgPublicId: string,
) => `participant-${kind}-${orgPublicId}`;

const STATUS_OPTIONS = ANSWER_STATUSES.map((s) => ({
  value: s,
  label: PARTICIPATION_STATUS_LABELS[s],
}));

/**
 * Above this many organizations on a case, the CERT's panel lists each on
 * one line with a link to its own page (participantPage) instead of six
 * forms each: at 150 organizations those forms were a megabyte of HTML.
 */
export const COMPACT_ABOVE = 10;

/** The value of the hidden `from` field of the forms on a participant's own page. */
export const FROM_PARTICIPANT_PAGE = "participant";

/** The researcher checks each organization's fix where several fixed. */
function checksEachFix(
  actor: Actor,
  report: Report,
  active: Participation[],
): boolean {
  const fixedCount = active.filter((p) => p.status === "fixed").length;
  return (
    canVerifyFixes(actor, accessFacts(report)) &&
    fixedCount > 1 &&
    (report.state === "fix_in_progress" || report.state === "fixed")
  );
}

export async function participantsPanel(
  deps: Deps,
  actor: Actor,
  report: Report,
  pageForm: PageForm | null,
) {
  const facts = accessFacts(report);
  const relation = relationTo(actor, facts);
  const manage = can(actor, "report:manage_participants", facts);
  const all = await listParticipations(deps.db, report.id);
  const active = all.filter((p) => p.removedAt === null);
  const checksEach = checksEachFix(actor, report, active);
  const shown = active
    .map((p) => ({
      p,
      sight: participantSight(actor, facts, p.organizationId),
    }))
    .filter(
      (r): r is { p: Participation; sight: "full" | "status" } =>
        r.sight !== "none",
    );
  if (shown.length === 0 && !manage) return null;
  const opts = {
    manage,
    checksEach,
    clocks: deps.settings.clocks(),
    now: deps.clock.now(),
  };
  const compact = relation === "staff" && shown.length > COMPACT_ABOVE;
  const rows = compact
    ? []
    : shown.map(({ p, sight }) =>
        participantRow(actor, report, p, sight, pageForm, opts),
      );
  // One line each, the forms on the organization's own page.
  const lines = compact
    ? shown.map(({ p }) => ({
        name: p.organizationName,
        status: PARTICIPATION_STATUS_LABELS[p.status],
        answered: answeredText(report, p, opts.clocks, opts.now),
        trackingId: p.trackingId ?? "None",
        href: `/reports/${report.publicId}/participants/${p.organizationPublicId}`,
      }))
    : null;
  const count = answeredCount(active);
  const organizations = manage ? await listOrganizations(deps.db) : [];
  const own = standsFor(actor, facts);
  return {
    staff: relation === "staff",
    /** The researcher checks each organization's fix here, not the case's at once. */
    checksEach,
    // "3 of 12 answered" is the CERT's overview of everyone.
    answered:
      relation === "staff"
        ? `${count.answered} of ${count.notified} answered`
        : null,
    caseOpen: report.caseOpen,
    openNote: report.caseOpen
      ? "The case is open: the organizations on it see each other's names and statuses."
      : "Each organization sees only its own participation.",
    rows,
    lines,
    removed: manage
      ? all
          .filter((p) => p.removedAt !== null)
          .map((p) => ({
            name: p.organizationName,
            at: formatDateTime(p.removedAt!),
            reason: p.removedReason ?? "",
          }))
      : [],
    add: manage
      ? {
          // Every organization, built once per list (an organization
          // already on the case is refused next to the field).
          options: keptOptions(organizations, "participant add", () => [
            { value: "", label: "Choose…" },
            ...organizations.map((o) => ({ value: o.publicId, label: o.name })),
          ]),
          hint:
            report.vendorNotifiedAt !== null
              ? "The organization is notified at once, with its own mail; the disclosure deadline is the case's."
              : "It is notified with the others when the case's organizations are notified.",
          ...formState(pageForm, "participant-add"),
        }
      : null,
    openForm: manage
      ? {
          open: report.caseOpen ? "no" : "yes",
          label: report.caseOpen
            ? "Close the case to the participants"
            : "Open the case to the participants",
          ...formState(pageForm, "case-open"),
        }
      : null,
    suggest:
      relation === "org_contact" &&
      own.length > 0 &&
      speaksFor(actor, facts, own[0]!)
        ? formState(pageForm, "participant-suggest")
        : null,
  };
}

/**
 * One organization on the case with all its forms, for the CERT (the route
 * asks report:manage_participants); an organization not on it is a 404.
 */
export async function participantPage(
  deps: Deps,
  actor: Actor,
  report: Report,
  orgPublicId: string,
  pageForm: PageForm | null,
) {
  const facts = accessFacts(report);
  const manage = can(actor, "report:manage_participants", facts);
  if (!manage) throw new NotFoundError();
  const active = (await listParticipations(deps.db, report.id)).filter(
    (p) => p.removedAt === null,
  );
  const p = active.find((x) => x.organizationPublicId === orgPublicId);
  const sight = p ? participantSight(actor, facts, p.organizationId) : "none";
  if (!p || sight === "none") throw new NotFoundError();
  return {
    report: { publicId: report.publicId, title: report.title },
    base: `/reports/${report.publicId}/participants`,
    from: FROM_PARTICIPANT_PAGE,
    pageErrors: pageForm?.errors ?? {},
    row: participantRow(actor, report, p, sight, pageForm, {
      manage,
      checksEach: checksEachFix(actor, report, active),
      clocks: deps.settings.clocks(),
      now: deps.clock.now(),
    }),
  };
}

function answeredText(
  report: Report,
  p: Participation,
  clocks: ClockSettings,
  now: Date,
): string {
  return p.answeredAt
    ? `Answered ${formatDateTime(p.answeredAt)}`
    : answerClockText(report, p, clocks, now);
}

/** A silent organization's answer clock in words (clocks.ts ORG_ANSWER_CLOCK). */
function answerClockText(
  report: Report,
  p: Participation,
  clocks: ClockSettings,
  now: Date,
): string {
  const due = orgAnswerDue(report.state, p, clocks);
  if (!due) return "Not answered yet";
  const late = now.getTime() - due.getTime();
  return late > 0
    ? `Not answered yet: overdue by ${spanText(late)} (due ${formatDateTime(due)})`
    : `Not answered yet: due in ${spanText(-late)} (${formatDateTime(due)})`;
}

function participantRow(
  actor: Actor,
  report: Report,
  p: Participation,
  sight: "full" | "status",
  pageForm: PageForm | null,
  opts: {
    manage: boolean;
    checksEach: boolean;
    clocks: ClockSettings;
    now: Date;
  },
) {
  const facts = accessFacts(report);
  const org = p.organizationPublicId;
  const answers = canAnswerFor(actor, facts, p.organizationId);
  const full = sight === "full";
  const statement = canReadStatement(actor, facts, p) ? p.statement : null;
  return {
    orgPublicId: org,
    name: p.organizationName,
    status: PARTICIPATION_STATUS_LABELS[p.status],
    statusReason: full ? p.statusReason : null,
    // What only the CERT and the organization itself read.
    details: full
      ? {
          answered: answeredText(report, p, opts.clocks, opts.now),
          notified: p.notifiedAt
            ? formatDateTime(p.notifiedAt)
            : "Not notified yet",
          trackingId: p.trackingId ?? "None",
          fixTarget: p.fixTargetAt ? formatDateTime(p.fixTargetAt) : "None",
          fixVerified: p.fixVerifiedAt ? formatDateTime(p.fixVerifiedAt) : null,
        }
      : null,
    statement: statement && {
      text: statement,
      references: full ? p.statementReferences : null,
      approved: p.statementApprovedAt
        ? `Approved ${formatDateTime(p.statementApprovedAt)}`
        : "Not approved yet",
      shared: full
        ? p.statementShared
          ? "Shared with the other organizations on the case"
          : "Not shared with the other organizations"
        : null,
    },
    forms: {
      status:
        answers && p.notifiedAt !== null
          ? {
              options: STATUS_OPTIONS,
              ...formState(pageForm, participantForm("status", org), {
                status: p.status === "not_answered" ? "" : p.status,
                reason: p.statusReason ?? "",
              }),
            }
          : null,
      statement: answers
        ? formState(pageForm, participantForm("statement", org), {
            statement: p.statement ?? "",
            references: p.statementReferences ?? "",
          })
        : null,
      details: answers
        ? formState(pageForm, participantForm("details", org), {
            trackingId: p.trackingId ?? "",
            fixTarget: isoDate(p.fixTargetAt),
          })
        : null,
      share: speaksFor(actor, facts, p.organizationId)
        ? {
            shared: p.statementShared ? "no" : "yes",
            label: p.statementShared
              ? "Stop sharing the statement"
              : "Share the statement with the other organizations",
            ...formState(pageForm, participantForm("share", org)),
          }
        : null,
      approve:
        opts.manage && p.statement && !p.statementApprovedAt
          ? formState(pageForm, participantForm("approve", org))
          : null,
      remove: opts.manage
        ? formState(pageForm, participantForm("remove", org))
        : null,
      fix:
        opts.checksEach && p.status === "fixed" && !p.fixVerifiedAt
          ? formState(pageForm, participantForm("fix", org))
          : null,
    },
  };
}

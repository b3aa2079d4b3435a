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
  const verifies = canVerifyFixes(actor, facts);
  // The researcher checks each organization's fix where several fixed.
  const fixedCount = active.filter((p) => p.status === "fixed").length;
  const checksEach =
    verifies &&
    fixedCount > 1 &&
    (report.state === "fix_in_progress" || report.state === "fixed");
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
  const rows = shown.map(({ p, sight }) =>
    participantRow(actor, report, p, sight, pageForm, {
      manage,
      checksEach,
    }),
  );
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

function participantRow(
  actor: Actor,
  report: Report,
  p: Participation,
  sight: "full" | "status",
  pageForm: PageForm | null,
  opts: { manage: boolean; checksEach: boolean },
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
          answered: p.answeredAt
            ? `Answered ${formatDateTime(p.answeredAt)}`
            : "Not answered yet",
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

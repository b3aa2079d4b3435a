import { findEmailReport } from "../inbound/intake-repository.js";
import { bouncingContactsOf } from "../inbound/bounce-repository.js";
import {
  can,
  readableEvents,
  relationTo,
  standsFor,
  type Actor,
  type Relation,
} from "../auth/policy.js";
import { viewersOfReport } from "../audit/service.js";
import type { ReportViewer } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { formatDateTime, ROLE_LABELS } from "../format.js";
import { inboundMessageHref } from "../inbound/links.js";
import { formatFingerprint } from "../mail/pgp.js";
import type { FieldErrors } from "../http/validation.js";
import { MAX_FILES } from "../http/uploads.js";
import { keptOptions } from "../http/option-tags.js";
import {
  advisoryDraftFor,
  creditProposalFor,
  draftAdvisoryFor,
} from "../advisories/service.js";
import { disclosureRequestView } from "./disclosure-request.js";
import { renderMarkdown } from "../markdown.js";
import { toSimilarTitleQuery } from "./search-query.js";
import { timelineSentence } from "./changes.js";
import { audienceChoices, audienceWords, defaultChoice } from "./audiences.js";
import { audienceOrgs } from "./participations-repository.js";
import {
  dueAt,
  dueText,
  isRunning,
  type ClockName,
  type ClockSettings,
} from "./clocks.js";
import { caseView } from "./case-facts.js";
import { participantsPanel } from "./participants-page.js";
import { assigneeOptions } from "./assignment.js";
import { findUserById } from "../users/repository.js";
import { findOrganizationById, listOrganizations } from "../orgs/repository.js";
import { shownFileName } from "./attachments.js";
import { SEVERITY_LABELS } from "./cvss.js";
import { CWE_OPTIONS, cweLabel } from "./cwe.js";
import {
  findReportById,
  findPossibleDuplicates,
  listAttachments,
  listEvents,
  userNames,
} from "./repository.js";
import { accessFacts, type EventKind, type Report } from "./types.js";
import {
  advisoryInPlay,
  availableTransitions,
  RESOLUTION_LABELS,
  RESOLUTIONS,
  STATE_INFO,
  type State,
  type TransitionName,
  type WorkflowReport,
} from "./workflow.js";

// The report page's view model: what each panel shows, decided here so the
// views stay dumb. Reads only; the route records the view in the audit log.

export interface PageForm {
  /** Which form on the page the values and errors belong to. */
  form: string;
  errors: FieldErrors;
  values: Record<string, unknown>;
}

/** One form's state on the page: what was sent back with its errors, or its defaults. */
export function formState(
  pageForm: PageForm | null,
  name: string,
  defaults: Record<string, unknown> = {},
): { values: Record<string, unknown>; errors: FieldErrors } {
  return pageForm?.form === name
    ? { values: pageForm.values, errors: pageForm.errors }
    : { values: defaults, errors: {} };
}

/** Who viewed the report, as its researcher may know them: role and organization only. */
export function viewerLabel(viewer: ReportViewer): string {
  if (viewer.organizationName) return `A contact at ${viewer.organizationName}`;
  return `CERT ${viewer.role === "admin" ? "administrator" : "triager"}`;
}

/** A running clock in plain words with its date; null when it is stopped. */
function clockView(
  clock: ClockName,
  report: Report,
  settings: ClockSettings,
  now: Date,
) {
  const due = dueAt(clock, report, settings);
  if (!due || !isRunning(clock, report.state)) return null;
  return { at: formatDateTime(due), ...dueText(clock, due, now) };
}

/** The running clocks a relation reads, in plain words (the page and encrypted mail). */
export function runningDeadlines(
  relation: Relation,
  report: Report,
  settings: ClockSettings,
  now: Date,
) {
  return (
    [
      "ack",
      "triage",
      "disclosure",
      // The fix target by severity, for the people who fix and follow it.
      ...(relation === "staff" || relation === "org_contact"
        ? (["fix"] as const)
        : []),
    ] as const
  )
    .map((clock) => clockView(clock, report, settings, now))
    .filter((d) => d !== null);
}

/** States in which a triager looks for duplicates. */
const TRIAGE_STATES: readonly State[] = [
  "submitted",
  "acknowledged",
  "needs_info",
  "triaged",
];

/**
 * Which of the report page's state-bound panels make sense now, from the
 * workflow and clock tables: the advisory once one can come of the report,
 * the deadline while its clock runs, the triage details form on its own
 * once the "Mark as triaged" step (which carries it) is not offered.
 */
export function panelsInPlay(
  report: WorkflowReport,
  offered: readonly TransitionName[],
) {
  return {
    advisory: advisoryInPlay(report),
    deadline:
      report.disclosureDueAt !== null && isRunning("disclosure", report.state),
    triageDetails: !offered.includes("triage"),
  };
}

/** The disclosure deadline panel: who may move it or ask for more time, now. */
function deadlineView(actor: Actor, report: Report, pageForm: PageForm | null) {
  const facts = accessFacts(report);
  if (!panelsInPlay(report, []).deadline) return null;
  const canSet = can(actor, "report:set_deadline", facts);
  const canRequest = can(actor, "report:request_extension", facts);
  if (!canSet && !canRequest) return null;
  return {
    current: formatDateTime(report.disclosureDueAt!),
    requested: report.extensionRequestedTo
      ? formatDateTime(report.extensionRequestedTo)
      : null,
    canSet,
    canRequest,
    // While a request is open nobody asks again, unless one was just refused
    // (two tabs): the form is shown again with what was typed.
    showRequestForm:
      canRequest &&
      (!report.extensionRequestedTo || pageForm?.form === "extension"),
  };
}

/** Everything the report page shows, decided here so the view stays dumb. */
export async function reportPage(
  deps: Deps,
  actor: Actor,
  report: Report,
  pageForm: PageForm | null = null,
) {
  const facts = accessFacts(report);
  const relation = relationTo(actor, facts);
  const staff = can(actor, "report:view_internal", facts);
  const canComment = can(actor, "report:comment", facts);
  const seesRevisions = can(actor, "report:view_revisions", facts);
  const [events, attachments, organizations, caseOrgs] = await Promise.all([
    listEvents(deps.db, report.id, readableEvents(actor, facts)),
    listAttachments(deps.db, report.id),
    staff ? listOrganizations(deps.db) : Promise.resolve([]),
    audienceOrgs(deps.db, report.id),
  ]);
  // Who will read a comment: the form offers exactly what the policy lets
  // this writer choose (audiences.ts), starting on the writer's default.
  const choices = canComment ? audienceChoices(actor, facts, caseOrgs) : [];
  const commentForm = formState(pageForm, "comment");
  const commentAudience = {
    choices,
    // A case with many organizations: a list to pick from, not a wall of radios.
    options:
      choices.length > 6
        ? choices.map((c) => ({ value: c.value, label: c.label }))
        : null,
    value:
      typeof commentForm.values.audience === "string"
        ? commentForm.values.audience
        : defaultChoice(
            actor,
            facts,
            choices,
            report.vendorNotifiedAt !== null,
          ),
    error: commentForm.errors.audience ?? null,
  };
  // Most entries name no organization: those skip the search through every
  // organization (500 in the benchmark, twice per entry: 2 % of a view).
  const orgName = (id: number | null) =>
    id === null
      ? null
      : (caseOrgs.find((o) => o.id === id)?.name ??
        organizations.find((o) => o.id === id)?.name ??
        null);
  // A message is shared with one organization: chosen when several were notified.
  const shareOrgs = caseOrgs.filter((o) =>
    report.participants.some(
      (p) => p.organizationId === o.id && p.notifiedAt !== null,
    ),
  );
  const names = await userNames(
    deps.db,
    [report.reporterId, report.assigneeId].filter(
      (id): id is number => id !== null,
    ),
  );
  // An organization on a case with several reads its own name here, never
  // the lead's when that is another organization (policy.ts standsFor).
  const own = standsFor(actor, facts);
  const shownOrganizationId =
    relation === "org_contact" &&
    report.organizationId !== null &&
    !own.includes(report.organizationId)
      ? (own[0] ?? null)
      : report.organizationId;
  const organization = shownOrganizationId
    ? await findOrganizationById(deps.db, shownOrganizationId)
    : undefined;
  const original = report.duplicateOfId
    ? await findReportById(deps.db, report.duplicateOfId)
    : undefined;
  const assignment = can(actor, "report:assign", facts)
    ? {
        options: await assigneeOptions(deps, actor),
        ...formState(pageForm, "assign", {
          assignee_id: report.assigneeId
            ? ((await findUserById(deps.db, report.assigneeId))?.publicId ?? "")
            : "",
        }),
      }
    : null;
  // An organization learns only its own organization's facts: the original
  // may be another organization's report, and its ID and state are not theirs.
  const duplicateOf =
    original &&
    (relation !== "org_contact" ||
      can(actor, "report:view", accessFacts(original)))
      ? original
      : undefined;
  const now = deps.clock.now();
  const seesReporter = can(actor, "report:see_reporter", facts);
  const credit =
    report.creditKind === "anonymous"
      ? "Anonymous"
      : report.creditKind === "handle"
        ? report.creditHandle
        : names.get(report.reporterId);
  const viewers =
    relation === "reporter"
      ? await viewersOfReport(deps, actor, report.id)
      : null;
  const info = STATE_INFO[report.state];
  // Several organizations: a step's message reaches every one notified;
  // only staff read their names here (the others may not know them).
  const orgReaders =
    report.participants.length > 1
      ? staff
        ? `every organization on the case (${caseOrgs.map((o) => o.name).join(", ")})`
        : "every organization on the case"
      : (organization?.name ?? null);
  const audience = messageAudiences(report, orgReaders);
  const canShare =
    report.vendorNotifiedAt !== null &&
    can(actor, "report:share_message", facts);
  // The advisory form only once an advisory can come of the report (or
  // when it was just sent back with its errors).
  const advisory =
    panelsInPlay(report, []).advisory || pageForm?.form === "advisory"
      ? await advisoryDraftFor(
          deps,
          actor,
          report,
          names.get(report.reporterId),
        )
      : null;
  const participants = await participantsPanel(deps, actor, report, pageForm);
  // Where several organizations fixed, the researcher answers per
  // organization on the participants panel, not for the case at once.
  const actions = availableTransitions(report, relation, now).filter(
    (t) =>
      !(
        relation === "reporter" &&
        participants?.checksEach &&
        (t.name === "verify_fix" || t.name === "reject_fix")
      ),
  );
  const triageForm =
    staff && can(actor, "report:edit_triage", facts)
      ? {
          organizations: keptOptions(organizations, "triage", () => [
            { value: "", label: "Not set" },
            ...organizations.map((o) => ({
              value: o.publicId,
              label: o.name,
            })),
          ]),
          cweOptions: CWE_OPTIONS,
          // The organization the researcher named, not in the list yet:
          // created and set from the triage form, without leaving the report.
          suggested:
            report.suggestedOrgName &&
            report.organizationId === null &&
            can(actor, "org:manage") &&
            !organizations.some(
              (o) =>
                o.name.toLowerCase() === report.suggestedOrgName!.toLowerCase(),
            )
              ? report.suggestedOrgName
              : null,
          ...formState(pageForm, "triage", {
            cwe: report.cwe,
            cvss: report.cvssVector ?? "",
            organization: organization?.publicId ?? "",
          }),
        }
      : null;
  const cases = caseView(actor, report);
  const disclosureRequest = disclosureRequestView(actor, report);
  // While the CERT waits for this researcher, their comment is the answer
  // (service.ts addComment): the question and the box to answer it come first.
  const answering =
    relation === "reporter" && report.state === "needs_info" && canComment;
  const question = answering
    ? [...events]
        .reverse()
        .find((e) => e.kind === "transition" && e.action === "request_info")
    : undefined;

  // A contact who never receives mail is a coordination failure the
  // triager must see (src/inbound/bounces.ts).
  const mailTrouble =
    staff && report.organizationId !== null
      ? (await bouncingContactsOf(deps.db, [report.organizationId])).map(
          (c) =>
            `Mail to ${c.email} is bouncing since ${formatDateTime(c.since)}`,
        )
      : [];

  // Reports by email (src/inbound/intake.ts): who sent it is for staff;
  // its researcher knows it came by mail.
  const emailFiling = await findEmailReport(deps.db, report.id);
  const filedByEmail = !emailFiling
    ? null
    : staff
      ? `Filed by email from ${emailFiling.sender}` +
        (emailFiling.claimedAt
          ? `; claimed ${formatDateTime(emailFiling.claimedAt)}`
          : "; not claimed by an account yet")
      : "Filed by email";

  return {
    mailTrouble,
    filedByEmail,
    participants,
    report: {
      publicId: report.publicId,
      title: report.title,
      asset: report.asset,
      cwe: cweLabel(report.cwe),
      cvssVector: report.cvssVector,
      cvssScore: report.cvssScore?.toFixed(1) ?? null,
      severity: report.severity,
      severityLabel: report.severity ? SEVERITY_LABELS[report.severity] : null,
      descriptionHtml: renderMarkdown(report.description),
      stepsHtml: renderMarkdown(report.steps),
      impactHtml: renderMarkdown(report.impact),
      dataExposed:
        (report.dataExposed.length
          ? report.dataExposed.join(", ")
          : "Not stated") +
        (report.recordsAffected
          ? `; about ${report.recordsAffected.toLocaleString("en-GB")} records`
          : ""),
      organization:
        organization?.name ??
        (report.suggestedOrgName
          ? `${report.suggestedOrgName} (suggested by the researcher)`
          : "Not set"),
      state: report.state,
      stateLabel: info.label,
      stateMeaning: info.meaning,
      nextStep: info.next[relation] ?? null,
      resolution: report.resolution
        ? RESOLUTION_LABELS[report.resolution]
        : null,
      createdAt: formatDateTime(report.createdAt),
      updatedAt: formatDateTime(report.updatedAt),
      reporter:
        (seesReporter ? names.get(report.reporterId) : undefined) ??
        "Not disclosed to your organization",
      // How the researcher wants to be credited is who they are: hidden
      // from an organization they did not reveal themselves to.
      credit: seesReporter ? credit : null,
      revealIdentity: report.revealIdentity,
      assignee:
        (report.assigneeId ? names.get(report.assigneeId) : undefined) ??
        "Nobody",
      assignedToMe: report.assigneeId === actor.id,
    },
    // A duplicate's researcher learns the original's ID and state, never its content.
    duplicateOf: duplicateOf
      ? {
          publicId: duplicateOf.publicId,
          stateLabel: STATE_INFO[duplicateOf.state].label,
          visible: can(actor, "report:view", accessFacts(duplicateOf)),
        }
      : null,
    advisory: advisory && {
      ...advisory,
      ...formState(pageForm, "advisory", advisory.values),
      creditRows: advisory.creditRows.map((i) => ({
        name: `creditName${i}`,
        nameLabel: `Name ${i + 1}`,
        type: `creditType${i}`,
      })),
      publishedCredit: advisory.credits.length
        ? advisory.credits.map((c) => `${c.name} (${c.typeLabel})`).join(", ")
        : "nobody",
    },
    creditProposal: await creditProposalFor(deps, actor, report),
    draftAdvisory: await draftAdvisoryFor(deps, actor, report).then(
      (draft) =>
        draft && {
          ...draft,
          canComment: canComment,
          // While the CERT waits for this researcher, the comment answers it.
          answers: answering,
          form: formState(pageForm, "draftComment"),
        },
    ),
    disclosureRequest: disclosureRequest && {
      ...disclosureRequest,
      form: formState(
        pageForm,
        disclosureRequest.role === "staff"
          ? "disclosureDecision"
          : "disclosureRequest",
      ),
    },
    // A triager's hint while triaging (not on every later view, it costs a
    // full-text query): same asset at the organization, or similar titles.
    possibleDuplicates:
      staff && TRIAGE_STATES.includes(report.state)
        ? (
            await findPossibleDuplicates(
              deps.db,
              report,
              toSimilarTitleQuery(report.title),
              5,
            )
          ).map((r) => ({ ...r, stateLabel: STATE_INFO[r.state].label }))
        : [],
    deadlines: runningDeadlines(relation, report, deps.settings.clocks(), now),
    // A file its researcher removed is listed to staff only, marked so (and
    // neutral names count only the files listed); the researcher may remove
    // their own until acknowledgment (uploads.ts).
    attachments: attachments
      .filter((a) => a.removedAt === null || seesRevisions)
      .map((a, i) => ({
        publicId: a.publicId,
        fileName: shownFileName(actor, facts, a, i + 1),
        size: `${Math.ceil(a.size / 1024)} KB`,
        mediaType: a.mediaType,
        removed: a.removedAt ? formatDateTime(a.removedAt) : null,
        canRemove:
          a.removedAt === null &&
          a.ownerId === actor.id &&
          can(actor, "report:edit_submission", facts),
      })),
    audience,
    commentAudience,
    shareOrgs:
      shareOrgs.length > 1
        ? [
            { value: "", label: "Choose…" },
            ...shareOrgs.map((o) => ({ value: o.publicId, label: o.name })),
          ]
        : null,
    // With many organizations, one choice of organization for the whole
    // timeline and a share button on each entry: a list of every
    // organization under each shareable entry made a case with 150
    // organizations a 4.5 MB page (bench/README.md, "A case with 150
    // organizations").
    shareOnce: shareOrgs.length > SHARE_CHOICES_PER_ENTRY,
    timeline: events.map((e) => ({
      kind: e.kind,
      internal: e.visibility === "internal",
      // Who reads the entry, in words, for the CERT who answers for it.
      readBy: staff
        ? audienceWords(e.audience, orgName(e.audienceOrgId), "staff")
        : null,
      audienceNote:
        e.sharedAt !== null
          ? `Written between the researcher and the CERT; shared with ${(staff ? orgName(e.audienceOrgId) : null) ?? "the organization"} ${formatDateTime(e.sharedAt)}.`
          : staff && e.audience === "researcher"
            ? "Between the researcher and the CERT: the organization does not read it."
            : null,
      // The event's row ID only reaches staff, on the form that shares it.
      shareId:
        canShare &&
        e.audience === "researcher" &&
        e.body !== null &&
        SHAREABLE_KINDS.includes(e.kind)
          ? e.id
          : null,
      // Org contacts see staff names; an anonymous researcher stays anonymous to them.
      ...(!seesReporter && e.actorId === report.reporterId
        ? { actor: "The researcher", actorRole: null }
        : {
            actor: e.actorName ?? "Disclosure Desk",
            actorRole: e.actorRole ? ROLE_LABELS[e.actorRole] : null,
          }),
      summary: timelineSentence(e.kind, e.action),
      // A state change, when the event made one.
      ...(e.fromState && e.toState && e.fromState !== e.toState
        ? {
            from: STATE_INFO[e.fromState].label,
            to: STATE_INFO[e.toState].label,
          }
        : { from: null, to: null }),
      bodyHtml:
        e.body &&
        (e.kind === "comment" || e.kind === "note" || e.kind === "transition")
          ? renderMarkdown(e.body)
          : null,
      bodyText:
        e.body &&
        (e.kind === "field_change" ||
          e.kind === "assignment" ||
          e.kind === "deadline" ||
          e.kind === "credit" ||
          e.kind === "disclosure_request" ||
          e.kind === "participation")
          ? e.body
          : null,
      // The version a researcher's edit replaced, for staff.
      revisionHref: !seesRevisions
        ? null
        : e.kind === "field_change" && e.action === "submission_edited"
          ? `/reports/${report.publicId}/revisions#revision-${e.id}`
          : e.kind === "attachment" && e.action === "attachment_removed"
            ? `/reports/${report.publicId}/revisions#removed-files-title`
            : null,
      // Came by email: how (encrypted, signed), and for staff the message as received.
      mail: e.viaMail && {
        encrypted: e.viaMail.encrypted,
        signedBy: e.viaMail.signedBy && formatFingerprint(e.viaMail.signedBy),
        originalHref: can(actor, "inbound:manage")
          ? inboundMessageHref(e.viaMail.messageId)
          : null,
      },
      at: formatDateTime(e.createdAt),
    })),
    infoRequest: answering
      ? {
          questionHtml: question?.body ? renderMarkdown(question.body) : null,
          askedAt: question ? formatDateTime(question.createdAt) : null,
          ...formState(pageForm, "answer"),
        }
      : null,
    // Staff get one action area, a step each (a <details>); the researcher
    // and the organization their few forms.
    actionArea: staff ? "steps" : "forms",
    // The answer box at the top takes this step; a second button would repeat it.
    actions: actions
      .filter((t) => !(answering && t.name === "provide_info"))
      .map((t) => {
        const form = formState(pageForm, t.name);
        const readers =
          t.name === "notify_vendor" || report.vendorNotifiedAt !== null
            ? `the researcher and ${orgReaders ?? "the organization"}`
            : "the researcher";
        return {
          name: t.name,
          label: t.label,
          form,
          // A step sent back with its errors is shown open.
          open: pageForm?.form === t.name,
          messageLabel: staff
            ? `Message to ${readers} (${t.message})`
            : t.message === "required"
              ? "Message (required)"
              : "Message (optional)",
          danger: t.danger ?? null,
          dangerous: t.danger !== undefined || t.name === "reject_fix",
          irreversible: t.irreversible === true,
          confirm:
            t.name === "withdraw"
              ? "Withdraw this report? The CERT will stop working on it."
              : null,
          // The notice's own message is the first one the organization reads.
          audience:
            t.name === "notify_vendor"
              ? audience.withOrganization
              : audience.public,
          needsResolution: t.name === "close",
          // "Mark as triaged" takes the triage fields with it: nothing typed there is lost.
          triage: t.name === "triage" ? triageForm : null,
        };
      }),
    resolutions: [
      { value: "", label: "Choose…" },
      ...RESOLUTIONS.filter((r) => r !== "withdrawn").map((r) => ({
        value: r,
        label: RESOLUTION_LABELS[r],
      })),
    ],
    can: {
      comment: canComment,
      note: can(actor, "report:add_note", facts),
      triage: can(actor, "report:edit_triage", facts),
      assign: can(actor, "report:assign", facts),
      upload: can(actor, "report:upload", facts),
      letter: can(actor, "report:letter", facts),
      editSubmission: can(actor, "report:edit_submission", facts),
    },
    // Who works on it: anyone active on the team (assignment.ts).
    assignment,
    deadline: deadlineView(actor, report, pageForm),
    caseFacts: {
      ...cases,
      // Facts nobody knows yet are news only to the staff who record them.
      shown: cases.staff || cases.facts.some((f) => f.since),
      facts: cases.facts
        .filter((f) => f.since || cases.staff)
        .map((f) => ({
          ...f,
          known: f.since ? `yes, since ${f.since}` : "not known",
          canMark: !f.since && cases.staff,
        })),
      ssvc: cases.ssvc && {
        ...cases.ssvc,
        open: pageForm?.form === "ssvc",
        ...formState(pageForm, "ssvc", {
          ...Object.fromEntries(cases.ssvc.points.map((p) => [p.key, p.value])),
          outcome: cases.ssvc.outcome,
        }),
      },
    },
    // The details form on its own once the triage step is not offered (after
    // triage, or while waiting for information); before, the step holds it.
    triage: panelsInPlay(
      report,
      actions.map((t) => t.name),
    ).triageDetails
      ? triageForm
      : null,
    viewers: viewers
      ? viewers.map((v) => ({ who: viewerLabel(v), at: formatDateTime(v.at) }))
      : null,
    pageErrors: pageForm?.errors ?? {},
    forms: Object.fromEntries(
      [
        "attachments",
        "comment",
        "note",
        "facts",
        "deadline",
        "extension",
        "decision",
        "credit",
      ].map((name) => [name, formState(pageForm, name)]),
    ),
    maxFiles: MAX_FILES,
  };
}

/** Messages a triager may share with the organization: words, not records. */
/** Up to this many organizations, each shareable timeline entry has its own choice of them. */
export const SHARE_CHOICES_PER_ENTRY = 10;

const SHAREABLE_KINDS: readonly EventKind[] = ["comment", "transition"];

/**
 * What every message box on the report page says about who will read it,
 * by the same rule insertEvent decides an event's audience with.
 */
function messageAudiences(report: Report, organizationName: string | null) {
  const withOrganization = `Read by the researcher, the CERT team and the contacts of ${organizationName ?? "the organization"}.`;
  // organizationName may be "every organization on the case (…)" (reportPage).
  return {
    public:
      report.vendorNotifiedAt !== null
        ? withOrganization
        : "Read by the researcher and the CERT team.",
    withOrganization,
    internal: "Internal: CERT staff only.",
  };
}

/**
 * One record of "a report changed". Every change to a report leaves the same
 * three traces, written by recordChange in the transaction of the change
 * itself: its timeline entry, its audit entry and its mail to the people on
 * the report (the transactional outbox). CHANGES says, for each kind of
 * change, what it writes and in which words; the words for a state are in
 * workflow.ts (STATE_INFO), the mail's layout in views/mail/report_event.*.
 */
import { recordAudit } from "../audit/service.js";
import type {
  AuditAction,
  AuditDetails,
  AuditRequestContext,
} from "../audit/types.js";
import type { Actor } from "../auth/policy.js";
import type { DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import {
  notifyReportEvent,
  type MailFact,
  type MailWords,
} from "../mail/notifications.js";
import { enqueueWebhookEvents } from "../webhooks/enqueue.js";
import { dueAt, nextDeadline, type ClockSettings } from "./clocks.js";
import { SEVERITY_LABELS } from "./cvss.js";
import {
  findEventById,
  findReportById,
  insertEvent,
  setQueueDue,
} from "./repository.js";
import type { EventAudience, EventKind, MailOrigin, Report } from "./types.js";
import {
  TRANSITIONS,
  type Audience,
  type State,
  type TransitionName,
} from "./workflow.js";

export interface ChangeDef {
  /** The timeline entry it writes, and who reads it. */
  kind: EventKind;
  action?: string;
  visibility: "public" | "internal";
  /** What the timeline says of the entry, after the actor's name. */
  timeline: string;
  /** Null: audited with the change it comes with (a proposed credit, with the saved advisory). */
  audit: AuditAction | null;
  /** Who hears of it; nobody: not mailed. */
  notify: readonly Audience[];
  mail: MailWords | null;
}

/** A workflow step: public, audited as a state change, heard by whom workflow.ts names. */
function step(
  name: TransitionName,
  timeline: string,
  mail: MailWords,
): ChangeDef {
  return {
    kind: "transition",
    action: name,
    visibility: "public",
    timeline,
    audit: "report.state_changed",
    notify: TRANSITIONS[name].notify,
    mail,
  };
}

// What several rows share. Changes that write the same entry (an internal
// note, a triage detail) read the same on the timeline.
const internalNote = {
  kind: "note",
  visibility: "internal",
  timeline: "added an internal note",
  notify: [],
  mail: null,
} as const;
const triageDetails = {
  kind: "field_change",
  visibility: "public",
  timeline: "changed the triage details",
  notify: [],
  mail: null,
} as const;
const deadlineStep = {
  kind: "deadline",
  visibility: "public",
  audit: "report.deadline_changed",
} as const;
const creditAnswer = {
  kind: "credit",
  visibility: "public",
  audit: "report.credit_answered",
  notify: ["triage"],
} as const;
const participation = {
  kind: "participation",
  visibility: "public",
} as const;
const disclosureRequest = {
  kind: "disclosure_request",
  visibility: "public",
  audit: "report.disclosure_requested",
} as const;

export const CHANGES = {
  submitted: {
    kind: "submitted",
    visibility: "public",
    timeline: "submitted the report",
    audit: "report.filed",
    notify: ["reporter", "triage"],
    mail: {
      subject: "New report submitted",
      sentence: "A new vulnerability report was submitted.",
      facts: ["ack_due"],
      to: {
        reporter: {
          subject: "Received",
          sentence:
            "Your report was received. Keep its ID: it is how the CERT and you refer to it.",
        },
      },
    },
  },

  acknowledge: step("acknowledge", "acknowledged the report", {
    subject: "Acknowledged by CERT",
    sentence: "A CERT triager acknowledged the report.",
  }),
  request_info: step(
    "request_info",
    "asked the researcher for more information",
    {
      subject: "More information needed",
      sentence: "The CERT needs more information from the researcher.",
      // The question itself only in mail encrypted to the researcher (sealed.ts).
      to: {
        reporter: {
          subject: "More information needed",
          sentence:
            "The CERT asked you a question about this report; it waits for your answer on the report page.",
        },
      },
    },
  ),
  provide_info: step("provide_info", "answered the request for information", {
    subject: "Researcher answered",
    sentence: "The researcher answered the request for information.",
  }),
  triage: step("triage", "validated the report", {
    subject: "Validated by CERT",
    sentence: "The CERT validated the report.",
  }),
  notify_vendor: step("notify_vendor", "notified the affected organization", {
    subject: "Organization notified",
    sentence:
      "The affected organization was notified; the disclosure clock is running.",
    facts: ["disclosure_due"],
    to: {
      org_contact: {
        subject: "New vulnerability report for your organization",
        sentence:
          "The CERT forwarded a vulnerability report about your organization to you.",
        facts: ["severity", "fix_target", "disclosure_due"],
      },
    },
  }),
  vendor_acknowledge: step(
    "vendor_acknowledge",
    "acknowledged the report for the organization; a fix is in progress",
    {
      subject: "Organization is fixing it",
      sentence:
        "The organization acknowledged the report and is working on a fix.",
    },
  ),
  // Only the researcher is asked to retest.
  mark_fixed: step("mark_fixed", "marked the fix as deployed", {
    subject: "Fix deployed",
    sentence: "The organization says the fix is deployed.",
    to: {
      reporter: {
        subject: "Fix deployed, please retest",
        sentence:
          "The organization says the fix is deployed. Please retest it and confirm the fix, or report that it is not fixed.",
      },
    },
  }),
  verify_fix: step("verify_fix", "confirmed the fix", {
    subject: "Fix verified",
    sentence: "The fix was confirmed.",
  }),
  reject_fix: step(
    "reject_fix",
    "reported that the vulnerability is not fixed",
    {
      subject: "Not fixed",
      sentence: "The vulnerability was found not to be fixed.",
    },
  ),
  close: step("close", "closed the report", {
    subject: "Closed",
    sentence: "The report was closed.",
  }),
  withdraw: step("withdraw", "withdrew the report", {
    subject: "Withdrawn",
    sentence: "The researcher withdrew the report.",
  }),
  publish: step("publish", "published the report as a public advisory", {
    subject: "Published as advisory",
    sentence: "The report was published as a public advisory.",
    facts: ["advisory"],
  }),
  reopen: step("reopen", "reopened the report", {
    subject: "Reopened",
    sentence: "The report was reopened.",
  }),
  expire_info: step("expire_info", "closed the report", {
    subject: "Closed: no answer",
    sentence:
      "The report was closed as invalid because the request for information went unanswered.",
  }),

  comment: {
    kind: "comment",
    visibility: "public",
    timeline: "commented",
    audit: "report.commented",
    notify: ["reporter", "triage", "org"],
    mail: {
      subject: "New comment",
      sentence: "There is a new comment on the report.",
    },
  },
  // A comment on the draft advisory (advisories/service.ts), marked as such.
  advisory_comment: {
    kind: "comment",
    action: "draft_advisory",
    visibility: "public",
    timeline: "commented on the draft advisory",
    audit: "report.commented",
    notify: ["reporter", "triage", "org"],
    mail: {
      subject: "Comment on the draft advisory",
      sentence: "There is a new comment on the draft advisory.",
    },
  },
  // Staff only, never mailed.
  note: { ...internalNote, audit: "report.note_added" },
  share: {
    kind: "share",
    visibility: "public",
    timeline:
      "shared an earlier message between the researcher and the CERT with the organization",
    audit: "report.message_shared",
    notify: [],
    mail: null,
  },
  triage_changed: { ...triageDetails, audit: "report.triage_changed" },
  // The researcher's correction before acknowledgment (submission-edit.ts);
  // the version it replaced is kept for staff (report_revisions).
  submission_edited: {
    kind: "field_change",
    action: "submission_edited",
    visibility: "public",
    timeline: "edited the report",
    audit: "report.submission_edited",
    notify: ["triage"],
    mail: {
      subject: "Edited by the researcher",
      sentence:
        "The researcher corrected the report before it was acknowledged; the earlier version is kept on the report.",
    },
  },
  // Only the person given the report hears of it (not who took it themselves).
  assigned: {
    kind: "assignment",
    visibility: "internal",
    timeline: "changed the assignment",
    audit: "report.assigned",
    notify: ["assignee"],
    mail: {
      subject: "Assigned to you",
      sentence: "A CERT colleague assigned this report to you.",
    },
  },
  files_attached: {
    kind: "attachment",
    visibility: "public",
    timeline: "attached files",
    audit: "report.files_attached",
    notify: [],
    mail: null,
  },
  // The researcher's correction of a file before acknowledgment
  // (uploads.ts): the file is kept for staff, hidden from everyone else.
  attachment_removed: {
    kind: "attachment",
    action: "attachment_removed",
    visibility: "public",
    timeline: "removed a file",
    audit: "report.attachment_removed",
    notify: [],
    mail: null,
  },
  case_fact: { ...triageDetails, audit: "report.case_fact_recorded" },
  ssvc_saved: { ...internalNote, audit: "report.ssvc_saved" },

  // The disclosure deadline (deadlines.ts).
  deadline_changed: {
    ...deadlineStep,
    action: "changed",
    timeline: "moved the disclosure deadline",
    notify: ["reporter", "org", "triage"],
    mail: {
      subject: "Disclosure deadline moved",
      sentence: "The CERT moved the disclosure deadline of this report.",
    },
  },
  extension_requested: {
    ...deadlineStep,
    action: "extension_requested",
    timeline: "asked for more time before disclosure",
    notify: ["triage"],
    mail: {
      subject: "Extension requested",
      sentence:
        "The organization asked for more time before this report is disclosed.",
      facts: ["extension_asked"],
    },
  },
  extension_granted: {
    ...deadlineStep,
    action: "extension_granted",
    timeline: "granted the extension",
    notify: ["org", "reporter"],
    mail: {
      subject: "Extension granted",
      sentence: "The CERT granted the organization's request for more time.",
    },
  },
  extension_refused: {
    ...deadlineStep,
    action: "extension_refused",
    timeline: "refused the extension",
    notify: ["org", "reporter"],
    mail: {
      subject: "Extension refused",
      sentence:
        "The CERT refused the organization's request for more time; the deadline stays.",
    },
  },

  // The advisory and its credit (advisories/service.ts).
  advisory_saved: { ...internalNote, audit: "report.advisory_saved" },
  // Public so the researcher sees it; the names stay off the timeline
  // (an organization may not know who reported).
  credit_proposed: {
    kind: "credit",
    action: "proposed",
    visibility: "public",
    timeline: "proposed the credit for the advisory",
    audit: null,
    notify: ["reporter"],
    mail: {
      subject: "Credit proposed: please answer",
      sentence:
        "The CERT proposed who the advisory will credit. Accept or decline it on the report page; nothing is published until you answer.",
    },
  },
  credit_accepted: {
    ...creditAnswer,
    action: "accepted",
    timeline: "accepted the credit",
    mail: {
      subject: "Credit accepted",
      sentence: "The researcher accepted the credit proposed for the advisory.",
    },
  },
  credit_declined: {
    ...creditAnswer,
    action: "declined",
    timeline: "declined the credit",
    mail: {
      subject: "Credit declined",
      sentence:
        "The researcher declined the credit proposed for the advisory; it will credit nobody.",
    },
  },

  // The researcher's request to publish (disclosure-request.ts).
  disclosure_requested: {
    ...disclosureRequest,
    action: "requested",
    timeline: "asked for disclosure",
    notify: ["triage"],
    mail: {
      subject: "Disclosure requested",
      sentence: "The researcher asked the CERT to publish this report.",
    },
  },
  disclosure_request_declined: {
    ...disclosureRequest,
    action: "declined",
    timeline: "answered the request for disclosure",
    notify: ["reporter"],
    mail: {
      subject: "Disclosure not yet",
      sentence:
        "The CERT answered your request to publish this report: not yet. Its reason is on the report's timeline.",
    },
  },

  // Several organizations on one case (participations-service.ts). Each
  // entry is written to one organization's audience: the other
  // participants never read it (the service passes it to recordChange).
  participant_added: {
    ...participation,
    action: "added",
    timeline: "added an organization to the case",
    audit: "report.participant_added",
    // Heard only once the organization was notified (added after the first).
    notify: ["org"],
    mail: {
      subject: "Organization added",
      sentence: "An organization was added to the case.",
      to: {
        org_contact: {
          subject: "New vulnerability report for your organization",
          sentence:
            "The CERT forwarded a vulnerability report about your organization to you.",
          facts: ["severity", "fix_target", "disclosure_due"],
        },
      },
    },
  },
  // The reason is the CERT's own; the organization's contacts lose access at once.
  participant_removed: {
    ...participation,
    visibility: "internal",
    action: "removed",
    timeline: "removed an organization from the case",
    audit: "report.participant_removed",
    notify: [],
    mail: null,
  },
  participant_status: {
    ...participation,
    action: "status",
    timeline: "set an organization's status",
    audit: "report.participant_status_set",
    notify: ["reporter", "triage", "org"],
    mail: {
      subject: "Organization status changed",
      sentence: "An organization on the case changed its status.",
    },
  },
  participant_statement: {
    ...participation,
    action: "statement",
    timeline: "wrote an organization's statement for the advisory",
    audit: "report.statement_written",
    notify: ["triage"],
    mail: {
      subject: "Statement written",
      sentence:
        "An organization on the case wrote its statement for the advisory; it waits for the CERT's approval.",
    },
  },
  statement_approved: {
    ...participation,
    action: "statement_approved",
    timeline: "approved an organization's statement",
    audit: "report.statement_approved",
    notify: ["org"],
    mail: {
      subject: "Statement approved",
      sentence:
        "The CERT approved your organization's statement for the advisory.",
    },
  },
  statement_shared: {
    ...participation,
    action: "statement_shared",
    timeline: "changed who reads an organization's statement",
    audit: "report.statement_shared",
    notify: [],
    mail: null,
  },
  participant_details: {
    ...participation,
    action: "details",
    timeline: "changed an organization's tracking ID or fix target",
    audit: "report.participant_details_set",
    notify: [],
    mail: null,
  },
  organization_suggested: {
    ...participation,
    action: "suggested",
    timeline: "suggested another organization to involve",
    audit: "report.organization_suggested",
    notify: ["triage"],
    mail: {
      subject: "Organization suggested",
      sentence:
        "An organization on the case suggested involving another organization; a triager decides.",
    },
  },
  case_opened: {
    ...participation,
    action: "case_opened",
    timeline:
      "opened the case: the organizations see each other's names and statuses",
    audit: "report.case_visibility_changed",
    notify: ["reporter", "triage", "org"],
    mail: {
      subject: "Case opened to all participants",
      sentence:
        "The CERT opened the case: the organizations on it now see each other's names and statuses.",
    },
  },
  case_closed: {
    ...participation,
    action: "case_closed",
    timeline:
      "closed the case: each organization sees only its own participation",
    audit: "report.case_visibility_changed",
    notify: ["reporter", "triage", "org"],
    mail: {
      subject: "Case no longer open to all participants",
      sentence:
        "The CERT closed the case to the participants: each organization again sees only its own participation.",
    },
  },
  participant_fix_verified: {
    ...participation,
    action: "fix_verified",
    timeline: "confirmed an organization's fix",
    audit: "report.participant_fix_checked",
    notify: ["triage", "org"],
    mail: {
      subject: "Fix verified",
      sentence: "The fix of an organization on the case was confirmed.",
    },
  },
  participant_fix_rejected: {
    ...participation,
    action: "fix_rejected",
    timeline: "reported that an organization's fix does not work",
    audit: "report.participant_fix_checked",
    notify: ["reporter", "triage", "org"],
    mail: {
      subject: "Not fixed",
      sentence:
        "The vulnerability was found not to be fixed at an organization on the case.",
    },
  },
} satisfies Record<TransitionName, ChangeDef> & Record<string, ChangeDef>;

export type ChangeName = keyof typeof CHANGES;

const byEntry = new Map<string, string>();
for (const def of Object.values(CHANGES) as ChangeDef[]) {
  const key = `${def.kind}:${def.action ?? ""}`;
  if (!byEntry.has(key)) byEntry.set(key, def.timeline);
}

/** What the timeline says of an entry, after the actor's name. */
export function timelineSentence(kind: EventKind, action: string | null) {
  return byEntry.get(`${kind}:${action ?? ""}`) ?? "updated the report";
}

/**
 * The lines a mail may state about the report (MailWords.facts): dates with
 * their time zone, our severity scale, our links. The fix target is the
 * one clock computed on reading (clocks.ts), by the settings of now.
 */
export function mailFactLines(
  report: Report,
  clocks: ClockSettings,
  baseUrl: string,
): Partial<Record<MailFact, string>> {
  const date = (at: Date | null) => (at ? formatDateTime(at) : null);
  const line = (text: string, at: Date | null) =>
    at ? `${text}: ${date(at)}.` : undefined;
  const fix = dueAt("fix", report, clocks);
  return {
    ack_due: line("Acknowledgment due", report.ackDueAt),
    severity: report.severity
      ? `Severity: ${SEVERITY_LABELS[report.severity]}${report.cvssScore !== null ? ` (CVSS ${report.cvssScore.toFixed(1)})` : ""}.`
      : "Severity: not rated yet.",
    fix_target: fix
      ? `Fix target: ${date(fix)}.`
      : "Fix target: none until the severity is rated.",
    disclosure_due: line("Disclosure deadline", report.disclosureDueAt),
    extension_asked: line("Date asked for", report.extensionRequestedTo),
    advisory: `Public advisory: ${baseUrl}/advisories/${report.publicId}`,
  };
}

export interface ChangeRecord {
  change: ChangeName;
  /** The report changed; its current row is read again for the mail. */
  report: Pick<Report, "id" | "publicId">;
  /** Null: the app itself (the scheduler). */
  actor: Actor | null;
  at: Date;
  request?: AuditRequestContext | null;
  /** The timeline entry's text. */
  body?: string | null;
  /** A workflow step's states. */
  fromState?: State;
  toState?: State;
  /** Small, no report text: IDs, names, old → new. */
  details?: AuditDetails;
  /** A line of our own words for the mail (a deadline's date), never user text. */
  mailDetail?: string;
  /** The entry arrived by email (a reply): where it came from, for the timeline. */
  viaMail?: MailOrigin | null;
  /** Who reads the entry, as the writer chose (repository.ts NewEvent). */
  audience?: { audience: EventAudience; orgId: number | null };
}

/**
 * Writes a change's timeline entry, audit entry, mail and webhook deliveries
 * (webhooks/enqueue.ts), inside the caller's
 * transaction (the one that made the change), so they commit or roll back
 * together with it. Returns the timeline entry's ID.
 */
export async function recordChange(
  tx: DbOrTx,
  // The settings, where given, date the fix target (else the environment's).
  deps: Pick<Deps, "db" | "clock" | "config"> & Partial<Pick<Deps, "settings">>,
  record: ChangeRecord,
): Promise<number> {
  const def: ChangeDef = CHANGES[record.change];
  const { report, actor, at } = record;
  const eventId = await insertEvent(tx, {
    reportId: report.id,
    actorId: actor?.id ?? null,
    kind: def.kind,
    action: def.action,
    fromState: record.fromState,
    toState: record.toState,
    visibility: def.visibility,
    body: record.body,
    at,
    viaMail: record.viaMail ?? null,
    audience: record.audience,
  });
  if (def.audit)
    await recordAudit(tx, {
      action: def.audit,
      actor,
      target: { type: "report", id: report.publicId },
      details: record.details,
      request: record.request ?? null,
      at,
    });
  // Every change passes here after its write: the queue's due order follows.
  const current = (await findReportById(tx, report.id))!;
  const clocks = deps.settings?.clocks() ?? deps.config.clocks;
  await setQueueDue(tx, report.id, nextDeadline(current, clocks)?.at ?? null);
  // Webhook deliveries, like the mail: written with the change or not at all.
  await enqueueWebhookEvents(tx, deps.config, {
    change: record.change,
    kind: def.kind,
    report: current,
    timelineEntryId: eventId,
    at,
    fromState: record.fromState,
    toState: record.toState,
  });
  if (def.mail && def.notify.length > 0) {
    await notifyReportEvent(tx, deps, {
      kind: record.change,
      report: current,
      actorId: actor?.id ?? null,
      eventId,
      eventAudience: (await findEventById(tx, eventId))!,
      audiences: def.notify,
      mail: def.mail,
      detail: record.mailDetail,
      facts: mailFactLines(current, clocks, deps.config.baseUrl),
    });
  }
  return eventId;
}

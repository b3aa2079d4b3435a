import type { Relation } from "../auth/policy.js";
import type { Db, DbOrTx } from "../db/index.js";
import { listOrgContacts } from "../orgs/repository.js";
import {
  STATE_INFO,
  type Audience,
  type State,
  type TransitionName,
} from "../reports/workflow.js";
import { findUsersByIds, listActiveStaff } from "../users/repository.js";
import type { User } from "../users/types.js";
import {
  enqueueFanout,
  enqueueMails,
  messageIdFor,
  type MailContext,
  type MailRequest,
} from "./outbox.js";

/** Something that happened to a report that people may need to hear about. */
/** What the scheduler mails about (reports/reminders.ts). */
export const REMINDER_KINDS = [
  "ack_overdue",
  "triage_overdue",
  "disclosure_30",
  "disclosure_7",
  "disclosure_1",
  "disclosure_passed",
  "info_reminder",
  "info_expired",
] as const;

/** Changes to the disclosure deadline (reports/deadlines.ts). */
export type DeadlineEventKind =
  | "deadline_changed"
  | "extension_requested"
  | "extension_granted"
  | "extension_refused";
export type ReminderKind = (typeof REMINDER_KINDS)[number];

/** Credit and the researcher's request to disclose (advisories/service.ts, reports/disclosure-request.ts). */
export type DisclosureEventKind =
  | "credit_proposed"
  | "credit_accepted"
  | "credit_declined"
  | "disclosure_requested"
  | "disclosure_request_declined";

export interface ReportEvent {
  kind:
    | TransitionName
    | "submitted"
    | "comment"
    | ReminderKind
    | DeadlineEventKind
    | DisclosureEventKind;
  report: {
    id: number;
    publicId: string;
    state: State;
    reporterId: number;
    organizationId: number | null;
    assigneeId: number | null;
    vendorNotifiedAt: Date | null;
  };
  /** Null when the app itself acts (the scheduler). */
  actorId: number | null;
  audiences: readonly Audience[];
  /** A line of our own words (a deadline's date), never user text. */
  detail?: string;
}

/** Fixed words only: a subject never carries text a user wrote. */
const HAPPENED: Record<
  ReportEvent["kind"],
  { subject: string; sentence: string }
> = {
  submitted: {
    subject: "New report submitted",
    sentence: "A new vulnerability report was submitted.",
  },
  acknowledge: {
    subject: "Acknowledged by CERT",
    sentence: "A CERT triager acknowledged the report.",
  },
  request_info: {
    subject: "More information needed",
    sentence: "The CERT needs more information from the researcher.",
  },
  provide_info: {
    subject: "Researcher answered",
    sentence: "The researcher answered the request for information.",
  },
  triage: {
    subject: "Validated by CERT",
    sentence: "The CERT validated the report.",
  },
  notify_vendor: {
    subject: "Organization notified",
    sentence:
      "The affected organization was notified; the disclosure clock is running.",
  },
  vendor_acknowledge: {
    subject: "Organization is fixing it",
    sentence:
      "The organization acknowledged the report and is working on a fix.",
  },
  mark_fixed: {
    subject: "Fix deployed, please retest",
    sentence: "The organization says the fix is deployed.",
  },
  verify_fix: { subject: "Fix verified", sentence: "The fix was confirmed." },
  reject_fix: {
    subject: "Not fixed",
    sentence: "The retest found that the vulnerability is not fixed.",
  },
  close: { subject: "Closed", sentence: "The report was closed." },
  withdraw: {
    subject: "Withdrawn",
    sentence: "The researcher withdrew the report.",
  },
  publish: {
    subject: "Published as advisory",
    sentence: "The report was published as a public advisory.",
  },
  reopen: { subject: "Reopened", sentence: "The report was reopened." },
  comment: {
    subject: "New comment",
    sentence: "There is a new comment on the report.",
  },
  ack_overdue: {
    subject: "Acknowledgment overdue",
    sentence:
      "This report passed its acknowledgment deadline without being acknowledged.",
  },
  triage_overdue: {
    subject: "Triage overdue",
    sentence: "This report passed its triage deadline without being triaged.",
  },
  disclosure_30: {
    subject: "Disclosure deadline in 30 days",
    sentence: "The disclosure deadline of this report is 30 days away.",
  },
  disclosure_7: {
    subject: "Disclosure deadline in 7 days",
    sentence: "The disclosure deadline of this report is 7 days away.",
  },
  disclosure_1: {
    subject: "Disclosure deadline tomorrow",
    sentence: "The disclosure deadline of this report is one day away.",
  },
  disclosure_passed: {
    subject: "Disclosure deadline passed",
    sentence:
      "The disclosure deadline of this report has passed; the CERT may now publish it.",
  },
  info_reminder: {
    subject: "Your answer is needed",
    sentence:
      "The CERT asked you for more information and is still waiting for your answer.",
  },
  deadline_changed: {
    subject: "Disclosure deadline moved",
    sentence: "The CERT moved the disclosure deadline of this report.",
  },
  extension_requested: {
    subject: "Extension requested",
    sentence:
      "The organization asked for more time before this report is disclosed.",
  },
  extension_granted: {
    subject: "Extension granted",
    sentence: "The CERT granted the organization's request for more time.",
  },
  extension_refused: {
    subject: "Extension refused",
    sentence:
      "The CERT refused the organization's request for more time; the deadline stays.",
  },
  credit_proposed: {
    subject: "Credit proposed: please answer",
    sentence:
      "The CERT proposed who the advisory will credit. Accept or decline it on the report page; nothing is published until you answer.",
  },
  credit_accepted: {
    subject: "Credit accepted",
    sentence: "The researcher accepted the credit proposed for the advisory.",
  },
  credit_declined: {
    subject: "Credit declined",
    sentence:
      "The researcher declined the credit proposed for the advisory; it will credit nobody.",
  },
  disclosure_requested: {
    subject: "Disclosure requested",
    sentence: "The researcher asked the CERT to publish this report.",
  },
  disclosure_request_declined: {
    subject: "Disclosure not yet",
    sentence:
      "The CERT answered your request to publish this report: not yet. Its reason is on the report's timeline.",
  },
  info_expired: {
    subject: "Closed: no answer",
    sentence:
      "The report was closed as invalid because the request for information went unanswered.",
  },
};

/** What the researcher's own receipt says instead. */
const RECEIPT = {
  subject: "Received",
  sentence:
    "Your report was received. Keep its ID: it is how the CERT and you refer to it.",
};

const ORG_NOTICE = {
  subject: "New vulnerability report for your organization",
  sentence:
    "The CERT forwarded a vulnerability report about your organization to you.",
};

export function threadIdFor(ctx: MailContext, publicId: string): string {
  return messageIdFor(ctx.config, `report.${publicId}`);
}

/**
 * Writes the outbox rows announcing a report event, inside the caller's
 * transaction. Who hears: the researcher; the assigned triager or, when
 * nobody is assigned, the whole triage team; the organization's contacts once
 * it was notified. Nobody hears of their own action, except the researcher's
 * receipt for their own report. Each person's preference decides: everything,
 * state changes only, or nothing but security mail. The whole team's notice
 * is stored once (a fanout) and addressed to each member by the mail worker.
 */
export async function notifyReportEvent(
  db: DbOrTx,
  ctx: MailContext & { db: Db },
  event: ReportEvent,
): Promise<void> {
  const recipients = new Map<number, { user: User; relation: Relation }>();
  const add = (users: User[], relation: Relation) => {
    for (const user of users)
      if (!recipients.has(user.id)) recipients.set(user.id, { user, relation });
  };
  const { report } = event;
  if (event.audiences.includes("reporter")) {
    add(await findUsersByIds(db, [report.reporterId]), "reporter");
  }
  let wholeTeam = false;
  if (event.audiences.includes("triage")) {
    const assignee = report.assigneeId
      ? await findUsersByIds(db, [report.assigneeId])
      : [];
    wholeTeam = !assignee.some((u) => !u.disabledAt);
    add(wholeTeam ? await listActiveStaff(db, ctx.db) : assignee, "staff");
  }
  if (
    event.audiences.includes("org") &&
    report.vendorNotifiedAt &&
    report.organizationId
  ) {
    const contacts = await listOrgContacts(db, report.organizationId);
    add(
      await findUsersByIds(
        db,
        contacts.map((c) => c.id),
      ),
      "org_contact",
    );
  }

  const threadId = threadIdFor(ctx, report.publicId);
  const dataFor = (relation: Relation, receipt: boolean) => {
    const what = receipt
      ? RECEIPT
      : event.kind === "notify_vendor" && relation === "org_contact"
        ? ORG_NOTICE
        : HAPPENED[event.kind];
    return {
      publicId: report.publicId,
      subjectText: what.subject,
      happened: what.sentence,
      detail: event.detail ?? null,
      stateLabel: STATE_INFO[report.state].label,
      next: STATE_INFO[report.state].next[relation] ?? null,
      link: `${ctx.config.baseUrl}/reports/${report.publicId}`,
    };
  };
  const mails: MailRequest[] = [];
  const team: number[] = [];
  for (const { user, relation } of recipients.values()) {
    const receipt = event.kind === "submitted" && relation === "reporter";
    if (user.id === event.actorId && !receipt) continue;
    if (user.disabledAt || user.notify === "none") continue;
    if (user.notify === "state" && event.kind === "comment") continue;
    if (wholeTeam && relation === "staff") {
      team.push(user.id);
      continue;
    }
    mails.push({
      template: "report_event",
      to: { address: user.email, userId: user.id },
      reportId: report.id,
      threadId,
      // The researcher's receipt opens the thread: its Message-ID is the thread's.
      ...(receipt && { messageId: threadId }),
      data: { ...dataFor(relation, receipt), displayName: user.displayName },
    });
  }
  await enqueueMails(db, ctx, mails);
  await enqueueFanout(db, ctx, {
    template: "report_event",
    userIds: team,
    reportId: report.id,
    threadId,
    data: dataFor("staff", false),
  });
}

import {
  canReadEvent,
  readableEvents,
  standsFor,
  type Relation,
} from "../auth/policy.js";
import {
  accessFacts,
  type EventAudience,
  type Report,
} from "../reports/types.js";
import { toActor } from "../users/service.js";
import type { Db, DbOrTx } from "../db/index.js";
import { trackingIdsFor } from "../reports/participations-repository.js";
import { subjectTrackingId } from "../reports/tracking-id.js";
import { intakeReplyAddress } from "../inbound/intake-address.js";
import { findEmailReport } from "../inbound/intake-repository.js";
import type { ChangeName } from "../reports/changes.js";
import { STATE_INFO, type Audience, type State } from "../reports/workflow.js";
import { triageTeam } from "../settings/triage-mail.js";
import { findMembersOfOrgs, findUsersByIds } from "../users/repository.js";
import type { User } from "../users/types.js";
import {
  enqueueFanout,
  enqueueMails,
  messageIdFor,
  type MailContext,
  type MailRequest,
} from "./outbox.js";

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
  // One organization on the case has not answered its notice in time.
  "org_answer",
] as const;
export type ReminderKind = (typeof REMINDER_KINDS)[number];

/**
 * What a mail says happened, in fixed words only: a subject never carries
 * text a user wrote. A change's words are in reports/changes.ts.
 */
export interface MailWords {
  subject: string;
  sentence: string;
  /** Facts of the report the mail states, in our words (changes.ts mailFactLines). */
  facts?: readonly MailFact[];
  /** Other words for one kind of recipient (the researcher's receipt, the organization's first notice). */
  to?: Partial<
    Record<
      Relation,
      { subject: string; sentence: string; facts?: readonly MailFact[] }
    >
  >;
}

/**
 * A fact of the report a mail may state: dates, our severity scale and
 * links are ours, never text a user wrote.
 */
export type MailFact =
  | "ack_due"
  | "severity"
  | "fix_target"
  | "disclosure_due"
  | "extension_asked"
  | "advisory";

/** Something that happened to a report that people may need to hear about. */
export interface ReportEvent {
  kind: ChangeName | ReminderKind;
  report: Pick<
    Report,
    | "id"
    | "publicId"
    | "state"
    | "reporterId"
    | "assigneeId"
    | "participants"
    | "grants"
    | "caseOpen"
    | "revealIdentity"
  >;
  /** Null when the app itself acts (the scheduler). */
  actorId: number | null;
  /** Its timeline entry, whose text only encrypted mail carries (sealed.ts). */
  eventId?: number;
  /**
   * Who reads that entry: nobody who may not read it is mailed about it
   * (a message to one organization reaches that organization alone).
   * Absent (reminders): everyone the audiences name.
   */
  eventAudience?: { audience: EventAudience; audienceOrgId: number | null };
  audiences: readonly Audience[];
  mail: MailWords;
  /** A line of our own words (a deadline's date), never user text. */
  detail?: string;
  /** The facts' lines for this report, of which each mail states those its words name. */
  facts?: Partial<Record<MailFact, string>>;
}

/** The reminders' words. The request for information that expires closes the report: its words are the change's. */
export const REMINDER_MAIL: Record<
  Exclude<ReminderKind, "info_expired">,
  MailWords
> = {
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
  org_answer: {
    subject: "Organization's answer overdue",
    sentence:
      "An organization notified of this report has not answered within the time it was given.",
    to: {
      org_contact: {
        subject: "Your answer is overdue",
        sentence:
          "Your organization was notified of this report and has not answered yet. On the report page, say whether you are investigating, affected, not affected or have fixed it: silence is not counted as not affected.",
      },
    },
  },
};

export function threadIdFor(ctx: MailContext, publicId: string): string {
  return messageIdFor(ctx.config, `report.${publicId}`);
}

/**
 * Writes the outbox rows announcing a report event, inside the caller's
 * transaction. Who hears: the researcher; the assigned triager or, when
 * nobody is assigned, the whole triage team; the organization's contacts once
 * it was notified. Nobody hears of their own action, except the researcher's
 * receipt for their own report. The assignee audience is the assigned
 * triager alone, never the team. The triage team is who the admin chose
 * on the settings page, by default every active triager (settings/triage-mail.ts).
 * Each person's preference decides: everything,
 * state changes only, or nothing but security mail. The whole team's notice
 * is stored once (a fanout) and addressed to each member by the mail worker.
 */
export async function notifyReportEvent(
  db: DbOrTx,
  ctx: MailContext & { db: Db },
  event: ReportEvent,
): Promise<void> {
  const recipients = new Map<
    number,
    { user: User; relation: Relation; orgId?: number }
  >();
  const add = (users: User[], relation: Relation, orgId?: number) => {
    for (const user of users)
      if (!recipients.has(user.id))
        recipients.set(user.id, { user, relation, orgId });
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
    add(wholeTeam ? await triageTeam(db, ctx.db) : assignee, "staff");
  }
  if (event.audiences.includes("assignee") && report.assigneeId) {
    add(await findUsersByIds(db, [report.assigneeId]), "staff");
  }
  if (event.audiences.includes("org")) {
    // Every organization on the case that was notified: of its contacts,
    // those who read the case for it (not a member who sees only the
    // cases given and was not given this one; reminders carry no entry to
    // ask about), and below, of those, who may read this entry.
    const facts = accessFacts(report);
    const notified = report.participants.filter((p) => p.notifiedAt !== null);
    const members = await findMembersOfOrgs(
      db,
      notified.map((p) => p.organizationId),
    );
    for (const p of notified) {
      for (const user of members.get(p.organizationId) ?? []) {
        if (recipients.has(user.id)) continue;
        if (standsFor(toActor(user), facts).includes(p.organizationId))
          add([user], "org_contact", p.organizationId);
      }
    }
  }
  if (event.eventAudience) {
    const facts = accessFacts(report);
    for (const [id, { user }] of recipients)
      if (
        !user.systemAccount &&
        !canReadEvent(readableEvents(toActor(user), facts), event.eventAudience)
      )
        recipients.delete(id);
  }
  // A contact's mail names the organization it reads for: for an entry
  // written to one organization, that one (the contact may belong to
  // several on the case); else the first it was added through.
  const entryOrg =
    event.eventAudience?.audience === "org" ||
    event.eventAudience?.audience === "org_researcher"
      ? event.eventAudience.audienceOrgId
      : null;
  for (const r of recipients.values())
    if (r.relation === "org_contact" && entryOrg !== null) r.orgId = entryOrg;
  const trackingIds = [...recipients.values()].some((r) => r.orgId)
    ? await trackingIdsFor(db, report.id)
    : new Map<number, string>();

  const threadId = threadIdFor(ctx, report.publicId);
  const dataFor = (relation: Relation, orgId?: number) => {
    const what = event.mail.to?.[relation] ?? event.mail;
    const facts = (what.facts ?? event.mail.facts ?? []).map(
      (fact) => event.facts?.[fact],
    );
    // The organization's own tracking ID, for its contacts only, and only
    // as validated (templates.ts checks it again for the subject).
    const trackingId =
      relation === "org_contact" && orgId !== undefined
        ? subjectTrackingId(trackingIds.get(orgId))
        : null;
    return {
      publicId: report.publicId,
      trackingId,
      subjectText: what.subject,
      happened: what.sentence,
      details: [event.detail, ...facts].filter((line) => !!line),
      stateLabel: STATE_INFO[report.state].label,
      next: STATE_INFO[report.state].next[relation] ?? null,
      link: `${ctx.config.baseUrl}/reports/${report.publicId}`,
    };
  };
  const mails: MailRequest[] = [];
  const team: number[] = [];
  for (const { user, relation, orgId } of recipients.values()) {
    const receipt = event.kind === "submitted" && relation === "reporter";
    if (relation === "reporter" && user.systemAccount) {
      // Filed by email and not claimed yet: the sender hears at their
      // address (their receipt is the intake's own, src/inbound/intake.ts).
      if (receipt || user.id === event.actorId) continue;
      const filed = await findEmailReport(db, report.id);
      if (!filed || filed.claimedAt) continue;
      const data = dataFor(relation);
      mails.push({
        template: "report_event",
        to: { address: filed.sender },
        reportId: report.id,
        threadId,
        replyTo: intakeReplyAddress(ctx.config, report.id),
        data: {
          ...data,
          details: [
            ...data.details,
            "To read the report on the desk, claim it with the link in the first mail about it. You can also answer this mail.",
          ],
          displayName: filed.sender,
        },
      });
      continue;
    }
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
      eventId: event.eventId,
      // The researcher's receipt opens the thread: its Message-ID is the thread's.
      ...(receipt && { messageId: threadId }),
      data: { ...dataFor(relation, orgId), displayName: user.displayName },
    });
  }
  await enqueueMails(db, ctx, mails);
  await enqueueFanout(db, ctx, {
    template: "report_event",
    userIds: team,
    reportId: report.id,
    threadId,
    eventId: event.eventId,
    data: dataFor("staff"),
  });
}

/**
 * The ONLY place that decides access. Every service asks `can()` before it
 * reads or changes anything; a report the actor may not see is answered
 * exactly like one that does not exist (see reports/service.ts).
 */

import { EVENT_AUDIENCES, type EventAudience } from "../reports/types.js";
import type { Resolution, State } from "../reports/workflow.js";

export const ROLES = ["researcher", "org_contact", "triager", "admin"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return (
    typeof value === "string" && (ROLES as readonly string[]).includes(value)
  );
}

/** The signed-in user as the policy sees them. */
export interface Actor {
  id: number;
  role: Role;
  /** Organizations an org contact belongs to (empty for other roles). */
  orgIds: readonly number[];
  /**
   * Of those, the organizations where this member sees only the cases they
   * are given (the organization's administrator chose so; never its
   * administrators themselves). Absent: none.
   */
  limitedOrgIds?: readonly number[];
  /** Of those, the organizations this contact administers (colleagues, who sees which case). */
  adminOrgIds?: readonly number[];
  /** The account's address was confirmed (researchers file only then). */
  emailVerified: boolean;
  /** TOTP two-factor sign-in is on. */
  twoFactorEnabled: boolean;
}

/** One organization taking part in a report, as the policy sees it. */
export interface ParticipantFacts {
  organizationId: number;
  /** Set once this organization was notified: its contacts see nothing before. */
  notifiedAt: Date | null;
}

/** A case given to one member by their organization's administrator. */
export interface CaseGrant {
  userId: number;
  orgId: number;
}

/** What the policy needs to know about a report to decide. */
export interface ReportAccessFacts {
  reporterId: number;
  /** The organizations on the case (removed ones are not). */
  participants: readonly ParticipantFacts[];
  /**
   * Members of organizations that see only given cases, given this one, and
   * by which organization: a grant opens the case for that organization only.
   */
  grants?: readonly CaseGrant[];
  /** A triager opened the case: participants see each other's names and statuses. */
  caseOpen?: boolean;
  revealIdentity: boolean;
  /** Where the report stands, for the actions that depend on it (stateRules); unknown, they are refused. */
  state?: State;
  resolution?: Resolution | null;
}

export const GLOBAL_ACTIONS = [
  "account:manage", // own account page, notification preferences
  "report:create",
  "report:list_own",
  "report:list_org", // reports forwarded to one's organizations
  "queue:view", // the triage queue, every report
  "queue:bulk", // one action on many reports at once (reports/bulk.ts); each report is asked again
  "report:search", // full-text search within the reports one may see
  "org:manage", // create organizations, invite contacts
  "user:manage", // list users, change roles, disable accounts
  "outbox:manage", // see and retry outgoing mail
  "inbound:manage", // mail received: read it as received, release or discard what was held
  "audit:view", // browse the audit log
  "stats:view_staff", // statistics with organizations (the public page has none)
  "settings:manage", // the disclosure-policy defaults (deadline days)
  "saved_view:use", // save, use and delete one's own saved queue views
  "report:claim", // attach a report filed by email to one's account, with the link from the mailbox
  "webhook:manage", // register webhook endpoints and read their delivery logs (webhooks/)
] as const;
export type GlobalAction = (typeof GLOBAL_ACTIONS)[number];

export const REPORT_ACTIONS = [
  "report:view", // fields, public timeline, attachments
  "report:comment", // public comment on the timeline
  "report:upload", // add an attachment
  "report:act", // take a workflow transition (workflow.ts narrows which)
  "report:see_reporter", // the researcher's identity
  "report:view_internal", // internal notes
  "report:add_note",
  "report:edit_triage", // CVSS, CWE, organization, duplicate of
  "report:record_case_facts", // case facts (public aware, exploit public, attacks) and the SSVC decision
  "report:write_advisory", // the advisory's summary, CVE ID and proposed credit
  "report:assign",
  "report:set_deadline", // move the disclosure deadline, settle extension requests
  "report:request_extension", // the organization asks for more time
  "report:letter", // the researcher's letter of acknowledgment
  "report:answer_credit", // accept or decline the credit proposed for the advisory
  "report:request_disclosure", // the researcher asks the CERT to publish
  "report:answer_disclosure", // the CERT answers that request "not yet"
  "report:view_viewers", // roles and organizations that viewed it (audit/service.ts)
  "report:share_message", // show the organization a message the researcher and the CERT exchanged
  "report:edit_submission", // the researcher corrects title, asset and text until acknowledged
  "report:view_revisions", // the versions an edit replaced
  "report:read_draft_advisory", // read and comment on the advisory before publication
  "report:manage_participants", // add or remove an organization, set any participant's status, approve a statement, open or close the case
  "report:answer_as_org", // answer for an organization on the case: status, statement, tracking ID, fix target (canAnswerFor names which)
] as const;
export type ReportAction = (typeof REPORT_ACTIONS)[number];

const STAFF: readonly Role[] = ["triager", "admin"];

/** CERT staff: the roles that work the queue and can hold an assignment. */
export function isStaffRole(role: Role): boolean {
  return STAFF.includes(role);
}

const globalRules: Record<GlobalAction, readonly Role[]> = {
  "account:manage": ROLES,
  "report:create": ["researcher"],
  "report:claim": ["researcher"],
  "report:list_own": ["researcher"],
  "report:list_org": ["org_contact"],
  "queue:view": STAFF,
  "queue:bulk": STAFF,
  "report:search": ROLES,
  "org:manage": STAFF,
  "user:manage": ["admin"],
  "outbox:manage": ["admin"],
  "inbound:manage": STAFF,
  "audit:view": ["admin"],
  "stats:view_staff": STAFF,
  "settings:manage": ["admin"],
  "saved_view:use": STAFF,
  // Admins manage every endpoint; an organization's administrators those of
  // the organizations they administer (canManageWebhook; see can).
  "webhook:manage": ["admin", "org_contact"],
};

/** How an actor stands to a report; staff stand above every report. */
export type Relation = "staff" | "reporter" | "org_contact" | "none";

export function relationTo(actor: Actor, report: ReportAccessFacts): Relation {
  if (STAFF.includes(actor.role)) return "staff";
  if (actor.role === "researcher" && report.reporterId === actor.id)
    return "reporter";
  if (actor.role === "org_contact" && standsFor(actor, report).length > 0)
    return "org_contact";
  return "none";
}

/**
 * The organizations on this case that an org contact speaks and reads for:
 * those they belong to, once notified, and, where their organization shows
 * members only the cases they are given, only if given this one.
 */
export function standsFor(actor: Actor, report: ReportAccessFacts): number[] {
  if (actor.role !== "org_contact") return [];
  return report.participants
    .filter(
      (p) =>
        p.notifiedAt !== null &&
        actor.orgIds.includes(p.organizationId) &&
        (!actor.limitedOrgIds?.includes(p.organizationId) ||
          (report.grants?.some(
            (g) => g.userId === actor.id && g.orgId === p.organizationId,
          ) ??
            false)),
    )
    .map((p) => p.organizationId);
}

const reportRules: Record<ReportAction, readonly Relation[]> = {
  "report:view": ["staff", "reporter", "org_contact"],
  "report:comment": ["staff", "reporter", "org_contact"],
  "report:upload": ["staff", "reporter"],
  "report:act": ["staff", "reporter", "org_contact"],
  "report:see_reporter": ["staff", "reporter", "org_contact"],
  "report:view_internal": ["staff"],
  "report:add_note": ["staff"],
  "report:edit_triage": ["staff"],
  "report:record_case_facts": ["staff"],
  "report:write_advisory": ["staff"],
  "report:assign": ["staff"],
  "report:set_deadline": ["staff"],
  "report:request_extension": ["org_contact"],
  "report:letter": ["reporter"],
  "report:answer_credit": ["reporter"],
  "report:request_disclosure": ["reporter"],
  "report:answer_disclosure": ["staff"],
  // The researcher learns who looked at their report; org contacts do not
  // learn about CERT staff activity.
  "report:view_viewers": ["staff", "reporter"],
  // Only a triager decides that the organization reads what the researcher
  // told the CERT before it was involved.
  "report:share_message": ["staff"],
  // What the researcher filed is theirs to correct until the CERT has read it.
  "report:edit_submission": ["reporter"],
  // What was replaced stays on record for the CERT, not for anyone else.
  "report:view_revisions": ["staff"],
  // Everyone on the case reads the advisory before the public does (the
  // organization only once notified: relationTo).
  "report:read_draft_advisory": ["staff", "reporter", "org_contact"],
  // Only the CERT decides who is on the case and what it shows to whom.
  "report:manage_participants": ["staff"],
  // An organization answers for itself (canAnswerFor: only the ones it
  // stands for); staff may answer for any participant (a phone call).
  "report:answer_as_org": ["staff", "org_contact"],
};

/** Actions that exist only while the report stands somewhere, whoever asks. */
const stateRules: Partial<
  Record<ReportAction, (report: ReportAccessFacts) => boolean>
> = {
  // The letter acknowledges finished work: a resolved or published case.
  "report:letter": (r) =>
    r.state === "disclosed" ||
    (r.state === "closed" && r.resolution === "resolved"),
  // Once a triager acknowledged it, the report they read stays as it was.
  "report:edit_submission": (r) => r.state === "submitted",
  // After publication the advisory is public (advisoryIsPublic); no draft is left.
  "report:read_draft_advisory": (r) =>
    r.state !== undefined && r.state !== "disclosed",
};

/**
 * Which timeline entries (reports/types.ts EventAudience) an actor reads on
 * a report: every entry of the audiences listed, and the entries written to
 * one organization ("org", "org_researcher") when it is one of `orgIds`.
 * An organization reads only what was written for it or for everyone on the
 * case, or what a triager shared with it.
 */
export interface ReadableEvents {
  audiences: EventAudience[];
  orgIds: number[];
}

export function readableEvents(
  actor: Actor,
  report: ReportAccessFacts,
): ReadableEvents {
  switch (relationTo(actor, report)) {
    case "staff":
      return { audiences: [...EVENT_AUDIENCES], orgIds: [] };
    case "reporter":
      return {
        audiences: ["researcher", "org_researcher", "everyone"],
        orgIds: [],
      };
    case "org_contact":
      return { audiences: ["everyone"], orgIds: standsFor(actor, report) };
    case "none":
      return { audiences: [], orgIds: [] };
  }
}

/** One entry against readableEvents: the same rule the timeline's SQL applies. */
export function canReadEvent(
  readable: ReadableEvents,
  event: { audience: EventAudience; audienceOrgId: number | null },
): boolean {
  if (readable.audiences.includes(event.audience)) return true;
  return (
    (event.audience === "org" || event.audience === "org_researcher") &&
    event.audienceOrgId !== null &&
    readable.orgIds.includes(event.audienceOrgId)
  );
}

/**
 * The audiences an actor may write a comment to on this report, and for
 * which organizations: the form offers exactly these.
 * - staff: internal, the researcher, one organization (with or without the
 *   researcher), everyone on the case;
 * - the researcher: the CERT, or the CERT and one organization notified;
 * - an organization: the CERT, the CERT and the researcher, and everyone on
 *   the case only once a triager opened it.
 */
export function writableAudiences(
  actor: Actor,
  report: ReportAccessFacts,
): { audience: EventAudience; orgIds: number[] }[] {
  const notified = report.participants
    .filter((p) => p.notifiedAt !== null)
    .map((p) => p.organizationId);
  switch (relationTo(actor, report)) {
    case "staff":
      return [
        { audience: "internal", orgIds: [] },
        { audience: "researcher", orgIds: [] },
        { audience: "org", orgIds: notified },
        { audience: "org_researcher", orgIds: notified },
        { audience: "everyone", orgIds: [] },
      ];
    case "reporter":
      return [
        { audience: "researcher", orgIds: [] },
        { audience: "org_researcher", orgIds: notified },
      ];
    case "org_contact": {
      const own = standsFor(actor, report);
      return [
        { audience: "org", orgIds: own },
        { audience: "org_researcher", orgIds: own },
        ...(report.caseOpen
          ? [{ audience: "everyone" as const, orgIds: [] }]
          : []),
      ];
    }
    case "none":
      return [];
  }
}

/**
 * Whether an actor may answer for one organization on this case (its
 * status, statement, tracking ID, fix target): an org contact for the
 * organizations it stands for, staff for any participant.
 */
export function canAnswerFor(
  actor: Actor,
  report: ReportAccessFacts,
  organizationId: number,
): boolean {
  if (!can(actor, "report:answer_as_org", report)) return false;
  if (relationTo(actor, report) === "staff")
    return report.participants.some((p) => p.organizationId === organizationId);
  return standsFor(actor, report).includes(organizationId);
}

/**
 * Choices that are the organization's alone (whether its statement is
 * shared with the other participants, suggesting another organization):
 * only its own contacts.
 */
export function speaksFor(
  actor: Actor,
  report: ReportAccessFacts,
  organizationId: number,
): boolean {
  return (
    can(actor, "report:answer_as_org", report) &&
    standsFor(actor, report).includes(organizationId)
  );
}

/**
 * What an actor sees of one participation on a case:
 * - "full": staff, and an org contact for its own organization;
 * - "status": its name and status (the researcher always; another
 *   organization only once a triager opened the case);
 * - "none": not even that it takes part.
 */
export type ParticipantSight = "full" | "status" | "none";

export function participantSight(
  actor: Actor,
  report: ReportAccessFacts,
  organizationId: number,
): ParticipantSight {
  const relation = relationTo(actor, report);
  if (relation === "staff") return "full";
  // An organization not yet notified is the CERT's alone.
  const participant = report.participants.find(
    (p) => p.organizationId === organizationId,
  );
  if (!participant || participant.notifiedAt === null) return "none";
  switch (relation) {
    case "reporter":
      return "status";
    case "org_contact":
      if (standsFor(actor, report).includes(organizationId)) return "full";
      return report.caseOpen ? "status" : "none";
    case "none":
      return "none";
  }
}

/**
 * Whether an actor reads one participant's statement before publication:
 * whoever sees the participation in full, and the other participants of an
 * opened case when that organization shares it.
 */
export function canReadStatement(
  actor: Actor,
  report: ReportAccessFacts,
  participation: { organizationId: number; statementShared: boolean },
): boolean {
  const sight = participantSight(actor, report, participation.organizationId);
  if (sight === "full") return true;
  return (
    sight === "status" &&
    participation.statementShared &&
    relationTo(actor, report) === "org_contact"
  );
}

/** The researcher (or a triager) confirms or rejects each organization's fix. */
export function canVerifyFixes(
  actor: Actor,
  report: ReportAccessFacts,
): boolean {
  const relation = relationTo(actor, report);
  return (
    (relation === "reporter" || relation === "staff") &&
    can(actor, "report:act", report)
  );
}

/**
 * Staff see every unpatched vulnerability: they must use two-factor sign-in,
 * enrolled before any staff page opens. Until then they may only manage their
 * own account (where enrollment happens).
 */
export function mustEnrollTwoFactor(actor: Actor | null | undefined): boolean {
  return !!actor && STAFF.includes(actor.role) && !actor.twoFactorEnabled;
}

/** A researcher who must confirm their address before filing (see report:create). */
export function mustVerifyEmail(actor: Actor | null | undefined): boolean {
  return !!actor && actor.role === "researcher" && !actor.emailVerified;
}

export function can(
  actor: Actor | null | undefined,
  action: GlobalAction,
): boolean;
export function can(
  actor: Actor | null | undefined,
  action: ReportAction,
  report: ReportAccessFacts,
): boolean;
export function can(
  actor: Actor | null | undefined,
  action: GlobalAction | ReportAction,
  report?: ReportAccessFacts,
): boolean {
  if (!actor) return false;
  if (mustEnrollTwoFactor(actor) && action !== "account:manage") return false;
  if ((GLOBAL_ACTIONS as readonly string[]).includes(action)) {
    // A report is filed only from a confirmed address: the CERT must be able
    // to reach the researcher, and throwaway accounts cannot flood the queue.
    if (action === "report:create" && !actor.emailVerified) return false;
    // Of the org contacts, only an organization's administrators have
    // webhooks: for the organizations they administer (canManageWebhook).
    if (action === "webhook:manage" && actor.role === "org_contact")
      return administeredOrgIds(actor).length > 0;
    return globalRules[action as GlobalAction].includes(actor.role);
  }
  if (!report) return false;
  const relation = relationTo(actor, report);
  if (!reportRules[action as ReportAction].includes(relation)) return false;
  if (stateRules[action as ReportAction]?.(report) === false) return false;
  // An organization learns who reported only if the researcher allowed it.
  if (action === "report:see_reporter" && relation === "org_contact")
    return report.revealIdentity;
  return true;
}

/**
 * A report's advisory is public, to everyone signed in or not, only once the
 * report is disclosed; until then it does not exist outside the report.
 */
export function advisoryIsPublic(report: { state: string }): boolean {
  return report.state === "disclosed";
}

/** A saved queue view is its owner's alone: anyone else is answered 404. */
export function canUseSavedView(
  actor: Actor | null | undefined,
  view: { userId: number },
): boolean {
  return !!actor && can(actor, "saved_view:use") && view.userId === actor.id;
}

/** The owner and scope of a webhook endpoint, as the policy needs them. */
export interface WebhookEndpointFacts {
  ownerId: number;
  /** Set: the endpoint belongs to this organization and hears only of its reports. */
  orgId: number | null;
}

/**
 * Whether an actor may see and change a webhook endpoint (its delivery log,
 * secret, state). Admins manage every endpoint; an organization's
 * administrator manages the endpoints of the organizations they administer
 * now (demoted or removed, at once no more); anybody else sees none (404).
 */
export function canManageWebhook(
  actor: Actor | null | undefined,
  endpoint: WebhookEndpointFacts,
): boolean {
  if (!actor || !can(actor, "webhook:manage")) return false;
  if (actor.role === "admin") return true;
  return (
    actor.role === "org_contact" &&
    endpoint.orgId !== null &&
    canAdministerOrg(actor, endpoint.orgId)
  );
}

/**
 * The organizations an actor may register an endpoint for: every one for
 * an admin (null: no limit, and "all reports" allowed), their administered
 * ones for an organization's administrator.
 */
export function webhookOrgChoices(
  actor: Actor | null | undefined,
): readonly number[] | null {
  if (!can(actor, "webhook:manage")) return [];
  return actor!.role === "admin" ? null : administeredOrgIds(actor);
}

/**
 * Whether an endpoint hears of an event on a report: its owner may still
 * manage it (canManageWebhook, with the owner's current rights) and may view the report, the report is its organization's
 * (for an organization's endpoint), and an event on a timeline entry goes
 * only where the owner may read the entry's audience. Payloads never carry
 * the text; this decides whether the endpoint learns the entry exists.
 */
export function webhookMayHear(
  owner: Actor,
  endpoint: WebhookEndpointFacts,
  report: ReportAccessFacts,
  audience: { audience: EventAudience; audienceOrgId: number | null } | null,
): boolean {
  if (!canManageWebhook(owner, endpoint)) return false;
  if (
    endpoint.orgId !== null &&
    !report.participants.some(
      (p) => p.organizationId === endpoint.orgId && p.notifiedAt !== null,
    )
  )
    return false;
  // An organization's endpoint hears as its organization: an owner who
  // belongs to other organizations too does not carry what they read there
  // into this organization's systems.
  const hearer: Actor =
    endpoint.orgId !== null && owner.role === "org_contact"
      ? {
          ...owner,
          orgIds: owner.orgIds.filter((id) => id === endpoint.orgId),
          limitedOrgIds: owner.limitedOrgIds?.filter(
            (id) => id === endpoint.orgId,
          ),
          adminOrgIds: owner.adminOrgIds?.filter((id) => id === endpoint.orgId),
        }
      : owner;
  if (!can(hearer, "report:view", report)) return false;
  return (
    audience === null || canReadEvent(readableEvents(hearer, report), audience)
  );
}

/**
 * org:administer, asked per organization: its colleagues (invite, remove),
 * whether every member sees every case, and which member is given which
 * case. An org contact administers the organizations they were made
 * administrator of; the staff who manage organizations administer every one.
 * Anyone else is answered 404, as for an organization that does not exist.
 */
export function canAdministerOrg(
  actor: Actor | null | undefined,
  orgId: number,
): boolean {
  if (!actor) return false;
  if (can(actor, "org:manage")) return true;
  return (
    actor.role === "org_contact" &&
    actor.orgIds.includes(orgId) &&
    (actor.adminOrgIds?.includes(orgId) ?? false)
  );
}

/** The organizations an org contact administers (their "Our organization" page). */
export function administeredOrgIds(actor: Actor | null | undefined): number[] {
  if (!actor || actor.role !== "org_contact") return [];
  return actor.orgIds.filter((id) => canAdministerOrg(actor, id));
}

/** Which roles may be given which role: only admins make staff. */
export function canAssignRole(
  actor: Actor | null | undefined,
  role: Role,
): boolean {
  if (!actor) return false;
  if (actor.role === "admin") return true;
  return STAFF.includes(actor.role) && role === "org_contact";
}

import type {
  CaseGrant,
  ParticipantFacts,
  ReportAccessFacts,
} from "../auth/policy.js";
import type { Severity } from "./cvss.js";
import type { Resolution, State } from "./workflow.js";

export const DATA_KINDS = [
  "personal",
  "health",
  "credentials",
  "financial",
  "other",
] as const;
export type DataKind = (typeof DATA_KINDS)[number];

export const CREDIT_KINDS = ["name", "handle", "anonymous"] as const;
export type CreditKind = (typeof CREDIT_KINDS)[number];

export interface Report {
  id: number;
  publicId: string;
  reporterId: number;
  organizationId: number | null;
  suggestedOrgName: string | null;
  title: string;
  asset: string;
  cwe: string;
  cvssVector: string | null;
  cvssScore: number | null;
  severity: Severity | null;
  description: string;
  steps: string;
  impact: string;
  dataExposed: DataKind[];
  recordsAffected: number | null;
  creditKind: CreditKind;
  creditHandle: string | null;
  revealIdentity: boolean;
  state: State;
  stateBeforeInfo: State | null;
  resolution: Resolution | null;
  duplicateOfId: number | null;
  assigneeId: number | null;
  createdAt: Date;
  updatedAt: Date;
  ackDueAt: Date | null;
  triageDueAt: Date | null;
  vendorNotifiedAt: Date | null;
  disclosureDueAt: Date | null;
  closedAt: Date | null;
  /** When the open request for information was made (state needs_info). */
  infoRequestedAt: Date | null;
  /** An organization's open request to move the disclosure deadline to this date. */
  extensionRequestedTo: Date | null;
  /** One-way case facts and when they became true (case-facts.ts). */
  publicAwareAt: Date | null;
  exploitPublicAt: Date | null;
  attacksObservedAt: Date | null;
  /** The coordinator's SSVC triage decision, as JSON (case-facts.ts). */
  ssvc: string | null;
  /** The researcher's open request that the CERT disclose (it decides). */
  disclosureRequestedAt: Date | null;
  /** When the fix was last verified; null again once the report is reopened. */
  fixVerifiedAt: Date | null;
  /** The organizations on the case (reports/participations.ts), removed ones not. */
  participants: ParticipantFacts[];
  /** Members of organizations that see only given cases, given this one, by which organization. */
  grants: CaseGrant[];
  /** A triager opened the case: participants see each other's names and statuses. */
  caseOpen: boolean;
}

export type EventKind =
  | "submitted"
  | "transition"
  | "comment"
  | "note"
  | "field_change"
  | "assignment"
  | "attachment"
  | "deadline"
  | "credit"
  | "disclosure_request"
  | "share"
  | "participation";

/**
 * Who reads a timeline event, decided when it is written: CERT staff only;
 * the researcher and the CERT (everything said before the organization was
 * notified); the CERT and one organization; the CERT, the researcher and one
 * organization (the event's audienceOrgId); or everyone on the case, every
 * participating organization's contacts included. policy.ts readableEvents.
 */
export const EVENT_AUDIENCES = [
  "internal",
  "researcher",
  "org",
  "org_researcher",
  "everyone",
] as const;
export type EventAudience = (typeof EVENT_AUDIENCES)[number];

export interface TimelineEvent {
  id: number;
  actorId: number | null;
  actorName: string | null;
  actorRole: string | null;
  kind: EventKind;
  action: string | null;
  fromState: State | null;
  toState: State | null;
  visibility: "public" | "internal";
  audience: EventAudience;
  /** The one organization an "org" or "org_researcher" entry is written to. */
  audienceOrgId: number | null;
  body: string | null;
  createdAt: Date;
  /** When a triager shared this researcher-and-CERT message with the organization. */
  sharedAt: Date | null;
  /** Null: written on the web (or by the app), not received by email. */
  viaMail: MailOrigin | null;
}

/** Where a timeline entry that arrived by email came from. */
export interface MailOrigin {
  /** The mail's Message-ID, without angle brackets. */
  messageId: string;
  /** OpenPGP-encrypted to the desk. */
  encrypted: boolean;
  /** The fingerprint (upper-case hex) of the sender's key whose signature verified. */
  signedBy: string | null;
}

export interface Attachment {
  id: number;
  publicId: string;
  reportId: number | null;
  ownerId: number;
  sha256: string;
  mediaType: string;
  size: number;
  fileName: string;
  createdAt: Date;
  /** Removed by the researcher before acknowledgment: listed to staff only. */
  removedAt: Date | null;
  removedBy: number | null;
}

/**
 * What the policy reads, from a report or any list row that carries it (a
 * list row has no resolution: the state-dependent actions are not offered
 * from lists).
 */
export function accessFacts(
  report: Pick<Report, "reporterId" | "participants" | "revealIdentity"> &
    Partial<Pick<Report, "state" | "resolution" | "grants" | "caseOpen">>,
): ReportAccessFacts {
  return {
    reporterId: report.reporterId,
    participants: report.participants,
    grants: report.grants,
    caseOpen: report.caseOpen,
    revealIdentity: report.revealIdentity,
    state: report.state,
    resolution: report.resolution,
  };
}

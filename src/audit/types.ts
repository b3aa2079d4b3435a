import type { Role } from "../auth/policy.js";

/**
 * Every action the audit log knows. A closed list, so a typo is a compile
 * error and the admin page can offer it as a filter. Append; never rename
 * (old entries keep the name they were hashed with).
 */
export const AUDIT_ACTIONS = [
  "auth.sign_in",
  "auth.sign_in_failed",
  "auth.sign_out",
  "auth.rate_limited",
  "auth.password_changed",
  "auth.password_reset",
  "auth.email_changed",
  "auth.email_verified",
  "auth.2fa_enabled",
  "auth.2fa_disabled",
  "auth.recovery_code_used",
  "auth.sessions_ended",
  "user.created",
  "user.role_changed",
  "user.disabled",
  "user.enabled",
  "org.created",
  "org.member_added",
  "org.member_removed",
  "report.viewed",
  "report.state_changed",
  "report.not_found",
  "attachment.downloaded",
  "export.csv",
  "setting.changed",
  "outbox.retried",
  "report.deadline_changed",
  "report.credit_answered",
  "report.disclosure_requested",
  "report.message_shared",
  "report.commented",
  "report.note_added",
  "report.triage_changed",
  "report.assigned",
  "report.filed",
  "report.files_attached",
  "attachment.uploaded",
  "report.case_fact_recorded",
  "report.ssvc_saved",
  "report.advisory_saved",
  "user.notifications_changed",
  "user.pgp_key_set",
  "user.pgp_key_removed",
  "report.submission_edited",
  "report.attachment_removed",
  "auth.recovery_codes_regenerated",
  "report.claimed",
  "inbound.released",
  "inbound.discarded",
  "api.token_created",
  "api.token_revoked",
  "webhook.created",
  "webhook.enabled",
  "webhook.disabled",
  "webhook.secret_rotated",
  "webhook.deleted",
  "report.participant_added",
  "report.participant_removed",
  "report.participant_status_set",
  "report.statement_written",
  "report.statement_approved",
  "report.statement_shared",
  "report.participant_details_set",
  "report.organization_suggested",
  "report.case_visibility_changed",
  "report.participant_fix_checked",
  "org.admin_granted",
  "org.admin_revoked",
  "org.visibility_changed",
  "org.case_given",
  "org.case_taken",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export function isAuditAction(value: unknown): value is AuditAction {
  return (
    typeof value === "string" &&
    (AUDIT_ACTIONS as readonly string[]).includes(value)
  );
}

export type AuditTargetType =
  | "user"
  | "report"
  | "attachment"
  | "organization"
  | "outbox"
  | "inbound"
  | "setting"
  | "export"
  | "api_token"
  | "webhook";

/**
 * Who acted. `role` is stored as the actor label, so the entry still says
 * "admin" after that person's role changes. Null actor: the command line
 * (`system`) or a visitor who is not signed in (`anonymous`).
 */
export interface AuditActor {
  id: number;
  role: Role;
}

/** Where a request came from; the HTTP layer fills it (auditContextOf). */
export interface AuditRequestContext {
  ip: string | null;
  userAgent: string | null;
  /** The personal access token an API request came with (its public ID). */
  apiToken?: string;
}

export type AuditDetails = Record<
  string,
  string | number | boolean | null | readonly (string | number)[]
>;

/** What a caller writes; recordAudit adds time, chain position and hashes. */
export interface AuditInput {
  action: AuditAction;
  actor: AuditActor | null;
  /** Label when actor is null; defaults to "anonymous" with a request, "system" without. */
  actorLabel?: "system" | "anonymous";
  target?: { type: AuditTargetType; id: string } | null;
  request?: AuditRequestContext | null;
  /** Small, no secrets, no report text: names, public IDs, states, counts. */
  details?: AuditDetails;
  /** deps.clock.now(): time is a dependency, so tests can move it. */
  at: Date;
}

/** One stored entry, exactly as hashed. */
export interface AuditEntry {
  id: number;
  at: Date;
  actorId: number | null;
  actorLabel: string;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  userAgent: string | null;
  /** The stored JSON text: hashed byte for byte, so kept as text. */
  details: string;
  prevHash: string;
  hash: string;
}

/** An entry on the admin page, with the actor's current email for reading. */
export interface AuditListItem extends AuditEntry {
  actorEmail: string | null;
  actorName: string | null;
  actorPublicId: string | null;
}

export type AuditVerification =
  | { ok: true; count: number; headHash: string }
  | { ok: false; brokenAt: number; reason: string; count: number };

export interface AuditFilter {
  action?: AuditAction;
  /** Resolved from the email the admin typed; -1 matches nothing. */
  actorId?: number;
  targetId?: string;
  /** Inclusive lower bound, ms. */
  fromMs?: number;
  /** Exclusive upper bound, ms. */
  untilMs?: number;
}

/** What a researcher is told about one view of their report. */
export interface ReportViewer {
  /** The viewer's role at the time of the view. */
  role: string;
  organizationName: string | null;
  at: Date;
}

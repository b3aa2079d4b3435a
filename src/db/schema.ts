import type { Generated } from "kysely";

/** Table types for Kysely. Times are integer milliseconds since the epoch. */
export interface UsersTable {
  id: Generated<number>;
  public_id: string;
  email: string;
  display_name: string;
  role: string;
  password_hash: string | null;
  notify: Generated<string>;
  disabled_at: number | null;
  email_verified_at: number | null;
  password_changed_at: number | null;
  created_at: number;
  totp_secret: string | null;
  totp_enabled_at: number | null;
  totp_last_step: number | null;
  /** Set when mail to the address keeps bouncing (src/inbound/bounces.ts). */
  mail_bouncing_since: number | null;
  /** 1: the intake account that holds unclaimed reports by email; never signs in, never listed. */
  system_account: Generated<number>;
}

/** A report filed by email (src/inbound/intake.ts): its sender and tokens, hashed. */
export interface EmailReportsTable {
  report_id: number;
  sender: string;
  claim_token_hash: string;
  claim_expires_at: number;
  reply_token_hash: string;
  claimed_at: number | null;
  claimed_by: number | null;
  created_at: number;
}

/** A user's OpenPGP public key: their mail is encrypted to it (src/mail/pgp.ts). */
export interface UserPgpKeysTable {
  user_id: number;
  armored: string;
  /** Upper-case hex. */
  fingerprint: string;
  expires_at: number | null;
  created_at: number;
}

/** A version of a report's text that its researcher's edit replaced (staff only). */
export interface ReportRevisionsTable {
  id: Generated<number>;
  report_id: number;
  event_id: number;
  edited_by: number;
  title: string;
  asset: string;
  description: string;
  steps: string;
  impact: string;
  created_at: number;
}

export interface RecoveryCodesTable {
  id: Generated<number>;
  user_id: number;
  code_hash: string;
  used_at: number | null;
}

export interface SessionsTable {
  sid: string;
  user_id: number | null;
  data: string;
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
  created_at: number | null;
  last_seen_at: number | null;
}

export interface TokensTable {
  id: Generated<number>;
  token_hash: string;
  purpose: string;
  user_id: number | null;
  expires_at: number;
  used_at: number | null;
  created_at: number;
  payload: string | null;
}

export interface OrganizationsTable {
  id: Generated<number>;
  public_id: string;
  name: string;
  created_at: number;
  /** 1: every member sees every case of the organization; 0: only the cases they are given. */
  members_see_all: Generated<number>;
}

export interface OrgMembersTable {
  org_id: number;
  user_id: number;
  /** The organization's administrator: invites and removes colleagues, gives cases. */
  is_admin: Generated<number>;
}

/** A case given to one member of an organization whose members do not see all. */
export interface OrgCaseGrantsTable {
  org_id: number;
  user_id: number;
  report_id: number;
  granted_at: number;
  granted_by: number | null;
}

/** One organization taking part in a report (reports/participations.ts). */
export interface ParticipationsTable {
  id: Generated<number>;
  report_id: number;
  organization_id: number;
  status: Generated<string>;
  status_reason: string | null;
  status_changed_at: number | null;
  answered_at: number | null;
  statement: string | null;
  statement_references: string | null;
  statement_updated_at: number | null;
  statement_approved_at: number | null;
  statement_approved_by: number | null;
  statement_shared: Generated<number>;
  tracking_id: string | null;
  fix_target_at: number | null;
  fix_verified_at: number | null;
  added_at: number;
  added_by: number | null;
  notified_at: number | null;
  removed_at: number | null;
  removed_by: number | null;
  removed_reason: string | null;
}

export interface ReportsTable {
  id: Generated<number>;
  public_id: string;
  reporter_id: number;
  organization_id: number | null;
  suggested_org_name: string | null;
  title: string;
  asset: string;
  cwe: string;
  cvss_vector: string | null;
  cvss_score: number | null;
  severity: string | null;
  description: string;
  steps: string;
  impact: string;
  data_exposed: string;
  records_affected: number | null;
  credit_kind: string;
  credit_handle: string | null;
  reveal_identity: number;
  state: string;
  state_before_info: string | null;
  resolution: string | null;
  duplicate_of_id: number | null;
  assignee_id: number | null;
  created_at: number;
  updated_at: number;
  ack_due_at: number | null;
  triage_due_at: number | null;
  vendor_notified_at: number | null;
  disclosure_due_at: number | null;
  closed_at: number | null;
  info_requested_at: number | null;
  extension_requested_to: number | null;
  public_aware_at: number | null;
  exploit_public_at: number | null;
  attacks_observed_at: number | null;
  ssvc: string | null;
  disclosure_requested_at: number | null;
  fix_verified_at: number | null;
  /** The next running clock's due date, NO_DEADLINE when none (clocks.ts nextDeadline). */
  queue_due_at: Generated<number>;
  /** 1: a triager opened the case, participants see each other's names and statuses. */
  case_open: Generated<number>;
}

export interface AdvisoriesTable {
  report_id: number;
  /** The CERT's title; null only for a draft never saved with one. */
  title: string | null;
  summary: string;
  cve_id: string | null;
  updated_at: number;
  published_at: number | null;
  /** JSON list of { name, type }; null until the CERT proposes credit. */
  credits: string | null;
  credit_answer: Generated<string>;
  credit_answered_at: number | null;
}

export interface RemindersTable {
  report_id: number;
  kind: string;
  due_at: number;
  sent_at: number;
  /** 0: noticed too late to be worth a mail (reports/reminders.ts). */
  mailed: Generated<number>;
}

export interface ReportEventsTable {
  id: Generated<number>;
  report_id: number;
  actor_id: number | null;
  kind: string;
  action: string | null;
  from_state: string | null;
  to_state: string | null;
  visibility: string;
  /** Who reads it: internal, researcher (and the CERT) or everyone (reports/types.ts). */
  audience: Generated<string>;
  body: string | null;
  created_at: number;
  /** When a triager shared a researcher-and-CERT message with the organization. */
  shared_at: number | null;
  shared_by: number | null;
  /** The organization an "org" or "org_researcher" message is written to. */
  audience_org_id: number | null;
  /** Arrived by email: the mail's Message-ID (the Inbound mail page has the message). */
  mail_message_id: string | null;
  /** 1: the mail was OpenPGP-encrypted to the desk. */
  mail_encrypted: Generated<number>;
  /** The fingerprint of the sender's key whose signature on the mail verified. */
  mail_signed_by: string | null;
}

export interface AttachmentsTable {
  id: Generated<number>;
  public_id: string;
  report_id: number | null;
  owner_id: number;
  sha256: string;
  media_type: string;
  size: number;
  file_name: string;
  created_at: number;
  /** The researcher removed it before acknowledgment: kept, shown to staff only. */
  removed_at: number | null;
  removed_by: number | null;
}

export interface OutboxTable {
  id: Generated<number>;
  message_id: string;
  report_id: number | null;
  to_user_id: number | null;
  to_address: string;
  template: string;
  subject: string;
  text_body: string;
  html_body: string;
  thread_id: string | null;
  status: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: number;
  lease_until: number | null;
  last_error: string | null;
  smtp_response: string | null;
  created_at: number;
  sent_at: number | null;
  /** The timeline entry it announces: its text goes only into encrypted mail. */
  event_id: number | null;
  /** A delivery report said it bounced (src/inbound/bounces.ts). */
  bounced_at: number | null;
  /** The DSN Status, like 5.1.1 (5: hard, 4: soft). */
  bounce_status: string | null;
  bounce_reason: string | null;
  /** Reply-To, when replies go somewhere of their own (a report by email's receipt). */
  reply_to: string | null;
}

/** One message for many recipients, addressed by the mail worker; see src/mail/outbox.ts. */
export interface OutboxFanoutTable {
  id: Generated<number>;
  report_id: number | null;
  template: string;
  data: string;
  user_ids: string;
  recipient_count: number;
  thread_id: string | null;
  created_at: number;
  event_id: number | null;
}

/** Append-only (triggers refuse UPDATE and DELETE); see src/audit. */
export interface AuditLogTable {
  id: number;
  at: number;
  actor_id: number | null;
  actor_label: string;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/** Policy defaults changed by an admin; a missing key means the environment's. */
export interface SettingsTable {
  key: string;
  /** JSON. */
  value: string;
  updated_at: number;
  updated_by: number | null;
}

/** One row: moves whenever the reports' full-text index may change (migration 2026-11-29-01). */
export interface SearchIndexVersionTable {
  id: number;
  version: number;
}

/** Moves with every change to users (triggers); see listActiveStaff. */
export interface UsersVersionTable {
  id: number;
  version: number;
}

/** Reports written since the full-text index last took them in. */
export interface SearchPendingTable {
  report_id: number;
}

/** Mail received by the desk, with what ingestion decided (src/inbound). */
export interface InboundMessagesTable {
  id: Generated<number>;
  message_id: string;
  received_at: number;
  envelope_from: string;
  /** JSON array of the envelope recipients. */
  recipients: string;
  from_address: string;
  subject: string;
  raw: Buffer;
  /** received | posted | held | ignored | discarded */
  status: Generated<string>;
  reason: string | null;
  report_id: number | null;
  user_id: number | null;
  /** The timeline entry the message became, when posted as one. */
  event_id: number | null;
  encrypted: Generated<number>;
  signed_by: string | null;
  dmarc: string | null;
  decided_at: number | null;
  decided_by: number | null;
}

/** The token in a notification's Reply-To, stored hashed; see src/inbound/reply-tokens.ts. */
export interface ReplyTokensTable {
  id: Generated<number>;
  token_hash: string;
  user_id: number;
  report_id: number;
  created_at: number;
}

/** When a staff member last opened a report (the queue's "unread"). */
export interface ReportReadsTable {
  user_id: number;
  report_id: number;
  read_at: number;
}

/**
 * A rate limit's counter in one fixed window, shared by every instance on
 * PostgreSQL (src/http/rate-limit-repository.ts).
 */
export interface RateLimitHitsTable {
  name: string;
  key: string;
  hits: number;
  reset_at: number;
}

/** A staff member's saved queue view (reports/saved-views.ts). */
export interface SavedViewsTable {
  id: Generated<number>;
  public_id: string;
  user_id: number;
  name: string;
  /** The queue's query string: filters and order. */
  query: string;
  created_at: number;
}

export interface ApiTokensTable {
  id: Generated<number>;
  public_id: string;
  user_id: number;
  name: string;
  token_hash: string;
  /** Space-separated scopes (src/api/tokens.ts API_SCOPES). */
  scopes: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
}

export interface ApiIdempotencyTable {
  token_id: number;
  key: string;
  request_hash: string;
  /** Null while the first request is being answered. */
  status: number | null;
  headers: string | null;
  body: string | null;
  created_at: number;
}

/** A URL that hears of report events (src/webhooks). */
export interface WebhookEndpointsTable {
  id: Generated<number>;
  public_id: string;
  owner_id: number;
  org_id: number | null;
  url: string;
  description: Generated<string>;
  /** JSON array of event types. */
  events: string;
  /** whsec_<base64>. */
  secret: string;
  enabled: Generated<number>;
  disabled_at: number | null;
  disabled_reason: string | null;
  consecutive_failures: Generated<number>;
  created_at: number;
  secret_rotated_at: number | null;
}

/** One event for one endpoint: delivered once (unique event_id, endpoint_id). */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  endpoint_id: number;
  event_id: string;
  event_type: string;
  report_id: number | null;
  payload: string;
  status: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: number;
  lease_until: number | null;
  claim: string | null;
  last_status: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface WebhookAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  at: number;
  status_code: number | null;
  error: string | null;
  duration_ms: number;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  tokens: TokensTable;
  recovery_codes: RecoveryCodesTable;
  reminders: RemindersTable;
  advisories: AdvisoriesTable;
  organizations: OrganizationsTable;
  participations: ParticipationsTable;
  org_case_grants: OrgCaseGrantsTable;
  org_members: OrgMembersTable;
  reports: ReportsTable;
  report_events: ReportEventsTable;
  attachments: AttachmentsTable;
  outbox: OutboxTable;
  email_reports: EmailReportsTable;
  outbox_fanouts: OutboxFanoutTable;
  user_pgp_keys: UserPgpKeysTable;
  report_revisions: ReportRevisionsTable;
  audit_log: AuditLogTable;
  settings: SettingsTable;
  search_index_version: SearchIndexVersionTable;
  search_pending: SearchPendingTable;
  users_version: UsersVersionTable;
  inbound_messages: InboundMessagesTable;
  reply_tokens: ReplyTokensTable;
  report_reads: ReportReadsTable;
  rate_limit_hits: RateLimitHitsTable;
  saved_views: SavedViewsTable;
  api_tokens: ApiTokensTable;
  api_idempotency: ApiIdempotencyTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
}

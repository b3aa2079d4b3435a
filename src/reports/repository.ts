import { sql, type Selectable } from "kysely";
import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";
import type { AttachmentsTable, ReportsTable } from "../db/schema.js";
import { NO_DEADLINE } from "./clocks.js";
import type { Severity } from "./cvss.js";
import type {
  Attachment,
  CreditKind,
  DataKind,
  EventAudience,
  EventKind,
  MailOrigin,
  Report,
  TimelineEvent,
} from "./types.js";
import { newestTitleMatches } from "./list-repository.js";
import {
  grantsFor,
  participantFactsFor,
  setLeadParticipant,
} from "./participations-repository.js";
import type {
  CaseGrant,
  ParticipantFacts,
  ReadableEvents,
} from "../auth/policy.js";
import type { Resolution, State } from "./workflow.js";

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toReport(
  row: Selectable<ReportsTable>,
  participants: ParticipantFacts[],
  grants: CaseGrant[],
): Report {
  return {
    participants,
    grants,
    caseOpen: row.case_open === 1,
    id: row.id,
    publicId: row.public_id,
    reporterId: row.reporter_id,
    organizationId: row.organization_id,
    suggestedOrgName: row.suggested_org_name,
    title: row.title,
    asset: row.asset,
    cwe: row.cwe,
    cvssVector: row.cvss_vector,
    cvssScore: row.cvss_score,
    severity: row.severity as Severity | null,
    description: row.description,
    steps: row.steps,
    impact: row.impact,
    dataExposed: JSON.parse(row.data_exposed) as DataKind[],
    recordsAffected: row.records_affected,
    creditKind: row.credit_kind as CreditKind,
    creditHandle: row.credit_handle,
    revealIdentity: row.reveal_identity === 1,
    state: row.state as State,
    stateBeforeInfo: row.state_before_info as State | null,
    resolution: row.resolution as Resolution | null,
    duplicateOfId: row.duplicate_of_id,
    assigneeId: row.assignee_id,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    ackDueAt: date(row.ack_due_at),
    triageDueAt: date(row.triage_due_at),
    vendorNotifiedAt: date(row.vendor_notified_at),
    disclosureDueAt: date(row.disclosure_due_at),
    closedAt: date(row.closed_at),
    infoRequestedAt: date(row.info_requested_at),
    extensionRequestedTo: date(row.extension_requested_to),
    publicAwareAt: date(row.public_aware_at),
    exploitPublicAt: date(row.exploit_public_at),
    attacksObservedAt: date(row.attacks_observed_at),
    ssvc: row.ssvc,
    disclosureRequestedAt: date(row.disclosure_requested_at),
    fixVerifiedAt: date(row.fix_verified_at),
  };
}

function toAttachment(row: Selectable<AttachmentsTable>): Attachment {
  return {
    id: row.id,
    publicId: row.public_id,
    reportId: row.report_id,
    ownerId: row.owner_id,
    sha256: row.sha256,
    mediaType: row.media_type,
    size: row.size,
    fileName: row.file_name,
    createdAt: new Date(row.created_at),
    removedAt: row.removed_at === null ? null : new Date(row.removed_at),
    removedBy: row.removed_by,
  };
}

/** What filing sets; everything else about a report starts empty. */
export type NewReport = Pick<
  Report,
  | "publicId"
  | "reporterId"
  | "organizationId"
  | "suggestedOrgName"
  | "title"
  | "asset"
  | "cwe"
  | "cvssVector"
  | "cvssScore"
  | "severity"
  | "description"
  | "steps"
  | "impact"
  | "dataExposed"
  | "recordsAffected"
  | "creditKind"
  | "creditHandle"
  | "revealIdentity"
  | "createdAt"
> & { ackDueAt: Date; triageDueAt: Date };

export async function insertReport(
  db: DbOrTx,
  report: NewReport,
): Promise<Report> {
  const at = report.createdAt.getTime();
  const row = await db
    .insertInto("reports")
    .values({
      public_id: report.publicId,
      reporter_id: report.reporterId,
      organization_id: report.organizationId,
      suggested_org_name: report.suggestedOrgName,
      title: report.title,
      asset: report.asset,
      cwe: report.cwe,
      cvss_vector: report.cvssVector,
      cvss_score: report.cvssScore,
      severity: report.severity,
      description: report.description,
      steps: report.steps,
      impact: report.impact,
      data_exposed: JSON.stringify(report.dataExposed),
      records_affected: report.recordsAffected,
      credit_kind: report.creditKind,
      credit_handle: report.creditHandle,
      reveal_identity: report.revealIdentity ? 1 : 0,
      state: "submitted",
      created_at: at,
      updated_at: at,
      ack_due_at: report.ackDueAt.getTime(),
      triage_due_at: report.triageDueAt.getTime(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  // The organization the researcher named is the case's first participant.
  if (report.organizationId !== null)
    await setLeadParticipant(
      db,
      row.id,
      null,
      report.organizationId,
      report.reporterId,
      report.createdAt,
    );
  return withAccess(db, row) as Promise<Report>;
}

/** A report row with what the policy reads about its participants. */
async function withAccess(
  db: DbOrTx,
  row: Selectable<ReportsTable> | undefined,
): Promise<Report | undefined> {
  if (!row) return undefined;
  const [participants, grants] = await Promise.all([
    participantFactsFor(db, [row.id]),
    grantsFor(db, [row.id]),
  ]);
  return toReport(
    row,
    participants.get(row.id) ?? [],
    grants.get(row.id) ?? [],
  );
}

// Every report page and every step on a report reads it: built once.
const reportByPublicId = preparedQuery((db, publicId: string) =>
  db.selectFrom("reports").selectAll().where("public_id", "=", publicId),
);
const reportById = preparedQuery((db, id: number) =>
  db.selectFrom("reports").selectAll().where("id", "=", id),
);

export async function findReportByPublicId(db: DbOrTx, publicId: string) {
  return withAccess(db, (await reportByPublicId(db, publicId)).rows[0]);
}

export async function findReportById(db: DbOrTx, id: number) {
  return withAccess(db, (await reportById(db, id)).rows[0]);
}

export interface StateChange {
  state: State;
  stateBeforeInfo: State | null;
  resolution: Resolution | null;
  duplicateOfId: number | null;
  vendorNotifiedAt?: Date;
  disclosureDueAt?: Date;
  /** Set when acknowledged: triage is due a fixed time after that. */
  triageDueAt?: Date;
  /** When a request for information was made (null in every other state). */
  infoRequestedAt: Date | null;
  /** Left out: unchanged. */
  fixVerifiedAt?: Date | null;
  closedAt: Date | null;
  at: Date;
}

/**
 * Moves a report to a new state only if it is still in the state the decision
 * was made on; false means someone else changed it first.
 */
export async function changeReportState(
  db: DbOrTx,
  id: number,
  from: State,
  change: StateChange,
): Promise<boolean> {
  const result = await db
    .updateTable("reports")
    .set({
      state: change.state,
      state_before_info: change.stateBeforeInfo,
      resolution: change.resolution,
      duplicate_of_id: change.duplicateOfId,
      closed_at: change.closedAt ? change.closedAt.getTime() : null,
      updated_at: change.at.getTime(),
      ...(change.vendorNotifiedAt && {
        vendor_notified_at: change.vendorNotifiedAt.getTime(),
      }),
      ...(change.disclosureDueAt && {
        disclosure_due_at: change.disclosureDueAt.getTime(),
      }),
      ...(change.triageDueAt && {
        triage_due_at: change.triageDueAt.getTime(),
      }),
      info_requested_at: change.infoRequestedAt?.getTime() ?? null,
      ...(change.fixVerifiedAt !== undefined && {
        fix_verified_at: change.fixVerifiedAt?.getTime() ?? null,
      }),
    })
    .where("id", "=", id)
    .where("state", "=", from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export interface TriageFields {
  cwe: string;
  cvssVector: string | null;
  cvssScore: number | null;
  severity: Severity | null;
  organizationId: number | null;
}

export async function updateTriageFields(
  db: DbOrTx,
  id: number,
  fields: TriageFields,
  at: Date,
) {
  await db
    .updateTable("reports")
    .set({
      cwe: fields.cwe,
      cvss_vector: fields.cvssVector,
      cvss_score: fields.cvssScore,
      severity: fields.severity,
      organization_id: fields.organizationId,
      updated_at: at.getTime(),
    })
    .where("id", "=", id)
    .execute();
}

export async function setAssignee(
  db: DbOrTx,
  id: number,
  assigneeId: number | null,
  at: Date,
) {
  await db
    .updateTable("reports")
    .set({ assignee_id: assigneeId, updated_at: at.getTime() })
    .where("id", "=", id)
    .execute();
}

/** Marks activity on a report (a comment), so lists sort by it. */
export async function touchReport(db: DbOrTx, id: number, at: Date) {
  await db
    .updateTable("reports")
    .set({ updated_at: at.getTime() })
    .where("id", "=", id)
    .execute();
}

export interface NewEvent {
  reportId: number;
  actorId: number | null;
  kind: EventKind;
  action?: string | null;
  fromState?: State | null;
  toState?: State | null;
  visibility: "public" | "internal";
  body?: string | null;
  at: Date;
  /** Received by email (a reply): where it came from. */
  viaMail?: MailOrigin | null;
  /**
   * Who reads it, chosen by the writer (a comment's form); absent, decided
   * from the report as below.
   */
  audience?: { audience: EventAudience; orgId: number | null };
}

/** Returns the new entry's ID. */
export async function insertEvent(
  db: DbOrTx,
  event: NewEvent,
): Promise<number> {
  const { id } = await db
    .insertInto("report_events")
    .values({
      report_id: event.reportId,
      actor_id: event.actorId,
      kind: event.kind,
      action: event.action ?? null,
      from_state: event.fromState ?? null,
      to_state: event.toState ?? null,
      visibility: event.visibility,
      // Decided when written, from the report's row in the same transaction:
      // what is said before the organization is notified stays between the
      // researcher and the CERT (a triager may share it later).
      audience: event.audience
        ? event.audience.audience
        : event.visibility === "internal"
          ? "internal"
          : sql<string>`(select case when r.vendor_notified_at is null
              then 'researcher' else 'everyone' end
              from reports r where r.id = ${event.reportId})`,
      audience_org_id: event.audience?.orgId ?? null,
      body: event.body ?? null,
      created_at: event.at.getTime(),
      ...(event.viaMail && {
        mail_message_id: event.viaMail.messageId,
        mail_encrypted: event.viaMail.encrypted ? 1 : 0,
        mail_signed_by: event.viaMail.signedBy,
      }),
    })
    .returning("id")
    .executeTakeFirstOrThrow();
  return id;
}

/** One timeline entry as a message announcing it needs it (src/mail/sealed.ts). */
export async function findEventById(db: DbOrTx, id: number) {
  const row = await db
    .selectFrom("report_events")
    .select([
      "report_id",
      "kind",
      "action",
      "from_state",
      "to_state",
      "audience",
      "audience_org_id",
      "body",
    ])
    .where("id", "=", id)
    .executeTakeFirst();
  return (
    row && {
      reportId: row.report_id,
      kind: row.kind as EventKind,
      action: row.action,
      fromState: row.from_state as State | null,
      toState: row.to_state as State | null,
      audience: row.audience as EventAudience,
      audienceOrgId: row.audience_org_id,
      body: row.body,
    }
  );
}

// Every report page reads its timeline: built once per reader's lists.
const eventsQuery = preparedQuery(
  (
    db,
    reportId: number,
    audiences: readonly EventAudience[],
    orgIds: readonly number[],
  ) =>
    db
      .selectFrom("report_events as e")
      .leftJoin("users as u", "u.id", "e.actor_id")
      .select([
        "e.id",
        "e.actor_id",
        "u.display_name",
        "u.role",
        "e.kind",
        "e.action",
        "e.from_state",
        "e.to_state",
        "e.visibility",
        "e.audience",
        "e.audience_org_id",
        "e.body",
        "e.created_at",
        "e.shared_at",
        "e.mail_message_id",
        "e.mail_encrypted",
        "e.mail_signed_by",
      ])
      .where("e.report_id", "=", reportId)
      .where((eb) =>
        eb.or([
          ...(audiences.length > 0 ? [eb("e.audience", "in", audiences)] : []),
          ...(orgIds.length > 0
            ? [
                eb.and([
                  eb("e.audience", "in", ["org", "org_researcher"]),
                  eb("e.audience_org_id", "in", orgIds),
                ]),
              ]
            : []),
        ]),
      )
      .orderBy("e.id"),
);

/**
 * The timeline, oldest first, with only the events the reader may read
 * (policy.ts readableEvents; canReadEvent is the same rule in code).
 */
export async function listEvents(
  db: DbOrTx,
  reportId: number,
  readable: ReadableEvents,
): Promise<TimelineEvent[]> {
  const { audiences, orgIds } = readable;
  if (audiences.length === 0 && orgIds.length === 0) return [];
  const { rows } = await eventsQuery(db, reportId, audiences, orgIds);
  return rows.map((r) => ({
    id: r.id,
    actorId: r.actor_id,
    actorName: r.display_name,
    actorRole: r.role,
    kind: r.kind as EventKind,
    action: r.action,
    fromState: r.from_state as State | null,
    toState: r.to_state as State | null,
    visibility: r.visibility as "public" | "internal",
    audience: r.audience as EventAudience,
    audienceOrgId: r.audience_org_id,
    body: r.body,
    createdAt: new Date(r.created_at),
    sharedAt: date(r.shared_at),
    viaMail:
      r.mail_message_id === null
        ? null
        : {
            messageId: r.mail_message_id,
            encrypted: r.mail_encrypted === 1,
            signedBy: r.mail_signed_by,
          },
  }));
}

/**
 * Opens one researcher-and-CERT message of this report to the organization;
 * false when there is no such message (another report's, internal, a step
 * without words, or shared already).
 */
export async function shareEventWithOrganization(
  db: DbOrTx,
  reportId: number,
  eventId: number,
  organizationId: number,
  sharedBy: number,
  at: Date,
): Promise<Date | null> {
  const row = await db
    .updateTable("report_events")
    .set({
      // One organization reads it, with the researcher who wrote or read it.
      audience: "org_researcher",
      audience_org_id: organizationId,
      shared_at: at.getTime(),
      shared_by: sharedBy,
    })
    .where("id", "=", eventId)
    .where("report_id", "=", reportId)
    .where("audience", "=", "researcher")
    .where("kind", "in", ["comment", "transition"])
    .where("body", "is not", null)
    .returning("created_at")
    .executeTakeFirst();
  return row ? new Date(row.created_at) : null;
}

export type NewAttachment = Omit<
  Attachment,
  "id" | "createdAt" | "removedAt" | "removedBy"
> & { at: Date };

export async function insertAttachment(
  db: DbOrTx,
  a: NewAttachment,
): Promise<Attachment> {
  const row = await db
    .insertInto("attachments")
    .values({
      public_id: a.publicId,
      report_id: a.reportId,
      owner_id: a.ownerId,
      sha256: a.sha256,
      media_type: a.mediaType,
      size: a.size,
      file_name: a.fileName,
      created_at: a.at.getTime(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toAttachment(row);
}

export async function listAttachments(
  db: DbOrTx,
  reportId: number,
): Promise<Attachment[]> {
  return (await attachmentsQuery(db, reportId)).rows.map(toAttachment);
}

const attachmentsQuery = preparedQuery((db, reportId: number) =>
  db
    .selectFrom("attachments")
    .selectAll()
    .where("report_id", "=", reportId)
    .orderBy("id"),
);

/** Files kept from a form that failed validation: only the owner's, only unlinked. */
export async function findPendingAttachments(
  db: DbOrTx,
  ownerId: number,
  publicIds: readonly string[],
): Promise<Attachment[]> {
  if (publicIds.length === 0) return [];
  const rows = await db
    .selectFrom("attachments")
    .selectAll()
    .where("owner_id", "=", ownerId)
    .where("report_id", "is", null)
    .where("public_id", "in", publicIds as string[])
    .orderBy("id")
    .execute();
  return rows.map(toAttachment);
}

/**
 * Deletes uploads that waited on a failed form and were never attached,
 * uploaded before `before`; returns the hashes of their files.
 */
export async function deleteAbandonedAttachments(
  db: DbOrTx,
  before: Date,
): Promise<string[]> {
  const rows = await db
    .deleteFrom("attachments")
    .where("report_id", "is", null)
    .where("created_at", "<", before.getTime())
    .returning("sha256")
    .execute();
  return rows.map((r) => r.sha256);
}

/** Which of these stored files some attachment still names. */
export async function attachmentHashesInUse(
  db: DbOrTx,
  hashes: readonly string[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await db
    .selectFrom("attachments")
    .select("sha256")
    .distinct()
    .where("sha256", "in", hashes as string[])
    .execute();
  return new Set(rows.map((r) => r.sha256));
}

export async function linkAttachments(
  db: DbOrTx,
  reportId: number,
  ids: readonly number[],
) {
  if (ids.length === 0) return;
  await db
    .updateTable("attachments")
    .set({ report_id: reportId })
    .where("id", "in", ids as number[])
    .where("report_id", "is", null)
    .execute();
}

/**
 * Marks a file of a report removed, while the report is still `submitted`
 * and the file not removed yet; false when either has changed since.
 */
export async function markAttachmentRemoved(
  db: DbOrTx,
  attachmentId: number,
  reportId: number,
  by: number,
  at: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("attachments")
    .set({ removed_at: at.getTime(), removed_by: by })
    .where("id", "=", attachmentId)
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom("reports")
          .select("reports.id")
          .where("reports.id", "=", reportId)
          .where("reports.state", "=", "submitted"),
      ),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Names of the people a report page mentions (reporter, assignee). */
export async function userNames(db: DbOrTx, ids: readonly number[]) {
  if (ids.length === 0) return new Map<number, string>();
  const { rows } = await userNamesQuery(db, ids);
  return new Map(rows.map((r) => [r.id, r.display_name]));
}

const userNamesQuery = preparedQuery((db, ids: readonly number[]) =>
  db.selectFrom("users").select(["id", "display_name"]).where("id", "in", ids),
);

export interface RelatedReport {
  publicId: string;
  title: string;
  state: State;
}

/**
 * Reports that may describe the same problem, for the triager: the same
 * asset at the same organization, or titles sharing words (an FTS5 OR
 * query built by the caller from the title's words only). Two small indexed
 * queries merged, newest first: an OR in one query made SQLite walk every
 * report (seconds at a million, see bench/README.md).
 */
export async function findPossibleDuplicates(
  db: DbOrTx,
  report: { id: number; organizationId: number | null; asset: string },
  titleQuery: string | null,
  limit: number,
): Promise<RelatedReport[]> {
  const columns = ["r.id", "r.public_id", "r.title", "r.state"] as const;
  const sameAsset = await db
    .selectFrom("reports as r")
    .select(columns)
    .where(
      "r.organization_id",
      report.organizationId === null ? "is" : "=",
      report.organizationId,
    )
    .where("r.asset", "=", report.asset)
    .where("r.id", "!=", report.id)
    .orderBy("r.id", "desc")
    .limit(limit)
    .execute();
  // Newest first: only the first `limit` can be shown.
  const titleMatches = titleQuery
    ? (await newestTitleMatches(db, titleQuery, limit + 1))
        .filter((id) => id !== report.id)
        .slice(0, limit)
    : [];
  const similar =
    titleMatches.length > 0
      ? await db
          .selectFrom("reports as r")
          .select(columns)
          .where("r.id", "in", titleMatches)
          .orderBy("r.id", "desc")
          .limit(limit)
          .execute()
      : [];
  const byId = new Map([...sameAsset, ...similar].map((r) => [r.id, r]));
  return [...byId.values()]
    .sort((a, b) => b.id - a.id)
    .slice(0, limit)
    .map((r) => ({
      publicId: r.public_id,
      title: r.title,
      state: r.state as State,
    }));
}

/** Keeps the queue's "due soonest" column (clocks.ts nextDeadline; null: no clock runs). */
export async function setQueueDue(db: DbOrTx, id: number, due: Date | null) {
  await db
    .updateTable("reports")
    .set({ queue_due_at: due?.getTime() ?? NO_DEADLINE })
    .where("id", "=", id)
    .execute();
}

/** Moves the disclosure deadline (and settles any open extension request). */
export async function setDisclosureDeadline(
  db: DbOrTx,
  id: number,
  dueAt: Date,
  at: Date,
) {
  await db
    .updateTable("reports")
    .set({
      disclosure_due_at: dueAt.getTime(),
      extension_requested_to: null,
      updated_at: at.getTime(),
    })
    .where("id", "=", id)
    .execute();
}

export async function setExtensionRequest(
  db: DbOrTx,
  id: number,
  to: Date | null,
  at: Date,
) {
  await db
    .updateTable("reports")
    .set({
      extension_requested_to: to ? to.getTime() : null,
      updated_at: at.getTime(),
    })
    .where("id", "=", id)
    .execute();
}

export type CaseFactColumn =
  "public_aware_at" | "exploit_public_at" | "attacks_observed_at";

/** Records a case fact once; false when it was already true (facts are one-way). */
export async function markCaseFact(
  db: DbOrTx,
  id: number,
  column: CaseFactColumn,
  at: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("reports")
    .set({ [column]: at.getTime(), updated_at: at.getTime() })
    .where("id", "=", id)
    .where(column, "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function saveSsvcDecision(
  db: DbOrTx,
  id: number,
  json: string,
  at: Date,
) {
  await db
    .updateTable("reports")
    .set({ ssvc: json, updated_at: at.getTime() })
    .where("id", "=", id)
    .execute();
}

/**
 * Opens (a time) or settles (null) the researcher's request that the report
 * be disclosed. Opening is conditional, so a double submit records one request.
 */
export async function setDisclosureRequest(
  db: DbOrTx,
  id: number,
  requestedAt: Date | null,
  at: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("reports")
    .set({
      disclosure_requested_at: requestedAt?.getTime() ?? null,
      updated_at: at.getTime(),
    })
    .where("id", "=", id)
    .where("disclosure_requested_at", requestedAt ? "is" : "is not", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The text a researcher may correct before acknowledgment, and its earlier versions. */
export interface SubmissionText {
  title: string;
  asset: string;
  description: string;
  steps: string;
  impact: string;
}

/**
 * Replaces the report's text only while it is still "submitted" (a triager
 * may acknowledge it a moment before); false when it no longer is. The
 * search index follows through its triggers (search_pending).
 */
export async function updateSubmission(
  db: DbOrTx,
  id: number,
  text: SubmissionText,
  at: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("reports")
    .set({ ...text, updated_at: at.getTime() })
    .where("id", "=", id)
    .where("state", "=", "submitted")
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function insertRevision(
  db: DbOrTx,
  revision: SubmissionText & {
    reportId: number;
    eventId: number;
    editedBy: number;
    at: Date;
  },
) {
  await db
    .insertInto("report_revisions")
    .values({
      report_id: revision.reportId,
      event_id: revision.eventId,
      edited_by: revision.editedBy,
      title: revision.title,
      asset: revision.asset,
      description: revision.description,
      steps: revision.steps,
      impact: revision.impact,
      created_at: revision.at.getTime(),
    })
    .execute();
}

export interface Revision extends SubmissionText {
  eventId: number;
  editorName: string;
  /** When this version was replaced. */
  replacedAt: Date;
}

/** A report's earlier versions, oldest first. */
export async function listRevisions(
  db: DbOrTx,
  reportId: number,
): Promise<Revision[]> {
  const rows = await db
    .selectFrom("report_revisions as v")
    .innerJoin("users as u", "u.id", "v.edited_by")
    .select([
      "v.event_id",
      "v.title",
      "v.asset",
      "v.description",
      "v.steps",
      "v.impact",
      "v.created_at",
      "u.display_name",
    ])
    .where("v.report_id", "=", reportId)
    .orderBy("v.id")
    .execute();
  return rows.map((r) => ({
    eventId: r.event_id,
    title: r.title,
    asset: r.asset,
    description: r.description,
    steps: r.steps,
    impact: r.impact,
    editorName: r.display_name,
    replacedAt: new Date(r.created_at),
  }));
}

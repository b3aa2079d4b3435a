import type { Selectable } from "kysely";
import type { ReportAccessFacts } from "../auth/policy.js";
import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";
import type { AuditLogTable } from "../db/schema.js";
import type { AuditEntry, AuditFilter, AuditListItem } from "./types.js";

/*
 * Append-only: this module offers an insert and reads, nothing else. The
 * database triggers refuse UPDATE and DELETE on audit_log as a second line.
 */

function toEntry(row: Selectable<AuditLogTable>): AuditEntry {
  return {
    id: row.id,
    at: new Date(row.at),
    actorId: row.actor_id,
    actorLabel: row.actor_label,
    action: row.action,
    targetType: row.target_type,
    targetId: row.target_id,
    ip: row.ip,
    userAgent: row.user_agent,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** The head of the chain: the entry a new one links to. */
export async function lastAuditLink(
  db: DbOrTx,
): Promise<{ id: number; hash: string } | undefined> {
  return (await lastLinkQuery(db)).rows[0];
}

// Every audited action (a report view among them) reads and writes the head.
const lastLinkQuery = preparedQuery((db) =>
  db
    .selectFrom("audit_log")
    .select(["id", "hash"])
    .orderBy("id", "desc")
    .limit(1),
);
const insertEntryQuery = preparedQuery(
  (
    db,
    id: number,
    at: number,
    actorId: number | null,
    actorLabel: string,
    action: string,
    targetType: string | null,
    targetId: string | null,
    ip: string | null,
    userAgent: string | null,
    details: string,
    prevHash: string,
    hash: string,
  ) =>
    db.insertInto("audit_log").values({
      id,
      at,
      actor_id: actorId,
      actor_label: actorLabel,
      action,
      target_type: targetType,
      target_id: targetId,
      ip,
      user_agent: userAgent,
      details,
      prev_hash: prevHash,
      hash,
    }),
);

export async function insertAuditEntry(
  db: DbOrTx,
  entry: AuditEntry,
): Promise<void> {
  await insertEntryQuery(
    db,
    entry.id,
    entry.at.getTime(),
    entry.actorId,
    entry.actorLabel,
    entry.action,
    entry.targetType,
    entry.targetId,
    entry.ip,
    entry.userAgent,
    entry.details,
    entry.prevHash,
    entry.hash,
  );
}

/** A page of the chain in id order, for verification (bounded memory). */
export async function auditEntriesAfter(
  db: DbOrTx,
  afterId: number,
  limit: number,
): Promise<AuditEntry[]> {
  const rows = await db
    .selectFrom("audit_log")
    .selectAll()
    .where("id", ">", afterId)
    .orderBy("id", "asc")
    .limit(limit)
    .execute();
  return rows.map(toEntry);
}

/** Newest first, keyset-paged by id (stable under concurrent appends). */
export async function listAuditEntries(
  db: DbOrTx,
  filter: AuditFilter,
  beforeId: number | null,
  limit: number,
): Promise<AuditListItem[]> {
  let query = db
    .selectFrom("audit_log")
    .leftJoin("users", "users.id", "audit_log.actor_id")
    .selectAll("audit_log")
    .select([
      "users.email as actor_email",
      "users.display_name as actor_name",
      "users.public_id as actor_public_id",
    ]);
  if (filter.action)
    query = query.where("audit_log.action", "=", filter.action);
  if (filter.actorId !== undefined)
    query = query.where("audit_log.actor_id", "=", filter.actorId);
  if (filter.targetId)
    query = query.where("audit_log.target_id", "=", filter.targetId);
  if (filter.fromMs !== undefined)
    query = query.where("audit_log.at", ">=", filter.fromMs);
  if (filter.untilMs !== undefined)
    query = query.where("audit_log.at", "<", filter.untilMs);
  if (beforeId !== null) query = query.where("audit_log.id", "<", beforeId);
  const rows = await query
    .orderBy("audit_log.id", "desc")
    .limit(limit)
    .execute();
  return rows.map((row) => {
    const { actor_email, actor_name, actor_public_id, ...entry } = row;
    return {
      ...toEntry(entry),
      actorEmail: actor_email,
      actorName: actor_name,
      actorPublicId: actor_public_id,
    };
  });
}

/** Display names of users by public ID (the ID the audit log stores). */
export async function userNamesByPublicId(
  db: DbOrTx,
  publicIds: readonly string[],
): Promise<Map<string, string>> {
  if (publicIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("users")
    .select(["public_id", "display_name"])
    .where("public_id", "in", [...publicIds])
    .execute();
  return new Map(rows.map((r) => [r.public_id, r.display_name]));
}

/** The recorded views of one report (by its public ID), newest first. */
export async function reportViewEntries(
  db: DbOrTx,
  reportPublicId: string,
  limit: number,
): Promise<AuditEntry[]> {
  const rows = await db
    .selectFrom("audit_log")
    .selectAll()
    .where("target_id", "=", reportPublicId)
    .where("target_type", "=", "report")
    .where("action", "=", "report.viewed")
    .orderBy("id", "desc")
    .limit(limit)
    .execute();
  return rows.map(toEntry);
}

/**
 * What the policy needs to decide on a report, plus its public ID (the only
 * ID the audit log stores). Read here because the audit trail needs it
 * before the reports feature may exist; it reads, never writes, reports.
 */
export async function reportFactsForAudit(
  db: DbOrTx,
  reportId: number,
): Promise<(ReportAccessFacts & { publicId: string }) | undefined> {
  const row = await db
    .selectFrom("reports")
    .select(["public_id", "reporter_id", "reveal_identity", "case_open"])
    .where("id", "=", reportId)
    .executeTakeFirst();
  if (!row) return undefined;
  const participants = await db
    .selectFrom("participations")
    .select(["organization_id", "notified_at"])
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .orderBy("id")
    .execute();
  const grants = await db
    .selectFrom("org_case_grants")
    .select(["user_id", "org_id"])
    .where("report_id", "=", reportId)
    .execute();
  return {
    publicId: row.public_id,
    reporterId: row.reporter_id,
    participants: participants.map((p) => ({
      organizationId: p.organization_id,
      notifiedAt: p.notified_at === null ? null : new Date(p.notified_at),
    })),
    grants: grants.map((g) => ({ userId: g.user_id, orgId: g.org_id })),
    caseOpen: row.case_open === 1,
    revealIdentity: row.reveal_identity === 1,
  };
}

export async function organizationPublicId(
  db: DbOrTx,
  orgId: number,
): Promise<string | undefined> {
  const row = await db
    .selectFrom("organizations")
    .select("public_id")
    .where("id", "=", orgId)
    .executeTakeFirst();
  return row?.public_id;
}

export async function organizationNamesByPublicId(
  db: DbOrTx,
  publicIds: readonly string[],
): Promise<Map<string, string>> {
  if (publicIds.length === 0) return new Map();
  const rows = await db
    .selectFrom("organizations")
    .select(["public_id", "name"])
    .where("public_id", "in", [...publicIds])
    .execute();
  return new Map(rows.map((r) => [r.public_id, r.name]));
}

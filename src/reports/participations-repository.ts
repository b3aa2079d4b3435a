/**
 * All SQL for participations: the organizations taking part in a report,
 * each with its own status, statement, tracking ID and clocks
 * (reports/participations.ts has the rules).
 */
import type { Selectable } from "kysely";
import type { CaseGrant, ParticipantFacts } from "../auth/policy.js";
import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";
import type { ParticipationsTable } from "../db/schema.js";
import type { Participation, ParticipationStatus } from "./participations.js";

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toParticipation(
  row: Selectable<ParticipationsTable> & {
    org_name: string;
    org_public_id: string;
  },
): Participation {
  return {
    id: row.id,
    reportId: row.report_id,
    organizationId: row.organization_id,
    organizationName: row.org_name,
    organizationPublicId: row.org_public_id,
    status: row.status as ParticipationStatus,
    statusReason: row.status_reason,
    statusChangedAt: date(row.status_changed_at),
    answeredAt: date(row.answered_at),
    statement: row.statement,
    statementReferences: row.statement_references,
    statementUpdatedAt: date(row.statement_updated_at),
    statementApprovedAt: date(row.statement_approved_at),
    statementShared: row.statement_shared === 1,
    trackingId: row.tracking_id,
    fixTargetAt: date(row.fix_target_at),
    fixVerifiedAt: date(row.fix_verified_at),
    addedAt: new Date(row.added_at),
    notifiedAt: date(row.notified_at),
    removedAt: date(row.removed_at),
    removedReason: row.removed_reason,
  };
}

// Run for every report and list page read (the access facts): built once.
const participantFactsQuery = preparedQuery(
  (db, reportIds: readonly number[]) =>
    db
      .selectFrom("participations")
      .select(["report_id", "organization_id", "notified_at"])
      .where("report_id", "in", reportIds)
      .where("removed_at", "is", null)
      .orderBy("id"),
);
const grantsQuery = preparedQuery((db, reportIds: readonly number[]) =>
  db
    .selectFrom("org_case_grants")
    .select(["report_id", "user_id", "org_id"])
    .where("report_id", "in", reportIds),
);

/** The participants of several reports at once, as the policy reads them (removed ones left out). */
export async function participantFactsFor(
  db: DbOrTx,
  reportIds: readonly number[],
): Promise<Map<number, ParticipantFacts[]>> {
  const byReport = new Map<number, ParticipantFacts[]>();
  if (reportIds.length === 0) return byReport;
  const { rows } = await participantFactsQuery(db, reportIds);
  for (const r of rows) {
    const list = byReport.get(r.report_id) ?? [];
    list.push({
      organizationId: r.organization_id,
      notifiedAt: date(r.notified_at),
    });
    byReport.set(r.report_id, list);
  }
  return byReport;
}

/** Members given each of these reports, and by which organization's administrator. */
export async function grantsFor(
  db: DbOrTx,
  reportIds: readonly number[],
): Promise<Map<number, CaseGrant[]>> {
  const byReport = new Map<number, CaseGrant[]>();
  if (reportIds.length === 0) return byReport;
  const { rows } = await grantsQuery(db, reportIds);
  for (const r of rows) {
    const list = byReport.get(r.report_id) ?? [];
    list.push({ userId: r.user_id, orgId: r.org_id });
    byReport.set(r.report_id, list);
  }
  return byReport;
}

/**
 * Gives each item its access facts' participants and grants, in two
 * queries for the whole page. The items are the caller's own, just built
 * from their rows: each gets its two lists in place (copying every item of
 * a queue page with a spread cost 1.7 % of a queue view, bench/README.md).
 */
export async function withParticipants<T extends { id: number }>(
  db: DbOrTx,
  items: T[],
): Promise<(T & { participants: ParticipantFacts[]; grants: CaseGrant[] })[]> {
  const ids = items.map((i) => i.id);
  const [participants, grants] = await Promise.all([
    participantFactsFor(db, ids),
    grantsFor(db, ids),
  ]);
  const withLists = items as (T & {
    participants: ParticipantFacts[];
    grants: CaseGrant[];
  })[];
  for (const item of withLists) {
    item.participants = participants.get(item.id) ?? [];
    item.grants = grants.get(item.id) ?? [];
  }
  return withLists;
}

/** Every participation of a report, removed ones included (the panel lists them apart). */
export async function listParticipations(
  db: DbOrTx,
  reportId: number,
): Promise<Participation[]> {
  return (await participationsQuery(db, reportId)).rows.map(toParticipation);
}

const participationsQuery = preparedQuery((db, reportId: number) =>
  db
    .selectFrom("participations as p")
    .innerJoin("organizations as o", "o.id", "p.organization_id")
    .selectAll("p")
    .select(["o.name as org_name", "o.public_id as org_public_id"])
    .where("p.report_id", "=", reportId)
    .orderBy("p.id"),
);

export async function findParticipation(
  db: DbOrTx,
  reportId: number,
  organizationId: number,
): Promise<Participation | undefined> {
  const row = await db
    .selectFrom("participations as p")
    .innerJoin("organizations as o", "o.id", "p.organization_id")
    .selectAll("p")
    .select(["o.name as org_name", "o.public_id as org_public_id"])
    .where("p.report_id", "=", reportId)
    .where("p.organization_id", "=", organizationId)
    .executeTakeFirst();
  return row && toParticipation(row);
}

/**
 * Adds an organization to the case, or brings back one removed before
 * (its history stays; its status starts again as not yet answered).
 */
export async function addParticipation(
  db: DbOrTx,
  p: {
    reportId: number;
    organizationId: number;
    addedBy: number | null;
    at: Date;
    notifiedAt: Date | null;
  },
): Promise<void> {
  await db
    .insertInto("participations")
    .values({
      report_id: p.reportId,
      organization_id: p.organizationId,
      added_at: p.at.getTime(),
      added_by: p.addedBy,
      notified_at: p.notifiedAt?.getTime() ?? null,
    })
    .onConflict((oc) =>
      oc.columns(["report_id", "organization_id"]).doUpdateSet({
        status: "not_answered",
        status_reason: null,
        status_changed_at: null,
        answered_at: null,
        fix_verified_at: null,
        added_at: p.at.getTime(),
        added_by: p.addedBy,
        notified_at: p.notifiedAt?.getTime() ?? null,
        removed_at: null,
        removed_by: null,
        removed_reason: null,
      }),
    )
    .execute();
}

export async function removeParticipation(
  db: DbOrTx,
  reportId: number,
  organizationId: number,
  by: number,
  reason: string,
  at: Date,
): Promise<boolean> {
  const r = await db
    .updateTable("participations")
    .set({ removed_at: at.getTime(), removed_by: by, removed_reason: reason })
    .where("report_id", "=", reportId)
    .where("organization_id", "=", organizationId)
    .where("removed_at", "is", null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

/** Marks every participant not yet notified as notified now; returns their organization IDs. */
export async function notifyPendingParticipations(
  db: DbOrTx,
  reportId: number,
  at: Date,
): Promise<number[]> {
  const rows = await db
    .updateTable("participations")
    .set({ notified_at: at.getTime() })
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .where("notified_at", "is", null)
    .returning("organization_id")
    .execute();
  return rows.map((r) => r.organization_id);
}

export type ParticipationUpdate = Partial<
  Pick<
    Selectable<ParticipationsTable>,
    | "status"
    | "status_reason"
    | "status_changed_at"
    | "answered_at"
    | "statement"
    | "statement_references"
    | "statement_updated_at"
    | "statement_approved_at"
    | "statement_approved_by"
    | "statement_shared"
    | "tracking_id"
    | "fix_target_at"
    | "fix_verified_at"
  >
>;

export async function updateParticipation(
  db: DbOrTx,
  reportId: number,
  organizationId: number,
  set: ParticipationUpdate,
): Promise<void> {
  await db
    .updateTable("participations")
    .set(set)
    .where("report_id", "=", reportId)
    .where("organization_id", "=", organizationId)
    .where("removed_at", "is", null)
    .execute();
}

export async function setCaseOpen(
  db: DbOrTx,
  reportId: number,
  open: boolean,
): Promise<void> {
  await db
    .updateTable("reports")
    .set({ case_open: open ? 1 : 0 })
    .where("id", "=", reportId)
    .execute();
}

/** The lead organization (the first still on the case), kept on the report for the one-organization filters. */
export async function syncLeadOrganization(
  db: DbOrTx,
  reportId: number,
): Promise<void> {
  const lead = await db
    .selectFrom("participations")
    .select("organization_id")
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .orderBy("id")
    .limit(1)
    .executeTakeFirst();
  await db
    .updateTable("reports")
    .set({ organization_id: lead?.organization_id ?? null })
    .where("id", "=", reportId)
    .execute();
}

/**
 * The triage form's organization is the case's first participant: set or
 * changed before anyone was notified, it replaces the one not yet notified
 * (nobody outside the CERT saw the case), or is added.
 */
export async function setLeadParticipant(
  db: DbOrTx,
  reportId: number,
  before: number | null,
  after: number | null,
  by: number,
  at: Date,
): Promise<void> {
  if (before !== null)
    await db
      .deleteFrom("participations")
      .where("report_id", "=", reportId)
      .where("organization_id", "=", before)
      .where("notified_at", "is", null)
      .execute();
  if (after !== null)
    await addParticipation(db, {
      reportId,
      organizationId: after,
      addedBy: by,
      at,
      notifiedAt: null,
    });
}

/** The researcher confirmed the case's fix as a whole: every fixed participant's fix is verified with it. */
export async function verifyFixedParticipations(
  db: DbOrTx,
  reportId: number,
  at: Date,
): Promise<void> {
  await db
    .updateTable("participations")
    .set({ fix_verified_at: at.getTime() })
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .where("status", "=", "fixed")
    .where("fix_verified_at", "is", null)
    .execute();
}

/** The case's fix was found not to work: every fixed participant is affected again, its verification gone. */
export async function reopenFixedParticipations(
  db: DbOrTx,
  reportId: number,
  at: Date,
): Promise<void> {
  await db
    .updateTable("participations")
    .set({
      status: "affected",
      status_changed_at: at.getTime(),
      fix_verified_at: null,
    })
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .where("status", "=", "fixed")
    .execute();
}

/**
 * The status of a case's only organization (still on it, notified), set
 * with the report's own step; a case with several is left to each of them.
 */
export async function answerForOnlyParticipant(
  db: DbOrTx,
  reportId: number,
  status: ParticipationStatus,
  at: Date,
): Promise<void> {
  const active = await db
    .selectFrom("participations")
    .select(["organization_id", "notified_at", "answered_at"])
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .execute();
  const only = active[0];
  if (active.length !== 1 || !only || only.notified_at === null) return;
  await db
    .updateTable("participations")
    .set({
      status,
      status_changed_at: at.getTime(),
      answered_at: only.answered_at ?? at.getTime(),
    })
    .where("report_id", "=", reportId)
    .where("organization_id", "=", only.organization_id)
    .execute();
}

/** The organizations on the case (removed ones not), as the audience words name them (audiences.ts). */
export async function audienceOrgs(
  db: DbOrTx,
  reportId: number,
): Promise<{ id: number; publicId: string; name: string }[]> {
  return (await listParticipations(db, reportId))
    .filter((p) => p.removedAt === null)
    .map((p) => ({
      id: p.organizationId,
      publicId: p.organizationPublicId,
      name: p.organizationName,
    }));
}

/** Each participating organization's own tracking ID on a report (its mail subjects). */
export async function trackingIdsFor(
  db: DbOrTx,
  reportId: number,
): Promise<Map<number, string>> {
  const rows = await db
    .selectFrom("participations")
    .select(["organization_id", "tracking_id"])
    .where("report_id", "=", reportId)
    .where("removed_at", "is", null)
    .where("tracking_id", "is not", null)
    .execute();
  return new Map(rows.map((r) => [r.organization_id, r.tracking_id!]));
}

/** "3 of 12 answered, 2 overdue": one report's organizations, as the queue counts them. */
export interface AnswerCounts {
  notified: number;
  answered: number;
  /** Notified before the given moment and still silent. */
  silentSince: number;
}

/**
 * The answer counts of a page of reports in one query (the queue's
 * markers): participations still on the case and notified, how many
 * answered, and how many were notified before `silentBefore` (the answer
 * clock's length ago) without answering.
 */
// Every queue page reads them for its rows: built once per page length.
const answerCountsQuery = preparedQuery(
  (db, reportIds: readonly number[], before: number) =>
    db
      .selectFrom("participations")
      .where("report_id", "in", reportIds)
      .where("removed_at", "is", null)
      .where("notified_at", "is not", null)
      .groupBy("report_id")
      .select((eb) => [
        "report_id",
        eb.fn.countAll<number>().as("notified"),
        eb.fn.count<number>("answered_at").as("answered"),
        eb.fn
          .sum<number>(
            eb
              .case()
              .when(
                eb.and([
                  eb("answered_at", "is", null),
                  eb("notified_at", "<", before),
                ]),
              )
              .then(1)
              .else(0)
              .end(),
          )
          .as("silent"),
      ]),
);

export async function answerCountsFor(
  db: DbOrTx,
  reportIds: readonly number[],
  silentBefore: Date,
): Promise<Map<number, AnswerCounts>> {
  const counts = new Map<number, AnswerCounts>();
  if (reportIds.length === 0) return counts;
  const { rows } = await answerCountsQuery(
    db,
    reportIds,
    silentBefore.getTime(),
  );
  for (const r of rows)
    counts.set(r.report_id, {
      notified: Number(r.notified),
      answered: Number(r.answered),
      silentSince: Number(r.silent ?? 0),
    });
  return counts;
}

/** The participations still on each of these reports (not removed), in the order they joined: one query for a page of reports. */
export async function participationsOfReports(
  db: DbOrTx,
  reportIds: readonly number[],
): Promise<Map<number, Participation[]>> {
  const byReport = new Map<number, Participation[]>();
  if (reportIds.length === 0) return byReport;
  const rows = await db
    .selectFrom("participations as p")
    .innerJoin("organizations as o", "o.id", "p.organization_id")
    .selectAll("p")
    .select(["o.name as org_name", "o.public_id as org_public_id"])
    .where("p.report_id", "in", [...reportIds])
    .where("p.removed_at", "is", null)
    .orderBy("p.id")
    .execute();
  for (const row of rows) {
    const list = byReport.get(row.report_id) ?? [];
    list.push(toParticipation(row));
    byReport.set(row.report_id, list);
  }
  return byReport;
}

/**
 * A case the organization takes part in and was notified of, by its report
 * ID: what its administrator may give a member. Undefined for any other
 * report, so an administrator learns nothing of cases outside their own.
 */
export async function findNotifiedCaseOf(
  db: DbOrTx,
  organizationId: number,
  reportPublicId: string,
): Promise<{ id: number; publicId: string; title: string } | undefined> {
  const row = await db
    .selectFrom("participations as p")
    .innerJoin("reports as r", "r.id", "p.report_id")
    .select(["r.id", "r.public_id", "r.title"])
    .where("r.public_id", "=", reportPublicId)
    .where("p.organization_id", "=", organizationId)
    .where("p.notified_at", "is not", null)
    .where("p.removed_at", "is", null)
    .executeTakeFirst();
  return row && { id: row.id, publicId: row.public_id, title: row.title };
}

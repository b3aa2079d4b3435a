import { sql } from "kysely";
import { indexedBy } from "../db/dialect.js";
import type { DbOrTx } from "../db/index.js";

/**
 * All SQL of the statistics pages. Every query is an aggregate over an
 * indexed column, or a range of report IDs read from the narrow covering
 * indexes of db/migrations/2026-11-25-20-stats-indexes.ts, so the pages stay
 * cheap at a million reports.
 */

export interface Bucket {
  key: string | null;
  count: number;
}

/** Reports created in each [from, until) range (times in ms); one count per range. */
export async function countReportsCreatedIn(
  db: DbOrTx,
  ranges: readonly { from: number; until: number }[],
): Promise<number[]> {
  const counts: number[] = [];
  // One range count per month walks the (created_at, id) index; a GROUP BY on
  // a month expression would compute it for every row instead.
  for (const { from, until } of ranges) {
    const row = await db
      .selectFrom("reports")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("created_at", ">=", from)
      .where("created_at", "<", until)
      .executeTakeFirstOrThrow();
    counts.push(Number(row.n));
  }
  return counts;
}

export async function countAllReports(db: DbOrTx): Promise<number> {
  const row = await db
    .selectFrom("reports")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** How many reports there are in each state, or of each severity. */
export async function countReportsBy(
  db: DbOrTx,
  column: "state" | "severity",
): Promise<Bucket[]> {
  const rows = await db
    .selectFrom("reports")
    .select([column, (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy(column)
    .execute();
  return rows.map((r) => ({ key: r[column], count: Number(r.n) }));
}

/** The most reported weaknesses, most first (ties by CWE ID, so the order is stable). */
export async function topReportedCwes(
  db: DbOrTx,
  limit: number,
): Promise<Bucket[]> {
  const rows = await db
    .selectFrom("reports")
    .select(["cwe", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("cwe")
    .orderBy("n", "desc")
    .orderBy("cwe")
    .limit(limit)
    .execute();
  return rows.map((r) => ({ key: r.cwe, count: Number(r.n) }));
}

export interface OrganizationCount {
  organizationId: number;
  name: string;
  count: number;
}

/**
 * The organizations taking part in the most reports, most first, with their
 * names: one count per participation (a report with three organizations
 * counts once for each), removed participations left out.
 */
export async function topOrganizations(
  db: DbOrTx,
  limit: number,
): Promise<OrganizationCount[]> {
  const top = await db
    .selectFrom("participations")
    .select(["organization_id", (eb) => eb.fn.countAll<number>().as("n")])
    .where("removed_at", "is", null)
    .groupBy("organization_id")
    .orderBy("n", "desc")
    .orderBy("organization_id")
    .limit(limit)
    .execute();
  if (top.length === 0) return [];
  const names = await db
    .selectFrom("organizations")
    .select(["id", "name"])
    .where(
      "id",
      "in",
      top.map((t) => t.organization_id),
    )
    .execute();
  const nameOf = new Map(names.map((n) => [n.id, n.name]));
  return top.map((t) => ({
    organizationId: t.organization_id,
    name: nameOf.get(t.organization_id) ?? "",
    count: Number(t.n),
  }));
}

/** One organization's part in one report, as the statistics read it (times in ms). */
export interface ParticipationMilestones {
  reportId: number;
  organizationId: number;
  status: string;
  notifiedAt: number | null;
  answeredAt: number | null;
  statusChangedAt: number | null;
}

/** The participations (not removed) of the reports with IDs in [fromId, toId]. */
export async function participationsInIdRange(
  db: DbOrTx,
  fromId: number,
  toId: number,
): Promise<ParticipationMilestones[]> {
  const rows = await db
    .selectFrom("participations")
    .select([
      "report_id",
      "organization_id",
      "status",
      "notified_at",
      "answered_at",
      "status_changed_at",
    ])
    .where("report_id", ">=", fromId)
    .where("report_id", "<=", toId)
    .where("removed_at", "is", null)
    .execute();
  return rows.map((r) => ({
    reportId: r.report_id,
    organizationId: r.organization_id,
    status: r.status,
    notifiedAt: r.notified_at,
    answeredAt: r.answered_at,
    statusChangedAt: r.status_changed_at,
  }));
}

export async function maxReportId(db: DbOrTx): Promise<number> {
  const row = await db
    .selectFrom("reports")
    .select((eb) => eb.fn.max<number | null>("id").as("id"))
    .executeTakeFirst();
  return Number(row?.id ?? 0);
}

/**
 * When a report reached each milestone, read from its timeline (the first
 * state-change event into the state; times in ms, null if never reached).
 */
export interface ReportMilestones {
  id: number;
  organizationId: number | null;
  createdAt: number;
  ackDueAt: number | null;
  triageDueAt: number | null;
  disclosureDueAt: number | null;
  /** First staff response: acknowledged, asked for information, triaged or closed. */
  respondedAt: number | null;
  triagedAt: number | null;
  closedAt: number | null;
  vendorNotifiedAt: number | null;
  fixedAt: number | null;
  disclosedAt: number | null;
}

interface MilestoneRow {
  id: number;
  organization_id: number | null;
  created_at: number;
  ack_due_at: number | null;
  triage_due_at: number | null;
  disclosure_due_at: number | null;
  responded_at: number | null;
  triaged_at: number | null;
  closed_at: number | null;
  notified_at: number | null;
  fixed_at: number | null;
  disclosed_at: number | null;
}

/**
 * Milestones of the reports with IDs in [fromId, toId]. Both sides are read
 * from covering indexes in ID order (INDEXED BY keeps SQLite from choosing the
 * table by rowid, which reads every report's text).
 */
export async function reportMilestonesInIdRange(
  db: DbOrTx,
  fromId: number,
  toId: number,
): Promise<ReportMilestones[]> {
  const { rows } = await sql<MilestoneRow>`
    select r.id, r.organization_id, r.created_at, r.ack_due_at, r.triage_due_at,
      r.disclosure_due_at, m.responded_at, m.triaged_at, m.closed_at,
      m.notified_at, m.fixed_at, m.disclosed_at
    from reports as r ${indexedBy(db, "reports_stats")}
    left join (
      select report_id,
        min(case when to_state in ('acknowledged', 'needs_info', 'triaged', 'closed')
          then created_at end) as responded_at,
        min(case when to_state = 'triaged' then created_at end) as triaged_at,
        min(case when to_state = 'closed' then created_at end) as closed_at,
        min(case when to_state = 'vendor_notified' then created_at end) as notified_at,
        min(case when to_state = 'fixed' then created_at end) as fixed_at,
        min(case when to_state = 'disclosed' then created_at end) as disclosed_at
      from report_events
      where to_state is not null and report_id between ${fromId} and ${toId}
      group by report_id
    ) as m on m.report_id = r.id
    where r.id between ${fromId} and ${toId}
  `.execute(db);
  return rows.map((r) => ({
    id: r.id,
    organizationId: r.organization_id,
    createdAt: r.created_at,
    ackDueAt: r.ack_due_at,
    triageDueAt: r.triage_due_at,
    disclosureDueAt: r.disclosure_due_at,
    respondedAt: r.responded_at,
    triagedAt: r.triaged_at,
    closedAt: r.closed_at,
    vendorNotifiedAt: r.notified_at,
    fixedAt: r.fixed_at,
    disclosedAt: r.disclosed_at,
  }));
}

/**
 * What each public advisory's page shows about its report (times in ms, null
 * if never reached): the public statistics are computed from these alone.
 */
export interface PublishedAdvisoryFacts {
  severity: string | null;
  cwe: string;
  reportedAt: number;
  acknowledgedAt: number | null;
  vendorNotifiedAt: number | null;
  fixedAt: number | null;
  publishedAt: number;
}

/**
 * Every public advisory: published and its report disclosed, as
 * src/advisories/repository.ts publishes them. Milestones are the first
 * transition into the state, as the advisory's timeline shows them.
 */
export async function publishedAdvisoryFacts(
  db: DbOrTx,
): Promise<PublishedAdvisoryFacts[]> {
  const rows = await db
    .selectFrom("advisories as a")
    .innerJoin("reports as r", "r.id", "a.report_id")
    .select((eb) => {
      const firstReached = (state: string) =>
        eb
          .selectFrom("report_events as e")
          .select((e) => e.fn.min<number | null>("e.created_at").as("at"))
          .whereRef("e.report_id", "=", "r.id")
          .where("e.kind", "=", "transition")
          .where("e.to_state", "=", state);
      return [
        "r.severity",
        "r.cwe",
        "r.created_at",
        "r.vendor_notified_at",
        "a.published_at",
        firstReached("acknowledged").as("acknowledged_at"),
        firstReached("fixed").as("fixed_at"),
      ];
    })
    .where("a.published_at", "is not", null)
    .where("r.state", "=", "disclosed")
    .execute();
  return rows.map((r) => ({
    severity: r.severity,
    cwe: r.cwe,
    reportedAt: r.created_at,
    acknowledgedAt:
      r.acknowledged_at === null ? null : Number(r.acknowledged_at),
    vendorNotifiedAt: r.vendor_notified_at,
    fixedAt: r.fixed_at === null ? null : Number(r.fixed_at),
    publishedAt: r.published_at!,
  }));
}

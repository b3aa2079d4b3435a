import { sql, type SelectQueryBuilder, type ExpressionBuilder } from "kysely";
import type { DbOrTx } from "../db/index.js";
import type { Database } from "../db/schema.js";
import type { State } from "./workflow.js";

/*
 * All SQL for report lists: "my reports", the triage queue and an
 * organization's reports. Every list pages by keyset on (sort value, id)
 * so page 10,000 costs what page 1 costs; see db/migrations 02 and 05 for
 * the indexes each filter rides on.
 */

export type ListSort = "activity" | "submitted";

/** A search looks at this many of the newest matching reports. */
export const SEARCH_MATCH_LIMIT = 2000;
export type SortDirection = "desc" | "asc";

/** Whose reports a list may contain, before any filter. */
export type ListScope =
  | { kind: "all" }
  | { kind: "reporter"; reporterId: number }
  /** An organization sees a report only once it was notified. */
  | { kind: "organizations"; organizationIds: readonly number[] };

export interface ListFilters {
  state?: State;
  organizationId?: number;
  severity?: string;
  cwe?: string;
  assignee?: { kind: "user"; userId: number } | { kind: "unassigned" };
  /** Only reports whose acknowledgment or triage is overdue at this instant. */
  overdueAt?: Date;
  /** An FTS5 query (built by toSearchQuery, never raw user input). */
  text?: string;
}

export interface KeysetPosition {
  value: number;
  id: number;
}

export interface ListQuery {
  scope: ListScope;
  filters: ListFilters;
  sort: ListSort;
  direction: SortDirection;
  after?: KeysetPosition;
  limit: number;
}

/** One row of a list: what the pages show, nothing of the report's text. */
export interface ReportListItem {
  publicId: string;
  title: string;
  state: State;
  severity: string | null;
  cvssScore: number | null;
  cwe: string;
  reporterId: number;
  reporterName: string;
  revealIdentity: boolean;
  organizationId: number | null;
  organizationName: string | null;
  suggestedOrgName: string | null;
  assigneeName: string | null;
  createdAt: Date;
  updatedAt: Date;
  ackDueAt: Date | null;
  triageDueAt: Date | null;
  vendorNotifiedAt: Date | null;
  disclosureDueAt: Date | null;
  /** The researcher's open request to disclose (reports/disclosure-request.ts). */
  disclosureRequestedAt: Date | null;
}

export interface ListPage {
  items: ReportListItem[];
  /** Where the next page starts, when there is one. */
  next: (KeysetPosition & { publicId: string }) | null;
}

/** Reports waiting for acknowledgment or triage; repeated literally for the partial indexes. */
const WAITING = sql<boolean>`r.state in ('submitted', 'acknowledged')`;

type ReportsQuery = SelectQueryBuilder<
  Database & { r: Database["reports"] },
  "r",
  object
>;

function sortColumn(sort: ListSort) {
  return sort === "activity"
    ? ("r.updated_at" as const)
    : ("r.created_at" as const);
}

function applyScope(query: ReportsQuery, scope: ListScope): ReportsQuery {
  switch (scope.kind) {
    case "all":
      return query;
    case "reporter":
      return query.where("r.reporter_id", "=", scope.reporterId);
    case "organizations":
      // An empty list must match nothing, not everything.
      if (scope.organizationIds.length === 0)
        return query.where(sql<boolean>`0`);
      return query
        .where("r.organization_id", "in", [...scope.organizationIds])
        .where("r.vendor_notified_at", "is not", null);
  }
}

function overdueCondition(at: number) {
  return (eb: ExpressionBuilder<Database & { r: Database["reports"] }, "r">) =>
    eb.and([
      WAITING,
      eb.or([
        eb.and([eb("r.state", "=", "submitted"), eb("r.ack_due_at", "<", at)]),
        eb("r.triage_due_at", "<", at),
      ]),
    ]);
}

function applyFilters(query: ReportsQuery, filters: ListFilters): ReportsQuery {
  let q = query;
  if (filters.state) q = q.where("r.state", "=", filters.state);
  if (filters.organizationId !== undefined)
    q = q.where("r.organization_id", "=", filters.organizationId);
  if (filters.severity) q = q.where("r.severity", "=", filters.severity);
  if (filters.cwe) q = q.where("r.cwe", "=", filters.cwe);
  if (filters.assignee?.kind === "unassigned")
    q = q.where("r.assignee_id", "is", null);
  else if (filters.assignee?.kind === "user")
    q = q.where("r.assignee_id", "=", filters.assignee.userId);
  if (filters.overdueAt)
    q = q.where(overdueCondition(filters.overdueAt.getTime()));
  // Only the newest matches are sorted and paged: a common word matches
  // most of a million reports, and sorting all of them took seconds.
  if (filters.text)
    q = q.where(
      sql<boolean>`r.id in (select rowid from reports_fts where reports_fts match ${filters.text} order by rowid desc limit ${SEARCH_MATCH_LIMIT})`,
    );
  return q;
}

/** A prefix with more indexed words than this is left to FTS5 to expand. */
const PREFIX_EXPANSION_LIMIT = 16;

/**
 * The FTS5 query for the words of a search, each matched as a prefix and all
 * of them required (as toSearchQuery in list-service.ts), with each prefix
 * spelled out as the indexed words it stands for: `"password"*` becomes
 * `("password" OR "passwords")`. FTS5 answers a prefix by merging the whole
 * lists of every word with it before the newest 2,000 matches can be taken
 * (20–35 ms for common words at a million reports, on the event loop); the
 * same words spelled out are read newest first and stop there (1.5–6 ms),
 * after a look-up in the index's vocabulary (0.1–13 ms). Only plain ASCII
 * words are spelled out (the tokenizer folds them to lower case, nothing
 * else); any other word, or a prefix of more than 16 words, stays a prefix.
 */
export async function toIndexedSearchQuery(
  db: DbOrTx,
  words: readonly string[],
): Promise<string> {
  // Per connection, no schema change: the vocabulary of reports_fts.
  await sql`create virtual table if not exists temp.reports_fts_vocab
    using fts5vocab(main, reports_fts, row)`.execute(db);
  const spelled = await spelledPrefixes(db);
  const parts: string[] = [];
  for (const word of words) {
    const folded = word.toLowerCase();
    if (!/^[a-z0-9]+$/.test(folded)) {
      parts.push(`"${word.replaceAll('"', '""')}"*`);
      continue;
    }
    let part = spelled?.get(folded);
    if (part === undefined) {
      const { rows } = await sql<{ term: string }>`
        select term from temp.reports_fts_vocab
        where term >= ${folded} and term < ${folded + "\u{10FFFF}"}
        limit ${PREFIX_EXPANSION_LIMIT + 1}`.execute(db);
      part =
        rows.length === 0 || rows.length > PREFIX_EXPANSION_LIMIT
          ? `"${folded}"*`
          : `(${rows.map((r) => `"${r.term.replaceAll('"', '""')}"`).join(" OR ")})`;
      if (spelled && spelled.size < SPELLED_PREFIXES_KEPT)
        spelled.set(folded, part);
    }
    parts.push(part);
  }
  return parts.join(" AND ");
}

/** How many spelled-out prefixes a connection keeps while nothing is written. */
const SPELLED_PREFIXES_KEPT = 1000;
const spelledByDb = new WeakMap<
  object,
  { version: string; prefixes: Map<string, string> }
>();

/**
 * The prefixes spelled out since the database last changed: the vocabulary
 * look-up (up to 13 ms for a common word) is needed again only after a write,
 * by this connection (`total_changes()`) or any other (`data_version`), so
 * what is kept is exactly what a new look-up would find. Null inside a
 * transaction, which may hold writes of its own.
 */
async function spelledPrefixes(
  db: DbOrTx,
): Promise<Map<string, string> | null> {
  if (db.isTransaction) return null;
  const { rows } = await sql<{ c: number; v: number }>`
    select total_changes() as c,
      (select data_version from pragma_data_version) as v`.execute(db);
  const version = `${rows[0]?.c}:${rows[0]?.v}`;
  let entry = spelledByDb.get(db);
  if (!entry || entry.version !== version) {
    entry = { version, prefixes: new Map() };
    spelledByDb.set(db, entry);
  }
  return entry.prefixes;
}

/** The columns a list row shows: the report's, its organization's and people's names. */
const LIST_COLUMNS = [
  "r.id",
  "r.public_id",
  "r.title",
  "r.state",
  "r.severity",
  "r.cvss_score",
  "r.cwe",
  "r.reporter_id",
  "u.display_name as reporter_name",
  "r.reveal_identity",
  "r.organization_id",
  "o.name as organization_name",
  "r.suggested_org_name",
  "a.display_name as assignee_name",
  "r.created_at",
  "r.updated_at",
  "r.ack_due_at",
  "r.triage_due_at",
  "r.vendor_notified_at",
  "r.disclosure_due_at",
  "r.disclosure_requested_at",
] as const;

/**
 * The query behind a list page, unexecuted, so tests can ask SQLite for its
 * plan. It fetches one row more than the page to know whether a next exists.
 */
export function reportListQuery(db: DbOrTx, query: ListQuery) {
  const column = sortColumn(query.sort);
  const base = applyFilters(
    applyScope(db.selectFrom("reports as r"), query.scope),
    query.filters,
  );
  const after = query.after;
  const positioned = after
    ? base.where((eb) =>
        eb(
          eb.refTuple(column, "r.id"),
          query.direction === "desc" ? "<" : ">",
          eb.tuple(after.value, after.id),
        ),
      )
    : base;
  if (!query.filters.text)
    return positioned
      .leftJoin("organizations as o", "o.id", "r.organization_id")
      .leftJoin("users as a", "a.id", "r.assignee_id")
      .innerJoin("users as u", "u.id", "r.reporter_id")
      .select(LIST_COLUMNS)
      .orderBy(column, query.direction)
      .orderBy("r.id", query.direction)
      .limit(query.limit + 1);
  // A search sorts up to 2,000 matches: choose the page's IDs first and join
  // only those rows to their names (joined before the sort, all the matches
  // were: 24 → 7.5 ms at a million reports). Queue pages come in index
  // order already, where the extra step only costs. CROSS JOIN keeps the
  // page as SQLite's outer loop (given a free hand it walked a whole index).
  const page = positioned
    .select("r.id")
    .orderBy(column, query.direction)
    .orderBy("r.id", query.direction)
    .limit(query.limit + 1);
  return db
    .selectFrom(page.as("p"))
    .crossJoin("reports as r")
    .whereRef("r.id", "=", "p.id")
    .leftJoin("organizations as o", "o.id", "r.organization_id")
    .leftJoin("users as a", "a.id", "r.assignee_id")
    .innerJoin("users as u", "u.id", "r.reporter_id")
    .select(LIST_COLUMNS)
    .orderBy(column, query.direction)
    .orderBy("r.id", query.direction);
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

export async function findReportListPage(
  db: DbOrTx,
  query: ListQuery,
): Promise<ListPage> {
  const rows = await reportListQuery(db, query).execute();
  const more = rows.length > query.limit;
  const pageRows = more ? rows.slice(0, query.limit) : rows;
  const items = pageRows.map((row): ReportListItem => ({
    publicId: row.public_id,
    title: row.title,
    state: row.state as State,
    severity: row.severity,
    cvssScore: row.cvss_score,
    cwe: row.cwe,
    reporterId: row.reporter_id,
    reporterName: row.reporter_name,
    revealIdentity: row.reveal_identity === 1,
    organizationId: row.organization_id,
    organizationName: row.organization_name,
    suggestedOrgName: row.suggested_org_name,
    assigneeName: row.assignee_name,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    ackDueAt: date(row.ack_due_at),
    triageDueAt: date(row.triage_due_at),
    vendorNotifiedAt: date(row.vendor_notified_at),
    disclosureDueAt: date(row.disclosure_due_at),
    disclosureRequestedAt: date(row.disclosure_requested_at),
  }));
  const last = pageRows[pageRows.length - 1];
  return {
    items,
    next:
      more && last
        ? {
            publicId: last.public_id,
            id: last.id,
            value:
              query.sort === "activity" ? last.updated_at : last.created_at,
          }
        : null,
  };
}

/**
 * The internal id behind a cursor's report, looked up only among the reports
 * the list may contain: a cursor naming anybody else's report finds nothing,
 * exactly like a report that does not exist.
 */
export async function findCursorId(
  db: DbOrTx,
  scope: ListScope,
  publicId: string,
): Promise<number | undefined> {
  const row = await applyScope(db.selectFrom("reports as r"), scope)
    .select("r.id")
    .where("r.public_id", "=", publicId)
    .executeTakeFirst();
  return row?.id;
}

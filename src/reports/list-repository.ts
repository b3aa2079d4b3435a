import { sql, type SelectQueryBuilder, type ExpressionBuilder } from "kysely";
import type { DbOrTx } from "../db/index.js";
import { keptQuery, preparedQuery } from "../db/prepared.js";
import type { CaseGrant, ParticipantFacts } from "../auth/policy.js";
import {
  dialectOf,
  withAdvisoryLock,
  fullTextMatch,
  indexReportsStatement,
} from "../db/dialect.js";
import { withParticipants } from "./participations-repository.js";
import type { Database } from "../db/schema.js";
import { CERT_CLOCKS, CLOCKS, NO_DEADLINE } from "./clocks.js";
import { stateInLiteral } from "./reminder-repository.js";
import type { Severity } from "./cvss.js";
import type { Report } from "./types.js";
import { STATES, type State } from "./workflow.js";

/*
 * All SQL for report lists: "my reports", the triage queue and an
 * organization's reports. Every list pages by keyset on (sort value, id)
 * so page 10,000 costs what page 1 costs; see db/migrations 02 and 05 for
 * the indexes each filter rides on.
 */

/**
 * "filing" is the order reports were filed in (their internal id): what a
 * search is sorted by, because the full-text index can hand its matches over
 * in that order and stop at a page.
 */
export type ListSort = "activity" | "submitted" | "filing" | "due";
export type SortDirection = "desc" | "asc";

/** Whose reports a list may contain, before any filter. */
export type ListScope =
  | { kind: "all" }
  | { kind: "reporter"; reporterId: number }
  /**
   * An org contact: the cases their organizations take part in, each only
   * once notified; in `limitedOrgIds` (members see only given cases) only
   * the cases given to `userId` (policy.ts standsFor says the same).
   */
  | {
      kind: "organizations";
      organizationIds: readonly number[];
      limitedOrgIds?: readonly number[];
      userId?: number;
    };

export interface ListFilters {
  state?: State;
  /** Only reports in one of these states (the queue's "open" reports). */
  states?: readonly State[];
  organizationId?: number;
  severity?: Severity;
  cwe?: string;
  assignee?: { kind: "user"; userId: number } | { kind: "unassigned" };
  /** Only reports whose acknowledgment or triage is overdue at this instant. */
  overdueAt?: Date;
  /**
   * Only reports waiting for their researcher: in one of these states, or
   * with a proposed credit not yet answered (workflow.ts waitingForResearcher).
   */
  waitingInStates?: readonly State[];
  /** Full-text words (toIndexedSearchQuery); only with the "filing" sort, newest first. */
  text?: TextQuery;
  /** Only the report whose advisory names this CVE ID (upper case). */
  cveId?: string;
  /** Only reports changed at or after this instant (the API's updated_since). */
  updatedSince?: Date;
}

/** A search's FTS5 query, never raw user input, and what the index says of it. */
export interface TextQuery {
  match: string;
  /** No more reports than this can match (the rarest word's count); null when unknown. */
  atMost: number | null;
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
export type ReportListItem = Pick<
  Report,
  | "id"
  | "participants"
  | "grants"
  | "publicId"
  | "title"
  | "state"
  | "severity"
  | "cvssScore"
  | "cwe"
  | "reporterId"
  | "revealIdentity"
  | "organizationId"
  | "suggestedOrgName"
  | "createdAt"
  | "updatedAt"
  | "ackDueAt"
  | "triageDueAt"
  | "vendorNotifiedAt"
  | "disclosureDueAt"
  | "disclosureRequestedAt"
> & {
  reporterName: string;
  organizationName: string | null;
  assigneeName: string | null;
  /** The next running clock's due date (clocks.ts nextDeadline), null when none runs. */
  queueDueAt: Date | null;
};

export interface ListPage {
  items: ReportListItem[];
  /** Where the next page starts, when there is one. */
  next: (KeysetPosition & { publicId: string }) | null;
}

/** Where each of the CERT's clocks keeps its due date. */
const DUE_COLUMNS = {
  ack: "r.ack_due_at",
  triage: "r.triage_due_at",
} as const satisfies Record<(typeof CERT_CLOCKS)[number], string>;

/**
 * Reports on one of the CERT's clocks: written literally, as the WHERE of
 * migration 05's partial indexes ("submitted", "acknowledged").
 */
const WAITING = stateInLiteral([
  ...new Set(CERT_CLOCKS.flatMap((clock) => CLOCKS[clock].runsIn)),
]);

type ReportsQuery = SelectQueryBuilder<
  Database & { r: Database["reports"] },
  "r",
  object
>;

function sortColumn(sort: ListSort) {
  return sort === "activity"
    ? ("r.updated_at" as const)
    : sort === "submitted"
      ? ("r.created_at" as const)
      : sort === "due"
        ? ("r.queue_due_at" as const)
        : ("r.id" as const);
}

function applyScope(
  query: ReportsQuery,
  scope: ListScope,
  filters: ListFilters = {},
): ReportsQuery {
  switch (scope.kind) {
    case "all":
      return query;
    case "reporter":
      // With the waiting filter the rows are found by ID (applyFilters):
      // the unary + keeps SQLite from walking the researcher's index
      // instead, and the condition still holds for every row.
      return filters.waitingInStates
        ? query.where(sql`+${sql.ref("r.reporter_id")}`, "=", scope.reporterId)
        : query.where("r.reporter_id", "=", scope.reporterId);
    case "organizations":
      // An empty list must match nothing, not everything.
      if (scope.organizationIds.length === 0)
        return query.where(sql<boolean>`1 = 0`);
      return query.where((eb) => {
        const limited = scope.limitedOrgIds ?? [];
        const seesAll = scope.organizationIds.filter(
          (id) => !limited.includes(id),
        );
        const notified = eb
          .selectFrom("participations as p")
          .select("p.report_id")
          .where("p.notified_at", "is not", null)
          .where("p.removed_at", "is", null);
        const branches = [];
        if (seesAll.length > 0)
          branches.push(
            eb(
              "r.id",
              "in",
              notified.where("p.organization_id", "in", seesAll),
            ),
          );
        const mine = limited.filter((id) => scope.organizationIds.includes(id));
        if (mine.length > 0 && scope.userId !== undefined)
          branches.push(
            eb(
              "r.id",
              "in",
              notified
                .where("p.organization_id", "in", mine)
                .where((e) =>
                  e.exists(
                    e
                      .selectFrom("org_case_grants as g")
                      .select("g.report_id")
                      .whereRef("g.report_id", "=", "p.report_id")
                      .whereRef("g.org_id", "=", "p.organization_id")
                      .where("g.user_id", "=", scope.userId!),
                  ),
                ),
            ),
          );
        return branches.length > 0 ? eb.or(branches) : sql<boolean>`1 = 0`;
      });
  }
}

function overdueCondition(at: number) {
  return (eb: ExpressionBuilder<Database & { r: Database["reports"] }, "r">) =>
    eb.and([
      WAITING,
      eb.or(
        CERT_CLOCKS.map((clock) =>
          eb.and([
            stateInLiteral(CLOCKS[clock].runsIn),
            eb(DUE_COLUMNS[clock], "<", at),
          ]),
        ),
      ),
    ]);
}

function applyFilters(
  query: ReportsQuery,
  filters: ListFilters,
  scope: ListScope,
): ReportsQuery {
  let q = query;
  if (filters.state) q = q.where("r.state", "=", filters.state);
  if (filters.states) {
    // Said as the states left out, which no index serves: SQLite then reads
    // the page from the sort order's index instead of sorting every open report.
    const kept = filters.states;
    const left = STATES.filter((s) => !kept.includes(s));
    q =
      left.length === 0
        ? q
        : kept.length === 0
          ? q.where(sql<boolean>`1 = 0`)
          : q.where("r.state", "not in", left);
  }
  if (filters.organizationId !== undefined) {
    const organizationId = filters.organizationId;
    q = q.where((eb) =>
      eb(
        "r.id",
        "in",
        eb
          .selectFrom("participations as p")
          .select("p.report_id")
          .where("p.organization_id", "=", organizationId)
          .where("p.removed_at", "is", null),
      ),
    );
  }
  if (filters.severity) q = q.where("r.severity", "=", filters.severity);
  if (filters.cwe) q = q.where("r.cwe", "=", filters.cwe);
  if (filters.assignee?.kind === "unassigned")
    q = q.where("r.assignee_id", "is", null);
  else if (filters.assignee?.kind === "user")
    q = q.where("r.assignee_id", "=", filters.assignee.userId);
  if (filters.overdueAt)
    q = q.where(overdueCondition(filters.overdueAt.getTime()));
  if (filters.waitingInStates) {
    // The reports in those states (the researcher's, from their index by
    // state) and those with a credit answer pending (among the unpublished
    // advisories), by ID: a researcher with thousands of reports had every
    // one of them read to find the few waiting (80 ms at a million reports).
    // The scope's condition on the same researcher still applies to every
    // row; with the scope its own index would be walked first instead.
    const states = [...filters.waitingInStates];
    const reporterId = scope.kind === "reporter" ? scope.reporterId : null;
    q = q.where("r.id", "in", (eb) => {
      const credit = eb
        .selectFrom("advisories as adv")
        .select("adv.report_id as id")
        .where("adv.credit_answer", "=", "pending")
        .where("adv.published_at", "is", null)
        .where("adv.credits", "is not", null)
        .where("adv.credits", "!=", "[]");
      if (states.length === 0) return credit;
      let inState = eb
        .selectFrom("reports as w")
        .select("w.id")
        .where("w.state", "in", states);
      if (reporterId !== null)
        inState = inState.where("w.reporter_id", "=", reporterId);
      return inState.unionAll(credit);
    });
  }
  if (filters.updatedSince)
    q = q.where("r.updated_at", ">=", filters.updatedSince.getTime());
  const cveId = filters.cveId;
  if (cveId !== undefined)
    q = q.where((eb) =>
      eb(
        "r.id",
        "in",
        eb
          .selectFrom("advisories")
          .select("advisories.report_id")
          .where("advisories.cve_id", "=", cveId),
      ),
    );
  return q;
}

/** A prefix with more indexed words than this is left to FTS5 to expand. */
const PREFIX_EXPANSION_LIMIT = 16;

/** Databases (not transactions) whose connection has the vocabulary table. */
const hasVocabulary = new WeakSet<object>();

/**
 * The vocabulary of reports_fts, a temporary table of the connection,
 * created the first time it is needed. Only then: a CREATE statement, even
 * one that changes nothing, empties the connection's statement cache
 * (src/db/statements.ts), which every search did, so the statements of the
 * next requests were compiled again. In a transaction it is created (if
 * missing) every time, as a rollback would take it away.
 */
async function vocabularyOf(db: DbOrTx) {
  if (!db.isTransaction && hasVocabulary.has(db)) return;
  await sql`create virtual table if not exists temp.reports_fts_vocab
    using fts5vocab(main, reports_fts, row)`.execute(db);
  if (!db.isTransaction) hasVocabulary.add(db);
}

/**
 * The FTS5 query for the words of a search, each matched as a prefix and all
 * of them required (as toSearchQuery in search-query.ts), with each prefix
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
): Promise<TextQuery> {
  await indexPendingReports(db);
  const spelled = (await keptForSearchIndex(db))?.prefixes;
  const parts: string[] = [];
  let atMost: number | null = null;
  for (const word of words) {
    const folded = word.toLowerCase();
    if (!/^[a-z0-9]+$/.test(folded)) {
      parts.push(`"${word.replaceAll('"', '""')}"*`);
      continue;
    }
    // PostgreSQL: a prefix is `word:*` in the GIN index (dialect.ts
    // toTsQuery), with no vocabulary to spell it out or to count from.
    if (dialectOf(db) === "postgres") {
      parts.push(`"${folded}"*`);
      continue;
    }
    let part = spelled?.get(folded);
    if (part === undefined) {
      await vocabularyOf(db);
      const { rows } = await sql<{ term: string; doc: number }>`
        select term, doc from temp.reports_fts_vocab
        where term >= ${folded} and term < ${folded + "\u{10FFFF}"}
        limit ${PREFIX_EXPANSION_LIMIT + 1}`.execute(db);
      part =
        rows.length === 0
          ? { match: `"${folded}"*`, reports: 0 }
          : rows.length > PREFIX_EXPANSION_LIMIT
            ? { match: `"${folded}"*`, reports: null }
            : {
                match: `(${rows.map((r) => `"${r.term.replaceAll('"', '""')}"`).join(" OR ")})`,
                reports: rows.reduce((sum, r) => sum + r.doc, 0),
              };
      if (spelled && spelled.size < KEPT_PER_KIND) spelled.set(folded, part);
    }
    parts.push(part.match);
    // All words are required: the rarest one bounds the matches.
    if (part.reports !== null)
      atMost = atMost === null ? part.reports : Math.min(atMost, part.reports);
  }
  return { match: parts.join(" AND "), atMost };
}

/**
 * A phrase of the search box as it is (already safe: built by
 * search-query.ts from digits and fixed words), read once the index holds
 * every report.
 */
export async function toIndexedPhraseQuery(
  db: DbOrTx,
  match: string,
): Promise<TextQuery> {
  await indexPendingReports(db);
  return { match, atMost: null };
}

/** The text of reports a search listed, for its excerpts (search-snippet.ts). */
export interface SearchableText {
  publicId: string;
  title: string;
  asset: string;
  cwe: string;
  description: string;
  steps: string;
  impact: string;
  organization: string;
  /** Who may read it (reports/types.ts accessFacts). */
  reporterId: number;
  participants: ParticipantFacts[];
  grants: CaseGrant[];
  revealIdentity: boolean;
}

export async function findSearchableTexts(
  db: DbOrTx,
  publicIds: readonly string[],
): Promise<SearchableText[]> {
  if (publicIds.length === 0) return [];
  const rows = await db
    .selectFrom("reports as r")
    .leftJoin("organizations as o", "o.id", "r.organization_id")
    .select([
      "r.public_id",
      "r.title",
      "r.asset",
      "r.cwe",
      "r.description",
      "r.steps",
      "r.impact",
      "o.name as organization_name",
      "r.suggested_org_name",
      "r.id",
      "r.reporter_id",
      "r.reveal_identity",
    ])
    .where("r.public_id", "in", [...publicIds])
    .execute();
  return withParticipants(
    db,
    rows.map((r) => ({
      id: r.id,
      publicId: r.public_id,
      title: r.title,
      asset: r.asset,
      cwe: r.cwe,
      description: r.description,
      steps: r.steps,
      impact: r.impact,
      organization: r.organization_name ?? r.suggested_org_name ?? "",
      reporterId: r.reporter_id,
      revealIdentity: r.reveal_identity === 1,
    })),
  );
}

/** Most reports taken into the full-text index in one transaction. */
export const INDEX_BATCH = 500;

/**
 * Adds the reports noted in search_pending (filed or edited since the last
 * time) to the full-text index, a batch per transaction: FTS5 writes an index
 * segment for each transaction, which per report was the largest cost of
 * filing one (migration 2026-11-30-02). Runs before the index is read and
 * every second (startSearchIndexer), yielding to requests between batches.
 * Each batch holds the lock "search_index". Returns how many reports were
 * indexed.
 */
export async function indexPendingReports(db: DbOrTx): Promise<number> {
  let indexed = 0;
  for (;;) {
    const waiting = await db
      .selectFrom("search_pending")
      .select("report_id")
      .limit(1)
      .executeTakeFirst();
    if (!waiting) return indexed;
    if (indexed > 0) await new Promise((resolve) => setImmediate(resolve));
    // Several instances (PostgreSQL) index one at a time: two batches of
    // the same waiting reports would both insert them (reports_fts_pkey).
    indexed += await withAdvisoryLock(db, "search_index", indexBatch);
  }
}

async function indexBatch(tx: DbOrTx): Promise<number> {
  const batch = await tx
    .selectFrom(
      tx
        .selectFrom("search_pending")
        .select("report_id")
        .orderBy("report_id")
        .limit(INDEX_BATCH)
        .as("b"),
    )
    .select((eb) => [
      eb.fn.countAll<number>().as("count"),
      eb.fn.max("b.report_id").as("last"),
    ])
    .executeTakeFirstOrThrow();
  if (batch.count === 0) return 0;
  const inBatch = sql`(select report_id from search_pending where report_id <= ${batch.last})`;
  // An edited report is taken out first (deleting one not yet indexed is a no-op).
  await sql`delete from reports_fts where rowid in ${inBatch}`.execute(tx);
  // The body ends with the CWE ("CWE-639"), so a search for it finds the
  // report (migration 2026-12-03-71).
  await indexReportsStatement(tx, inBatch).execute(tx);
  await tx
    .deleteFrom("search_pending")
    .where("report_id", "<=", batch.last)
    .execute();
  await tx
    .updateTable("search_index_version")
    .set((eb) => ({ version: eb("version", "+", 1) }))
    .where("id", "=", 1)
    .execute();
  return batch.count;
}

/** A prefix as indexed words, with how many reports hold any of them (null: left a prefix). */
interface SpelledPrefix {
  match: string;
  reports: number | null;
}

/** How many answers of each kind a connection keeps while the index stays. */
const KEPT_PER_KIND = 1000;
const keptByDb = new WeakMap<
  object,
  {
    version: number | undefined;
    prefixes: Map<string, SpelledPrefix>;
    titleMatches: Map<string, number[]>;
  }
>();

/**
 * Answers of the full-text index kept until it changes: `search_index_version`
 * moves (by triggers) with every change to the index, by any connection, so
 * what is kept is exactly what asking the index again would give. Null
 * inside a transaction, which may hold writes of its own.
 */
async function keptForSearchIndex(db: DbOrTx) {
  if (db.isTransaction) return null;
  const row = await db
    .selectFrom("search_index_version")
    .select("version")
    .where("id", "=", 1)
    .executeTakeFirst();
  let entry = keptByDb.get(db);
  if (!entry || entry.version !== row?.version) {
    entry = {
      version: row?.version,
      prefixes: new Map(),
      titleMatches: new Map(),
    };
    keptByDb.set(db, entry);
  }
  return entry;
}

/**
 * The newest reports (internal ids, newest first) whose title matches an
 * FTS5 query (the triager's duplicate hint on every view of a report being
 * triaged: 1.9 ms at a million reports), kept until the index changes.
 */
export async function newestTitleMatches(
  db: DbOrTx,
  titleQuery: string,
  limit: number,
): Promise<number[]> {
  await indexPendingReports(db);
  const kept = (await keptForSearchIndex(db))?.titleMatches;
  const key = `${limit} ${titleQuery}`;
  const known = kept?.get(key);
  if (known) return known;
  const { rows } = await sql<{ id: number }>`
    select f.rowid as id from reports_fts f
    where ${fullTextMatch(db, "f", titleQuery)}
    order by f.rowid desc limit ${limit}`.execute(db);
  const ids = rows.map((r) => r.id);
  if (kept && kept.size < KEPT_PER_KIND) kept.set(key, ids);
  return ids;
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
  "r.queue_due_at",
] as const;

/**
 * The query behind a list page, unexecuted, so tests can ask SQLite for its
 * plan. It fetches one row more than the page to know whether a next exists.
 */
export function reportListQuery(
  db: DbOrTx,
  query: ListQuery,
  scopeSize: number | null = null,
) {
  const column = sortColumn(query.sort);
  if (query.filters.text)
    return searchPageQuery(db, query, query.filters.text, scopeSize);
  const base = applyFilters(
    applyScope(db.selectFrom("reports as r"), query.scope, query.filters),
    query.filters,
    query.scope,
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
  return positioned
    .leftJoin("organizations as o", "o.id", "r.organization_id")
    .leftJoin("users as a", "a.id", "r.assignee_id")
    .innerJoin("users as u", "u.id", "r.reporter_id")
    .select(LIST_COLUMNS)
    .orderBy(column, query.direction)
    .orderBy("r.id", query.direction)
    .limit(query.limit + 1);
}

/**
 * A search's page, newest filed first, however many reports match: the
 * page's report IDs are chosen first and only those rows are joined to the
 * names (CROSS JOIN keeps the page as SQLite's outer loop). Sorting the
 * matches by anything else means collecting all of them first (a common
 * word matches most of a million reports), hence this order.
 *
 * Two ways to choose the page, both stopping once it is full, each step
 * costing about the same (30–40 µs at a million reports), so the shorter
 * walk is taken:
 * - the matches, newest first (FTS5 hands them over in that order), keeping
 *   those in the actor's scope: for staff, who see every report, and for
 *   anyone when fewer reports match than they may see;
 * - the reports in the actor's scope, newest first, each looked up in the
 *   index by rowid: for a researcher or organization searching a common
 *   word, whose own reports may be far down the matches.
 * `scopeSize` is at least the number of reports in the scope (null: unknown).
 */
function searchPageQuery(
  db: DbOrTx,
  query: ListQuery,
  text: TextQuery,
  scopeSize: number | null,
) {
  if (query.sort !== "filing" || query.direction !== "desc")
    throw new Error("A search lists the newest filed reports first.");
  const before = query.after?.id;
  const { text: _text, ...filters } = query.filters;
  const walkMatches =
    query.scope.kind === "all" ||
    (text.atMost !== null && (scopeSize === null || text.atMost <= scopeSize));
  let page: SelectQueryBuilder<Database, never, { id: number }>;
  if (walkMatches) {
    const matches = db
      .selectFrom(sql`reports_fts`.as("f"))
      .crossJoin("reports as r")
      .where(sql<boolean>`r.id = f.rowid`)
      .where(fullTextMatch(db, "f", text.match));
    // Only columns of r are filtered on, as on any list.
    page = applyFilters(
      applyScope(matches as unknown as ReportsQuery, query.scope),
      filters,
      query.scope,
    )
      .$if(before !== undefined, (q) =>
        q.where(sql<boolean>`f.rowid < ${before}`),
      )
      .select("r.id")
      .orderBy(sql`f.rowid`, "desc")
      .limit(query.limit + 1);
  } else {
    // The scope's IDs sorted apart ("limit -1" stops SQLite from merging
    // the two), so the look-ups stop at a page instead of covering them all.
    const visible = applyFilters(
      applyScope(db.selectFrom("reports as r"), query.scope),
      filters,
      query.scope,
    )
      .$if(before !== undefined, (q) => q.where("r.id", "<", before!))
      .select("r.id")
      .orderBy("r.id", "desc")
      .$if(dialectOf(db) === "sqlite", (q) => q.limit(-1));
    page = db
      .selectFrom(visible.as("v"))
      .select("v.id")
      .where(
        sql<boolean>`exists (select 1 from reports_fts m where ${fullTextMatch(db, "m", text.match)} and m.rowid = v.id)`,
      )
      .limit(query.limit + 1);
  }
  return db
    .selectFrom(page.as("p"))
    .crossJoin("reports as r")
    .whereRef("r.id", "=", "p.id")
    .leftJoin("organizations as o", "o.id", "r.organization_id")
    .leftJoin("users as a", "a.id", "r.assignee_id")
    .innerJoin("users as u", "u.id", "r.reporter_id")
    .select(LIST_COLUMNS)
    .orderBy("r.id", "desc");
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

// The same page asked for again (every view of the queue's first page) is
// not built again: the query is a function of the page's description.
const listPageQuery = keptQuery(
  (db, { query, scopeSize }: { query: ListQuery; scopeSize: number | null }) =>
    reportListQuery(db, query, scopeSize),
);

export async function findReportListPage(
  db: DbOrTx,
  query: ListQuery,
): Promise<ListPage> {
  const text = query.filters.text;
  const scopeSize =
    text && query.scope.kind !== "all" && text.atMost !== null
      ? await countInScope(db, query.scope)
      : null;
  const { rows } = await listPageQuery(db, { query, scopeSize });
  const more = rows.length > query.limit;
  const pageRows = more ? rows.slice(0, query.limit) : rows;
  const items = await withParticipants(
    db,
    pageRows.map((row) => ({
      id: row.id,
      publicId: row.public_id,
      title: row.title,
      state: row.state as State,
      severity: row.severity as Severity | null,
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
      queueDueAt:
        row.queue_due_at >= NO_DEADLINE ? null : new Date(row.queue_due_at),
    })),
  );
  const last = pageRows[pageRows.length - 1];
  return {
    items,
    next:
      more && last
        ? {
            publicId: last.public_id,
            id: last.id,
            value:
              query.sort === "activity"
                ? last.updated_at
                : query.sort === "submitted"
                  ? last.created_at
                  : query.sort === "due"
                    ? last.queue_due_at
                    : last.id,
          }
        : null,
  };
}

/**
 * At least as many reports as the scope holds, read from an index alone
 * (an organization's count includes reports it was not yet notified of).
 */
async function countInScope(
  db: DbOrTx,
  scope: Exclude<ListScope, { kind: "all" }>,
): Promise<number> {
  if (scope.kind === "organizations" && scope.organizationIds.length === 0)
    return 0;
  const row =
    scope.kind === "reporter"
      ? await db
          .selectFrom("reports as r")
          .where("r.reporter_id", "=", scope.reporterId)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      : await db
          .selectFrom("participations as p")
          .where("p.organization_id", "in", [...scope.organizationIds])
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow();
  return row.n;
}

const cursorIdQuery = (db: DbOrTx, scope: ListScope, publicId: string) =>
  applyScope(db.selectFrom("reports as r"), scope)
    .select("r.id")
    .where("r.public_id", "=", publicId);
// Looked up on every page after the first: prepared where the scope is one
// plain condition (the staff's "all", a researcher's own), built where an
// organization's lists decide the query's shape.
const cursorIdInAll = preparedQuery((db, publicId: string) =>
  cursorIdQuery(db, { kind: "all" }, publicId),
);
const cursorIdOfReporter = preparedQuery(
  (db, reporterId: number, publicId: string) =>
    cursorIdQuery(db, { kind: "reporter", reporterId }, publicId),
);

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
  if (scope.kind === "all")
    return (await cursorIdInAll(db, publicId)).rows[0]?.id;
  if (scope.kind === "reporter")
    return (await cursorIdOfReporter(db, scope.reporterId, publicId)).rows[0]
      ?.id;
  return (await cursorIdQuery(db, scope, publicId).executeTakeFirst())?.id;
}

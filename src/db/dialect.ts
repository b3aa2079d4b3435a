import { createHash } from "node:crypto";
import pg from "pg";
import {
  ColumnDefinitionNode,
  DataTypeNode,
  GeneratedNode,
  OperationNodeTransformer,
  PostgresAdapter,
  sql,
  type Kysely,
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RawBuilder,
  type RootOperationNode,
  type SelectQueryBuilder,
  type Transaction,
  type UnknownRow,
} from "kysely";
import type { Database } from "./schema.js";

/*
 * Everything that differs between SQLite (the embedded default) and
 * PostgreSQL (DATABASE_URL) lives here, so repositories ask one module
 * instead of scattering `if`s: how numbers come back, how a migration's
 * column types read, locking, and full-text search.
 *
 * What needs no helper, because Kysely compiles it for either database:
 * `onConflict((oc) => oc.doNothing())` ("insert or ignore") and
 * `onConflict((oc) => oc.column(c).doUpdateSet(…))` (upsert), `returning`,
 * row-value comparisons for keyset paging.
 */

export type DialectName = "sqlite" | "postgres";

type AnyDb = Kysely<Database> | Transaction<Database>;

/** Which database a Kysely instance (or a transaction of one) talks to. */
export function dialectOf(db: Kysely<any>): DialectName {
  const adapter = db.getExecutor().adapter;
  // By name too: kysely ships ESM and CommonJS builds, and a process that
  // loads both (tsx: the tests' imports and the app's) has two classes.
  return adapter instanceof PostgresAdapter ||
    adapter.constructor.name === "PostgresAdapter"
    ? "postgres"
    : "sqlite";
}

// ---------------------------------------------------------------------------
// Connecting and type parsing

/** Type OIDs of PostgreSQL (pg_type): int8 and numeric. */
const INT8 = 20;
const NUMERIC = 1700;

/**
 * int8 as a JavaScript number. Every integer column is int8 on PostgreSQL
 * (SQLite's integers are 64-bit) and so are count(*) and sum(): the app
 * reads them as numbers, as better-sqlite3 returns them. Epoch milliseconds
 * and the "no deadline" date (8.64e15) are below 2^53; anything above
 * would lose digits, so it fails loudly instead.
 */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n))
    throw new RangeError(`int8 ${text} does not fit a JavaScript number`);
  return n;
}

/** numeric (avg(), round() of integers) as a JavaScript number. */
export function parseNumeric(text: string): number {
  return Number(text);
}

/** The parsers of one pool: pg's own, with int8 and numeric as numbers. */
const postgresTypes = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8 && format !== "binary") return parseInt8;
    if (oid === NUMERIC && format !== "binary") return parseNumeric;
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

export interface PostgresOptions {
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
  /** Told about a connection that broke while idle (a server restart). */
  onIdleError?: (error: Error) => void;
}

/**
 * How long to wait for PostgreSQL to accept a new connection before a
 * query fails: the health check answers 503 within it while the server is
 * down, instead of hanging.
 */
const CONNECT_TIMEOUT_MS = 5_000;
/**
 * How long a query waits for a free connection of the pool. A burst of
 * requests queues behind the pool (as on SQLite behind its one writer)
 * instead of failing after the connect timeout: 200 submissions at once on
 * two instances of 5 connections waited up to 8 s. Past this the request
 * is answered 503 "try again" (src/app.ts).
 */
const POOL_WAIT_MS = 30_000;

/**
 * A pool connection: the connect timeout of its own (pg-pool's option is
 * the wait), and a listener for a connection that breaks while taken from
 * the pool but between statements (a transaction's, or the one holding the
 * scheduler's lock while it works): without one, pg throws the error at the
 * process, which ended both instances when PostgreSQL restarted. Its next
 * statement fails instead ("not queryable", a 503) and the pool drops it
 * when it comes back.
 */
class PoolClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super({ ...config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    this.on("error", () => undefined);
  }
}

export function createPostgresPool(options: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    statement_timeout: options.statementTimeoutMs,
    connectionTimeoutMillis: POOL_WAIT_MS,
    Client: PoolClient,
    types: postgresTypes,
  });
  // A connection that breaks while idle (PostgreSQL restarted) is taken out
  // of the pool; without a listener pg would throw it at the process.
  pool.on("error", (error) => options.onIdleError?.(error));
  return pool;
}

// ---------------------------------------------------------------------------
// Migrations

/**
 * The migrations were written for SQLite; on PostgreSQL this plugin reads
 * their schema-builder column types as PostgreSQL's:
 * - `integer` → `bigint` (SQLite integers are 64-bit; epoch milliseconds
 *   overflow PostgreSQL's 32-bit integer);
 * - `integer primary key autoincrement` → `bigint generated by default as
 *   identity primary key` (an explicit id, as the audit log writes, is kept);
 * - `real` → `double precision` (SQLite's real is 8 bytes; PostgreSQL's 4);
 * - `blob` → `bytea`.
 * Raw SQL in a migration (triggers, FTS5) is not touched: those migrations
 * carry their own PostgreSQL branch. Never used on SQLite, whose schema
 * stays exactly what the migrations say.
 */
export class PortableSchemaPlugin implements KyselyPlugin {
  readonly #transformer = new PortableSchemaTransformer();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    return this.#transformer.transformNode(args.node, args.queryId);
  }

  async transformResult(
    args: PluginTransformResultArgs,
  ): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

const POSTGRES_TYPES: Record<string, string> = {
  integer: "bigint",
  real: "double precision",
  blob: "bytea",
};

class PortableSchemaTransformer extends OperationNodeTransformer {
  protected override transformDataType(node: DataTypeNode): DataTypeNode {
    const replacement = POSTGRES_TYPES[node.dataType];
    return replacement
      ? DataTypeNode.create(replacement as DataTypeNode["dataType"])
      : node;
  }

  protected override transformColumnDefinition(
    node: ColumnDefinitionNode,
    queryId: Parameters<OperationNodeTransformer["transformNode"]>[1],
  ): ColumnDefinitionNode {
    const column = super.transformColumnDefinition(node, queryId);
    if (!column.autoIncrement) return column;
    return ColumnDefinitionNode.cloneWith(column, {
      autoIncrement: false,
      generated: GeneratedNode.create({ byDefault: true, identity: true }),
    });
  }
}

/** The database as migrations should see it: column types read for it. */
export function forMigrations<T>(db: Kysely<T>): Kysely<T> {
  return dialectOf(db) === "postgres"
    ? db.withPlugin(new PortableSchemaPlugin())
    : db;
}

// ---------------------------------------------------------------------------
// Locking

/** A lock name as PostgreSQL's advisory-lock key (a signed 64-bit integer). */
export function advisoryLockKey(name: string): string {
  return createHash("sha256")
    .update(`disclosure-desk:${name}`)
    .digest()
    .readBigInt64BE(0)
    .toString();
}

/**
 * Takes the named lock for the rest of the transaction tx: on PostgreSQL
 * `pg_advisory_xact_lock` (another instance taking it waits until tx ends);
 * on SQLite nothing, as the transaction already holds the one write lock
 * once it writes. Shared holders do not wait for each other, only for an
 * exclusive one (and it for them).
 */
export async function lockInTransaction(
  tx: AnyDb,
  name: string,
  mode: "exclusive" | "shared" = "exclusive",
): Promise<void> {
  if (dialectOf(tx) !== "postgres") return;
  const key = advisoryLockKey(name);
  await (
    mode === "shared"
      ? sql`select pg_advisory_xact_lock_shared(${key}::bigint)`
      : sql`select pg_advisory_xact_lock(${key}::bigint)`
  ).execute(tx);
}

/**
 * Runs fn in a transaction that holds the named lock until it ends: on
 * PostgreSQL `pg_advisory_xact_lock` (other instances wait for it); on
 * SQLite a plain transaction, which already excludes every other writer of
 * the one process. Inside a transaction already, fn runs in it.
 */
export async function withAdvisoryLock<T>(
  db: AnyDb,
  name: string,
  fn: (tx: AnyDb) => Promise<T>,
): Promise<T> {
  const locked = async (tx: AnyDb) => {
    await lockInTransaction(tx, name);
    return fn(tx);
  };
  return db.isTransaction ? locked(db) : db.transaction().execute(locked);
}

/**
 * Like withAdvisoryLock, but does not wait: when another instance holds the
 * lock, fn does not run and the answer is `{ ran: false }` (the scheduler:
 * one instance at a time runs the reminders, the others skip that round).
 * On SQLite the lock is always free.
 */
export async function withAdvisoryLockIfFree<T>(
  db: AnyDb,
  name: string,
  fn: (tx: AnyDb) => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false }> {
  const attempt = async (
    tx: AnyDb,
  ): Promise<{ ran: true; value: T } | { ran: false }> => {
    if (dialectOf(tx) === "postgres") {
      const { rows } = await sql<{
        locked: boolean;
      }>`select pg_try_advisory_xact_lock(${advisoryLockKey(name)}::bigint) as locked`.execute(
        tx,
      );
      if (!rows[0]?.locked) return { ran: false };
    }
    return { ran: true, value: await fn(tx) };
  };
  return db.isTransaction ? attempt(db) : db.transaction().execute(attempt);
}

/**
 * A write transaction that holds the write lock before its first read, so
 * what it reads cannot change before it writes: on SQLite BEGIN IMMEDIATE
 * on one connection (another process waits instead of failing on a stale
 * read); on PostgreSQL a transaction holding the advisory lock `name`
 * (other instances wait).
 */
export async function withWriteTransaction<T>(
  db: Kysely<Database>,
  name: string,
  fn: (tx: AnyDb) => Promise<T>,
): Promise<T> {
  if (dialectOf(db) === "postgres") return withAdvisoryLock(db, name, fn);
  return db.connection().execute(async (conn) => {
    await sql`begin immediate`.execute(conn);
    try {
      const value = await fn(conn);
      await sql`commit`.execute(conn);
      return value;
    } catch (err) {
      await sql`rollback`.execute(conn);
      throw err;
    }
  });
}

// ---------------------------------------------------------------------------
// Full-text search

/*
 * SQLite: the FTS5 table reports_fts (rowid = reports.id; columns public_id,
 * title, organization, asset, body). PostgreSQL: the table reports_fts
 * (rowid = reports.id, document tsvector, GIN index), its document weighted
 * A (report ID, title), B (organization, asset), C (description, steps,
 * impact, CWE). Both are filled from search_pending in batches by the app
 * (list-repository.ts indexBatch), and in both the key column is called
 * rowid, so `where rowid in …` and `r.id = f.rowid` read the same.
 */

/** The text search configuration: no stemming, as SQLite's unicode61. */
const TS_CONFIG = sql.lit("simple");

/**
 * Latin letters with accents and their letters without, as FTS5's unicode61
 * folds them ("hôpital" is found as "hopital"): PostgreSQL's `simple`
 * configuration keeps accents, and the unaccent extension is not needed
 * for a `translate()` with this table.
 */
const [ACCENTED, UNACCENTED] = (() => {
  let from = "";
  let to = "";
  for (let code = 0xc0; code <= 0x24f; code++) {
    const char = String.fromCodePoint(code);
    const base = char.normalize("NFD").replace(/\p{M}/gu, "");
    if (base !== char && /^[A-Za-z]$/.test(base)) {
      from += char;
      to += base;
    }
  }
  return [from, to];
})();

/** Text with its accents taken off (the query side of the table above). */
export function withoutAccents(text: string): string {
  return text.normalize("NFD").replace(/\p{M}/gu, "");
}

/**
 * Text as indexed words. Anything but letters and digits separates words,
 * as in FTS5's unicode61 (PostgreSQL's parser would keep a URL, a host or
 * "DD-7K2Q-9M4D" as one token), so the same searches find the same reports.
 */
const words = (text: RawBuilder<unknown>) =>
  sql`to_tsvector(${TS_CONFIG}, regexp_replace(translate(${text}, ${sql.lit(ACCENTED)}, ${sql.lit(UNACCENTED)}), '[^[:alnum:]]+', ' ', 'g'))`;

/** The weight of each FTS5 column in the document (indexReportsStatement). */
const COLUMN_WEIGHTS: Record<string, string> = {
  public_id: "A",
  title: "A",
  organization: "B",
  asset: "B",
  body: "C",
};

/**
 * An FTS5 query of the forms the app builds (search-query.ts,
 * list-repository.ts) as a PostgreSQL tsquery: `"word"*` (or `word*`) a prefix,
 * `"word"` a word, `"two words"` a phrase, `(a OR b)`, `a AND b`, and
 * words side by side (all required). A column filter (`title : (…)`)
 * becomes the column's weight on its words (`'word':A`; the title shares
 * weight A with the report ID).
 */
export function toTsQuery(fts5: string): string {
  const out: string[] = [];
  const pattern =
    /"((?:[^"]|"")*)"(\*)?|\(|\)|\bOR\b|\bAND\b|\w+\s*:|([\p{L}\p{N}_]+)(\*)?/gu;
  let needsAnd = false;
  // The weight of a column filter, for the next term or its parentheses.
  let pending = "";
  let weight = "";
  let depth = 0;
  let weightDepth = -1;
  for (const m of fts5.matchAll(pattern)) {
    const token = m[0];
    if (token === "(") {
      if (needsAnd) out.push("&");
      out.push("(");
      depth += 1;
      if (pending) {
        weight = pending;
        weightDepth = depth;
        pending = "";
      }
      needsAnd = false;
    } else if (token === ")") {
      out.push(")");
      if (depth === weightDepth) {
        weight = "";
        weightDepth = -1;
      }
      depth -= 1;
      needsAnd = true;
    } else if (token === "OR") {
      out.push("|");
      needsAnd = false;
    } else if (token === "AND") {
      out.push("&");
      needsAnd = false;
    } else if (token.endsWith(":") && m[1] === undefined) {
      pending = COLUMN_WEIGHTS[token.slice(0, -1).trim()] ?? "";
    } else {
      const words = withoutAccents((m[1] ?? m[3] ?? "").replaceAll('""', '"'))
        .toLowerCase()
        .match(/[\p{L}\p{N}]+/gu);
      const termWeight = weight || pending;
      pending = "";
      if (!words) continue;
      if (needsAnd) out.push("&");
      const quoted = words.map(
        (w) => `'${w}'${termWeight ? `:${termWeight}` : ""}`,
      );
      if (m[2] || m[4])
        quoted[quoted.length - 1] = termWeight
          ? `'${words[words.length - 1]}':*${termWeight}`
          : `${quoted[quoted.length - 1]}:*`;
      out.push(quoted.length > 1 ? `(${quoted.join(" <-> ")})` : quoted[0]!);
      needsAnd = true;
    }
  }
  return out.join(" ");
}

/**
 * The condition "this row of reports_fts (aliased `alias`) matches the
 * FTS5 query `query`", for either database.
 */
export function fullTextMatch(
  db: AnyDb,
  alias: string,
  query: string,
): RawBuilder<boolean> {
  return dialectOf(db) === "postgres"
    ? sql<boolean>`${sql.raw(`${alias}.document`)} @@ to_tsquery(${TS_CONFIG}, ${toTsQuery(query)})`
    : sql<boolean>`${sql.raw(`${alias}.reports_fts`)} match ${query}`;
}

/**
 * The statement that (re)indexes the reports whose ids `ids` selects (a
 * subquery), after they were deleted from reports_fts.
 */
export function indexReportsStatement(
  db: AnyDb,
  ids: RawBuilder<unknown>,
): RawBuilder<unknown> {
  if (dialectOf(db) === "postgres")
    return sql`insert into reports_fts (rowid, document)
      select r.id,
        setweight(${words(sql`r.public_id || ' ' || r.title`)}, 'A') ||
        setweight(${words(sql`coalesce(o.name, r.suggested_org_name, '') || ' ' || r.asset`)}, 'B') ||
        setweight(${words(sql`r.description || ' ' || r.steps || ' ' || r.impact || ' ' || r.cwe`)}, 'C')
      from reports r left join organizations o on o.id = r.organization_id
      where r.id in ${ids}`;
  return sql`insert into reports_fts (rowid, public_id, title, organization, asset, body)
    select r.id, r.public_id, r.title,
      coalesce(o.name, r.suggested_org_name, ''),
      r.asset,
      r.description || ' ' || r.steps || ' ' || r.impact || ' ' || r.cwe
    from reports r left join organizations o on o.id = r.organization_id
    where r.id in ${ids}`;
}

// ---------------------------------------------------------------------------
// Health

/** Answers when the database answers; throws when it cannot be reached. */
export async function pingDatabase(db: AnyDb): Promise<void> {
  await sql`select 1`.execute(db);
}

/** PostgreSQL's error codes (SQLSTATE) of a database busy for now. */
const POSTGRES_BUSY = new Set([
  "57014", // statement timeout (waiting on another's lock, or slow)
  "55P03", // lock not available
  "40001", // serialization failure
  "40P01", // deadlock detected
  "53000", // insufficient resources: disk, memory, connections
  "53100",
  "53200",
  "53300",
  "57P03", // cannot connect now (starting up)
]);

/**
 * Whether a failed statement failed because the database is busy or short
 * of something for now, so trying again later may work (an MTA's 451):
 * SQLite's busy, locked, cannot-open, I/O and full-disk codes; PostgreSQL's
 * timeouts, lock and serialization failures, resource limits, and no free
 * connection of the pool in time.
 */
export function isDatabaseBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string")
    return (
      /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|PROTOCOL|NOMEM)/.test(code) ||
      POSTGRES_BUSY.has(code)
    );
  return /timeout exceeded when trying to connect/.test(
    String((error as Error | null)?.message),
  );
}

// ---------------------------------------------------------------------------
// Query hints and comparisons

/**
 * `indexed by <index>` after a table in FROM on SQLite, which needs the hint
 * to use a partial index (reminder-repository.ts, stats); nothing on
 * PostgreSQL, whose planner has statistics and no such syntax.
 */
export function indexedBy(db: AnyDb, index: string): RawBuilder<unknown> {
  return dialectOf(db) === "postgres" ? sql`` : sql.raw(`indexed by ${index}`);
}

/**
 * "column equals value without regard to case", as the column's unique
 * index compares: `collate nocase` on SQLite, `lower(column) = lower(value)`
 * on PostgreSQL (whose index is on lower(name)).
 */
export function equalsIgnoringCase(
  db: AnyDb,
  column: string,
  value: string,
): RawBuilder<boolean> {
  return dialectOf(db) === "postgres"
    ? sql<boolean>`lower(${sql.ref(column)}) = lower(${value})`
    : sql<boolean>`${sql.ref(column)} = ${value} collate nocase`;
}

// ---------------------------------------------------------------------------
// Errors

/**
 * Whether a failed statement broke a unique constraint (two people saving
 * the same name at once): SQLite's SQLITE_CONSTRAINT codes as the app read
 * them before, PostgreSQL's unique_violation (23505).
 */
export function isUniqueViolation(err: unknown): boolean {
  const code = String((err as { code?: unknown } | null)?.code);
  return code.startsWith("SQLITE_CONSTRAINT") || code === "23505";
}

/**
 * The database cannot be reached for now (PostgreSQL restarting or away):
 * refused or dropped connections, the server shutting down or starting, a
 * connection that timed out. Nothing was saved; the same request can be
 * sent again in a moment. SQLite, a file in the process, never is.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = String(e?.code ?? "");
  // Class 08: connection exception; 57P01-57P03: shutdown, crash, starting.
  if (/^(08...|57P0[123])$/.test(code)) return true;
  if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT"].includes(code))
    return true;
  const message = String(e?.message ?? "");
  return /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(
    message,
  );
}

// ---------------------------------------------------------------------------
// Claiming work (the outbox, webhook deliveries)

/**
 * The rows a worker's claim selects, locked for it: on PostgreSQL `FOR
 * UPDATE SKIP LOCKED` (of the table `of`, when the query joins others), so
 * two instances claiming at once take different rows instead of waiting or
 * taking the same; the claim's UPDATE checks its conditions again, as a
 * row another instance claimed and committed meanwhile no longer meets
 * them. On SQLite nothing: the claim's one statement holds the write lock.
 */
export function lockedForClaim<QB extends SelectQueryBuilder<any, any, any>>(
  db: AnyDb,
  query: QB,
  of?: string,
): QB {
  if (dialectOf(db) !== "postgres") return query;
  return (
    of === undefined ? query.forUpdate() : query.forUpdate(of as never)
  ).skipLocked() as QB;
}

/**
 * Runs fn (which uses db's other connections, committing as it goes) while
 * this instance holds the named lock, unless another instance holds it:
 * then fn does not run (`{ ran: false }`). On PostgreSQL one connection of
 * the pool keeps a transaction open with `pg_try_advisory_xact_lock` for the
 * duration (the pool needs a second connection for fn); the lock ends with
 * it, also when the instance dies. On SQLite (one process) fn just runs: a
 * transaction held around it would block its own connection.
 */
export async function whileHoldingLockIfFree<T>(
  db: Kysely<Database>,
  name: string,
  fn: () => Promise<T>,
): Promise<{ ran: true; value: T } | { ran: false }> {
  if (dialectOf(db) !== "postgres") return { ran: true, value: await fn() };
  return withAdvisoryLockIfFree(db, name, () => fn());
}

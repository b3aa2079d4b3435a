import SqliteDatabase from "better-sqlite3";
import { existsSync } from "node:fs";
import { sql, type Kysely, type Transaction } from "kysely";
import { verifyAuditChain } from "../audit/service.js";
import { indexPendingReports } from "../reports/list-repository.js";
import { openDatabase, type Db } from "./index.js";
import { migrateToLatest } from "./migrate.js";
import type { Database } from "./schema.js";

/*
 * `npm run cli -- db:copy --to postgres://…`: a SQLite deployment's database
 * copied into an empty PostgreSQL database, for moving a desk onto
 * PostgreSQL (README, "Running several instances on PostgreSQL").
 *
 * The tables are read from the source's own schema (sqlite_master) and
 * their foreign keys, so a table a later migration adds is copied without
 * anyone adding it here. What is not copied is derived, and rebuilt or kept
 * by the target itself (TARGET_OWN).
 */

export class CopyRefused extends Error {}

/**
 * Tables the target makes or fills itself, never copied:
 * - reports_fts: the full-text index (FTS5 on SQLite, a tsvector on
 *   PostgreSQL: not the same columns); rebuilt from the copied reports;
 * - search_pending: reports waiting for the index; after the copy every
 *   report waits, and is indexed before the copy commits;
 * - search_index_version, users_version: counters with one row each, made
 *   by the migrations and moved by the target's own triggers; their value
 *   only has to change when the indexed text or the users do.
 */
export const TARGET_OWN = new Set([
  "reports_fts",
  "search_pending",
  "search_index_version",
  "users_version",
]);

export interface CopiedTable {
  name: string;
  rows: number;
}

export interface CopyResult {
  /** In the order copied (referenced tables first). */
  tables: CopiedTable[];
  /** Reports taken into the target's full-text index. */
  indexed: number;
  audit: { count: number; headHash: string };
}

export interface CopyOptions {
  /** Most rows in one INSERT (fewer when a table has many columns). */
  batchRows?: number;
  /** Told after each table. */
  onTable?: (table: CopiedTable) => void;
}

/** PostgreSQL takes at most 65,535 parameters in one statement. */
const MAX_PARAMETERS = 30_000;

interface SourceTable {
  name: string;
  columns: string[];
  /** Tables its foreign keys reference (not itself). */
  references: string[];
  /** Columns that reference the table itself: filled in after its rows. */
  selfReferences: { column: string; key: string }[];
}

/**
 * Copies the SQLite database in `sourceFile` (migrated first, as every
 * command does) into `target`, a PostgreSQL database that must be empty:
 * no tables, or only the migrations' own (a copy that failed left nothing
 * else behind: it runs in one transaction). Keeps every id, resets the
 * identity sequences after, rebuilds the full-text index, and commits only
 * if every table has as many rows as the source and the audit chain
 * verifies on the target.
 */
export async function copySqliteToPostgres(
  sourceFile: string,
  target: Db,
  options: CopyOptions = {},
): Promise<CopyResult> {
  if (!existsSync(sourceFile))
    throw new CopyRefused(`No database at ${sourceFile} (check DATA_DIR).`);
  // Before anything is written, the migrations included.
  await refuseNonEmpty(target);

  await migrateSource(sourceFile);
  await migrateToLatest(target);
  const source = new SqliteDatabase(sourceFile, { fileMustExist: true });
  try {
    source.pragma("busy_timeout = 5000");
    // One read transaction: every table as of one committed state, even
    // if the app still writes to the source.
    source.exec("begin");
    try {
      const tables = inForeignKeyOrder(sourceTables(source));
      await refuseMissingColumns(target, tables);
      return await target
        .transaction()
        .execute((tx) => copyTables(source, tx, tables, options));
    } finally {
      source.exec("rollback");
    }
  } finally {
    source.close();
  }
}

/** The source at the same schema as the target (the app does this at start). */
async function migrateSource(file: string): Promise<void> {
  const { db } = openDatabase(file);
  try {
    await migrateToLatest(db);
  } finally {
    await db.destroy();
  }
}

async function copyTables(
  source: SqliteDatabase.Database,
  tx: Transaction<Database>,
  tables: SourceTable[],
  options: CopyOptions,
): Promise<CopyResult> {
  const copied: CopiedTable[] = [];
  const anyTx = tx as unknown as Transaction<any>;
  for (const table of tables) {
    const rows = await copyTable(source, anyTx, table, options.batchRows);
    await resetSequences(anyTx, table.name);
    const entry = { name: table.name, rows };
    copied.push(entry);
    options.onTable?.(entry);
  }

  // The full-text index: the target's triggers noted each copied report in
  // search_pending; noted again here so none depends on a trigger.
  await sql`insert into search_pending (report_id) select id from reports
    on conflict do nothing`.execute(tx);
  const indexed = await indexPendingReports(tx);

  // Counted on both sides (the source in the copy's read transaction),
  // not taken from the copy's own tally.
  for (const { name } of copied) {
    const inSource = Number(
      source.prepare(`select count(*) from "${name}"`).pluck().get(),
    );
    const onTarget = await countRows(anyTx, name);
    if (onTarget !== inSource)
      throw new Error(
        `${name}: ${inSource} rows in SQLite, ${onTarget} on PostgreSQL; nothing was committed.`,
      );
  }
  const audit = await verifyAuditChain(tx);
  if (!audit.ok)
    throw new Error(
      `The audit chain does not verify on the target (entry #${audit.brokenAt}: ${audit.reason}); nothing was committed.`,
    );
  return {
    tables: copied,
    indexed,
    audit: { count: audit.count, headHash: audit.headHash },
  };
}

/** One table in rowid order (an audit entry follows the one it links to), in batches. */
async function copyTable(
  source: SqliteDatabase.Database,
  tx: Transaction<any>,
  table: SourceTable,
  batchRows = 1000,
): Promise<number> {
  const size = Math.max(
    1,
    Math.min(batchRows, Math.floor(MAX_PARAMETERS / table.columns.length)),
  );
  const columns = table.columns.map((c) => `"${c}"`).join(", ");
  const page = source.prepare(
    `select rowid as "rowid:copy", ${columns} from "${table.name}"
     where rowid > ? order by rowid limit ?`,
  );
  const deferred = table.selfReferences;
  const later: { key: unknown; column: string; value: unknown }[] = [];
  let after = Number.MIN_SAFE_INTEGER;
  let count = 0;
  for (;;) {
    const batch = page.all(after, size) as Record<string, unknown>[];
    if (batch.length === 0) break;
    after = batch[batch.length - 1]!["rowid:copy"] as number;
    const values = batch.map((row) => {
      const out: Record<string, unknown> = {};
      for (const column of table.columns) out[column] = row[column];
      // A row may point at one copied after it: set once all are in.
      for (const { column, key } of deferred) {
        if (out[column] === null) continue;
        later.push({ key: out[key], column, value: out[column] });
        out[column] = null;
      }
      return out;
    });
    await tx.insertInto(table.name).values(values).execute();
    count += batch.length;
  }
  for (const { key, column, value } of later) {
    const keyColumn = deferred.find((d) => d.column === column)!.key;
    await tx
      .updateTable(table.name)
      .set({ [column]: value })
      .where(keyColumn, "=", key)
      .execute();
  }
  return count;
}

/** Each identity column's sequence continues after the largest copied id. */
async function resetSequences(tx: Transaction<any>, table: string) {
  const { rows } = await sql<{ column_name: string }>`
    select column_name from information_schema.columns
    where table_schema = current_schema() and table_name = ${table}
      and (is_identity = 'YES' or column_default like 'nextval(%')`.execute(tx);
  for (const { column_name: column } of rows)
    await sql`select setval(pg_get_serial_sequence(${table}, ${column}), max(${sql.ref(column)}))
      from ${sql.table(table)} having max(${sql.ref(column)}) is not null`.execute(
      tx,
    );
}

async function countRows(db: Kysely<any>, table: string): Promise<number> {
  const row = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The source's tables, as sqlite_master and its foreign keys describe them. */
function sourceTables(source: SqliteDatabase.Database): SourceTable[] {
  const all = source
    .prepare(
      "select name, sql from sqlite_master where type = 'table' order by name",
    )
    .all() as { name: string; sql: string | null }[];
  // FTS5 keeps its index in shadow tables named after the virtual table.
  const virtual = all
    .filter((t) => /^\s*create\s+virtual\s+table/i.test(t.sql ?? ""))
    .map((t) => t.name);
  const copied = all.filter(
    (t) =>
      !t.name.startsWith("sqlite_") &&
      !t.name.startsWith("kysely_") &&
      !TARGET_OWN.has(t.name) &&
      !virtual.some((v) => t.name === v || t.name.startsWith(`${v}_`)),
  );
  return copied.map(({ name, sql }) => {
    // Pages are read by rowid (copyTable).
    if (/\bwithout\s+rowid\b/i.test(sql ?? ""))
      throw new Error(
        `${name} is a WITHOUT ROWID table: db:copy reads tables by rowid and must learn its key first.`,
      );
    const columns = (
      source.pragma(`table_info("${name}")`) as { name: string }[]
    ).map((c) => c.name);
    const keys = source.pragma(`foreign_key_list("${name}")`) as {
      table: string;
      from: string;
      to: string;
    }[];
    return {
      name,
      columns,
      references: [
        ...new Set(keys.map((k) => k.table).filter((t) => t !== name)),
      ],
      selfReferences: keys
        .filter((k) => k.table === name)
        .map((k) => ({ column: k.from, key: k.to })),
    };
  });
}

/** Referenced tables before the tables that reference them. */
export function inForeignKeyOrder<
  T extends { name: string; references: string[] },
>(tables: T[]): T[] {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const ordered: T[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (table: T, path: string[]) => {
    const seen = state.get(table.name);
    if (seen === "done") return;
    if (seen === "visiting")
      throw new Error(
        `Foreign keys form a cycle: ${[...path, table.name].join(" → ")}`,
      );
    state.set(table.name, "visiting");
    for (const name of table.references) {
      const referenced = byName.get(name);
      if (referenced) visit(referenced, [...path, table.name]);
    }
    state.set(table.name, "done");
    ordered.push(table);
  };
  for (const table of tables) visit(table, []);
  return ordered;
}

/** The target's tables (current schema). */
async function targetTables(target: Db): Promise<string[]> {
  const { rows } = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = current_schema()`.execute(target);
  return rows.map((r) => r.table_name);
}

/**
 * An empty target: no tables, or a Disclosure Desk schema whose tables
 * hold no rows but the migrations' own (TARGET_OWN). A database with tables
 * of something else is never migrated into.
 */
async function refuseNonEmpty(target: Db): Promise<void> {
  const tables = await targetTables(target);
  if (tables.length === 0) return;
  if (!tables.includes("kysely_migration"))
    throw new CopyRefused(
      `The target database is not empty: it has ${tables.length} tables (${tables.slice(0, 3).join(", ")}…) and is not a Disclosure Desk database. Copy into a new, empty database (createdb).`,
    );
  const anyDb = target as unknown as Kysely<any>;
  for (const name of tables.sort()) {
    if (name.startsWith("kysely_") || TARGET_OWN.has(name)) continue;
    if (
      await anyDb
        .selectFrom(name)
        .select(sql`1`.as("one"))
        .limit(1)
        .executeTakeFirst()
    )
      throw new CopyRefused(
        `The target database is not empty: its table ${name} has rows. db:copy copies only into an empty database; nothing was changed.`,
      );
  }
}

/** Each source column has its column on the target (both migrated alike). */
async function refuseMissingColumns(
  target: Db,
  tables: SourceTable[],
): Promise<void> {
  const { rows } = await sql<{ table_name: string; column_name: string }>`
    select table_name, column_name from information_schema.columns
    where table_schema = current_schema()`.execute(target);
  const have = new Set(rows.map((r) => `${r.table_name}.${r.column_name}`));
  for (const table of tables)
    for (const column of table.columns)
      if (!have.has(`${table.name}.${column}`))
        throw new Error(
          `${table.name}.${column} is in the SQLite database but not in PostgreSQL's: the two are not at the same migration.`,
        );
}

import SqliteDatabase from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Worker } from "node:worker_threads";
import {
  Kysely,
  PostgresDialect,
  SqliteDialect,
  type Transaction,
} from "kysely";
import type pg from "pg";
import { createPostgresPool, type PostgresOptions } from "./dialect.js";
import type { Database } from "./schema.js";
import { withStatementCache } from "./statements.js";

export type Db = Kysely<Database>;
/** Repositories take either the database or a transaction as first argument. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

/** The SQLite file (the embedded default). */
export interface OpenedSqlite {
  dialect: "sqlite";
  db: Db;
  /** The underlying connection, for backups and the benchmark seeder. */
  sqlite: SqliteDatabase.Database;
}

/** PostgreSQL (DATABASE_URL). */
export interface OpenedPostgres {
  dialect: "postgres";
  db: Db;
  pool: pg.Pool;
  sqlite?: undefined;
}

export type OpenedDatabase = OpenedSqlite | OpenedPostgres;

/** What openConfiguredDatabase reads of the configuration. */
export interface DatabaseConfig {
  dataDir: string;
  database: {
    url: string | null;
    poolSize: number;
    statementTimeoutMs: number;
  };
}

/**
 * The database the configuration names: PostgreSQL when DATABASE_URL is
 * set, else the SQLite file in DATA_DIR.
 */
export function openConfiguredDatabase(
  config: DatabaseConfig,
  options: OpenOptions & Pick<PostgresOptions, "onIdleError"> = {},
): OpenedDatabase {
  if (config.database.url)
    return openPostgres({
      url: config.database.url,
      poolSize: config.database.poolSize,
      statementTimeoutMs: config.database.statementTimeoutMs,
      onIdleError: options.onIdleError,
    });
  return openDatabase(databaseFile(config.dataDir), options);
}

export function openPostgres(options: PostgresOptions): OpenedPostgres {
  const pool = createPostgresPool(options);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { dialect: "postgres", db, pool };
}

export function databaseFile(dataDir: string): string {
  return path.join(dataDir, "disclosure-desk.sqlite");
}

export interface OpenOptions {
  /**
   * Copy the write-ahead log into the database from a worker thread (the
   * server) instead of at the commit that fills it (tests, the command line).
   */
  checkpointInBackground?: boolean;
}

export function openDatabase(
  file: string,
  options: OpenOptions = {},
): OpenedSqlite {
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; NORMAL is durable across app
  // crashes in WAL mode (only an OS crash can lose the last commit).
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const checkpointer =
    options.checkpointInBackground && file !== ":memory:"
      ? startCheckpointer(sqlite, file)
      : null;
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({
      database: withStatementCache(sqlite, () => checkpointer?.stop()),
    }),
  });
  return { dialect: "sqlite", db, sqlite };
}

/** How often the background checkpointer copies the log into the database. */
const CHECKPOINT_INTERVAL_MS = 500;
/**
 * Above this many log pages (40 MB) a commit checkpoints by itself again, in
 * case the worker falls behind or stopped.
 */
const FALLBACK_AUTOCHECKPOINT_PAGES = 10_000;

/**
 * SQLite checkpoints on the commit that takes the log past 1,000 pages: on
 * the event loop, with an fsync. At a million reports that was 2.3 ms of a
 * submission's 4 ms commit (bench/README.md). A worker thread with its own
 * connection runs passive checkpoints instead, which never block the writer
 * or readers.
 */
function startCheckpointer(sqlite: SqliteDatabase.Database, file: string) {
  sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
  const worker = new Worker(
    `const { workerData } = require("node:worker_threads");
     const Database = require(workerData.driver);
     const db = new Database(workerData.file);
     db.pragma("busy_timeout = 5000");
     setInterval(() => {
       try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
     }, workerData.intervalMs);`,
    {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve("better-sqlite3"),
        file: path.resolve(file),
        intervalMs: CHECKPOINT_INTERVAL_MS,
      },
    },
  );
  worker.unref();
  worker.on("error", () => undefined);
  // Stopping mid-checkpoint is safe: SQLite resumes it on the next one.
  return { stop: () => void worker.terminate() };
}

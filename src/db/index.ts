import SqliteDatabase from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { Kysely, SqliteDialect, type Transaction } from "kysely";
import type { Database } from "./schema.js";

export type Db = Kysely<Database>;
/** Repositories take either the database or a transaction as first argument. */
export type DbOrTx = Kysely<Database> | Transaction<Database>;

export interface OpenedDatabase {
  db: Db;
  /** The underlying connection, for health checks and the benchmark seeder. */
  sqlite: SqliteDatabase.Database;
}

export function databaseFile(dataDir: string): string {
  return path.join(dataDir, "disclosure-desk.sqlite");
}

export function openDatabase(file: string): OpenedDatabase {
  if (file !== ":memory:") mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new SqliteDatabase(file);
  // WAL lets readers run beside the writer; NORMAL is durable across app
  // crashes in WAL mode (only an OS crash can lose the last commit).
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: sqlite }),
  });
  return { db, sqlite };
}

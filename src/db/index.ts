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
    dialect: new SqliteDialect({ database: withStatementCache(sqlite) }),
  });
  return { db, sqlite };
}

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles SQL on
 * every prepare: at a few dozen queries a page that compiling showed in the
 * benchmark's profile. The compiled statements are kept, most recently used
 * first; queries that differ only in their values share one. (A statement is
 * run to completion before the next query, so sharing one is safe; Kysely's
 * streaming, which would hold a statement open, is not used.)
 */
function withStatementCache(sqlite: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(sql: string) {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = sqlite.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE)
          statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}

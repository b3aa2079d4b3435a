/**
 * The bench's own reads and writes of the app's database (counting stored
 * reports, dropping queued mail, waiting for the scheduler), on SQLite or
 * on PostgreSQL (DATABASE_URL), so one run measures either. Statements are
 * written with `?` placeholders; PostgreSQL gets them numbered.
 */
import type { Database as SqliteDatabase } from "better-sqlite3";
import type pg from "pg";
import type { Db, OpenedPostgres, OpenedSqlite } from "../src/db/index.js";

export interface BenchStore {
  dialect: "sqlite" | "postgres";
  db: Db;
  /** The first column of the first row, as a number (0 when none or null). */
  count(sql: string, ...params: unknown[]): Promise<number>;
  all<T>(sql: string, ...params: unknown[]): Promise<T[]>;
  /**
   * Deletes queued mail in the given states and team notices not yet
   * addressed; returns how many messages that was.
   */
  dropQueuedMail(statuses: readonly ("queued" | "sending")[]): Promise<number>;
  /** Before the app starts: SQLite's write-ahead log emptied. */
  beforeStart(): void;
}

export function sqliteStore({ db, sqlite }: OpenedSqlite): BenchStore {
  return {
    dialect: "sqlite",
    db,
    async count(sql, ...params) {
      return Number(
        (sqlite
          .prepare(sql)
          .pluck()
          .get(...params) as number | bigint | null) ?? 0,
      );
    },
    async all<T>(sql: string, ...params: unknown[]) {
      return sqlite.prepare(sql).all(...params) as T[];
    },
    async dropQueuedMail(statuses) {
      return dropQueuedSqliteMail(sqlite, statuses);
    },
    beforeStart() {
      // Every run starts from an empty write-ahead log (a migration on the
      // first start of a fresh seed can leave a gigabyte in it).
      sqlite.pragma("wal_checkpoint(TRUNCATE)");
    },
  };
}

/**
 * Deletes queued mail in the given states and team notices not yet
 * addressed (their table exists once the app has migrated the database).
 * Returns how many messages that was.
 */
export function dropQueuedSqliteMail(
  sqlite: SqliteDatabase,
  statuses: readonly ("queued" | "sending")[],
): number {
  const messages = sqlite
    .prepare(
      `delete from outbox where status in (${statuses.map(() => "?").join(", ")})`,
    )
    .run(...statuses).changes;
  const hasFanouts = sqlite
    .prepare(
      "select 1 from sqlite_master where type = 'table' and name = 'outbox_fanouts'",
    )
    .get();
  const fanned = hasFanouts
    ? (sqlite
        .prepare("delete from outbox_fanouts returning recipient_count")
        .pluck()
        .all() as number[])
    : [];
  return messages + fanned.reduce((a, b) => a + b, 0);
}

/** `?` placeholders numbered as PostgreSQL's `$1`, `$2`, … */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export function postgresStore({ db, pool }: OpenedPostgres): BenchStore {
  const query = (sql: string, params: unknown[]) =>
    pool.query(numbered(sql), params) as Promise<pg.QueryResult>;
  return {
    dialect: "postgres",
    db,
    async count(sql, ...params) {
      const { rows } = await query(sql, params);
      const first = rows[0] ? Object.values(rows[0])[0] : null;
      return Number(first ?? 0);
    },
    async all<T>(sql: string, ...params: unknown[]) {
      return (await query(sql, params)).rows as T[];
    },
    async dropQueuedMail(statuses) {
      const messages = await query(
        "delete from outbox where status = any($1)",
        [statuses],
      );
      const fanned = await query(
        "delete from outbox_fanouts returning recipient_count",
        [],
      );
      return (
        (messages.rowCount ?? 0) +
        fanned.rows.reduce((a, r) => a + Number(r.recipient_count), 0)
      );
    },
    beforeStart() {},
  };
}

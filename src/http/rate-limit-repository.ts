import { sql } from "kysely";
import type { DbOrTx } from "../db/index.js";

/** A counter in its window: hits so far and when the window ends (epoch ms). */
export interface RateLimitCounter {
  hits: number;
  resetAt: number;
}

/**
 * Counts one hit for `key` under the limit `name`, in one statement every
 * instance can run at once: the row of a window that ended starts again at
 * one hit and a new window; otherwise its hits go up by one.
 */
export async function countRateLimitHit(
  db: DbOrTx,
  name: string,
  key: string,
  now: number,
  windowMs: number,
): Promise<RateLimitCounter> {
  const ended = sql<boolean>`rate_limit_hits.reset_at <= ${now}`;
  const row = await db
    .insertInto("rate_limit_hits")
    .values({ name, key, hits: 1, reset_at: now + windowMs })
    .onConflict((oc) =>
      oc.columns(["name", "key"]).doUpdateSet({
        hits: sql<number>`case when ${ended} then 1 else rate_limit_hits.hits + 1 end`,
        reset_at: sql<number>`case when ${ended} then excluded.reset_at else rate_limit_hits.reset_at end`,
      }),
    )
    .returning(["hits", "reset_at"])
    .executeTakeFirstOrThrow();
  return { hits: row.hits, resetAt: row.reset_at };
}

/** The counter of a window still running, if any. */
export async function findRateLimitCounter(
  db: DbOrTx,
  name: string,
  key: string,
  now: number,
): Promise<RateLimitCounter | undefined> {
  const row = await db
    .selectFrom("rate_limit_hits")
    .select(["hits", "reset_at"])
    .where("name", "=", name)
    .where("key", "=", key)
    .where("reset_at", ">", now)
    .executeTakeFirst();
  return row && { hits: row.hits, resetAt: row.reset_at };
}

/** Gives back one hit (a request the limit does not count after all). */
export async function uncountRateLimitHit(
  db: DbOrTx,
  name: string,
  key: string,
  now: number,
): Promise<void> {
  await db
    .updateTable("rate_limit_hits")
    .set({ hits: sql<number>`hits - 1` })
    .where("name", "=", name)
    .where("key", "=", key)
    .where("hits", ">", 0)
    .where("reset_at", ">", now)
    .execute();
}

export async function deleteRateLimitCounter(
  db: DbOrTx,
  name: string,
  key: string,
): Promise<void> {
  await db
    .deleteFrom("rate_limit_hits")
    .where("name", "=", name)
    .where("key", "=", key)
    .execute();
}

/** Deletes the counters whose window ended before `now`. */
export async function deleteEndedRateLimitCounters(
  db: DbOrTx,
  now: number,
): Promise<number> {
  const result = await db
    .deleteFrom("rate_limit_hits")
    .where("reset_at", "<=", now)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

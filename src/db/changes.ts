import { sql, type Kysely } from "kysely";
import pg from "pg";
import type { Logger } from "pino";
import { dialectOf } from "./dialect.js";

/*
 * What an instance keeps in memory (the organizations list, the settings)
 * must follow a change another instance made. On PostgreSQL a writer says
 * what changed with NOTIFY in its own transaction (delivered when it
 * commits, never when it rolls back), and every instance holds one
 * connection that LISTENs and drops its kept copy when told. On SQLite
 * there is one process: the writer's own announcement is all there is.
 *
 * A kept copy is compared with its topic's generation for this database
 * (per Kysely instance: two apps in one process, as in the tests, are two
 * instances), which every announcement and every notice moves on.
 */

/** What a kept copy holds, as named in a change notice. */
export type ChangeTopic = "organizations" | "settings";

const TOPICS: readonly ChangeTopic[] = ["organizations", "settings"];

/** The PostgreSQL channel of change notices; the payload is the topic. */
export const CHANGES_CHANNEL = "dd_changes";

/**
 * How long a kept copy may be used without a notice while this instance
 * cannot hear them (its listening connection is down or not started, as in
 * the command line): another instance's change shows within this.
 */
export const UNHEARD_CACHE_MS = 1_000;

/** Told of a change; the instance waits for what it returns only in tests (nextChange). */
type Handler = (topic: ChangeTopic) => void | Promise<void>;

interface FeedState {
  generations: Map<ChangeTopic, number>;
  /** Whether notices from other instances reach this one now. */
  listening: boolean;
  handlers: Set<Handler>;
  waiters: Set<Handler>;
  /** Resolved when the listening connection listens (again). */
  listeningWaiters: Set<() => void>;
}

const feeds = new WeakMap<object, FeedState>();

/** A database and its transactions share Kysely's adapter: the key. */
function feedOf(db: Kysely<any>): FeedState {
  const key = db.getExecutor().adapter;
  let state = feeds.get(key);
  if (!state)
    feeds.set(
      key,
      (state = {
        generations: new Map(),
        listening: false,
        handlers: new Set(),
        waiters: new Set(),
        listeningWaiters: new Set(),
      }),
    );
  return state;
}

function bump(state: FeedState, topic: ChangeTopic) {
  state.generations.set(topic, (state.generations.get(topic) ?? 0) + 1);
}

/** A notice (or the loss of notices): copies dropped, followers told. */
function told(state: FeedState, topic: ChangeTopic) {
  bump(state, topic);
  const handled = Promise.allSettled(
    [...state.handlers].map(async (handler) => handler(topic)),
  );
  for (const waiter of state.waiters) void handled.then(() => waiter(topic));
}

/**
 * Says that `topic` changed, after the write and inside the writer's
 * transaction when it has one: this instance's copies are dropped now, the
 * other instances' (and this one's followers, told by its own notice) when
 * the transaction commits. A follower is not told here, as what it would
 * read again is not committed yet.
 */
export async function announceChange(
  db: Kysely<any>,
  topic: ChangeTopic,
): Promise<void> {
  bump(feedOf(db), topic);
  if (dialectOf(db) === "postgres")
    await sql`select pg_notify(${CHANGES_CHANNEL}, ${topic})`.execute(db);
}

/** The generation of `topic` for this database: a copy kept under another is stale. */
export function changeGeneration(db: Kysely<any>, topic: ChangeTopic): number {
  return feedOf(db).generations.get(topic) ?? 0;
}

/**
 * How long a copy read now may be kept: `keptMs` on SQLite (one process)
 * and on PostgreSQL while this instance hears the others' notices;
 * UNHEARD_CACHE_MS while it does not.
 */
export function cacheLifetime(db: Kysely<any>, keptMs: number): number {
  if (dialectOf(db) !== "postgres" || feedOf(db).listening) return keptMs;
  return Math.min(keptMs, UNHEARD_CACHE_MS);
}

/**
 * Calls fn with each topic another instance changed (its notice, or every
 * topic when notices were lost). On SQLite never: nobody else writes.
 */
export function onChange(db: Kysely<any>, fn: Handler): () => void {
  const state = feedOf(db);
  state.handlers.add(fn);
  return () => state.handlers.delete(fn);
}

/**
 * Resolves once this instance was told of the next change of `topic` and
 * its followers (onChange) handled it: what tests wait for instead of time.
 */
export function nextChange(db: Kysely<any>, topic: ChangeTopic): Promise<void> {
  const state = feedOf(db);
  return new Promise((resolve) => {
    const waiter = (t: ChangeTopic) => {
      if (t !== topic) return;
      state.waiters.delete(waiter);
      resolve();
    };
    state.waiters.add(waiter);
  });
}

/** Resolves when this instance's listening connection listens again (tests). */
export function whenListening(db: Kysely<any>): Promise<void> {
  const state = feedOf(db);
  if (state.listening) return Promise.resolve();
  return new Promise((resolve) => state.listeningWaiters.add(resolve));
}

export interface ChangeListener {
  /** Closes the listening connection; no reconnection follows. */
  stop(): Promise<void>;
}

/** Waits between reconnections: doubling from a quarter second to 30 s. */
function backoffMs(attempt: number): number {
  return Math.min(30_000, 250 * 2 ** attempt);
}

/**
 * On PostgreSQL, one connection of this instance LISTENs for the others'
 * change notices (resolves once it listens, or once its first try failed).
 * When it drops, every kept copy is dropped (what changed meanwhile is not
 * known), copies are kept only UNHEARD_CACHE_MS, and it reconnects with
 * backoff; once listening again everything is dropped once more. On
 * SQLite nothing to do.
 */
export async function startChangeListener(options: {
  db: Kysely<any>;
  url: string | null;
  logger: Logger;
}): Promise<ChangeListener> {
  const { db, url, logger } = options;
  if (dialectOf(db) !== "postgres" || !url) return { stop: async () => {} };
  const state = feedOf(db);
  let client: pg.Client | null = null;
  let stopped = false;
  let attempt = 0;
  let retry: NodeJS.Timeout | undefined;

  const everythingChanged = () => {
    for (const topic of TOPICS) told(state, topic);
  };

  const lost = (broken: pg.Client, err?: unknown) => {
    if (client !== broken) return;
    client = null;
    state.listening = false;
    broken.removeAllListeners("end");
    broken.on("error", () => undefined);
    broken.end().catch(() => undefined);
    if (stopped) return;
    logger.warn(
      { err },
      "change notices lost; kept copies dropped, reconnecting",
    );
    everythingChanged();
    retry = setTimeout(() => void connect(), backoffMs(attempt++));
  };

  const connect = async () => {
    retry = undefined;
    const candidate = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    client = candidate;
    candidate.on("notification", (message) => {
      if (message.channel !== CHANGES_CHANNEL) return;
      const topic = TOPICS.find((t) => t === message.payload);
      // A notice this version does not know (a newer instance): drop all.
      if (topic) told(state, topic);
      else everythingChanged();
    });
    candidate.on("error", (err) => lost(candidate, err));
    candidate.on("end", () => lost(candidate));
    try {
      await candidate.connect();
      await candidate.query(`listen ${CHANGES_CHANNEL}`);
    } catch (err) {
      lost(candidate, err);
      return;
    }
    if (client !== candidate) return;
    if (stopped) {
      await candidate.end().catch(() => undefined);
      return;
    }
    attempt = 0;
    state.listening = true;
    // What changed while nobody listened is not known.
    everythingChanged();
    for (const resolve of state.listeningWaiters) resolve();
    state.listeningWaiters.clear();
  };

  await connect();
  return {
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      const open = client;
      client = null;
      state.listening = false;
      if (open) await open.end().catch(() => undefined);
    },
  };
}

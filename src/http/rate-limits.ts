import type { NextFunction, Request, Response } from "express";
import {
  ipKeyGenerator,
  rateLimit,
  type Options,
  type Store,
} from "express-rate-limit";
import { auditContextOf } from "../audit/routes.js";
import { recordAudit } from "../audit/service.js";
import type { Clock } from "../clock.js";
import { dialectOf } from "../db/dialect.js";
import type { Db } from "../db/index.js";
import type { Deps } from "../deps.js";
import {
  countRateLimitHit,
  deleteEndedRateLimitCounters,
  deleteRateLimitCounter,
  findRateLimitCounter,
  uncountRateLimitHit,
  type RateLimitCounter,
} from "./rate-limit-repository.js";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;

/** Signed-in people are counted per account, others per network address. */
export function whoKey(req: Request): string {
  return req.user
    ? `user:${req.user.id}`
    : `ip:${ipKeyGenerator(req.ip ?? "")}`;
}

export interface LimitOptions {
  /** Names the limit in the audit log. */
  name: string;
  windowMs: number;
  limit: number;
  /** Said to the person, on a friendly page, when they hit the limit. */
  message: string;
  key?: (req: Request) => string;
  /** Count only some responses (for example only "not found" answers). */
  counts?: (req: Request, res: Response) => boolean;
  /**
   * Answers a refused request instead of the error page: a form shown
   * again with what was typed and the message next to it (status 429).
   */
  refused?: (req: Request, res: Response, message: string) => Promise<void>;
  /**
   * One counter per person whichever way they come: the API's limit of
   * the same name (api/http.ts perAccountLimit) counts into it too.
   */
  shared?: boolean;
}

type Counters = Map<string, { hits: number; resetAt: number }>;

/** The counters of the limits shared between channels, per database (per app). */
const sharedByApp = new WeakMap<object, Map<string, Counters>>();

/**
 * The one set of counters a limit `name` keeps for this app, shared by the
 * web's limiter and the API's: 30 comments on the web and one by the API
 * are 31 of the same 30. Keys are the same (`user:<id>`) on both.
 */
export function sharedCounters(deps: Pick<Deps, "db">, name: string): Counters {
  let byName = sharedByApp.get(deps.db);
  if (!byName) sharedByApp.set(deps.db, (byName = new Map()));
  let counters = byName.get(name);
  if (!counters) byName.set(name, (counters = new Map()));
  return counters;
}

/** Above this many counters, expired ones are dropped before adding one. */
const PRUNE_AT = 10_000;

/**
 * Fixed windows on the app's clock, like express-rate-limit's memory store
 * but on deps.clock, so a test can move time past a window.
 */
export class ClockStore implements Store {
  readonly localKeys = true;
  private windowMs = MINUTE_MS;
  constructor(
    private readonly clock: Clock,
    /** Counters shared with another limiter (sharedCounters), or its own. */
    private readonly counters: Counters = new Map(),
  ) {}

  init(options: Options) {
    this.windowMs = options.windowMs;
  }

  private counter(key: string) {
    const now = this.clock.now().getTime();
    let counter = this.counters.get(key);
    if (!counter || counter.resetAt <= now) {
      if (this.counters.size >= PRUNE_AT)
        for (const [k, c] of this.counters)
          if (c.resetAt <= now) this.counters.delete(k);
      counter = { hits: 0, resetAt: now + this.windowMs };
      this.counters.set(key, counter);
    }
    return counter;
  }

  /**
   * The reset in wall-clock time: express-rate-limit compares it with
   * Date.now() (headers, and whether to give back an uncounted request).
   */
  private info(counter: { hits: number; resetAt: number }) {
    const left = counter.resetAt - this.clock.now().getTime();
    return { totalHits: counter.hits, resetTime: new Date(Date.now() + left) };
  }

  get(key: string) {
    return this.info(this.counter(key));
  }

  increment(key: string) {
    const counter = this.counter(key);
    counter.hits += 1;
    return this.info(counter);
  }

  decrement(key: string) {
    const counter = this.counters.get(key);
    if (counter && counter.hits > 0) counter.hits -= 1;
  }

  resetKey(key: string) {
    this.counters.delete(key);
  }
}

/**
 * A key as PostgreSQL's text can hold it: keys carry what was typed (an
 * email), and text has no NUL character, so "%" and NUL are escaped.
 */
function stored(key: string): string {
  return key.replaceAll("%", "%25").replaceAll("\u0000", "%00");
}

/**
 * The counters of one instance's database (PostgreSQL, several app
 * instances): every instance counts into the same row of rate_limit_hits,
 * so a limit holds across the load balancer. Windows are fixed, on the
 * app's clock, as ClockStore's.
 */
export class DatabaseStore implements Store {
  readonly localKeys = false;
  /** Keeps express-rate-limit's "counted twice" check per limit. */
  readonly prefix: string;
  private windowMs = MINUTE_MS;
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    /** The limit's name: its rows, shared by every limiter of that name. */
    private readonly name: string,
  ) {
    this.prefix = `${name}:`;
  }

  init(options: Options) {
    this.windowMs = options.windowMs;
  }

  private info(counter: RateLimitCounter | undefined) {
    const now = this.clock.now().getTime();
    const resetAt = counter?.resetAt ?? now + this.windowMs;
    return {
      totalHits: counter?.hits ?? 0,
      resetTime: new Date(Date.now() + (resetAt - now)),
    };
  }

  async get(key: string) {
    const now = this.clock.now().getTime();
    return this.info(
      await findRateLimitCounter(this.db, this.name, stored(key), now),
    );
  }

  async increment(key: string) {
    const now = this.clock.now().getTime();
    return this.info(
      await countRateLimitHit(
        this.db,
        this.name,
        stored(key),
        now,
        this.windowMs,
      ),
    );
  }

  async decrement(key: string) {
    await uncountRateLimitHit(
      this.db,
      this.name,
      stored(key),
      this.clock.now().getTime(),
    );
  }

  async resetKey(key: string) {
    await deleteRateLimitCounter(this.db, this.name, stored(key));
  }
}

/**
 * Where the counters of the limit `name` live, chosen here once for every
 * limiter: in memory on SQLite (one process, no query per request), in the
 * database on PostgreSQL (several instances count together). `shared`: the
 * web's and the API's limiters of this name count into one counter; in the
 * database every limiter of a name does.
 */
export function counterStore(
  deps: Pick<Deps, "db" | "clock">,
  name: string,
  options: { shared?: boolean } = {},
): Store {
  if (dialectOf(deps.db) === "postgres")
    return new DatabaseStore(deps.db, deps.clock, name);
  return new ClockStore(
    deps.clock,
    options.shared ? sharedCounters(deps, name) : undefined,
  );
}

/** Deletes the database counters whose window ended (the scheduler's round). */
export function pruneRateLimitCounters(deps: Pick<Deps, "db" | "clock">) {
  return deleteEndedRateLimitCounters(deps.db, deps.clock.now().getTime());
}

/**
 * A rate limit with a clear page and an audit entry when it is hit, so
 * brute force and ID enumeration are both slow and visible.
 */
export function limiter(
  deps: Pick<Deps, "db" | "clock" | "config">,
  options: LimitOptions,
) {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    skip: () => !deps.config.rateLimits,
    standardHeaders: "draft-7",
    legacyHeaders: false,
    keyGenerator: options.key ?? whoKey,
    store: counterStore(deps, options.name, { shared: options.shared }),
    ...(options.counts
      ? {
          skipSuccessfulRequests: true,
          requestWasSuccessful: (req: Request, res: Response) =>
            !options.counts!(req, res),
        }
      : {}),
    handler: refusal(deps, options),
  });
}

/** Audits a refused request and answers it with the limit's page or form. */
function refusal(deps: Pick<Deps, "db" | "clock">, options: LimitOptions) {
  return async (req: Request, res: Response, next: NextFunction) => {
    try {
      await recordAudit(deps.db, {
        action: "auth.rate_limited",
        actor: req.user ?? null,
        details: { limit: options.name },
        request: auditContextOf(req),
        at: deps.clock.now(),
      });
    } finally {
      if (options.refused)
        await options.refused(req, res, options.message).catch(next);
      else renderRefusal(res, options.message);
    }
  };
}

/**
 * A limit on an outcome every request can have (a "not found"), for a
 * limiter in front of every page: the counter is read before the request
 * and written only when the outcome counts. express-rate-limit writes a hit
 * before each request and takes it back after, which on PostgreSQL was two
 * writes on one row per page view, the same row for all of a person's
 * requests at once. Within an instance a read waits for that key's
 * counting still under way, so a run of 404s is never read short.
 */
export function outcomeLimiter(
  deps: Pick<Deps, "db" | "clock" | "config" | "logger">,
  options: LimitOptions & { counts: (req: Request, res: Response) => boolean },
) {
  const store = counterStore(deps, options.name);
  store.init?.({ windowMs: options.windowMs } as Options);
  const pending = new Map<string, Promise<unknown>>();
  const refuse = refusal(deps, options);
  return async (req: Request, res: Response, next: NextFunction) => {
    if (!deps.config.rateLimits) return next();
    const key = (options.key ?? whoKey)(req);
    await pending.get(key);
    const { totalHits } = (await store.get!(key)) ?? { totalHits: 0 };
    if (totalHits >= options.limit) return refuse(req, res, next);
    res.on("finish", () => {
      if (!options.counts(req, res)) return;
      const counted = Promise.resolve(store.increment(key))
        .catch((err) =>
          deps.logger.error({ err, limit: options.name }, "could not count"),
        )
        .finally(() => {
          if (pending.get(key) === counted) pending.delete(key);
        });
      pending.set(key, counted);
    });
    next();
  };
}

function renderRefusal(res: Response, message: string) {
  res.locals.currentUser ??= null;
  res.locals.nav ??= [];
  res.locals.flash ??= [];
  res.locals.csrfToken ??= () => "";
  res.status(429).render("errors/error", {
    title: "Too many requests",
    status: 429,
    message,
  });
}

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
import type { Deps } from "../deps.js";

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
    store: new ClockStore(
      deps.clock,
      options.shared ? sharedCounters(deps, options.name) : undefined,
    ),
    ...(options.counts
      ? {
          skipSuccessfulRequests: true,
          requestWasSuccessful: (req: Request, res: Response) =>
            !options.counts!(req, res),
        }
      : {}),
    handler: async (req: Request, res: Response, next: NextFunction) => {
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
    },
  });
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

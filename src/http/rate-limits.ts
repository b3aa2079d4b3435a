import type { Request, Response } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import { auditContextOf } from "../audit/routes.js";
import { recordAudit } from "../audit/service.js";
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
    ...(options.counts
      ? {
          skipSuccessfulRequests: true,
          requestWasSuccessful: (req: Request, res: Response) =>
            !options.counts!(req, res),
        }
      : {}),
    handler: async (req: Request, res: Response) => {
      try {
        await recordAudit(deps.db, {
          action: "auth.rate_limited",
          actor: req.user ?? null,
          details: { limit: options.name },
          request: auditContextOf(req),
          at: deps.clock.now(),
        });
      } finally {
        res.locals.currentUser ??= null;
        res.locals.nav ??= [];
        res.locals.flash ??= [];
        res.locals.csrfToken ??= () => "";
        res.status(429).render("errors/error", {
          title: "Too many requests",
          status: 429,
          message: options.message,
        });
      }
    },
  });
}

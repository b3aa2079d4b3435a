/**
 * The API's HTTP layer: bearer tokens instead of sessions, problem details
 * (RFC 9457) instead of pages, a rate limit per token, and the helpers a
 * route line declares itself with (scope, policy action, idempotent write).
 */
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { rateLimit } from "express-rate-limit";
import { createHash } from "node:crypto";
import {
  can,
  canAnswerFor,
  mustVerifyEmail,
  type GlobalAction,
  type ReportAction,
} from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { HttpError, NotFoundError } from "../http/errors.js";
import { counterStore, HOUR_MS, MINUTE_MS } from "../http/rate-limits.js";
import { loadReportFor } from "../reports/service.js";
import type { Participation } from "../reports/participations.js";
import { participationFor } from "../reports/participations-service.js";
import { accessFacts, type Report } from "../reports/types.js";
import {
  claimIdempotencyKey,
  findAnswer,
  pruneIdempotencyKeys,
  releaseIdempotencyKey,
  storeAnswer,
} from "./token-repository.js";
import { callerOf, type ApiScope, type TokenCaller } from "./tokens.js";

export const PROBLEM_TYPE = "application/problem+json";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  412: "Precondition Failed",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  428: "Precondition Required",
  429: "Too Many Requests",
  500: "Internal Server Error",
};

/** An answer the API gives as problem details; `extra` adds members (errors, allowed_steps). */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export function problemBody(
  status: number,
  detail: string,
  extra: Record<string, unknown> = {},
): Problem {
  return {
    type: "about:blank",
    title: TITLES[status] ?? "Error",
    status,
    detail,
    ...extra,
  };
}

/**
 * The one "not found", byte for byte, for a report (or file) that does not
 * exist and one the caller may not see.
 */
export const NOT_FOUND_BODY = JSON.stringify(
  problemBody(404, "There is no such resource, or you may not see it."),
);

export function sendProblem(res: Response, problem: Problem | string) {
  const body = typeof problem === "string" ? problem : JSON.stringify(problem);
  const status =
    typeof problem === "string"
      ? (JSON.parse(problem) as Problem).status
      : problem.status;
  res.status(status).type(PROBLEM_TYPE).send(body);
}

/** What the token's request carries through the route's middleware. */
export interface ApiContext {
  caller: TokenCaller;
  request: AuditRequestContext;
}

export const apiContext = (res: Response): ApiContext =>
  res.locals.api as ApiContext;
export const loadedReport = (res: Response): Report =>
  res.locals.report as Report;

const UNAUTHORIZED = JSON.stringify(
  problemBody(
    401,
    "Send a valid personal access token: Authorization: Bearer dd_pat_…. It may be missing, expired or revoked, or its account may not use the API now.",
  ),
);

/**
 * Bearer authentication: every token is checked against its user's
 * account as it stands now (tokens.ts callerOf). Cookies are never read on
 * the API, so no session and no CSRF token is involved.
 */
export function bearer(deps: Deps): RequestHandler {
  return async (req, res, next) => {
    const header = req.get("authorization") ?? "";
    const match = /^Bearer ([\x21-\x7e]{1,200})$/i.exec(header);
    const caller = match
      ? await callerOf(deps, match[1]!, req.ip ?? null)
      : null;
    if (!caller) {
      res.set(
        "WWW-Authenticate",
        match
          ? 'Bearer realm="api", error="invalid_token"'
          : 'Bearer realm="api"',
      );
      return sendProblem(res, UNAUTHORIZED);
    }
    const context: ApiContext = {
      caller,
      request: {
        ip: req.ip ?? null,
        userAgent: req.get("user-agent") ?? null,
        apiToken: caller.token.publicId,
      },
    };
    res.locals.api = context;
    // Report data: no browser or proxy keeps it, as no signed-in page.
    res.set("Cache-Control", "no-store");
    next();
  };
}

export const API_RATE_WINDOW_MS = 15 * MINUTE_MS;
export const API_RATE_LIMIT = 600;

/** Per token, with the IETF RateLimit and RateLimit-Policy headers. */
export function perTokenLimit(deps: Deps): RequestHandler {
  return rateLimit({
    windowMs: API_RATE_WINDOW_MS,
    limit: API_RATE_LIMIT,
    skip: () => !deps.config.rateLimits,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    identifier: "per-token",
    keyGenerator: (_req, res) => `token:${apiContext(res).caller.token.id}`,
    store: counterStore(deps, "api_token"),
    handler: (_req: Request, res: Response) =>
      sendProblem(
        res,
        problemBody(
          429,
          "This token sent too many requests. Wait until the time the RateLimit header names.",
        ),
      ),
  });
}

/**
 * A limit on one kind of write per account, as the web's forms have
 * (filing, comments), so the API is not the way around them: one counter
 * per account with the web's limiter of the same name (rate-limits.ts
 * sharedCounters). Refusals are audited like the web's.
 */
export function perAccountLimit(
  deps: Deps,
  options: { name: string; windowMs: number; limit: number; message: string },
): RequestHandler {
  return rateLimit({
    windowMs: options.windowMs,
    limit: options.limit,
    skip: () => !deps.config.rateLimits,
    standardHeaders: false,
    legacyHeaders: false,
    // The same key and counters as the web's limiter of this name.
    keyGenerator: (_req, res) => `user:${apiContext(res).caller.user.id}`,
    store: counterStore(deps, options.name, { shared: true }),
    // Only what went through counts, as on the web.
    skipFailedRequests: true,
    handler: async (_req: Request, res: Response) => {
      const { caller, request } = apiContext(res);
      await recordAudit(deps.db, {
        action: "auth.rate_limited",
        actor: caller.actor,
        details: { limit: options.name },
        request,
        at: deps.clock.now(),
      });
      sendProblem(res, problemBody(429, options.message));
    },
  });
}

/** The scope a route needs; readable on the middleware (the API access matrix reads it). */
export function needs(scope: ApiScope) {
  const check: RequestHandler = (_req, res, next) => {
    if (!apiContext(res).caller.scopes.has(scope)) {
      res.set(
        "WWW-Authenticate",
        `Bearer realm="api", error="insufficient_scope", scope="${scope}"`,
      );
      return sendProblem(
        res,
        problemBody(403, `This token lacks the scope ${scope}.`),
      );
    }
    next();
  };
  return Object.assign(check, { apiScope: scope });
}

/** A global action of the policy (filing): without it, 403. */
export function allowed(action: GlobalAction) {
  const check: RequestHandler = (_req, res, next) => {
    const { actor } = apiContext(res).caller;
    if (!can(actor, action))
      return sendProblem(
        res,
        problemBody(
          403,
          action === "report:create" && mustVerifyEmail(actor)
            ? "Confirm your email address first, with the link we mailed you: reports are filed only from a confirmed address."
            : "Your account may not do this.",
        ),
      );
    next();
  };
  return Object.assign(check, { allowedAction: action });
}

/**
 * Loads the report named in the path, only if the policy lets the caller
 * see it and take `action` on it: otherwise the one 404.
 */
export function onReport(deps: Deps, action: ReportAction) {
  const load: RequestHandler = async (req, res, next) => {
    const { actor } = apiContext(res).caller;
    let report: Report;
    try {
      report = await loadReportFor(deps, actor, String(req.params.id));
    } catch {
      return sendProblem(res, NOT_FOUND_BODY);
    }
    if (!can(actor, action, accessFacts(report)))
      return sendProblem(res, NOT_FOUND_BODY);
    res.locals.report = report;
    next();
  };
  return Object.assign(load, { allowedAction: action });
}

/**
 * After onReport: loads the organization the path names (its public ID),
 * only if the caller answers for it on this report (policy.ts
 * canAnswerFor); a forged, removed or another organization's ID is the
 * same 404 as a missing report.
 */
export function onParticipant(deps: Deps) {
  const load: RequestHandler = async (req, res, next) => {
    const { actor } = apiContext(res).caller;
    const report = loadedReport(res);
    const facts = accessFacts(report);
    try {
      res.locals.participation = await participationFor(
        deps,
        report,
        String(req.params.org),
        (p) => canAnswerFor(actor, facts, p.organizationId),
      );
    } catch (err) {
      if (err instanceof NotFoundError) return sendProblem(res, NOT_FOUND_BODY);
      throw err;
    }
    next();
  };
  return load;
}

export const loadedParticipation = (res: Response): Participation =>
  res.locals.participation as Participation;

/** What a route's handler answers; the wrapper writes it (and keeps it, for a retried write). */
export interface ApiAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

type Handler = (req: Request, res: Response) => Promise<ApiAnswer>;

function send(res: Response, answer: ApiAnswer) {
  if (answer.headers) res.set(answer.headers);
  res.status(answer.status).json(answer.body);
}

/** A read: the handler's answer as JSON. */
export function read(handler: Handler): RequestHandler {
  return async (req, res) => send(res, await handler(req, res));
}

const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,200}$/;
const IDEMPOTENCY_KEEP_MS = 24 * HOUR_MS;

/**
 * A write: with an Idempotency-Key, the first answer is kept (per token
 * and key) and a retry gets it again instead of a second filing; with
 * If-Match, a report changed since the caller read it answers 412.
 * `etagOf` gives the current ETag of the report the route loaded.
 */
export function write(
  deps: Deps,
  handler: Handler,
  etagOf?: (req: Request, res: Response) => Promise<string>,
): RequestHandler {
  return async (req, res) => {
    const { caller } = apiContext(res);
    const key = req.get("idempotency-key");
    if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
      throw new ApiProblem(
        400,
        "The Idempotency-Key header must be 1 to 200 printable ASCII characters.",
      );
    const answerOf = async (): Promise<ApiAnswer> => {
      if (etagOf) {
        const ifMatch = req.get("if-match");
        if (ifMatch !== undefined) {
          const current = await etagOf(req, res);
          const listed = ifMatch.split(",").map((t) => t.trim());
          if (!listed.includes("*") && !listed.includes(current))
            return problemAnswer(
              412,
              "The report changed since you read it (its ETag differs). Read it again and retry.",
              {},
              { ETag: current },
            );
        }
      }
      try {
        return await handler(req, res);
      } catch (err) {
        if (err instanceof ApiProblem)
          return problemAnswer(err.status, err.detail, err.extra, err.headers);
        throw err;
      }
    };
    if (key === undefined) return send(res, await answerOf());

    const tokenId = caller.token.id;
    const requestHash = createHash("sha256")
      .update(`${req.method} ${req.originalUrl}\n`)
      .update(
        Buffer.isBuffer(req.body)
          ? req.body
          : Buffer.from(JSON.stringify(req.body ?? null)),
      )
      .digest("hex");
    const now = deps.clock.now();
    await pruneIdempotencyKeys(
      deps.db,
      new Date(now.getTime() - IDEMPOTENCY_KEEP_MS),
    );
    if (!(await claimIdempotencyKey(deps.db, tokenId, key, requestHash, now))) {
      const stored = await findAnswer(deps.db, tokenId, key);
      if (stored && stored.requestHash !== requestHash)
        throw new ApiProblem(
          422,
          "This Idempotency-Key was used for another request. Use a new key for a new request.",
        );
      if (!stored || stored.status === null)
        throw new ApiProblem(
          409,
          "A request with this Idempotency-Key is still being answered. Retry in a moment.",
        );
      res.set(stored.headers);
      res.set("Idempotent-Replayed", "true");
      const type = stored.status >= 400 ? PROBLEM_TYPE : "application/json";
      return res.status(stored.status).type(type).send(stored.body);
    }
    let answer: ApiAnswer;
    try {
      answer = await answerOf();
    } catch (err) {
      await releaseIdempotencyKey(deps.db, tokenId, key);
      throw err;
    }
    await storeAnswer(deps.db, tokenId, key, {
      status: answer.status,
      headers: answer.headers ?? {},
      body: JSON.stringify(answer.body),
    });
    send(res, answer);
  };
}

/** Problem details as an answer (a write's refusal is kept for its retries too). */
export function problemAnswer(
  status: number,
  detail: string,
  extra: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): ApiAnswer {
  return {
    status,
    body: problemBody(status, detail, extra),
    headers: { ...headers, "Content-Type": PROBLEM_TYPE },
  };
}

/** The API's error handler: problem details, never a page. */
export function apiErrors(deps: Deps) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    // A download that failed midway set a file's headers: not the error's.
    res.removeHeader("Content-Disposition");
    res.removeHeader("Content-Security-Policy");
    if (err instanceof ApiProblem) {
      res.set(err.headers);
      return sendProblem(res, problemBody(err.status, err.detail, err.extra));
    }
    if (err instanceof HttpError && err.status === 404)
      return sendProblem(res, NOT_FOUND_BODY);
    if (err instanceof HttpError && err.status < 500)
      return sendProblem(res, problemBody(err.status, err.message));
    const e = err as { type?: string; status?: number };
    if (e?.status === 404) return sendProblem(res, NOT_FOUND_BODY);
    if (e?.type === "entity.too.large")
      return sendProblem(res, problemBody(413, "What you sent is too large."));
    if (e?.type === "entity.parse.failed" || e?.status === 400)
      return sendProblem(
        res,
        problemBody(400, "The request body is not valid JSON."),
      );
    if (typeof e?.status === "number" && e.status >= 400 && e.status < 500)
      return sendProblem(
        res,
        problemBody(e.status, "The request could not be handled."),
      );
    deps.logger.error({ err, url: req.originalUrl }, "API request failed");
    sendProblem(
      res,
      problemBody(
        500,
        "Something went wrong on our side. It has been logged; please try again.",
      ),
    );
  };
}

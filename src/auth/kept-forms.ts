import { signedSessionId } from "./session.js";
import type { NextFunction, Request, Response } from "express";
import type { Deps } from "../deps.js";
import { HttpError } from "../http/errors.js";
import { HOUR_MS, limiter } from "../http/rate-limits.js";
import { readTextFields } from "../http/uploads.js";
import { formValues } from "../http/validation.js";
import {
  findExpiredSignIn,
  type ExpiredSignIn,
} from "./expired-session-repository.js";

/** The one form kept over an expired session: a report is long to type. */
const KEPT_FORM_PATH = "/reports/new";
/** A report form holds far less; anything bigger is not a report. */
export const KEPT_FORM_MAX_BYTES = 64 * 1024;
/** A form is kept only for a session that ended this recently... */
export const ENDED_WITHIN_MS = 24 * HOUR_MS;
/** ...and offered back only this long after it was kept. */
export const KEPT_FORM_TTL_MS = 2 * HOUR_MS;

const TOO_LONG =
  "Your session ended before the report was sent, and the report is too long to keep until you sign in again. Go back, copy what you wrote, sign in and paste it into a new report.";

/**
 * A report must not be lost to an expired session, and an anonymous request
 * must not park data here. So a form is kept only when the browser's session
 * was signed in and ended by idle expiry, only with that session's own CSRF
 * token (a cross-site form has none), bound to that user, capped, limited
 * per account and never filed automatically: it is shown again, filled in,
 * after that same user signs in.
 */
export function expiredFormKeeper(deps: Deps, cookieName: string) {
  const keepLimit = limiter(deps, {
    name: "kept_form",
    windowMs: HOUR_MS,
    limit: 10,
    message:
      "Many reports were kept for after sign-in in the last hour. Sign in and send the report again.",
    key: (req) => `kept_form:user:${req.expiredSignIn?.userId}`,
  });

  /** Runs before the session is loaded: loading an expired one forgets its id. */
  const recognize = async (
    req: Request,
    _res: Response,
    next: NextFunction,
  ) => {
    if (req.method === "POST" && req.path === KEPT_FORM_PATH) {
      const sid = signedSessionId(
        req.headers.cookie,
        cookieName,
        deps.config.sessionSecret,
      );
      const now = deps.clock.now().getTime();
      if (sid)
        req.expiredSignIn = await findExpiredSignIn(
          deps.db,
          sid,
          now,
          now - ENDED_WITHIN_MS,
        );
    }
    next();
  };

  /** The CSRF check failed: keep the form if this is that case, else refuse. */
  const keep = (
    req: Request,
    res: Response,
    next: NextFunction,
    csrfError: unknown,
  ) => {
    const ended = req.expiredSignIn;
    if (req.user || !ended?.csrfToken || req.path !== KEPT_FORM_PATH)
      return next(csrfError);
    keepLimit(req, res, () => {
      keepForm(req, res, ended).then(
        (kept) => (kept ? undefined : next(csrfError)),
        next,
      );
    });
  };

  const keepForm = async (
    req: Request,
    res: Response,
    ended: ExpiredSignIn,
  ): Promise<boolean> => {
    // Files are never read for a signed-out request: they are dropped unwritten.
    const { body, tooLarge } = req.is("multipart/form-data")
      ? await readTextFields(req, res, KEPT_FORM_MAX_BYTES)
      : { body: req.body as unknown, tooLarge: false };
    const {
      _csrf: token,
      keptAttachments: _files,
      ...values
    } = formValues(body);
    if (token !== ended.csrfToken) return false;
    if (
      tooLarge ||
      Buffer.byteLength(JSON.stringify(values)) > KEPT_FORM_MAX_BYTES
    )
      throw new HttpError(413, TOO_LONG);
    req.session.pendingForm = {
      action: KEPT_FORM_PATH,
      values,
      savedAt: deps.clock.now().getTime(),
      userId: ended.userId,
    };
    req.session.returnTo = KEPT_FORM_PATH;
    (req.session.flash ??= []).push({
      kind: "info",
      message:
        "Your session ended before the report was sent. Sign in and it will be shown again, filled in.",
    });
    res.redirect(303, "/login");
    return true;
  };

  return { recognize, keep };
}

/** Fields never written back into a page. */
const NEVER_SHOWN = /password|^code$|secret|recovery/i;

/**
 * What a form sent, its text fields only, to show it again when it could
 * not be saved (the database was unreachable): the parsed body, or a
 * multipart one read now (files are dropped). Passwords are left out.
 */
export async function sentTextFields(
  req: Request,
  res: Response,
): Promise<Record<string, string | string[]>> {
  let body: unknown = req.body;
  const empty = !body || Object.keys(body as object).length === 0;
  if (empty && req.is("multipart/form-data") && req.readable)
    body = await readTextFields(req, res, KEPT_FORM_MAX_BYTES).then(
      (read) => read.body,
      () => ({}),
    );
  const fields: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(formValues(body)))
    if (!NEVER_SHOWN.test(key)) fields[key] = value as string | string[];
  return fields;
}

/** The kept form for this user, if it is theirs and still fresh. */
export function keptFormFor(
  pending: Request["session"]["pendingForm"],
  userId: number,
  now: Date,
) {
  return pending?.action === KEPT_FORM_PATH &&
    pending.userId === userId &&
    now.getTime() - pending.savedAt < KEPT_FORM_TTL_MS
    ? pending
    : undefined;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The browser's session was signed in and ended by idle expiry. */
      expiredSignIn?: ExpiredSignIn;
    }
  }
}

import type { NextFunction, Request, Response } from "express";
import { flash, safeReturnPath } from "../http/middleware.js";
import { homeFor } from "../http/navigation.js";
import { toActor } from "../users/service.js";
import type { User } from "../users/types.js";

/** Signs a user in on a fresh session (no fixation), keeping where they were going. */
export function signIn(
  req: Request,
  res: Response,
  next: NextFunction,
  user: User,
  welcome?: string,
) {
  const returnTo = req.session.returnTo;
  const pendingForm = req.session.pendingForm;
  req.logIn(user, (err) => {
    if (err) return next(err);
    req.session.client = {
      ip: req.ip ?? null,
      userAgent: req.get("user-agent") ?? null,
    };
    if (pendingForm?.userId === user.id) req.session.pendingForm = pendingForm;
    if (welcome) flash(req, "success", welcome);
    redirectOnceStored(
      req,
      res,
      next,
      returnTo ? safeReturnPath(returnTo) : homeFor(toActor(user)),
    );
  });
}

/**
 * Redirects once the session is in the store, or shows the error when it
 * could not be stored: the session middleware (src/auth/session.ts) holds
 * every answer until its save, but a save that fails there is only
 * logged, and a sign-in that was not stored must not look like one.
 */
function redirectOnceStored(
  req: Request,
  res: Response,
  next: NextFunction,
  to: string,
) {
  req.session.save((err) => {
    if (err) return next(err);
    res.redirect(303, to);
  });
}

/**
 * The password was right and the account has two-factor sign-in: start a
 * fresh session that only remembers who is halfway in, and ask for the code.
 */
export function askForSecondFactor(
  req: Request,
  res: Response,
  next: NextFunction,
  user: User,
  now: Date,
) {
  const { returnTo, pendingForm } = req.session;
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.twoFactorPending = { userId: user.id, since: now.getTime() };
    if (returnTo) req.session.returnTo = returnTo;
    if (pendingForm?.userId === user.id) req.session.pendingForm = pendingForm;
    redirectOnceStored(req, res, next, "/login/2fa");
  });
}

import type { NextFunction, Request, Response } from "express";
import { can, type GlobalAction } from "../auth/policy.js";
import { toActor } from "../users/service.js";
import { NotFoundError } from "./errors.js";

/** The signed-in actor, or null. */
export function actorOf(req: Request) {
  return req.user ? toActor(req.user) : null;
}

/** A same-site path to come back to after signing in; anything else goes home. */
export function safeReturnPath(value: unknown): string {
  return typeof value === "string" && /^\/(?![/\\])[\x21-\x7e]*$/.test(value)
    ? value
    : "/";
}

/** Signed-out visitors are sent to sign in and brought back afterwards (GET only). */
export function requireSignIn(req: Request, res: Response, next: NextFunction) {
  if (req.user) return next();
  if (req.method === "GET")
    req.session.returnTo = safeReturnPath(req.originalUrl);
  res.redirect(303, "/login");
}

/**
 * Gate for pages that belong to a role (queue, admin pages). A signed-in user
 * without the right sees "not found", the same as for a page that does not exist.
 */
export function requireAllowed(action: GlobalAction) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!req.user) return requireSignIn(req, res, next);
    if (!can(actorOf(req), action)) return next(new NotFoundError());
    next();
  };
}

export function flash(
  req: Request,
  kind: "success" | "error" | "info",
  message: string,
) {
  (req.session.flash ??= []).push({ kind, message });
}

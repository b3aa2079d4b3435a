import { Router, type Request, type Response } from "express";
import { auditContextOf } from "../audit/routes.js";
import { PASSWORD_MIN } from "../auth/passwords.js";
import { can } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { actorOf, flash } from "../http/middleware.js";
import { HOUR_MS, limiter } from "../http/rate-limits.js";
import {
  claimForAccount,
  claimState,
  claimWithNewAccount,
  type ClaimState,
} from "./intake.js";

const PROBLEMS = {
  unknown: {
    status: 404,
    title: "Link not valid",
    message:
      "This claim link is not valid: check that the whole link from the mail was opened.",
  },
  expired: {
    status: 410,
    title: "Link expired",
    message:
      "This claim link has expired. The report is safe with the CERT: write to the intake address again, quoting its tracking ID, and staff will attach it to your account.",
  },
  used: {
    status: 410,
    title: "Link already used",
    message:
      "This report has been claimed already: the link works once. Sign in to the account it was attached to, where the report is listed under your reports.",
  },
} as const;

const field = (body: unknown, name: string): string => {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : "";
};

/**
 * The claim link of a report filed by email (src/inbound/intake.ts): a new
 * address chooses a password for a new account; a signed-in researcher
 * confirms that the report joins their account. Nothing is attached by
 * opening the page: only the form's POST (with its CSRF token) claims.
 */
export function claimRoutes(deps: Deps) {
  const router = Router();
  const claimLimit = limiter(deps, {
    name: "claim",
    windowMs: HOUR_MS,
    limit: 30,
    message: "Too many attempts from your network. Wait an hour and try again.",
  });

  const render = (
    req: Request,
    res: Response,
    token: string,
    state: ClaimState,
    status = 200,
    errors: Record<string, string> = {},
    values: Record<string, string> = {},
  ) => {
    if (!state.ok) {
      const problem = PROBLEMS[state.problem];
      return res.status(problem.status).render("claim/invalid", {
        title: problem.title,
        message: problem.message,
      });
    }
    const actor = actorOf(req);
    res.status(status).render("claim/claim", {
      title: `Claim report ${state.publicId}`,
      token,
      publicId: state.publicId,
      sender: state.record.sender,
      mode: actor
        ? can(actor, "report:claim")
          ? "confirm"
          : "wrong-role"
        : state.accountExists
          ? "sign-in"
          : "new-account",
      email: req.user?.email ?? null,
      passwordMin: PASSWORD_MIN,
      errors,
      values,
    });
  };

  router.get("/claim/:token", async (req, res) => {
    const token = String(req.params.token ?? "");
    const state = await claimState(deps, token);
    // Signing in brings the visitor back here to confirm.
    if (state.ok && !req.user) req.session.returnTo = `/claim/${token}`;
    render(req, res, token, state);
  });

  router.post("/claim/:token", claimLimit, async (req, res) => {
    const token = String(req.params.token ?? "");
    const actor = actorOf(req);
    if (actor) {
      const outcome = await claimForAccount(
        deps,
        token,
        actor,
        auditContextOf(req),
      );
      if (!outcome.ok) {
        const problem = outcome.errors.claim as keyof typeof PROBLEMS;
        if (problem) return render(req, res, token, { ok: false, problem });
        return render(
          req,
          res,
          token,
          await claimState(deps, token),
          422,
          outcome.errors,
        );
      }
      flash(
        req,
        "success",
        `Report ${outcome.value.publicId} is now in your account.`,
      );
      return res.redirect(303, `/reports/${outcome.value.publicId}`);
    }
    const values = { displayName: field(req.body, "displayName") };
    const outcome = await claimWithNewAccount(
      deps,
      token,
      {
        displayName: values.displayName,
        password: field(req.body, "password"),
        confirm: field(req.body, "confirm"),
      },
      auditContextOf(req),
    );
    if (!outcome.ok) {
      const problem = outcome.errors.claim as keyof typeof PROBLEMS;
      if (problem) return render(req, res, token, { ok: false, problem });
      return render(
        req,
        res,
        token,
        await claimState(deps, token),
        422,
        outcome.errors,
        values,
      );
    }
    req.session.returnTo = `/reports/${outcome.value.publicId}`;
    flash(
      req,
      "success",
      `Your account is made and report ${outcome.value.publicId} is in it. Sign in with ${outcome.value.email} and your new password.`,
    );
    res.redirect(303, "/login");
  });

  return router;
}

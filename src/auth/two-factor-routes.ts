import { Router, type Request, type Response } from "express";
import { rateLimit } from "express-rate-limit";
import { z } from "zod";
import { recordAudit } from "../audit/service.js";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { flash, requireSignIn } from "../http/middleware.js";
import { counterStore, HOUR_MS, limiter } from "../http/rate-limits.js";
import { parseForm } from "../http/validation.js";
import { findUserById } from "../users/repository.js";
import { isStaffRole } from "./policy.js";
import { signIn } from "./sign-in.js";
import {
  confirmEnrollment,
  disableTwoFactor,
  recoveryCodesFile,
  recoveryCodesLeft,
  regenerateRecoveryCodes,
  startEnrollment,
  verifySecondFactor,
} from "./two-factor.js";

/** How long a half-finished sign-in (password right, code not yet) lasts. */
const PENDING_MS = 5 * 60_000;
const WINDOW_MS = 15 * 60_000;

const codeSchema = z.object({
  code: z
    .string({ error: "Enter the code." })
    .trim()
    .min(1, "Enter the code.")
    .max(40, "That is not a code."),
});
const regenerateSchema = z.object({
  regenPassword: z.string().max(1024).default(""),
  regenCode: z.string().trim().max(40, "That is not a code.").default(""),
});
const downloadSchema = z.object({
  codes: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(z.array(z.string().max(40)).max(20)),
});

const disableSchema = codeSchema.extend({
  password: z
    .string({ error: "Enter your password." })
    .min(1, "Enter your password."),
});

export function twoFactorRoutes(deps: Deps) {
  const router = Router();
  const enabled = deps.config.rateLimits;

  /** The account halfway through signing in, if the step has not expired. */
  async function pendingUser(req: Request) {
    const pending = req.session.twoFactorPending;
    if (!pending || deps.clock.now().getTime() - pending.since > PENDING_MS)
      return undefined;
    const user = await findUserById(deps.db, pending.userId);
    return user && !user.disabledAt && user.twoFactorEnabled ? user : undefined;
  }

  const renderChallenge = (res: Response, status: number, error?: string) =>
    res.status(status).render("auth/two-factor-challenge", {
      title: "Two-factor sign-in",
      errors: error ? { code: error } : {},
    });

  // Six digits are guessed in a million tries at most: a few per quarter
  // hour per account and per address keeps that out of reach.
  const tooMany = (_req: Request, res: Response) =>
    renderChallenge(
      res,
      429,
      "Too many wrong codes. Wait 15 minutes and sign in again.",
    );
  const perAccount = rateLimit({
    windowMs: WINDOW_MS,
    limit: 10,
    skip: () => !enabled,
    standardHeaders: false,
    legacyHeaders: false,
    store: counterStore(deps, "two_factor_account"),
    keyGenerator: (req) =>
      `2fa:${req.session.twoFactorPending?.userId ?? "none"}`,
    handler: tooMany,
  });
  const perIp = rateLimit({
    windowMs: WINDOW_MS,
    limit: 30,
    skip: () => !enabled,
    standardHeaders: "draft-7",
    legacyHeaders: false,
    store: counterStore(deps, "two_factor_ip"),
    handler: tooMany,
  });

  router.get("/login/2fa", async (req, res) => {
    if (!(await pendingUser(req))) return res.redirect(303, "/login");
    renderChallenge(res, 200);
  });

  router.post("/login/2fa", perIp, perAccount, async (req, res, next) => {
    const user = await pendingUser(req);
    if (!user) {
      flash(req, "info", "That sign-in took too long. Please start again.");
      return res.redirect(303, "/login");
    }
    const form = parseForm(codeSchema, req.body);
    if (!form.ok) return renderChallenge(res, 422, form.errors.code);
    const factor = await verifySecondFactor(
      deps,
      user,
      form.value.code,
      auditContextOf(req),
    );
    if (!factor) {
      await recordAudit(deps.db, {
        action: "auth.sign_in_failed",
        actor: null,
        target: { type: "user", id: user.publicId },
        details: { step: "second factor" },
        request: auditContextOf(req),
        at: deps.clock.now(),
      });
      return renderChallenge(
        res,
        401,
        "That code is not right, or was used already. Enter the current code from your app, or one of your recovery codes.",
      );
    }
    delete req.session.twoFactorPending;
    signIn(req, res, next, user);
  });

  router.get("/account/2fa", requireSignIn, async (req, res) => {
    const user = req.user!;
    if (user.twoFactorEnabled) {
      return res.render("auth/two-factor-status", {
        title: "Two-factor sign-in",
        codesLeft: await recoveryCodesLeft(deps, user),
        required: isStaffRole(user.role),
        errors: {},
        regenErrors: {},
      });
    }
    renderEnrollment(req, res, 200, {});
  });

  async function renderEnrollment(
    req: Request,
    res: Response,
    status: number,
    errors: Record<string, string>,
  ) {
    const enrollment = await startEnrollment(deps, req.user!);
    res.status(status).render("auth/two-factor-enroll", {
      title: "Set up two-factor sign-in",
      enrollment,
      required: isStaffRole(req.user!.role),
      errors,
    });
  }

  router.post("/account/2fa", requireSignIn, async (req, res) => {
    if (req.user!.twoFactorEnabled) return res.redirect(303, "/account/2fa");
    const form = parseForm(codeSchema, req.body);
    if (!form.ok) return renderEnrollment(req, res, 422, form.errors);
    const codes = await confirmEnrollment(
      deps,
      req.user!,
      form.value.code,
      auditContextOf(req),
    );
    if (!codes) {
      return renderEnrollment(req, res, 422, {
        code: "That code is not right. Check the time on your phone and enter the current 6-digit code.",
      });
    }
    showCodes(res, codes, "Two-factor sign-in is on");
  });

  /** Shown once, on this response only: they are stored as hashes. */
  function showCodes(res: Response, codes: string[], heading: string) {
    res.set("Cache-Control", "no-store");
    res.render("auth/recovery-codes", {
      title: "Your recovery codes",
      heading,
      codes,
    });
  }

  // The form checks the password: wrong tries are limited per account, as
  // signing in is, so a borrowed session cannot guess it here.
  const regenerateLimit = limiter(deps, {
    name: "recovery_codes",
    windowMs: HOUR_MS,
    limit: 10,
    message: "Too many wrong tries. Wait an hour and try again.",
    counts: (_req, res) => res.statusCode === 422,
  });
  router.post(
    "/account/2fa/recovery-codes",
    requireSignIn,
    regenerateLimit,
    async (req, res) => {
      const user = req.user!;
      if (!user.twoFactorEnabled) return res.redirect(303, "/account/2fa");
      const render = async (regenErrors: Record<string, string>) =>
        res.status(422).render("auth/two-factor-status", {
          title: "Two-factor sign-in",
          codesLeft: await recoveryCodesLeft(deps, user),
          required: isStaffRole(user.role),
          errors: {},
          regenErrors,
        });
      const form = parseForm(regenerateSchema, req.body);
      if (!form.ok) return render(form.errors);
      const outcome = await regenerateRecoveryCodes(
        deps,
        user,
        { password: form.value.regenPassword, code: form.value.regenCode },
        auditContextOf(req),
      );
      if (!outcome.ok)
        return render(
          Object.fromEntries(
            Object.entries(outcome.errors).map(([k, v]) => [
              k === "code" ? "regenCode" : "regenPassword",
              v,
            ]),
          ),
        );
      showCodes(res, outcome.codes, "New recovery codes");
    },
  );

  // The page that showed the codes sends them back: they are kept nowhere
  // in clear, and only this account's unused codes are written to the file.
  router.post(
    "/account/2fa/recovery-codes/download",
    requireSignIn,
    async (req, res) => {
      const form = parseForm(downloadSchema, req.body);
      const file = form.ok
        ? await recoveryCodesFile(deps, req.user!, form.value.codes)
        : null;
      if (file === null) {
        flash(
          req,
          "error",
          "Those are not your current recovery codes. Make new ones below to download them.",
        );
        return res.redirect(303, "/account/2fa");
      }
      res.set("Cache-Control", "no-store");
      res.attachment("disclosure-desk-recovery-codes.txt");
      res.type("text/plain; charset=utf-8").send(file);
    },
  );

  router.post("/account/2fa/disable", requireSignIn, async (req, res) => {
    const user = req.user!;
    if (!user.twoFactorEnabled || isStaffRole(user.role))
      return res.redirect(303, "/account/2fa");
    const form = parseForm(disableSchema, req.body);
    const render = (errors: Record<string, string>) =>
      res.status(422).render("auth/two-factor-status", {
        title: "Two-factor sign-in",
        codesLeft: null,
        required: false,
        errors,
        regenErrors: {},
      });
    if (!form.ok) return render(form.errors);
    const problem = await disableTwoFactor(
      deps,
      user,
      form.value.password,
      form.value.code,
      auditContextOf(req),
    );
    if (problem === "password")
      return render({ password: "That password is not right." });
    if (problem === "code")
      return render({ code: "That code is not right, or was used already." });
    flash(req, "success", "Two-factor sign-in is off.");
    res.redirect(303, "/account");
  });

  return router;
}

import { formatDateTime } from "../format.js";
import { Router, type Request, type Response } from "express";
import { z } from "zod";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireSignIn } from "../http/middleware.js";
import { formValues, parseForm, type FieldErrors } from "../http/validation.js";
import { HOUR_MS, limiter } from "../http/rate-limits.js";
import {
  changeEmailSchema,
  changePassword,
  changePasswordSchema,
  confirmEmailLink,
  endOtherSessions,
  forgotPasswordSchema,
  listSessions,
  readEmailLink,
  requestEmailChange,
  requestPasswordReset,
  sendEmailVerification,
} from "../users/account-service.js";
import {
  pgpKeySchema,
  pgpKeyView,
  removePgpKey,
  setPgpKey,
} from "../users/pgp-key-service.js";
import { setNotificationPreference } from "../users/service.js";
import { NOTIFY_LEVELS } from "../users/types.js";
import { PASSWORD_MIN } from "./passwords.js";
import { recoveryCodesLeft } from "./two-factor.js";
import {
  createApiToken,
  DEFAULT_EXPIRY_DAYS,
  revokeToken,
  SCOPE_LABELS,
  scopesFor,
  tokenFormSchema,
  tokenViews,
} from "../api/tokens.js";
import { accountWebhooks } from "../webhooks/service.js";

/**
 * The account page and the flows around an address and a password:
 * confirming an email, forgetting a password, changing either, and seeing
 * and ending one's sessions.
 */
export function accountSecurityRoutes(deps: Deps) {
  const router = Router();
  const forgotPerIp = limiter(deps, {
    name: "password_reset_ip",
    windowMs: HOUR_MS,
    limit: 20,
    message:
      "Too many password reset requests from your network. Wait an hour and try again.",
  });
  const forgotPerEmail = limiter(deps, {
    name: "password_reset_email",
    windowMs: HOUR_MS,
    limit: 3,
    message:
      "Too many password reset requests for this address. Wait an hour and try again.",
    key: (req) =>
      "reset:" +
      String(req.body?.email ?? "")
        .trim()
        .toLowerCase()
        .slice(0, 254),
  });
  const perUser = (name: string, limit: number, what: string) =>
    limiter(deps, {
      name,
      windowMs: HOUR_MS,
      limit,
      message: `Too many ${what}. Wait an hour and try again.`,
    });
  const resendLimit = perUser("verify_email", 5, "confirmation mails");
  const emailChangeLimit = perUser("email_change", 5, "address changes");
  const passwordChangeLimit = perUser(
    "password_change",
    10,
    "password changes",
  );

  async function renderAccount(
    req: Request,
    res: Response,
    status = 200,
    errors: FieldErrors = {},
    values: Record<string, unknown> = {},
    newToken: { token: string; name: string } | null = null,
  ) {
    const user = req.user!;
    res.status(status).render("users/account", {
      title: "Your account",
      user,
      levels: NOTIFY_LEVELS,
      sessions: await listSessions(deps, user, req.sessionID),
      codesLeft: user.twoFactorEnabled
        ? await recoveryCodesLeft(deps, user)
        : null,
      passwordMin: PASSWORD_MIN,
      pgpKey: await pgpKeyView(deps, user),
      bouncingSince: user.mailBouncingSince
        ? formatDateTime(user.mailBouncingSince)
        : null,
      tokens: await tokenViews(deps, user),
      webhooks: await accountWebhooks(deps, actorOf(req)),
      scopeOptions: scopesFor(user.role).map((s) => ({
        value: s,
        label: `${s}: ${SCOPE_LABELS[s]}`,
      })),
      defaultExpiryDays: DEFAULT_EXPIRY_DAYS,
      newToken,
      errors,
      values,
    });
  }

  router.get("/account", requireSignIn, (req, res) => renderAccount(req, res));

  const preferenceSchema = z.object({
    notify: z.enum(NOTIFY_LEVELS, { error: "Choose one option." }),
  });
  router.post("/account/notifications", requireSignIn, async (req, res) => {
    const form = parseForm(preferenceSchema, req.body);
    if (!form.ok) return renderAccount(req, res, 422, form.errors);
    await setNotificationPreference(
      deps,
      actorOf(req)!,
      form.value.notify,
      auditContextOf(req),
    );
    flash(req, "success", "Your notification preference is saved.");
    res.redirect(303, "/account");
  });

  // Personal access tokens for the API (src/api/tokens.ts). A new token is
  // shown on the page that answers the form, once: it is never stored, and
  // never put in the session for a redirect.
  const tokenLimit = perUser("api_token_create", 20, "new API tokens");
  router.post(
    "/account/tokens",
    requireSignIn,
    tokenLimit,
    async (req, res) => {
      const form = parseForm(tokenFormSchema, req.body);
      if (!form.ok)
        return renderAccount(req, res, 422, form.errors, form.values);
      const outcome = await createApiToken(
        deps,
        actorOf(req)!,
        req.user!,
        form.value,
        auditContextOf(req),
      );
      if (!outcome.ok)
        return renderAccount(
          req,
          res,
          422,
          outcome.errors,
          formValues(req.body),
        );
      res.set("Cache-Control", "no-store");
      await renderAccount(
        req,
        res,
        201,
        {},
        {},
        {
          token: outcome.value.token,
          name: outcome.value.record.name,
        },
      );
    },
  );
  router.post(
    "/account/tokens/:tokenId/revoke",
    requireSignIn,
    async (req, res) => {
      const token = await revokeToken(
        deps,
        actorOf(req)!,
        String(req.params.tokenId),
        auditContextOf(req),
      );
      flash(
        req,
        "success",
        `The token “${token.name}” is revoked: it no longer works.`,
      );
      res.redirect(303, "/account#tokens");
    },
  );

  router.post("/account/pgp-key", requireSignIn, async (req, res) => {
    const form = parseForm(pgpKeySchema, req.body);
    if (!form.ok) return renderAccount(req, res, 422, form.errors, form.values);
    const outcome = await setPgpKey(
      deps,
      actorOf(req)!,
      req.user!,
      form.value.pgp_public_key,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return renderAccount(req, res, 422, outcome.errors, {
        pgp_public_key: form.value.pgp_public_key,
      });
    flash(
      req,
      "success",
      "Your OpenPGP key is saved: mail about your reports is now encrypted to it.",
    );
    res.redirect(303, "/account");
  });

  router.post("/account/pgp-key/remove", requireSignIn, async (req, res) => {
    await removePgpKey(deps, actorOf(req)!, req.user!, auditContextOf(req));
    flash(
      req,
      "success",
      "Your OpenPGP key is removed: mail is no longer encrypted.",
    );
    res.redirect(303, "/account");
  });

  router.post(
    "/account/password",
    requireSignIn,
    passwordChangeLimit,
    async (req, res) => {
      const form = parseForm(changePasswordSchema, req.body);
      if (!form.ok) return renderAccount(req, res, 422, form.errors);
      const outcome = await changePassword(
        deps,
        req.user!,
        form.value,
        req.sessionID,
        auditContextOf(req),
      );
      if (!outcome.ok) return renderAccount(req, res, 422, outcome.errors);
      flash(
        req,
        "success",
        "Your password is changed, and every other session is signed out.",
      );
      res.redirect(303, "/account");
    },
  );

  router.post(
    "/account/email",
    requireSignIn,
    emailChangeLimit,
    async (req, res) => {
      const form = parseForm(changeEmailSchema, req.body);
      if (!form.ok)
        return renderAccount(req, res, 422, form.errors, form.values);
      const outcome = await requestEmailChange(deps, req.user!, form.value);
      if (!outcome.ok)
        return renderAccount(req, res, 422, outcome.errors, {
          email: form.value.email,
        });
      flash(
        req,
        "success",
        `We sent a link to ${outcome.value.newEmail}. Your address changes when you open it; your current address was told.`,
      );
      res.redirect(303, "/account");
    },
  );

  router.post(
    "/account/sessions/end-others",
    requireSignIn,
    async (req, res) => {
      await endOtherSessions(
        deps,
        req.user!,
        req.sessionID,
        auditContextOf(req),
      );
      flash(req, "success", "Every other session is signed out.");
      res.redirect(303, "/account");
    },
  );

  router.post(
    "/account/verify-email",
    requireSignIn,
    resendLimit,
    async (req, res) => {
      await sendEmailVerification(deps, req.user!);
      flash(
        req,
        "success",
        `We sent a new confirmation link to ${req.user!.email}.`,
      );
      res.redirect(303, "/verify-email/needed");
    },
  );

  /** Where an unconfirmed researcher is sent instead of the report form. */
  router.get("/verify-email/needed", requireSignIn, (req, res) => {
    if (req.user!.emailVerifiedAt) return res.redirect(303, "/reports/new");
    res.render("auth/verify-needed", {
      title: "Confirm your email address",
      email: req.user!.email,
    });
  });

  // The mailed link opens a page with a button: mail scanners that follow
  // links must not use up (or confirm) anything.
  router.get("/verify-email", async (req, res) => {
    const token = typeof req.query.token === "string" ? req.query.token : "";
    const link = await readEmailLink(deps, token);
    if (!link) {
      return res.status(400).render("errors/error", {
        title: "Link not valid",
        status: 400,
        message:
          "This link is not valid: it was used already, has expired, or is wrong. Sign in and ask for a new one on your account page.",
      });
    }
    res.render("auth/confirm-email", {
      title: "Confirm your email address",
      token,
      address: link.kind === "change" ? link.newEmail : link.user.email,
      errors: {},
    });
  });

  router.post("/verify-email", async (req, res) => {
    const token = typeof req.body?.token === "string" ? req.body.token : "";
    const outcome = await confirmEmailLink(
      deps,
      token,
      auditContextOf(req),
      req.user ? { userId: req.user.id, sessionId: req.sessionID } : null,
    );
    if (!outcome.ok) {
      return res.status(400).render("errors/error", {
        title: "Link not valid",
        status: 400,
        message: outcome.errors._form,
      });
    }
    const signedInAsOwner = req.user?.id === outcome.value.user.id;
    if (outcome.value.kind === "change") {
      flash(req, "success", "Your new email address is confirmed and in use.");
      return res.redirect(303, signedInAsOwner ? "/account" : "/login");
    }
    flash(
      req,
      "success",
      signedInAsOwner
        ? "Your email address is confirmed. You can report a vulnerability now."
        : "Your email address is confirmed. Sign in to report a vulnerability.",
    );
    res.redirect(303, signedInAsOwner ? "/reports/new" : "/login");
  });

  router.get("/password/forgot", (_req, res) => {
    res.render("auth/forgot-password", {
      title: "Forgot your password?",
      values: {},
      errors: {},
      sent: false,
    });
  });

  router.post(
    "/password/forgot",
    forgotPerIp,
    forgotPerEmail,
    async (req, res) => {
      const form = parseForm(forgotPasswordSchema, req.body);
      if (!form.ok) {
        return res.status(422).render("auth/forgot-password", {
          title: "Forgot your password?",
          values: form.values,
          errors: form.errors,
          sent: false,
        });
      }
      await requestPasswordReset(deps, form.value.email);
      // The same answer whether or not the address has an account.
      res.render("auth/forgot-password", {
        title: "Forgot your password?",
        values: { email: form.value.email },
        errors: {},
        sent: true,
      });
    },
  );

  return router;
}

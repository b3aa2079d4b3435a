import { Router, type Request, type Response } from "express";
import { rateLimit } from "express-rate-limit";
import type { Passport } from "passport";
import type { Deps } from "../deps.js";
import { flash } from "../http/middleware.js";
import { homeFor } from "../http/navigation.js";
import { parseForm } from "../http/validation.js";
import { counterStore, HOUR_MS, limiter } from "../http/rate-limits.js";
import type { User } from "../users/types.js";
import {
  completeSetup,
  isSetupTokenValid,
  newPasswordSchema,
  registerResearcher,
  registrationSchema,
  setPasswordWithToken,
  setupSchema,
  toActor,
  userForPasswordToken,
} from "../users/service.js";
import { PASSWORD_MIN } from "./passwords.js";
import { askForSecondFactor, signIn } from "./sign-in.js";
import { auditContextOf } from "../audit/routes.js";
import { recordSignInAttempt, recordSignOut } from "../audit/service.js";

const LOGIN_WINDOW_MS = 15 * 60_000;

export function accountRoutes(
  deps: Deps,
  passport: InstanceType<typeof Passport>,
) {
  const router = Router();
  const enabled = deps.config.rateLimits;
  const tooMany = (message: string) => (req: Request, res: Response) => {
    res.status(429).render("auth/login", {
      title: "Sign in",
      values: {
        email: typeof req.body?.email === "string" ? req.body.email : "",
      },
      errors: { _form: message },
    });
  };
  // Two limits: one per address (spraying many accounts) and one per account
  // (guessing one password from many addresses).
  const loginPerIp = rateLimit({
    windowMs: LOGIN_WINDOW_MS,
    limit: 30,
    skip: () => !enabled,
    standardHeaders: "draft-7",
    legacyHeaders: false,
    store: counterStore(deps, "sign_in_ip"),
    handler: tooMany(
      "Too many sign-in attempts from your network. Wait 15 minutes and try again.",
    ),
  });
  const loginPerAccount = rateLimit({
    windowMs: LOGIN_WINDOW_MS,
    limit: 10,
    skip: () => !enabled,
    standardHeaders: false,
    legacyHeaders: false,
    store: counterStore(deps, "sign_in_account"),
    keyGenerator: (req) =>
      "acct:" +
      String(req.body?.email ?? "")
        .trim()
        .toLowerCase()
        .slice(0, 254),
    handler: tooMany(
      "Too many sign-in attempts for this account. Wait 15 minutes and try again.",
    ),
  });
  const registerLimit = limiter(deps, {
    name: "registration",
    windowMs: HOUR_MS,
    limit: 20,
    message:
      "Too many accounts were registered from your network. Wait an hour and try again.",
  });

  router.get("/", (req, res) => {
    if (req.user) return res.redirect(303, homeFor(toActor(req.user)));
    res.render("home", { title: "Report a vulnerability safely" });
  });

  router.get("/policy", (_req, res) => {
    res.render("policy", {
      title: "Disclosure policy",
      clocks: deps.settings.clocks(),
    });
  });

  router.get("/login", (req, res) => {
    if (req.user) return res.redirect(303, homeFor(toActor(req.user)));
    // From "Report a vulnerability" signed out: back to the form once in.
    // A fixed word, not a path, so the link cannot send anyone elsewhere.
    if (req.query.to === "report") req.session.returnTo = "/reports/new";
    res.render("auth/login", { title: "Sign in", values: {}, errors: {} });
  });

  router.post("/login", loginPerIp, loginPerAccount, (req, res, next) => {
    const email =
      typeof req.body?.email === "string" ? req.body.email.slice(0, 254) : "";
    passport.authenticate("local", async (err: unknown, user: User | false) => {
      if (err) return next(err);
      // Every attempt is audited before it is answered: no entry, no sign-in.
      try {
        await recordSignInAttempt(
          deps,
          user || null,
          email,
          auditContextOf(req),
        );
      } catch (auditErr) {
        return next(auditErr);
      }
      if (!user) {
        return res.status(401).render("auth/login", {
          title: "Sign in",
          values: { email },
          errors: {
            _form:
              "The email or password is not right, or the account is disabled.",
          },
        });
      }
      if (user.twoFactorEnabled)
        return askForSecondFactor(req, res, next, user, deps.clock.now());
      signIn(req, res, next, user);
    })(req, res, next);
  });

  router.post("/logout", async (req, res, next) => {
    await recordSignOut(deps, req.user ?? null, auditContextOf(req));
    req.logout((err) => {
      if (err) return next(err);
      req.session.destroy((destroyErr) => {
        if (destroyErr) return next(destroyErr);
        res.clearCookie("dd.sid");
        res.redirect(303, "/login");
      });
    });
  });

  router.get("/register", (req, res) => {
    if (req.user) return res.redirect(303, "/");
    res.render("auth/register", {
      title: "Create a researcher account",
      values: {},
      errors: {},
      passwordMin: PASSWORD_MIN,
    });
  });

  router.post("/register", registerLimit, async (req, res, next) => {
    const form = parseForm(registrationSchema, req.body);
    const render = (
      status: number,
      values: Record<string, unknown>,
      errors: Record<string, string>,
    ) =>
      res.status(status).render("auth/register", {
        title: "Create a researcher account",
        values,
        errors,
        passwordMin: PASSWORD_MIN,
      });
    if (!form.ok) return render(422, form.values, form.errors);
    const outcome = await registerResearcher(deps, form.value);
    if (!outcome.ok) {
      const { password: _omit, ...values } = form.value;
      return render(422, values, outcome.errors);
    }
    res.render("auth/check-email", {
      title: "Check your email",
      email: outcome.value.email,
    });
  });

  router.get("/setup", async (req, res) => {
    const token = typeof req.query.token === "string" ? req.query.token : "";
    if (!(await isSetupTokenValid(deps, token))) {
      return res.status(400).render("errors/error", {
        title: "Setup link not valid",
        status: 400,
        message:
          "This setup link is not valid: it was used already, has expired, or is wrong. Restart the app to print a new one while no administrator exists.",
      });
    }
    res.render("auth/setup", {
      title: "Create the first administrator",
      token,
      values: {},
      errors: {},
      passwordMin: PASSWORD_MIN,
    });
  });

  router.post("/setup", async (req, res, next) => {
    const form = parseForm(setupSchema, req.body);
    const token = typeof req.body?.token === "string" ? req.body.token : "";
    const render = (
      values: Record<string, unknown>,
      errors: Record<string, string>,
    ) =>
      res.status(422).render("auth/setup", {
        title: "Create the first administrator",
        token,
        values,
        errors,
        passwordMin: PASSWORD_MIN,
      });
    if (!form.ok) return render(form.values, form.errors);
    const outcome = await completeSetup(deps, form.value);
    if (!outcome.ok) {
      const { password: _omit, ...values } = form.value;
      return render(values, outcome.errors);
    }
    signIn(
      req,
      res,
      next,
      outcome.value,
      "Your administrator account is ready.",
    );
  });

  router.get("/password/set", async (req, res) => {
    const token = typeof req.query.token === "string" ? req.query.token : "";
    const user = await userForPasswordToken(deps, token);
    if (!user) {
      return res.status(400).render("errors/error", {
        title: "Link not valid",
        status: 400,
        message:
          "This link is not valid: it was used already, has expired, or is wrong. Ask an administrator for a new one.",
      });
    }
    res.render("auth/set-password", {
      title: "Choose your password",
      token,
      email: user.email,
      errors: {},
      passwordMin: PASSWORD_MIN,
    });
  });

  router.post("/password/set", async (req, res) => {
    const form = parseForm(newPasswordSchema, req.body);
    const token = typeof req.body?.token === "string" ? req.body.token : "";
    const user = await userForPasswordToken(deps, token);
    const render = (errors: Record<string, string>) =>
      res.status(422).render("auth/set-password", {
        title: "Choose your password",
        token,
        email: user?.email ?? "",
        errors,
        passwordMin: PASSWORD_MIN,
      });
    if (!form.ok) return render(form.errors);
    const outcome = await setPasswordWithToken(
      deps,
      form.value,
      auditContextOf(req),
    );
    if (!outcome.ok) return render(outcome.errors);
    req.logout(() => {
      flash(req, "success", "Your password is set. Sign in with it now.");
      res.redirect(303, "/login");
    });
  });

  return router;
}

import { csrfSync } from "csrf-sync";
import express, {
  type NextFunction,
  type Request,
  type Response,
} from "express";
import helmet from "helmet";
import { Passport } from "passport";
import { Strategy as LocalStrategy } from "passport-local";
import { accountRoutes } from "./auth/routes.js";
import { mustEnrollTwoFactor } from "./auth/policy.js";
import { twoFactorRoutes } from "./auth/two-factor-routes.js";
import { accountSecurityRoutes } from "./auth/account-routes.js";
import { DatabaseSessionStore } from "./auth/session-store.js";
import { sessions } from "./auth/session.js";
import { expiredFormKeeper, sentTextFields } from "./auth/kept-forms.js";
import { isDatabaseUnavailable } from "./db/dialect.js";
import type { Deps } from "./deps.js";
import { formatDateTime, ROLE_LABELS } from "./format.js";
import { escapeHtml } from "./http/html.js";
import { optionTags } from "./http/option-tags.js";
import { gateRouter } from "./http/router-gate.js";
import { HttpError } from "./http/errors.js";
import { refuseNulInPath } from "./http/validation.js";
import { actorOf } from "./http/middleware.js";
import { publicRoutes } from "./http/public-routes.js";
import "./http/types.js";
import { fileUploads } from "./http/uploads.js";
import { MINUTE_MS, outcomeLimiter } from "./http/rate-limits.js";
import { recordAudit } from "./audit/service.js";
import { auditContextOf } from "./audit/routes.js";
import { publicDir, viewsDir } from "./paths.js";
import { navigationFor } from "./http/navigation.js";
import { takeTurns } from "./http/turns.js";
import { statementCapture } from "./http/statement-capture.js";
import { authenticate, sessionUser } from "./users/service.js";
import { adminUserRoutes } from "./users/routes.js";
import { registerFeatureRoutes } from "./routes.js";
import { apiRoutes } from "./api/routes.js";
import { deskKey, DESK_KEY_PATH } from "./mail/desk-key.js";
import { formatFingerprint } from "./mail/pgp.js";

export const SESSION_COOKIE = "dd.sid";

/** Requests started per turn of the event loop (src/http/turns.ts). */
const REQUESTS_PER_TURN = 2;

const ENROLLMENT_PATHS = new Set(["/account/2fa", "/logout"]);

/**
 * Builds the Express app from its dependencies (no port, no globals), so
 * tests can run several apps side by side and move the clock.
 */
export function createApp(deps: Deps) {
  const { config, logger } = deps;
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", config.trustProxy);
  app.set("view engine", "ejs");
  app.set("views", viewsDir);
  // Includes name their file from the views folder ("/partials/field"), so
  // EJS finds it without a file-system check per include (a relative one
  // costs an existsSync on every render: 11–13 % of a list or report view).
  // Pages stay one-byte strings: see src/http/html.ts.
  app.set("view options", { root: viewsDir, escape: escapeHtml });
  // Compiled templates are cached outside development, which the benchmark relies on.
  app.set("view cache", config.env !== "development");
  // Every view's helper for <select>s (kept lists' tags are built once).
  app.locals.optionTags = optionTags;
  // The app as a response that gets no ETag sees it: Express's res.send
  // reads the ETag function from res.app's settings, here none. Every other
  // setting is the app's own (read through the prototype).
  const withoutETag: typeof app = Object.create(app, {
    settings: {
      value: Object.create(app.settings, { "etag fn": { value: undefined } }),
    },
  });

  // The benchmark's statement capture (SQL_CAPTURE_FILE), before anything
  // else so every statement of the request is in it.
  if (config.sqlCaptureFile) app.use(statementCapture(config.sqlCaptureFile));

  // New connections are accepted between turns of the event loop: keep the
  // turns short under load (src/http/turns.ts).
  app.use(takeTurns(REQUESTS_PER_TURN));
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          "default-src": ["'self'"],
          "script-src": ["'self'"],
          "style-src": ["'self'"],
          "img-src": ["'self'", "data:"],
          "font-src": ["'self'"],
          "connect-src": ["'self'"],
          "form-action": ["'self'"],
          "frame-ancestors": ["'none'"],
          "base-uri": ["'none'"],
          "object-src": ["'none'"],
        },
      },
      referrerPolicy: { policy: "no-referrer" },
      xFrameOptions: { action: "deny" },
      strictTransportSecurity: config.baseUrl.startsWith("https://"),
    }),
  );

  // Static files and probes need no session: served before it.
  app.use("/public", express.static(publicDir, { maxAge: "1h", index: false }));
  app.use(gateRouter(publicRoutes(deps)));
  // The JSON API: bearer tokens, no session, no CSRF, its own errors.
  app.use(gateRouter(apiRoutes(deps)));

  app.use(
    express.urlencoded({ extended: false, limit: "1mb", parameterLimit: 200 }),
  );

  // Read before the session is loaded, which forgets an expired one.
  const keeper = expiredFormKeeper(deps, SESSION_COOKIE);
  app.use(keeper.recognize);

  const store = new DatabaseSessionStore(
    deps.db,
    deps.clock,
    config.sessionIdleMs,
  );
  app.use(
    sessions({
      name: SESSION_COOKIE,
      secret: config.sessionSecret,
      store,
      maxAgeMs: config.sessionIdleMs,
      secure: config.secureCookies,
      logger,
    }),
  );

  const passport = new Passport();
  passport.use(
    new LocalStrategy(
      { usernameField: "email", passwordField: "password" },
      (email, password, done) => {
        authenticate(deps, email, password).then(
          (user) => done(null, user ?? false),
          done,
        );
      },
    ),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  // No compatibility properties for passport 0.4's strategies (none here).
  app.use(passport.initialize({ compat: false }));
  // The signed-in user, from the id passport keeps in the session, as its
  // session strategy restores it (an account gone or disabled signs out),
  // without building an authenticator for every request.
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const kept = (req.session as { passport?: { user?: unknown } }).passport;
    if (kept?.user === undefined) return next();
    const id = kept.user;
    (typeof id === "number"
      ? sessionUser(deps, id)
      : Promise.resolve(null)
    ).then((user) => {
      if (user) req.user = user;
      else delete kept.user;
      next();
    }, next);
  });

  const csrf = csrfSync({
    getTokenFromRequest: (req) => {
      const token = (req.body as Record<string, unknown> | undefined)?._csrf;
      return typeof token === "string" ? token : undefined;
    },
    errorConfig: {
      statusCode: 403,
      message:
        "This form has expired or did not come from this site. Go back, reload the page and try again.",
      code: "EBADCSRFTOKEN",
    },
  });
  // Only the routes that take files read a multipart body, checking its token
  // before any file is written; every other one fails the check below unread.
  app.use(fileUploads(config.dataDir, csrf));
  app.use((req: Request, res: Response, next: NextFunction) => {
    csrf.csrfSynchronisedProtection(req, res, (err?: unknown) => {
      // A report typed into a session that expired is kept for its author
      // (never filed automatically); anything else is refused.
      if (err) return keeper.keep(req, res, next, err);
      next();
    });
  });

  // What every page's layout needs; views stay dumb.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const user = req.user;
    res.locals.currentUser = user
      ? {
          displayName: user.displayName,
          role: user.role,
          roleLabel: ROLE_LABELS[user.role],
        }
      : null;
    res.locals.nav = navigationFor(actorOf(req));
    // Called by the views that render a form: the token lives in the
    // session, so a page without a form must not create one.
    res.locals.csrfToken = () => csrf.generateToken(req);
    res.locals.path = req.path;
    res.locals.flash = req.session.flash ?? [];
    res.locals.formatDateTime = formatDateTime;
    // Signed-in pages hold report details: no browser or proxy may keep them,
    // so none revalidates them either: they get no ETag (Express hashes the
    // whole page for one, 1.5–3 % of a view; bench/README.md).
    if (user) {
      res.set("Cache-Control", "no-store");
      res.app = withoutETag;
    }
    delete req.session.flash;
    next();
  });

  // Guessing report IDs shows up as a run of "not found" answers: a few are
  // normal, dozens are enumeration. Each is audited (error handler below).
  app.use(
    outcomeLimiter(deps, {
      name: "not_found",
      windowMs: 15 * MINUTE_MS,
      limit: 60,
      message:
        "Too many pages asked for were not found. Wait 15 minutes and try again.",
      counts: (_req, res) => res.statusCode === 404,
    }),
  );

  // Staff without two-factor sign-in see nothing but its enrollment page.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (mustEnrollTwoFactor(actorOf(req)) && !ENROLLMENT_PATHS.has(req.path))
      return res.redirect(303, "/account/2fa");
    next();
  });

  // The report form names the desk's key for anyone who would rather write encrypted.
  app.use("/reports/new", async (_req, res, next) => {
    const key = await deskKey(config);
    res.locals.deskKey = {
      path: DESK_KEY_PATH,
      fingerprint: formatFingerprint(key.fingerprint),
    };
    next();
  });

  // After the CSRF check (a forged form is 403 whatever its path) and the
  // not-found limit, before any route looks up an ID of its path.
  app.use(refuseNulInPath);
  app.use(gateRouter(twoFactorRoutes(deps)));
  app.use(gateRouter(accountSecurityRoutes(deps)));
  app.use(gateRouter(accountRoutes(deps, passport)));
  app.use(gateRouter(adminUserRoutes(deps)));
  registerFeatureRoutes(app, deps);

  app.use((_req: Request, _res: Response, next: NextFunction) =>
    next(new HttpError(404, "Page not found")),
  );

  app.use(
    async (err: unknown, req: Request, res: Response, _next: NextFunction) => {
      if (isDatabaseUnavailable(err)) return tryAgain(deps, err, req, res);
      const status = httpStatusOf(err);
      if (status >= 500)
        logger.error({ err, url: req.originalUrl }, "request failed");
      if (status === 404 && req.user) await auditNotFound(deps, req);
      const message =
        status === 404
          ? "Page not found"
          : status >= 500
            ? "Something went wrong on our side. It has been logged; please try again."
            : errorMessage(err);
      if (res.headersSent) return;
      res.status(status);
      res.locals.currentUser ??= null;
      res.locals.nav ??= [];
      res.locals.flash ??= [];
      res.locals.csrfToken ??= () => "";
      res.render("errors/error", {
        title: status === 404 ? "Page not found" : "Error",
        status,
        message,
      });
    },
  );

  return app;
}

/**
 * The database is unreachable (PostgreSQL restarting): 503, and a form
 * that was sent is shown again as typed, to send once it is back. Nothing
 * was saved, so sending it again files it once.
 */
async function tryAgain(deps: Deps, err: unknown, req: Request, res: Response) {
  deps.logger.warn({ err, url: req.originalUrl }, "database unavailable");
  const fields = req.method === "POST" ? await sentTextFields(req, res) : null;
  if (res.headersSent) return;
  res.status(503).set("Retry-After", "30");
  res.locals.currentUser ??= null;
  res.locals.nav ??= [];
  res.locals.flash ??= [];
  res.locals.csrfToken ??= () => "";
  res.render("errors/try-again", {
    title: "Try again in a minute",
    kept: fields && {
      action: req.originalUrl,
      multipart: Boolean(req.is("multipart/form-data")),
      fields: Object.entries(fields).map(([name, value]) => ({
        name,
        value,
        label: fieldLabel(name),
      })),
    },
  });
}

/** A form field's name as a person reads it: "newOrganization" → "New organization". */
export function fieldLabel(name: string): string {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_\-[\]]+/g, " ")
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A signed-in person asked for a report that is not theirs to see (or none). */
async function auditNotFound(deps: Deps, req: Request) {
  const tried = /^\/reports\/([^/]{1,40})/.exec(req.path)?.[1];
  if (!tried || tried === "new") return;
  try {
    await recordAudit(deps.db, {
      action: "report.not_found",
      actor: req.user!,
      target: { type: "report", id: tried },
      request: auditContextOf(req),
      at: deps.clock.now(),
    });
  } catch (err) {
    deps.logger.error({ err }, "could not audit a not-found report");
  }
}

function httpStatusOf(err: unknown): number {
  if (err instanceof HttpError) return err.status;
  const status =
    (err as { status?: unknown; statusCode?: unknown })?.status ??
    (err as { statusCode?: unknown })?.statusCode;
  return typeof status === "number" && status >= 400 && status < 600
    ? status
    : 500;
}

function errorMessage(err: unknown): string {
  if (err instanceof HttpError) return err.message;
  const e = err as {
    code?: string;
    type?: string;
    expose?: boolean;
    message?: string;
  };
  if (e?.code === "EBADCSRFTOKEN") return e.message ?? "Invalid form token.";
  if (e?.type === "entity.too.large") return "What you sent is too large.";
  if (e?.expose && e.message) return e.message;
  return "The request could not be handled.";
}

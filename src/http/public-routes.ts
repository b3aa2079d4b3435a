import { Router } from "express";
import { sql } from "kysely";
import { DAY } from "../clock.js";
import type { Deps } from "../deps.js";
import { deskKey, DESK_KEY_PATH } from "../mail/desk-key.js";

/** Routes that need no session: health probe and security.txt. */
export function publicRoutes(deps: Deps) {
  const router = Router();

  router.get("/healthz", async (_req, res) => {
    try {
      await sql`select 1`.execute(deps.db);
      res.status(200).type("text/plain").send("ok");
    } catch {
      res.status(503).type("text/plain").send("database unavailable");
    }
  });

  // RFC 9116. Expires moves forward with the clock, so the file never goes stale
  // while the app runs; the period is configurable.
  router.get(["/.well-known/security.txt", "/security.txt"], (_req, res) => {
    const { security, baseUrl } = deps.config;
    const expires = new Date(
      deps.clock.now().getTime() + security.expiresDays * DAY,
    );
    const lines = [
      `Contact: ${baseUrl}/reports/new`,
      `Contact: ${security.contact}`,
      // Mail to the intake address files a report (src/inbound/intake.ts).
      ...(security.contact === `mailto:${deps.config.reportAddress}`
        ? []
        : [`Contact: mailto:${deps.config.reportAddress}`]),
      `Encryption: ${baseUrl}${DESK_KEY_PATH}`,
      `Expires: ${expires.toISOString().replace(/\.\d{3}Z$/, "Z")}`,
      `Policy: ${security.policyUrl}`,
      `Acknowledgments: ${baseUrl}/acknowledgments`,
      `Preferred-Languages: ${security.languages}`,
      `Canonical: ${baseUrl}/.well-known/security.txt`,
    ];
    res.type("text/plain; charset=utf-8").send(lines.join("\n") + "\n");
  });

  // Browsers ask for /favicon.ico whatever the page links; send them to the SVG.
  router.get("/favicon.ico", (_req, res) => {
    res.redirect(301, "/public/favicon.svg");
  });

  router.get([DESK_KEY_PATH, "/pgp-key.asc"], async (_req, res) => {
    const key = await deskKey(deps.config);
    res.type("application/pgp-keys").send(key.publicArmored);
  });

  return router;
}

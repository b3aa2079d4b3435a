import { Router } from "express";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import { parseForm } from "../http/validation.js";
import {
  removeView,
  saveView,
  savedViewSchema,
  viewQueryOf,
} from "./saved-views.js";
import { auditContextOf } from "../audit/routes.js";
import { exportQueueCsv } from "./csv.js";
import {
  myReports,
  organizationReports,
  searchReports,
} from "./list-service.js";
import { triageQueue } from "./queue.js";

/** The three report lists: a researcher's own, the triage queue, an organization's. */
export function reportListRoutes(deps: Deps) {
  const router = Router();

  router.get(
    "/reports",
    requireAllowed("report:list_own"),
    async (req, res) => {
      const page = await myReports(deps, actorOf(req), req.query);
      res.render("reports/mine", { title: "My reports", ...page });
    },
  );

  router.get("/queue", requireAllowed("queue:view"), async (req, res) => {
    const queue = await triageQueue(deps, actorOf(req), req.query);
    res.render("reports/queue", { title: "Queue", ...queue });
  });

  // "Save this view": the queue's filters, as hidden fields, under a name.
  router.post(
    "/queue/views",
    requireAllowed("saved_view:use"),
    async (req, res) => {
      const actor = actorOf(req);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const query = viewQueryOf(body);
      const form = parseForm(savedViewSchema, body);
      const outcome = form.ok
        ? await saveView(deps, actor, form.value, query)
        : form;
      if (!outcome.ok) {
        const queue = await triageQueue(
          deps,
          actor,
          Object.fromEntries(new URLSearchParams(query)),
          { values: { name: body.name }, errors: outcome.errors },
        );
        return res
          .status(422)
          .render("reports/queue", { title: "Queue", ...queue });
      }
      flash(req, "success", `The view “${outcome.value.name}” was saved.`);
      res.redirect(303, `/queue?view=${outcome.value.publicId}`);
    },
  );

  router.post(
    "/queue/views/:viewId/delete",
    requireAllowed("saved_view:use"),
    async (req, res) => {
      const view = await removeView(
        deps,
        actorOf(req),
        String(req.params.viewId),
      );
      flash(req, "success", `The view “${view.name}” was deleted.`);
      res.redirect(303, "/queue");
    },
  );

  router.get(
    "/org/reports",
    requireAllowed("report:list_org"),
    async (req, res) => {
      const page = await organizationReports(deps, actorOf(req), req.query);
      res.render("reports/org-list", { title: "Our reports", ...page });
    },
  );

  // Before a failure the header is not sent, so errors still get their page.
  router.get(
    "/queue/export.csv",
    requireAllowed("queue:view"),
    async (req, res) => {
      const rows = exportQueueCsv(
        deps,
        actorOf(req),
        req.query,
        auditContextOf(req),
      );
      const first = await rows.next();
      const day = deps.clock.now().toISOString().slice(0, 10);
      res.set({
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="queue-${day}.csv"`,
      });
      if (!first.done) res.write(first.value);
      for await (const chunk of rows) res.write(chunk);
      res.end();
    },
  );

  router.get("/search", requireAllowed("report:search"), async (req, res) => {
    const results = await searchReports(deps, actorOf(req), req.query);
    if (results.redirect) return res.redirect(303, results.redirect);
    res.render("reports/search", { title: "Search reports", ...results });
  });

  return router;
}

import { Router } from "express";
import type { Deps } from "../deps.js";
import { actorOf, requireAllowed } from "../http/middleware.js";
import {
  myReports,
  organizationReports,
  searchReports,
  triageQueue,
} from "./list-service.js";

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

  router.get(
    "/org/reports",
    requireAllowed("report:list_org"),
    async (req, res) => {
      const page = await organizationReports(deps, actorOf(req), req.query);
      res.render("reports/org-list", { title: "Our reports", ...page });
    },
  );

  router.get("/search", requireAllowed("report:search"), async (req, res) => {
    const results = await searchReports(deps, actorOf(req), req.query);
    res.render("reports/search", { title: "Search reports", ...results });
  });

  return router;
}

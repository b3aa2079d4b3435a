import { Router } from "express";
import type { Deps } from "../deps.js";
import { actorOf, requireAllowed } from "../http/middleware.js";
import { publicStatsPage, staffStatsPage } from "./page.js";
import { currentPublicStats, staffStats } from "./service.js";

/** Public statistics (aggregates only) and the staff version with organizations. */
export function statsRoutes(deps: Deps) {
  const router = Router();

  router.get("/stats", async (_req, res) => {
    res.render("stats/index", publicStatsPage(await currentPublicStats(deps)));
  });

  router.get(
    "/stats/staff",
    requireAllowed("stats:view_staff"),
    async (req, res) => {
      res.render(
        "stats/staff",
        staffStatsPage(await staffStats(deps, actorOf(req))),
      );
    },
  );

  return router;
}

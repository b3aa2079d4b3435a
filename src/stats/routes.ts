import { Router } from "express";
import type { Deps } from "../deps.js";
import { actorOf, requireAllowed } from "../http/middleware.js";
import { publicStatsView, staffStatsView } from "./service.js";

/** Public statistics (aggregates only) and the staff version with organizations. */
export function statsRoutes(deps: Deps) {
  const router = Router();

  router.get("/stats", async (_req, res) => {
    res.render("stats/index", await publicStatsView(deps));
  });

  router.get(
    "/stats/staff",
    requireAllowed("stats:view_staff"),
    async (req, res) => {
      res.render("stats/staff", await staffStatsView(deps, actorOf(req)));
    },
  );

  return router;
}

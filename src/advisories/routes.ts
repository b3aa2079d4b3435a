import { Router } from "express";
import type { Deps } from "../deps.js";
import {
  acknowledgments,
  advisoryFeed,
  advisoryList,
  advisoryPage,
} from "./service.js";

/** Public pages: published advisories, their feed, and the hall of fame. */
export function advisoryRoutes(deps: Deps) {
  const router = Router();

  router.get("/advisories", async (req, res) => {
    res.render("advisories/list", {
      title: "Security advisories",
      ...(await advisoryList(deps, req.query)),
    });
  });

  router.get("/advisories.atom", async (_req, res) => {
    res.type("application/atom+xml; charset=utf-8");
    res.render("advisories/feed", { feed: await advisoryFeed(deps) });
  });

  router.get("/advisories/:id", async (req, res) => {
    const advisory = await advisoryPage(deps, String(req.params.id));
    res.render("advisories/show", {
      title: `${advisory.publicId}: ${advisory.title}`,
      advisory,
    });
  });

  router.get("/acknowledgments", async (_req, res) => {
    res.render("advisories/acknowledgments", {
      title: "Acknowledgments",
      people: await acknowledgments(deps),
    });
  });

  return router;
}

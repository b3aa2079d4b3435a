import { Router, type Response } from "express";
import type { Deps } from "../deps.js";
import {
  acknowledgments,
  advisoryFeed,
  advisoryList,
  advisoryPage,
} from "./service.js";
import {
  advisoryDownloads,
  csafDownload,
  cveRecordDownload,
  type AdvisoryDownload,
} from "./exports.js";

function sendDownload(res: Response, file: AdvisoryDownload) {
  // File names come from validated IDs only ([A-Z0-9-]), so quoting is enough.
  res.set({
    "Content-Type": "application/json; charset=utf-8",
    "Content-Disposition": `attachment; filename="${file.fileName}"`,
  });
  res.send(file.body);
}

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
      downloads: advisoryDownloads(advisory),
    });
  });

  router.get("/advisories/:id/csaf.json", async (req, res) => {
    sendDownload(res, await csafDownload(deps, String(req.params.id)));
  });

  router.get("/advisories/:id/cve.json", async (req, res) => {
    sendDownload(res, await cveRecordDownload(deps, String(req.params.id)));
  });

  router.get("/acknowledgments", async (_req, res) => {
    res.render("advisories/acknowledgments", {
      title: "Acknowledgments",
      people: await acknowledgments(deps),
    });
  });

  return router;
}

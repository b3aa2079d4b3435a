import { Router } from "express";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import { outboxOverview, retryMessage } from "./service.js";

/** The admin's view of outgoing mail: what is queued, sent and failed, and a retry. */
export function outboxRoutes(deps: Deps) {
  const router = Router();
  router.use("/admin/outbox", requireAllowed("outbox:manage"));

  router.get("/admin/outbox", async (req, res) => {
    res.render("admin/outbox", {
      title: "Outbox",
      ...(await outboxOverview(deps, actorOf(req)!)),
    });
  });

  router.post("/admin/outbox/:key/retry", async (req, res) => {
    await retryMessage(
      deps,
      actorOf(req)!,
      String(req.params.key),
      auditContextOf(req),
    );
    flash(
      req,
      "success",
      "The message is queued again and will be sent shortly.",
    );
    res.redirect(303, "/admin/outbox");
  });

  return router;
}

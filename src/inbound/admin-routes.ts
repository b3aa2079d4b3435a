import { Router, type Request, type Response } from "express";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import { parseForm } from "../http/validation.js";
import {
  discardInbound,
  inboundDetail,
  inboundIdByMessageId,
  inboundOverview,
  inboundRaw,
  listQuerySchema,
  parseInboundId,
  releaseInbound,
  releaseSchema,
  STATUS_OPTIONS,
} from "./admin-service.js";

const idOf = (req: Request) => parseInboundId(String(req.params.id));

/** Staff pages: mail received, and the decision on what was held. */
export function inboundAdminRoutes(deps: Deps) {
  const router = Router();
  router.use("/admin/inbound", requireAllowed("inbound:manage"));

  router.get("/admin/inbound", async (req, res) => {
    const form = parseForm(listQuerySchema, req.query);
    // A status that is not on the list shows held mail, as the page opens.
    const query = form.ok ? form.value : { status: "held" as const };
    res.status(form.ok ? 200 : 422).render("admin/inbound", {
      title: "Inbound mail",
      statusOptions: STATUS_OPTIONS,
      errors: form.ok ? {} : form.errors,
      ...(await inboundOverview(deps, actorOf(req), query)),
    });
  });

  const renderDetail = async (
    req: Request,
    res: Response,
    id: number,
    status = 200,
    errors: Record<string, string> = {},
  ) => {
    const detail = await inboundDetail(deps, actorOf(req), id);
    res.status(status).render("admin/inbound-message", {
      title: `Inbound mail ${detail.message.id}`,
      errors,
      ...detail,
    });
  };

  router.get("/admin/inbound/:id", (req, res) =>
    renderDetail(req, res, idOf(req)),
  );

  // A timeline entry that came by email links here, by its Message-ID.
  router.get("/admin/inbound/message/:messageId", async (req, res) =>
    renderDetail(
      req,
      res,
      await inboundIdByMessageId(
        deps,
        actorOf(req),
        String(req.params.messageId),
      ),
    ),
  );

  router.get("/admin/inbound/:id/raw", async (req, res) => {
    const { fileName, raw } = await inboundRaw(deps, actorOf(req), idOf(req));
    // Inert bytes to save, never a page: not sniffed, not scripted, not framed.
    res.set({
      "Content-Security-Policy": "sandbox; default-src 'none'",
      "X-Content-Type-Options": "nosniff",
      "Cache-Control": "private, no-store",
    });
    res.attachment(fileName);
    res.type("message/rfc822");
    res.send(raw);
  });

  router.post("/admin/inbound/:id/release", async (req, res) => {
    const id = idOf(req);
    const form = parseForm(releaseSchema, req.body);
    if (!form.ok) return renderDetail(req, res, id, 422, form.errors);
    const outcome = await releaseInbound(
      deps,
      actorOf(req),
      id,
      { confirmSender: form.value.confirmSender === "yes" },
      auditContextOf(req),
    );
    if (outcome === null)
      flash(req, "error", "This message is no longer held: nothing was done.");
    else if (outcome.kind === "posted")
      flash(req, "success", "The message was released and posted.");
    else if (outcome.kind === "held")
      flash(req, "error", `Still held: ${outcome.reason}`);
    else flash(req, "info", `Not posted: ${outcome.reason}`);
    res.redirect(303, `/admin/inbound/${id}`);
  });

  router.post("/admin/inbound/:id/discard", async (req, res) => {
    const id = idOf(req);
    const done = await discardInbound(
      deps,
      actorOf(req),
      id,
      auditContextOf(req),
    );
    flash(
      req,
      done ? "success" : "error",
      done
        ? "The message was discarded. It stays listed, with its reason."
        : "This message is no longer held: nothing was done.",
    );
    res.redirect(303, `/admin/inbound/${id}`);
  });

  return router;
}

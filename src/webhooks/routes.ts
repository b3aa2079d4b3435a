import { Router, type Request, type Response } from "express";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import { parseForm, type FieldErrors } from "../http/validation.js";
import {
  createEndpoint,
  endpointDetails,
  endpointSchema,
  removeEndpoint,
  rotateEndpointSecret,
  setEndpointEnabled,
  webhookOverview,
} from "./service.js";

interface FormState {
  values: Record<string, unknown>;
  errors: FieldErrors;
}
const EMPTY_FORM: FormState = { values: {}, errors: {} };

/** The pages of webhook endpoints (webhook:manage): list, register, log, manage. */
export function webhookRoutes(deps: Deps) {
  const router = Router();
  router.use("/admin/webhooks", requireAllowed("webhook:manage"));

  const renderList = async (
    req: Request,
    res: Response,
    status = 200,
    form: FormState = EMPTY_FORM,
  ) => {
    const overview = await webhookOverview(deps, actorOf(req));
    const typed = form.values.events;
    res.status(status).render("admin/webhooks", {
      title: "Webhooks",
      ...overview,
      ...form,
      checkedEvents: Array.isArray(typed)
        ? typed
        : typeof typed === "string"
          ? [typed]
          : [],
    });
  };

  router.get("/admin/webhooks", (req, res) => renderList(req, res));

  router.post("/admin/webhooks", async (req, res) => {
    const form = parseForm(endpointSchema, req.body);
    if (!form.ok) return renderList(req, res, 422, form);
    const outcome = await createEndpoint(
      deps,
      actorOf(req),
      form.value,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return renderList(req, res, 422, {
        values: { ...form.value },
        errors: outcome.errors,
      });
    const { endpoint, secret } = outcome.value;
    req.session.webhookSecret = { endpoint: endpoint.publicId, secret };
    flash(req, "success", "The endpoint was registered.");
    res.redirect(303, `/admin/webhooks/${endpoint.publicId}`);
  });

  router.get("/admin/webhooks/:webhookId", async (req, res) => {
    const details = await endpointDetails(
      deps,
      actorOf(req),
      req.params.webhookId,
    );
    // The secret is shown once, on the first view after it was made.
    const kept = req.session.webhookSecret;
    const secret =
      kept && kept.endpoint === details.endpoint.publicId ? kept.secret : null;
    if (kept) delete req.session.webhookSecret;
    res.set("Cache-Control", "no-store");
    res.render("admin/webhook", {
      title: "Webhook endpoint",
      ...details,
      secret,
    });
  });

  router.post("/admin/webhooks/:webhookId/disable", async (req, res) => {
    await setEndpointEnabled(
      deps,
      actorOf(req),
      req.params.webhookId,
      false,
      auditContextOf(req),
    );
    flash(req, "success", "The endpoint is disabled; events for it wait.");
    res.redirect(303, `/admin/webhooks/${req.params.webhookId}`);
  });

  router.post("/admin/webhooks/:webhookId/enable", async (req, res) => {
    await setEndpointEnabled(
      deps,
      actorOf(req),
      req.params.webhookId,
      true,
      auditContextOf(req),
    );
    flash(
      req,
      "success",
      "The endpoint is enabled; what waited for it is delivered now.",
    );
    res.redirect(303, `/admin/webhooks/${req.params.webhookId}`);
  });

  router.post("/admin/webhooks/:webhookId/rotate-secret", async (req, res) => {
    const secret = await rotateEndpointSecret(
      deps,
      actorOf(req),
      req.params.webhookId,
      auditContextOf(req),
    );
    req.session.webhookSecret = { endpoint: req.params.webhookId, secret };
    flash(
      req,
      "success",
      "A new secret signs every delivery from now on; the old one no longer does.",
    );
    res.redirect(303, `/admin/webhooks/${req.params.webhookId}`);
  });

  router.post("/admin/webhooks/:webhookId/delete", async (req, res) => {
    const removed = await removeEndpoint(
      deps,
      actorOf(req),
      req.params.webhookId,
      auditContextOf(req),
    );
    flash(req, "success", `The endpoint ${removed.url} was deleted.`);
    res.redirect(303, "/admin/webhooks");
  });

  return router;
}

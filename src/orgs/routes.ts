import { Router, type Request, type Response } from "express";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import { parseForm, type FieldErrors } from "../http/validation.js";
import {
  contactSchema,
  createOrganization,
  inviteContact,
  listOrganizationsWithCounts,
  organizationDetails,
  organizationSchema,
  removeContact,
  setContactAdmin,
} from "./service.js";

interface FormState {
  values: Record<string, unknown>;
  errors: FieldErrors;
}
const EMPTY_FORM: FormState = { values: {}, errors: {} };

/** Staff pages: organizations and their contacts. */
export function organizationRoutes(deps: Deps) {
  const router = Router();
  router.use("/orgs", requireAllowed("org:manage"));

  const renderList = async (
    req: Request,
    res: Response,
    status = 200,
    form: FormState = EMPTY_FORM,
  ) => {
    const orgs = await listOrganizationsWithCounts(deps, actorOf(req));
    res.status(status).render("orgs/list", {
      title: "Organizations",
      orgs,
      ...form,
    });
  };

  const renderDetails = async (
    req: Request<{ orgPublicId: string }>,
    res: Response,
    status = 200,
    form: FormState = EMPTY_FORM,
  ) => {
    const details = await organizationDetails(
      deps,
      actorOf(req),
      req.params.orgPublicId,
    );
    res.status(status).render("orgs/show", {
      title: details.organization.name,
      ...details,
      ...form,
    });
  };

  router.get("/orgs", (req, res) => renderList(req, res));

  router.post("/orgs", async (req, res) => {
    const form = parseForm(organizationSchema, req.body);
    if (!form.ok) return renderList(req, res, 422, form);
    const outcome = await createOrganization(
      deps,
      actorOf(req),
      form.value,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return renderList(req, res, 422, {
        values: form.value,
        errors: outcome.errors,
      });
    flash(req, "success", `${outcome.value.name} was created.`);
    res.redirect(303, `/orgs/${outcome.value.publicId}`);
  });

  router.get("/orgs/:orgPublicId", (req, res) => renderDetails(req, res));

  router.post("/orgs/:orgPublicId/contacts", async (req, res) => {
    const form = parseForm(contactSchema, req.body);
    if (!form.ok) return renderDetails(req, res, 422, form);
    const outcome = await inviteContact(
      deps,
      actorOf(req),
      req.params.orgPublicId,
      form.value,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return renderDetails(req, res, 422, {
        values: form.value,
        errors: outcome.errors,
      });
    flash(
      req,
      "success",
      outcome.value.kind === "invited"
        ? `${outcome.value.email} was invited; a one-time link to set a password was mailed.`
        : `${outcome.value.email} already had a contact account and was added.`,
    );
    res.redirect(303, `/orgs/${req.params.orgPublicId}`);
  });

  router.post(
    "/orgs/:orgPublicId/contacts/:userPublicId/remove",
    async (req, res) => {
      const removed = await removeContact(
        deps,
        actorOf(req),
        req.params.orgPublicId,
        req.params.userPublicId,
        auditContextOf(req),
      );
      flash(
        req,
        "success",
        `${removed.email} is no longer a contact of ${removed.organization.name}.`,
      );
      res.redirect(303, `/orgs/${removed.organization.publicId}`);
    },
  );

  // The organization's administrator (its colleagues, who sees which case), and back.
  for (const [suffix, isAdmin] of [
    ["admin", true],
    ["admin/remove", false],
  ] as const)
    router.post(
      `/orgs/:orgPublicId/contacts/:userPublicId/${suffix}`,
      async (req, res) => {
        const changed = await setContactAdmin(
          deps,
          actorOf(req),
          req.params.orgPublicId,
          req.params.userPublicId,
          isAdmin,
          auditContextOf(req),
        );
        flash(
          req,
          "success",
          isAdmin
            ? `${changed.email} now administers ${changed.organization.name}: colleagues and who sees which case.`
            : `${changed.email} is no longer an administrator of ${changed.organization.name}.`,
        );
        res.redirect(303, `/orgs/${changed.organization.publicId}`);
      },
    );

  return router;
}

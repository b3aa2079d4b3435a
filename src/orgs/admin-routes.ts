import { Router, type Request, type Response } from "express";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireSignIn } from "../http/middleware.js";
import { parseForm, type FieldErrors } from "../http/validation.js";
import {
  administeredOrganizations,
  contactSchema,
  giveCase,
  giveCaseSchema,
  inviteColleague,
  orgAdminPage,
  removeColleague,
  setColleagueAdmin,
  setVisibility,
  takeCase,
  visibilitySchema,
} from "./admin-service.js";

/** Which form on the page the values and errors belong to. */
type FormName = "invite" | "give" | "visibility" | "remove";
interface FormState {
  form: FormName | null;
  values: Record<string, unknown>;
  errors: FieldErrors;
}
const NO_FORM: FormState = { form: null, values: {}, errors: {} };

type OrgRequest = Request<{ orgPublicId: string }>;

/**
 * The organization's administrator's pages (orgs/admin-service.ts): its
 * colleagues and who sees which case. Every route asks the policy for this
 * organization (canAdministerOrg); others get the 404 of a missing one.
 */
export function organizationAdminRoutes(deps: Deps) {
  const router = Router();
  // Visitors sign in first; the policy answers the rest per organization.
  router.use(
    [
      "/org/members",
      "/org/:orgPublicId/members",
      "/org/:orgPublicId/visibility",
      "/org/:orgPublicId/cases",
    ],
    requireSignIn,
  );

  const render = async (
    req: OrgRequest,
    res: Response,
    status = 200,
    state: FormState = NO_FORM,
  ) => {
    const page = await orgAdminPage(deps, actorOf(req), req.params.orgPublicId);
    res.status(status).render("orgs/members", {
      title: `Colleagues of ${page.organization.name}`,
      ...page,
      ...state,
    });
  };
  const back = (req: OrgRequest, res: Response) =>
    res.redirect(303, `/org/${req.params.orgPublicId}/members`);

  // One organization: its page; several: a choice.
  router.get("/org/members", async (req, res) => {
    const orgs = await administeredOrganizations(deps, actorOf(req));
    if (orgs.length === 1)
      return res.redirect(303, `/org/${orgs[0]!.publicId}/members`);
    res.render("orgs/administered", {
      title: "Organizations you administer",
      orgs,
    });
  });

  router.get("/org/:orgPublicId/members", (req, res) => render(req, res));

  router.post("/org/:orgPublicId/members", async (req, res) => {
    const form = parseForm(contactSchema, req.body);
    if (!form.ok) return render(req, res, 422, { form: "invite", ...form });
    const outcome = await inviteColleague(
      deps,
      actorOf(req),
      req.params.orgPublicId,
      form.value,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return render(req, res, 422, {
        form: "invite",
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
    back(req, res);
  });

  router.post(
    "/org/:orgPublicId/members/:userPublicId/remove",
    async (req, res) => {
      const outcome = await removeColleague(
        deps,
        actorOf(req),
        req.params.orgPublicId,
        req.params.userPublicId,
        auditContextOf(req),
      );
      if (!outcome.ok)
        return render(req, res, outcome.status ?? 422, {
          form: "remove",
          values: {},
          errors: outcome.errors,
        });
      flash(
        req,
        "success",
        `${outcome.value.email} is no longer a member of ${outcome.value.organization.name}.`,
      );
      // Who removed themselves no longer administers it.
      if (req.params.userPublicId === req.user?.publicId)
        return res.redirect(303, "/org/reports");
      back(req, res);
    },
  );

  // A colleague becomes an administrator too, or a plain member again.
  for (const [suffix, isAdmin] of [
    ["admin", true],
    ["admin/remove", false],
  ] as const)
    router.post(
      `/org/:orgPublicId/members/:userPublicId/${suffix}`,
      async (req, res) => {
        const outcome = await setColleagueAdmin(
          deps,
          actorOf(req),
          req.params.orgPublicId,
          req.params.userPublicId,
          isAdmin,
          auditContextOf(req),
        );
        if (!outcome.ok)
          return render(req, res, outcome.status ?? 422, {
            form: "remove",
            values: {},
            errors: outcome.errors,
          });
        const { email, organization } = outcome.value;
        flash(
          req,
          "success",
          isAdmin
            ? `${email} now administers ${organization.name} too.`
            : `${email} is no longer an administrator of ${organization.name}.`,
        );
        // Who stepped down no longer administers it (staff still do).
        if (!isAdmin && req.params.userPublicId === req.user?.publicId)
          return res.redirect(303, "/org/reports");
        back(req, res);
      },
    );

  router.post("/org/:orgPublicId/visibility", async (req, res) => {
    const form = parseForm(visibilitySchema, req.body);
    if (!form.ok) return render(req, res, 422, { form: "visibility", ...form });
    const org = await setVisibility(
      deps,
      actorOf(req),
      req.params.orgPublicId,
      form.value,
      auditContextOf(req),
    );
    flash(
      req,
      "success",
      form.value.visibility === "all"
        ? `Every member of ${org.name} now sees every case of ${org.name}.`
        : `Each member of ${org.name} now sees only the cases they are given; administrators see every case.`,
    );
    back(req, res);
  });

  router.post("/org/:orgPublicId/cases", async (req, res) => {
    const form = parseForm(giveCaseSchema, req.body);
    if (!form.ok) return render(req, res, 422, { form: "give", ...form });
    const outcome = await giveCase(
      deps,
      actorOf(req),
      req.params.orgPublicId,
      form.value,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return render(req, res, 422, {
        form: "give",
        values: form.value,
        errors: outcome.errors,
      });
    flash(
      req,
      "success",
      `${outcome.value.email} now sees ${outcome.value.reportPublicId}.`,
    );
    back(req, res);
  });

  router.post(
    "/org/:orgPublicId/members/:userPublicId/cases/:reportId/remove",
    async (req, res) => {
      const taken = await takeCase(
        deps,
        actorOf(req),
        req.params.orgPublicId,
        req.params.userPublicId,
        req.params.reportId,
        auditContextOf(req),
      );
      flash(
        req,
        "success",
        `${taken.email} no longer sees ${taken.reportPublicId}.`,
      );
      back(req, res);
    },
  );

  return router;
}

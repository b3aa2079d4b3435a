import { formatDateTime } from "../format.js";
import { Router } from "express";
import { z } from "zod";
import { ROLES } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { ROLE_LABELS } from "../format.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import { parseForm } from "../http/validation.js";
import {
  changeRole,
  createAccount,
  createAccountSchema,
  disableUser,
  enableUser,
  listAllUsers,
} from "./service.js";
import type { User } from "./types.js";

const roleSchema = z.object({
  role: z.enum(ROLES, { error: "Choose a role." }),
});

function userRow(user: User) {
  return {
    publicId: user.publicId,
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    roleLabel: ROLE_LABELS[user.role],
    disabled: user.disabledAt !== null,
    bouncingSince: user.mailBouncingSince
      ? formatDateTime(user.mailBouncingSince)
      : null,
    createdAt: user.createdAt,
  };
}

/** The admin's user pages: list, create staff and contacts, change roles, disable. */
export function adminUserRoutes(deps: Deps) {
  const router = Router();
  router.use("/admin/users", requireAllowed("user:manage"));

  const renderList = async (
    req: Parameters<Parameters<typeof router.get>[1]>[0],
    res: Parameters<Parameters<typeof router.get>[1]>[1],
    status = 200,
    form: {
      values: Record<string, unknown>;
      errors: Record<string, string>;
    } = { values: {}, errors: {} },
  ) => {
    const users = await listAllUsers(deps, actorOf(req));
    res.status(status).render("users/admin-list", {
      title: "Users",
      users: users.map(userRow),
      roles: ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] })),
      ...form,
    });
  };

  router.get("/admin/users", (req, res) => renderList(req, res));

  router.post("/admin/users", async (req, res) => {
    const form = parseForm(createAccountSchema, req.body);
    if (!form.ok) return renderList(req, res, 422, form);
    const outcome = await createAccount(deps, actorOf(req), form.value);
    if (!outcome.ok)
      return renderList(req, res, 422, {
        values: form.value,
        errors: outcome.errors,
      });
    flash(
      req,
      "success",
      `Account created for ${outcome.value.user.email}; a set-password link was mailed.`,
    );
    res.redirect(303, "/admin/users");
  });

  router.post("/admin/users/:publicId/role", async (req, res) => {
    const form = parseForm(roleSchema, req.body);
    if (!form.ok) {
      flash(req, "error", "Choose a valid role.");
      return res.redirect(303, "/admin/users");
    }
    const user = await changeRole(
      deps,
      actorOf(req),
      req.params.publicId,
      form.value.role,
    );
    flash(
      req,
      "success",
      `${user.email} is now ${ROLE_LABELS[form.value.role]}; their sessions were ended.`,
    );
    res.redirect(303, "/admin/users");
  });

  router.post("/admin/users/:publicId/disable", async (req, res) => {
    const user = await disableUser(deps, actorOf(req), req.params.publicId);
    flash(
      req,
      "success",
      `${user.email} is disabled and signed out everywhere.`,
    );
    res.redirect(303, "/admin/users");
  });

  router.post("/admin/users/:publicId/enable", async (req, res) => {
    const user = await enableUser(deps, actorOf(req), req.params.publicId);
    flash(req, "success", `${user.email} is enabled again.`);
    res.redirect(303, "/admin/users");
  });

  return router;
}

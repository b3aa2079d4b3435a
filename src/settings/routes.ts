import { Router, type Request, type Response } from "express";
import { z } from "zod";
import { auditContextOf } from "../audit/routes.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireAllowed } from "../http/middleware.js";
import { formValues, parseForm, type FieldErrors } from "../http/validation.js";
import {
  CLOCK_SETTINGS,
  clockSettings,
  MAX_DAYS,
  MIN_DAYS,
  saveClockSettings,
  type ClockSettingKey,
} from "./service.js";
import { saveTriageMail, triageMailSettings } from "./triage-mail.js";

/** A number of days, or empty for the environment's value. */
function daysField(label: string) {
  const bad = `${label}: enter a whole number of days from ${MIN_DAYS} to ${MAX_DAYS}, or leave it empty for the default.`;
  return z
    .string({
      error: (issue) =>
        issue.input === undefined
          ? `${label} is missing. Reload the page and try again.`
          : bad,
    })
    .transform((s, ctx) => {
      const typed = s.trim();
      if (typed === "") return null;
      const days = /^\d{1,5}$/.test(typed) ? Number(typed) : NaN;
      if (!(days >= MIN_DAYS && days <= MAX_DAYS)) {
        ctx.addIssue({ code: "custom", message: bad });
        return z.NEVER;
      }
      return days;
    });
}

const settingsSchema = z.object(
  Object.fromEntries(
    CLOCK_SETTINGS.map((s) => [
      s.key,
      daysField(s.label.replace(/ \(days\)$/, "")),
    ]),
  ) as Record<ClockSettingKey, ReturnType<typeof daysField>>,
);

const GROUPS = [
  { id: "response", legend: "Answering new reports" },
  { id: "info", legend: "Questions to the researcher" },
  { id: "disclosure", legend: "Disclosure and fixes" },
  { id: "orgs", legend: "Organizations on a case" },
] as const;

/** The admin's page for the disclosure-policy defaults. */
export function settingsRoutes(deps: Deps) {
  const router = Router();
  router.use("/admin/settings", requireAllowed("settings:manage"));

  const render = async (
    req: Request,
    res: Response,
    status = 200,
    form: { values: Record<string, unknown>; errors: FieldErrors } = {
      values: {},
      errors: {},
    },
    triageForm: { typed: string[]; error?: string } | null = null,
  ) => {
    const view = clockSettings(deps, actorOf(req));
    const triageMail = await triageMailSettings(
      deps,
      actorOf(req),
      triageForm?.typed,
    );
    const typed = (key: string) => {
      const value = form.values[key];
      return typeof value === "string" ? value : undefined;
    };
    res.status(status).render("admin/settings", {
      title: "Settings",
      errors: form.errors,
      groups: GROUPS.map((g) => ({
        legend: g.legend,
        fields: CLOCK_SETTINGS.filter((s) => s.group === g.id).map((s) => {
          const changed = view.saved[s.key] !== undefined;
          return {
            name: s.key,
            label: s.label,
            value: typed(s.key) ?? String(view.effective[s.key]),
            error: form.errors[s.key],
            hint: changed
              ? `Changed here; the environment default is ${view.defaults[s.key]} (${s.env}). Leave it empty to go back to it.`
              : `The environment default (${s.env}): ${view.defaults[s.key]}.`,
          };
        }),
      })),
      resetNames: CLOCK_SETTINGS.map((s) => s.key),
      triageMail: { ...triageMail, error: triageForm?.error ?? null },
      min: MIN_DAYS,
      max: MAX_DAYS,
    });
  };

  router.get("/admin/settings", (req, res) => render(req, res));

  // Who hears of reports nobody is assigned to (settings/triage-mail.ts).
  router.post("/admin/settings/triage-mail", async (req, res) => {
    const raw: unknown = req.body?.staff;
    const typed = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
      .filter((v): v is string => typeof v === "string")
      .slice(0, 500);
    const outcome = await saveTriageMail(
      deps,
      actorOf(req),
      typed,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return render(req, res, 422, undefined, {
        typed,
        error: outcome.errors.staff,
      });
    flash(
      req,
      "success",
      outcome.value.count
        ? "Saved: reports nobody is assigned to are mailed to the people ticked."
        : "Saved: reports nobody is assigned to are mailed to every active triager.",
    );
    res.redirect(303, "/admin/settings");
  });

  router.post("/admin/settings", async (req, res) => {
    const form = parseForm(settingsSchema, req.body);
    if (!form.ok) return render(req, res, 422, form);
    const outcome = await saveClockSettings(
      deps,
      actorOf(req),
      form.value,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return render(req, res, 422, {
        values: formValues(req.body),
        errors: outcome.errors,
      });
    const n = outcome.value.changed.length;
    flash(
      req,
      n ? "success" : "info",
      n
        ? `Saved ${n === 1 ? "1 change" : `${n} changes`}. Deadlines set from now on use the new values; reports already filed keep their dates.`
        : "Nothing changed.",
    );
    res.redirect(303, "/admin/settings");
  });

  return router;
}

import { Router, type Request } from "express";
import { z } from "zod";
import { DAY } from "../clock.js";
import type { Deps } from "../deps.js";
import { ROLE_LABELS } from "../format.js";
import { actorOf, requireAllowed } from "../http/middleware.js";
import { isCalendarDate, parseForm } from "../http/validation.js";
import {
  STATE_INFO,
  TRANSITIONS,
  isState,
  type TransitionName,
} from "../reports/workflow.js";
import {
  browseAudit,
  userIdsInDetails,
  type AuditPage,
  type AuditQuery,
} from "./service.js";
import {
  AUDIT_ACTIONS,
  type AuditListItem,
  type AuditRequestContext,
} from "./types.js";

/**
 * Where a request came from, for an audit entry. req.ip honours the
 * configured TRUST_PROXY, so a client cannot pick its own address with a
 * forwarded header unless a trusted proxy put it there.
 */
export function auditContextOf(req: Request): AuditRequestContext {
  return { ip: req.ip ?? null, userAgent: req.get("user-agent") ?? null };
}

const dateField = (label: string) =>
  z
    .string()
    .trim()
    .refine((s) => s === "" || isCalendarDate(s), {
      message: `${label} must be a date like 2026-03-02.`,
    })
    .default("");

const filterSchema = z.object({
  action: z
    .union([z.literal(""), z.enum(AUDIT_ACTIONS)], {
      error: "Choose an action from the list.",
    })
    .default(""),
  actor: z
    .string()
    .trim()
    .toLowerCase()
    .max(254, "Email must be at most 254 characters.")
    .default(""),
  target: z
    .string()
    .trim()
    .max(100, "Target ID must be at most 100 characters.")
    .default(""),
  from: dateField("From"),
  to: dateField("To"),
  before: z
    .string()
    .regex(/^\d{1,15}$/, "Not a valid page.")
    .optional(),
});
type Filters = z.infer<typeof filterSchema>;

function toQuery(f: Filters): AuditQuery {
  return {
    action: f.action || undefined,
    actorEmail: f.actor || undefined,
    targetId: f.target || undefined,
    // Dates are days in UTC, the time zone the page shows.
    from: f.from ? new Date(`${f.from}T00:00:00Z`) : undefined,
    until: f.to
      ? new Date(new Date(`${f.to}T00:00:00Z`).getTime() + DAY)
      : undefined,
    before: f.before ? Number(f.before) : undefined,
  };
}

function pageHref(f: Filters, before?: number): string {
  const params = new URLSearchParams();
  for (const key of ["action", "actor", "target", "from", "to"] as const)
    if (f[key]) params.set(key, f[key]);
  if (before !== undefined) params.set("before", String(before));
  const query = params.toString();
  return query ? `/admin/audit?${query}` : "/admin/audit";
}

/** "2026-03-02 09:00:05 UTC": seconds matter in an audit log. */
function utcText(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

type Names = AuditPage["names"];

const isTransitionName = (value: string): value is TransitionName =>
  Object.hasOwn(TRANSITIONS, value);

/** Where a user's name leads: their row on the Users page. */
const userHref = (publicId: string) => `/admin/users#user-${publicId}`;

/** What an entry acted on, by name, and where it is when it has a page. */
function targetOf(
  entry: AuditListItem,
  names: Names,
): { text: string; href: string | null } | null {
  const id = entry.targetId ?? "";
  switch (entry.targetType) {
    case null:
      return null;
    case "report":
      return { text: `Report ${id}`, href: `/reports/${id}` };
    case "user":
      return {
        text: names.users.get(id) ?? "A removed account",
        href: names.users.has(id) ? userHref(id) : null,
      };
    case "organization":
      return {
        text: names.organizations.get(id) ?? "A removed organization",
        href: names.organizations.has(id) ? `/orgs/${id}` : null,
      };
    case "setting":
      return { text: `Setting: ${id}`, href: "/admin/settings" };
    case "outbox":
      return { text: "A mail in the outbox", href: "/admin/outbox" };
    case "export":
      return { text: "The queue, as CSV", href: null };
    case "api_token":
      return { text: `API token ${id}`, href: null };
    case "webhook":
      return { text: `Webhook endpoint ${id}`, href: `/admin/webhooks/${id}` };
    default:
      return { text: `${entry.targetType} ${id}`.trim(), href: null };
  }
}

function entryRow(entry: AuditListItem, names: Names) {
  const userIds = new Set(userIdsInDetails(entry));
  return {
    id: entry.id,
    atIso: entry.at.toISOString(),
    atText: utcText(entry.at),
    actorName: entry.actorName,
    actorEmail: entry.actorEmail,
    actorHref: entry.actorPublicId ? userHref(entry.actorPublicId) : null,
    actorLabel: ROLE_LABELS[entry.actorLabel] ?? entry.actorLabel,
    action: entry.action,
    target: targetOf(entry, names),
    ip: entry.ip ?? "",
    userAgent: entry.userAgent ?? "",
    details: detailLines(entry.details).map(({ key, value }) => ({
      key,
      value: userIds.has(value)
        ? (names.users.get(value) ?? "a removed account")
        : entry.action === "report.state_changed" && isState(value)
          ? STATE_INFO[value].label
          : entry.action === "report.state_changed" &&
              key === "transition" &&
              isTransitionName(value)
            ? TRANSITIONS[value].label
            : entry.action === "user.role_changed"
              ? (ROLE_LABELS[value] ?? value)
              : value,
    })),
  };
}

/** "key: value" lines to read, from the stored JSON (kept verbatim if it is not an object). */
function detailLines(details: string): { key: string; value: string }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(details);
  } catch {
    return [{ key: "details", value: details }];
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    return [{ key: "details", value: details }];
  return Object.entries(parsed).map(([key, value]) => ({
    key,
    value:
      value === null
        ? "none"
        : Array.isArray(value)
          ? value.join(", ")
          : String(value),
  }));
}

/** The admin's audit log: filter, newest first, keyset pages. */
export function auditRoutes(deps: Deps) {
  const router = Router();
  router.use("/admin/audit", requireAllowed("audit:view"));

  router.get("/admin/audit", async (req, res) => {
    const form = parseForm(filterSchema, req.query);
    const actions = [
      { value: "", label: "Any action" },
      ...AUDIT_ACTIONS.map((a) => ({ value: a, label: a })),
    ];
    if (!form.ok) {
      return res.status(422).render("admin/audit", {
        title: "Audit log",
        actions,
        values: form.values,
        errors: form.errors,
        entries: [],
        nextHref: null,
        newestHref: null,
      });
    }
    const filters = form.value;
    const page = await browseAudit(deps, actorOf(req), toQuery(filters));
    res.render("admin/audit", {
      title: "Audit log",
      actions,
      values: filters,
      errors: {},
      entries: page.entries.map((e) => entryRow(e, page.names)),
      nextHref:
        page.nextBefore === null ? null : pageHref(filters, page.nextBefore),
      newestHref: filters.before ? pageHref(filters) : null,
    });
  });

  return router;
}

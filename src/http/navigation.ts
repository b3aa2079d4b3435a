import {
  can,
  mustEnrollTwoFactor,
  mustVerifyEmail,
  type Actor,
} from "../auth/policy.js";

export interface NavLink {
  href: string;
  label: string;
}

/** The pages a role needs, decided by the policy, not by role names in views. */
export function navigationFor(actor: Actor | null): NavLink[] {
  if (!actor) {
    return [
      { href: "/reports/new", label: "Report a vulnerability" },
      { href: "/login", label: "Sign in" },
      { href: "/register", label: "Register" },
    ];
  }
  const links: NavLink[] = [];
  if (can(actor, "report:list_own"))
    links.push({ href: "/reports", label: "My reports" });
  if (can(actor, "report:create") || mustVerifyEmail(actor))
    links.push({ href: "/reports/new", label: "Report a vulnerability" });
  if (can(actor, "report:list_org"))
    links.push({ href: "/org/reports", label: "Our reports" });
  if (can(actor, "queue:view")) links.push({ href: "/queue", label: "Queue" });
  if (can(actor, "report:search"))
    links.push({ href: "/search", label: "Search" });
  if (can(actor, "org:manage"))
    links.push({ href: "/orgs", label: "Organizations" });
  if (can(actor, "user:manage"))
    links.push({ href: "/admin/users", label: "Users" });
  if (can(actor, "outbox:manage"))
    links.push({ href: "/admin/outbox", label: "Outbox" });
  if (can(actor, "audit:view"))
    links.push({ href: "/admin/audit", label: "Audit log" });
  if (can(actor, "settings:manage"))
    links.push({ href: "/admin/settings", label: "Settings" });
  if (can(actor, "stats:view_staff"))
    links.push({ href: "/stats/staff", label: "Statistics" });
  links.push({ href: "/account", label: "Account" });
  return links;
}

/** Where each role starts after signing in. */
export function homeFor(actor: Actor): string {
  if (mustEnrollTwoFactor(actor)) return "/account/2fa";
  if (can(actor, "queue:view")) return "/queue";
  if (can(actor, "report:list_org")) return "/org/reports";
  return "/reports";
}

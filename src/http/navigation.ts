import {
  administeredOrgIds,
  can,
  mustEnrollTwoFactor,
  mustVerifyEmail,
  type Actor,
  type GlobalAction,
} from "../auth/policy.js";

export interface NavLink {
  href: string;
  label: string;
}

const allowedTo = (action: GlobalAction) => (actor: Actor) =>
  can(actor, action);

/** The signed-in menu, in order: each page with who the policy lets in. */
const MENU: readonly [string, string, (actor: Actor) => boolean][] = [
  ["/reports", "My reports", allowedTo("report:list_own")],
  // An unconfirmed researcher is shown the form, which asks them to confirm.
  [
    "/reports/new",
    "Report a vulnerability",
    (actor) => can(actor, "report:create") || mustVerifyEmail(actor),
  ],
  ["/org/reports", "Our reports", allowedTo("report:list_org")],
  // The organization's administrator: colleagues and who sees which case.
  [
    "/org/members",
    "Colleagues",
    (actor) => administeredOrgIds(actor).length > 0,
  ],
  ["/queue", "Queue", allowedTo("queue:view")],
  ["/search", "Search", allowedTo("report:search")],
  ["/orgs", "Organizations", allowedTo("org:manage")],
  ["/admin/users", "Users", allowedTo("user:manage")],
  ["/admin/inbound", "Inbound mail", allowedTo("inbound:manage")],
  ["/admin/outbox", "Outbox", allowedTo("outbox:manage")],
  ["/admin/webhooks", "Webhooks", allowedTo("webhook:manage")],
  ["/admin/audit", "Audit log", allowedTo("audit:view")],
  ["/admin/settings", "Settings", allowedTo("settings:manage")],
  ["/stats/staff", "Statistics", allowedTo("stats:view_staff")],
  ["/account", "Account", () => true],
];

/** The pages a role needs, decided by the policy, not by role names in views. */
export function navigationFor(actor: Actor | null): NavLink[] {
  if (!actor) {
    return [
      { href: "/reports/new", label: "Report a vulnerability" },
      { href: "/login", label: "Sign in" },
      { href: "/register", label: "Register" },
    ];
  }
  return MENU.filter(([, , shownTo]) => shownTo(actor)).map(
    ([href, label]) => ({ href, label }),
  );
}

/** Where each role starts after signing in. */
export function homeFor(actor: Actor): string {
  if (mustEnrollTwoFactor(actor)) return "/account/2fa";
  if (can(actor, "queue:view")) return "/queue";
  if (can(actor, "report:list_org")) return "/org/reports";
  return "/reports";
}

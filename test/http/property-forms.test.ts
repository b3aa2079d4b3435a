/**
 * Property-based: random and hostile input at every form route (every POST
 * route the router knows, so a route added later is attacked too), by every
 * kind of user, with a valid CSRF token so each request reaches its handler;
 * then the same routes without a valid token, and with bodies the app cannot
 * read.
 *
 * Per request: never a 500, never a stack trace, and the state afterwards
 * differs from the state before only in ways this user could have caused
 * through the UI, and a request that changed any of that state wrote an
 * entry of a change (not a view) to the audit log. The oracle is written over the state (accounts,
 * memberships, organizations, reports, timeline, attachments, advisories,
 * settings),
 * not per route, and asks the app's own policy (can, relationTo) and
 * workflow (planTransition) what the user may do. A route it does not know
 * gets only what its kind allows: on /reports/:id/..., what the policy lets
 * this user do to that report; elsewhere, changes to the user's own account.
 *
 * Fixed seed: runs are repeatable (PROPERTY_SEED=n for another sequence).
 * Runs per route and user: 25, fewer once the app has so many form routes
 * that the file would take over a minute (about 4,500 requests in all);
 * PROPERTY_RUNS=200 for a long run.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "mocha";
import fc from "fast-check";
import { sql } from "kysely";
import {
  can,
  canAdministerOrg,
  relationTo,
  ROLES,
  type Actor,
  type GlobalAction,
  type ReportAccessFacts,
} from "../../src/auth/policy.js";
import { newPublicId, normalizeReportId } from "../../src/ids.js";
import { CWE_OPTIONS } from "../../src/reports/cwe.js";
import type { Severity } from "../../src/reports/cvss.js";
import { CREDIT_KINDS, DATA_KINDS } from "../../src/reports/types.js";
import {
  availableTransitions,
  planTransition,
  RESOLUTIONS,
  TRANSITION_NAMES,
  TRANSITIONS,
  type Resolution,
  type State,
  type WorkflowReport,
} from "../../src/reports/workflow.js";
import { findUserById } from "../../src/users/repository.js";
import { toActor } from "../../src/users/service.js";
import { NOTIFY_LEVELS } from "../../src/users/types.js";
import {
  createOrg,
  insertAttachmentRow,
  insertReport,
  type ReportFixture,
} from "../support/fixtures.js";
import {
  anonymous,
  createTestContext,
  csrfFrom,
  TEST_PASSWORD,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  columnNames,
  foreignKeys,
  tableNames,
  watchWrites as watchTableWrites,
} from "../support/database.js";
import { reportFields, SCREENSHOT } from "../support/reports.js";
import { listRoutes, type AppRoute } from "../support/routes.js";

const SEED = Number(process.env.PROPERTY_SEED ?? 4242);
const ENV = { RATE_LIMITS: "false" };

/** Every POST route, read from the router before any test is declared. */
const POST_ROUTES: AppRoute[] = await (async () => {
  const probe = await createTestContext({ env: ENV });
  try {
    // The JSON API takes tokens, not forms: api-property.test.ts attacks it.
    return listRoutes(probe.app).filter(
      (r) =>
        (r.method === "POST" || r.method === "ALL") &&
        !r.path.startsWith("/api/v1/"),
    );
  } finally {
    await probe.close();
  }
})();

const ACTORS = [
  "anonymous",
  "owner", // the researcher who filed the reports of the world
  "otherResearcher",
  "orgContact", // contact of the organization the reports are about
  "otherOrgContact",
  "triager",
  "admin",
] as const;
type ActorName = (typeof ACTORS)[number];

/** About a minute of requests on two cores, shared by every route and user. */
const REQUEST_BUDGET = 4500;
const RUNS = Number(
  process.env.PROPERTY_RUNS ??
    Math.max(
      10,
      Math.min(
        25,
        Math.floor(REQUEST_BUDGET / (POST_ROUTES.length * ACTORS.length)),
      ),
    ),
);

type Fields = Record<string, string | string[]>;

// ---------------------------------------------------------------- inputs

/** Field names forms use or a forger would try; scraped names are added. */
const KNOWN_FIELDS = [
  "title",
  "organization",
  "newOrganization",
  "asset",
  "cwe",
  "cvss",
  "description",
  "steps",
  "impact",
  "dataExposed",
  "records",
  "recordsAffected",
  "credit",
  "creditKind",
  "creditHandle",
  "creditName",
  "revealIdentity",
  "keptAttachments",
  "body",
  "transition",
  "name",
  "message",
  "resolution",
  "duplicateOf",
  "email",
  "displayName",
  "password",
  "confirm",
  "currentPassword",
  "newPassword",
  "role",
  "notify",
  "token",
  "code",
  "assignee",
  "state",
  "reporter_id",
  "reporterId",
  "assignee_id",
  "organization_id",
  "user_id",
  "id",
  "publicId",
  "disabled",
];
const HOSTILE_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "a[b]",
  "role[]",
  "body[0]",
  "x.y",
  "",
];

const LONG = [
  "A".repeat(10_001),
  "é".repeat(5_001) + "<",
  "\u0000".repeat(10_001),
];
const HOSTILE_VALUES = [
  "<script>alert(1)</script>",
  `"><img src=x onerror=alert(1)>`,
  "../../etc/passwd",
  "..\\..\\windows\\win.ini",
  "' OR 1=1 --",
  `"; DROP TABLE users; --`,
  "\u0000",
  "a\u0000b",
  "\r\n\r\nX-Injected: 1",
  "${7*7}",
  "<%= process.env %>",
  "{{constructor.constructor('return process')()}}",
  "javascript:alert(1)",
  "[x](javascript:alert(1))",
  "%00",
  "%s%s%s%n",
  "\u202e\u0007",
  "\ufeff",
  "😀".repeat(50),
  "İı",
  " ",
  "",
  "null",
  "undefined",
  "true",
  "[]",
  "{}",
  "NaN",
  "Infinity",
  "-0",
  "1e309",
  "-1",
  "0",
  "999999999999999999999",
  "0x10",
  "DD-0000-0000",
  "dd-oooo-iiii",
  "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
  "CVSS:3.1/AV:N",
  "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
  ...LONG,
];
/** The app's own vocabularies: values that reach past the validators. */
const APP_VALUES = [
  ...TRANSITION_NAMES,
  ...RESOLUTIONS,
  ...ROLES,
  ...NOTIFY_LEVELS,
  ...CREDIT_KINDS,
  ...DATA_KINDS,
  ...CWE_OPTIONS.slice(0, 8).map((o) => o.value),
  "other",
  "me",
  "none",
  "new",
  "yes",
  "no",
  "on",
];
/** Passes the password rules; nobody's password until someone registers with it. */
const STRONG_PASSWORD = "Tr0ub4dor&3 horse battery x";

/**
 * Random text of every kind. Built once: fast-check builds large lookup
 * tables per string arbitrary when it shrinks.
 */
const RANDOM_TEXT: fc.Arbitrary<string> = fc.oneof(
  { weight: 2, arbitrary: fc.string({ maxLength: 60 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 60 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }) },
);
const RANDOM_KEY = fc.string({ maxLength: 20 });

/** A path segment: text the route sees, or raw bytes sent as they are. */
interface PathValue {
  text: string;
  raw?: true;
}
const RAW_SEGMENTS = ["%E0%A4%A", "%FF", "%00", "..%2F..%2Fetc%2Fpasswd", "%"];
const garbageSegment: fc.Arbitrary<PathValue> = fc.oneof(
  fc.string({ maxLength: 30 }).map((text) => ({ text })),
  fc.string({ unit: "binary", maxLength: 20 }).map((text) => ({ text })),
  fc
    .constantFrom(
      "DD-0000-0000",
      "0000000000000000",
      "..",
      "' OR 1=1 --",
      "<script>",
      "__proto__",
      "constructor",
      "-1",
      "1e309",
      "x".repeat(5000),
    )
    .map((text) => ({ text })),
  fc
    .constantFrom(...RAW_SEGMENTS)
    .map((text) => ({ text, raw: true as const })),
);

/** What Express hands the route for a segment (null: undecodable). */
function seen(p: PathValue): string | null {
  if (!p.raw) return Buffer.from(p.text, "utf8").toString("utf8");
  try {
    return decodeURIComponent(p.text);
  } catch {
    return null;
  }
}

function urlFor(route: AppRoute, params: Record<string, PathValue>): string {
  return route.path.replace(/:(\w+)/g, (_, name: string) => {
    const p = params[name]!;
    return p.raw
      ? p.text
      : encodeURIComponent(Buffer.from(p.text, "utf8").toString("utf8"));
  });
}

const paramNames = (route: AppRoute) =>
  [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);

// ---------------------------------------------------------------- forms

interface FormInfo {
  fields: Set<string>;
  values: Set<string>;
  multipart: boolean;
}

function routePattern(path: string): RegExp {
  const source = path
    .split(/(:\w+)/)
    .map((part) =>
      part.startsWith(":")
        ? "[^/]+"
        : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
    )
    .join("");
  return new RegExp(`^${source}$`);
}

const unescapeHtml = (s: string) =>
  s
    .replace(/&#0*39;|&#x27;/g, "'")
    .replace(/&quot;|&#34;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

/** Reads the POST forms of a page into the routes they post to. */
function scrapeForms(html: string, forms: Map<string, FormInfo>) {
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = m[1]!;
    if (!/method="post"/i.test(attrs)) continue;
    const action = unescapeHtml(/action="([^"]*)"/i.exec(attrs)?.[1] ?? "");
    const route = POST_ROUTES.find((r) =>
      routePattern(r.path).test(action.split(/[?#]/)[0]!),
    );
    if (!route) continue;
    let info = forms.get(route.path);
    if (!info) {
      info = { fields: new Set(), values: new Set(), multipart: false };
      forms.set(route.path, info);
    }
    if (/multipart\/form-data/i.test(attrs)) info.multipart = true;
    const inner = m[2]!;
    for (const n of inner.matchAll(/\bname="([^"]+)"/g)) {
      const name = unescapeHtml(n[1]!);
      if (name !== "_csrf") info.fields.add(name);
    }
    for (const v of inner.matchAll(
      /<(?:option|input|button)\b[^>]*\bvalue="([^"]*)"/g,
    )) {
      if (!/name="_csrf"/.test(v[0])) info.values.add(unescapeHtml(v[1]!));
    }
  }
}

// ---------------------------------------------------------------- state

type Row = Record<string, unknown>;
interface Snapshot {
  users: Map<number, Row>;
  members: Set<string>;
  orgs: Map<number, Row>;
  reports: Map<number, Row>;
  events: Map<number, Row>;
  attachments: Map<number, Row>;
  /** By report id. */
  advisories: Map<number, Row>;
  /** By key. */
  settings: Map<string, Row>;
}

const TRACKED = [
  "users",
  "org_members",
  "organizations",
  "reports",
  "report_events",
  "attachments",
  "advisories",
  "settings",
];
/** The tracked tables this version of the schema has. */
const present = new Set<string>();

/** Reads how many rows were written to the tracked tables (watchWrites). */
let writeCount: () => Promise<number> = () =>
  Promise.reject(new Error("watchWrites first"));

/**
 * Counts writes to the tracked tables (test/support/database.ts), so a
 * request that wrote none of them needs no second snapshot.
 */
async function watchWrites(ctx: TestContext) {
  for (const name of await tableNames(ctx.db))
    if (TRACKED.includes(name)) present.add(name);
  writeCount = await watchTableWrites(ctx.db, [...present]);
}
async function writes(_ctx: TestContext): Promise<number> {
  return writeCount();
}

async function snapshot(ctx: TestContext): Promise<Snapshot> {
  const byId = (rows: Row[]) => new Map(rows.map((r) => [r.id as number, r]));
  const db = ctx.db;
  return {
    users: byId(await db.selectFrom("users").selectAll().execute()),
    members: new Set(
      (await db.selectFrom("org_members").selectAll().execute()).map(
        (m) => `${m.org_id}:${m.user_id}`,
      ),
    ),
    orgs: byId(await db.selectFrom("organizations").selectAll().execute()),
    reports: byId(await db.selectFrom("reports").selectAll().execute()),
    events: byId(await db.selectFrom("report_events").selectAll().execute()),
    attachments: byId(await db.selectFrom("attachments").selectAll().execute()),
    advisories: new Map(
      present.has("advisories")
        ? (await sql<Row>`select * from advisories`.execute(db)).rows.map(
            (r) => [r.report_id as number, r],
          )
        : [],
    ),
    settings: new Map(
      present.has("settings")
        ? (await sql<Row>`select * from settings`.execute(db)).rows.map((r) => [
            r.key as string,
            r,
          ])
        : [],
    ),
  };
}

/** The tracked tables whose rows differ between two snapshots. */
function changedTables(b: Snapshot, n: Snapshot): string[] {
  const text = (v: Map<unknown, Row> | Set<string>) =>
    JSON.stringify(v instanceof Set ? [...v].sort() : [...v.entries()]);
  return (Object.keys(b) as (keyof Snapshot)[]).filter(
    (k) => text(b[k]) !== text(n[k]),
  );
}

/**
 * Audit actions that record a read or a refusal, not a change: a page shown
 * again after a form error writes "report.viewed", which must not pass for
 * the entry of a change.
 */
const READ_ACTIONS = [
  "report.viewed",
  "report.not_found",
  "attachment.downloaded",
  "export.csv",
  "auth.rate_limited",
];
async function lastAuditId(ctx: TestContext): Promise<number> {
  const { rows } = await sql<{
    id: number | null;
  }>`select max(id) as id from audit_log`.execute(ctx.db);
  return rows[0]?.id ?? 0;
}
async function changeEntriesAfter(
  ctx: TestContext,
  id: number,
): Promise<string[]> {
  const rows = await ctx.db
    .selectFrom("audit_log")
    .select("action")
    .where("id", ">", id)
    .where("action", "not in", READ_ACTIONS)
    .execute();
  return rows.map((r) => r.action);
}

const changedColumns = (a: Row, b: Row) =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );

function factsOf(r: Row): ReportAccessFacts {
  return {
    reporterId: r.reporter_id as number,
    // The fixture's cases have one organization, the report's lead.
    participants:
      r.organization_id === null
        ? []
        : [
            {
              organizationId: r.organization_id as number,
              notifiedAt:
                r.vendor_notified_at === null
                  ? null
                  : new Date(r.vendor_notified_at as number),
            },
          ],
    revealIdentity: Boolean(r.reveal_identity),
  };
}

interface Attempt {
  actor: Actor | null;
  route: AppRoute;
  /** Route parameters as the route sees them (null: undecodable). */
  params: Record<string, string | null>;
  body: Fields;
  /** The app's clock at the request (the disclosure deadline's side of the workflow). */
  now: Date;
}

/** Which step of the workflow explains a report's new state, if any. */
function explainingTransition(
  old: Row,
  row: Row,
  relation: ReturnType<typeof relationTo>,
  now: Date,
) {
  const at = (ms: unknown) => (ms === null ? null : new Date(ms as number));
  const report: WorkflowReport = {
    state: old.state as State,
    stateBeforeInfo: old.state_before_info as State | null,
    // The triage step saves the organization and severity it needs with it.
    organizationId: row.organization_id as number | null,
    severity: row.severity as Severity | null,
    resolution: old.resolution as Resolution | null,
    vendorNotifiedAt: at(old.vendor_notified_at),
    disclosureDueAt: at(old.disclosure_due_at),
    fixVerifiedAt: at(old.fix_verified_at),
    publicAwareAt: at(old.public_aware_at),
  };
  for (const t of availableTransitions(report, relation, now)) {
    const decision = planTransition(
      report,
      relation,
      t.name,
      {
        message: "a message",
        resolution: (row.resolution ?? undefined) as Resolution | undefined,
        duplicateOfId: row.duplicate_of_id as number | null,
        confirmed: true,
      },
      now,
    );
    if (!decision.ok) continue;
    const p = decision.plan;
    if (
      p.to !== row.state ||
      p.resolution !== row.resolution ||
      p.duplicateOfId !== row.duplicate_of_id ||
      p.stateBeforeInfo !== row.state_before_info
    )
      continue;
    const clockMoved =
      old.vendor_notified_at !== row.vendor_notified_at ||
      old.disclosure_due_at !== row.disclosure_due_at;
    if (clockMoved && !p.startsDisclosureClock) continue;
    if (old.closed_at !== row.closed_at && p.to !== "closed") continue;
    return t;
  }
  return undefined;
}

/**
 * Who may change a report column outside a workflow step: the report action
 * of the app's policy that covers it. A column missing here may change only
 * by staff or within a workflow step (bookkeeping such as a timestamp); when
 * a new feature lets researchers or organizations change one, add it here.
 */
const REPORT_COLUMN_RULES: Record<string, string[]> = {
  cwe: ["report:edit_triage"],
  cvss_vector: ["report:edit_triage"],
  cvss_score: ["report:edit_triage"],
  severity: ["report:edit_triage"],
  organization_id: ["report:edit_triage"],
  ssvc: ["report:edit_triage"],
  public_aware_at: ["report:edit_triage"],
  exploit_public_at: ["report:edit_triage"],
  attacks_observed_at: ["report:edit_triage"],
  assignee_id: ["report:assign"],
  disclosure_due_at: ["report:set_deadline"],
  extension_requested_to: ["report:request_extension", "report:set_deadline"],
  // The researcher opens a request for disclosure; staff answer it.
  disclosure_requested_at: ["report:request_disclosure", "report:edit_triage"],
};
/** What a report is and who filed it: no form changes these after filing. */
const FIXED_COLUMNS = [
  "id",
  "public_id",
  "reporter_id",
  "suggested_org_name",
  "title",
  "asset",
  "description",
  "steps",
  "impact",
  "data_exposed",
  "records_affected",
  "credit_kind",
  "credit_handle",
  "reveal_identity",
  "created_at",
  "ack_due_at",
  "triage_due_at",
];
const WORKFLOW_COLUMNS = [
  "state",
  "state_before_info",
  "resolution",
  "duplicate_of_id",
  "closed_at",
  "vendor_notified_at",
  "disclosure_due_at",
];

/**
 * Which routes may change a column of one's own account row; a column not
 * named here (a preference, a timestamp) may change on any route.
 */
const OWN_ACCOUNT_RULES: Record<string, (path: string) => boolean> = {
  id: () => false,
  public_id: () => false,
  role: () => false,
  disabled_at: () => false,
  created_at: () => false,
  // Only the link mailed to the address confirms it.
  email: (p) => p.startsWith("/verify-email"),
  email_verified_at: (p) => p.startsWith("/verify-email"),
  password_hash: (p) =>
    p === "/account/password" || p === "/password/set" || p === "/login",
  totp_secret: (p) => p.startsWith("/account/2fa"),
  totp_enabled_at: (p) => p.startsWith("/account/2fa"),
};

/**
 * Everything that changed between two snapshots that this actor could not
 * have done through the UI with this request. Empty when all is explained.
 */
function illegalChanges(a: Attempt, b: Snapshot, n: Snapshot): string[] {
  const out: string[] = [];
  const { actor, route } = a;
  const path = route.path;
  const who = actor ? `${actor.role} #${actor.id}` : "anonymous";
  const may = (action: GlobalAction) => can(actor, action);

  // The objects the URL names.
  const userParam = a.params.publicId ?? a.params.userPublicId ?? null;
  const targetUserId = userParam
    ? ([...b.users.values()].find(
        (u) =>
          u.public_id === userParam ||
          u.email === userParam.trim().toLowerCase(),
      )?.id as number | undefined)
    : undefined;
  const orgParam = a.params.orgPublicId ?? null;
  const targetOrgId = orgParam
    ? ([...b.orgs.values()].find((o) => o.public_id === orgParam)?.id as
        number | undefined)
    : undefined;
  const administers =
    targetOrgId !== undefined && canAdministerOrg(actor, targetOrgId);
  const reportParam =
    path.startsWith("/reports/:id") && a.params.id
      ? normalizeReportId(a.params.id)
      : null;
  const targetReportId = reportParam
    ? ([...b.reports.values()].find((r) => r.public_id === reportParam)?.id as
        number | undefined)
    : undefined;

  // ---- users
  for (const [id, row] of n.users) {
    const old = b.users.get(id);
    if (!old) {
      const ok =
        (path === "/register" &&
          row.role === "researcher" &&
          row.disabled_at === null) ||
        (path === "/admin/users" &&
          may("user:manage") &&
          row.password_hash === null) ||
        (path === "/orgs/:orgPublicId/contacts" &&
          may("org:manage") &&
          row.role === "org_contact" &&
          row.password_hash === null) ||
        // The organization's administrator invites a colleague (orgs/admin-service.ts).
        (path === "/org/:orgPublicId/members" &&
          administers &&
          row.role === "org_contact" &&
          row.password_hash === null);
      if (!ok)
        out.push(`${who} created the account ${row.email} (${row.role})`);
      continue;
    }
    const changed = changedColumns(old, row);
    if (changed.length === 0) continue;
    if (actor && id === actor.id) {
      // One's own account: what its forms change, each on its own route.
      const bad = changed.filter(
        (c) => !(OWN_ACCOUNT_RULES[c]?.(path) ?? true),
      );
      if (bad.length)
        out.push(`${who} changed their own ${bad.join(", ")} on ${path}`);
      continue;
    }
    // A sign-in attempt may count against the account it names.
    const named = a.body.email;
    if (
      path.startsWith("/login") &&
      typeof named === "string" &&
      old.email === named.trim().toLowerCase()
    ) {
      const bad = changed.filter((c) =>
        [
          "id",
          "public_id",
          "role",
          "disabled_at",
          "email",
          "password_hash",
        ].includes(c),
      );
      if (bad.length)
        out.push(
          `${who} changed ${bad.join(", ")} of ${old.email} by signing in`,
        );
      continue;
    }
    if (
      id === targetUserId &&
      may("user:manage") &&
      path.startsWith("/admin/users/:publicId/")
    ) {
      const allowed = path.endsWith("/role")
        ? ["role"]
        : path.endsWith("/disable")
          ? row.disabled_at !== null
            ? ["disabled_at"]
            : []
          : path.endsWith("/enable") && row.disabled_at === null
            ? ["disabled_at"]
            : [];
      const bad = changed.filter((c) => !allowed.includes(c));
      if (bad.length)
        out.push(`${who} changed ${bad.join(", ")} of ${old.email} on ${path}`);
      continue;
    }
    out.push(
      `${who} changed ${changed.join(", ")} of another account (${old.email}, ${old.role})`,
    );
  }
  for (const [id, old] of b.users)
    if (!n.users.has(id)) out.push(`${who} deleted the account ${old.email}`);

  // ---- organizations and memberships
  for (const [id, row] of n.orgs) {
    const old = b.orgs.get(id);
    if (!old) {
      if (!(path === "/orgs" && may("org:manage")))
        out.push(`${who} created the organization ${String(row.name)}`);
    } else {
      const changed = changedColumns(old, row);
      // Its administrator chooses who sees which case.
      const visibility =
        path === "/org/:orgPublicId/visibility" &&
        administers &&
        id === targetOrgId &&
        changed.every((c) => c === "members_see_all");
      if (changed.length && !visibility)
        out.push(`${who} changed the organization ${String(old.name)}`);
    }
  }
  for (const id of b.orgs.keys())
    if (!n.orgs.has(id)) out.push(`${who} deleted organization #${id}`);
  for (const m of n.members) {
    if (b.members.has(m)) continue;
    const [orgId, userId] = m.split(":").map(Number) as [number, number];
    const ok =
      ((path === "/orgs/:orgPublicId/contacts" && may("org:manage")) ||
        (path === "/org/:orgPublicId/members" && administers)) &&
      orgId === targetOrgId &&
      n.users.get(userId)?.role === "org_contact";
    if (!ok) out.push(`${who} added user #${userId} to organization #${orgId}`);
  }
  for (const m of b.members) {
    if (n.members.has(m)) continue;
    const [orgId, userId] = m.split(":").map(Number) as [number, number];
    const ok =
      ((path === "/orgs/:orgPublicId/contacts/:userPublicId/remove" &&
        may("org:manage")) ||
        (path === "/org/:orgPublicId/members/:userPublicId/remove" &&
          administers)) &&
      orgId === targetOrgId &&
      userId === targetUserId;
    if (!ok)
      out.push(`${who} removed user #${userId} from organization #${orgId}`);
  }

  // ---- reports
  const newReports = new Set<number>();
  for (const [id, row] of n.reports) {
    const old = b.reports.get(id);
    if (!old) {
      newReports.add(id);
      const ok =
        path === "/reports/new" &&
        actor !== null &&
        may("report:create") &&
        row.reporter_id === actor.id &&
        row.state === "submitted" &&
        row.assignee_id === null &&
        row.duplicate_of_id === null &&
        row.vendor_notified_at === null &&
        row.resolution === null &&
        row.closed_at === null &&
        (row.organization_id === null ||
          b.orgs.has(row.organization_id as number));
      if (!ok)
        out.push(
          `${who} filed ${String(row.public_id)} (reporter #${String(row.reporter_id)}, ${String(row.state)}, assignee ${String(row.assignee_id)}, organization ${String(row.organization_id)})`,
        );
      continue;
    }
    const changed = changedColumns(old, row);
    if (changed.length === 0) continue;
    const label = `${who} changed ${changed.join(", ")} of ${String(old.public_id)}`;
    if (id !== targetReportId) {
      out.push(`${label}, which the URL did not name`);
      continue;
    }
    const facts = factsOf(old);
    const relation = actor ? relationTo(actor, facts) : "none";
    if (!actor || relation === "none") {
      out.push(`${label} without any standing on it`);
      continue;
    }
    const allowedBy = (c: string) =>
      (REPORT_COLUMN_RULES[c] ?? []).some((action) =>
        can(actor, action as "report:view", facts),
      );
    const staff = can(actor, "report:edit_triage", facts);
    const stateChanged = old.state !== row.state;
    /** Columns only a workflow step explains. */
    const needStep: string[] = [];
    for (const c of changed) {
      if (c === "updated_at") continue;
      if (FIXED_COLUMNS.includes(c)) {
        out.push(
          `${who} (${relation}) changed ${c} of ${String(old.public_id)}`,
        );
        continue;
      }
      if (allowedBy(c)) {
        if (
          c === "organization_id" &&
          (old.vendor_notified_at !== null ||
            (row.organization_id !== null &&
              !b.orgs.has(row.organization_id as number)))
        )
          out.push(
            `${who} moved ${String(old.public_id)} to organization ${String(row.organization_id)} (notified at ${String(old.vendor_notified_at)})`,
          );
        if (
          c === "assignee_id" &&
          ![actor.id, null].includes(row.assignee_id as number | null)
        )
          out.push(
            `${who} set the assignee of ${String(old.public_id)} to user #${String(row.assignee_id)}`,
          );
        continue;
      }
      if (WORKFLOW_COLUMNS.includes(c) || c in REPORT_COLUMN_RULES) {
        needStep.push(c);
        continue;
      }
      // Another column: staff's, or bookkeeping of a workflow step.
      if (!staff && !stateChanged)
        out.push(
          `${who} (${relation}) changed ${c} of ${String(old.public_id)} (if a ${relation} may, add the column to REPORT_COLUMN_RULES)`,
        );
    }
    if (stateChanged || needStep.length) {
      const step = explainingTransition(old, row, relation, a.now);
      const event = [...n.events.values()].find(
        (e) =>
          !b.events.has(e.id as number) &&
          e.report_id === id &&
          e.kind === "transition",
      );
      if (!step)
        out.push(
          `${who} (${relation}) moved ${String(old.public_id)} from ${String(old.state)} to ${String(row.state)} (resolution ${String(row.resolution)}, duplicate of ${String(row.duplicate_of_id)}): no step of the workflow does that`,
        );
      else if (
        !event ||
        event.action !== step.name ||
        (step.message === "required" && !String(event.body ?? "").trim())
      )
        out.push(
          `${who} moved ${String(old.public_id)} to ${String(row.state)} without its timeline entry`,
        );
      if (
        row.duplicate_of_id !== null &&
        (row.duplicate_of_id === id ||
          !b.reports.has(row.duplicate_of_id as number))
      )
        out.push(
          `${String(old.public_id)} is a duplicate of #${String(row.duplicate_of_id)}`,
        );
    }
  }
  for (const [id, old] of b.reports)
    if (!n.reports.has(id)) out.push(`${who} deleted ${String(old.public_id)}`);

  // ---- timeline
  for (const [id, e] of n.events) {
    const old = b.events.get(id);
    if (old) {
      if (changedColumns(old, e).length)
        out.push(`${who} rewrote timeline entry #${id}`);
      continue;
    }
    const reportId = e.report_id as number;
    const on = String(
      (b.reports.get(reportId) ?? n.reports.get(reportId))?.public_id ??
        `report #${reportId}`,
    );
    const what = `${who} added a ${String(e.kind)}${e.action ? ` (${String(e.action)})` : ""} entry (${String(e.visibility)}) to ${on}`;
    if (!actor || e.actor_id !== actor.id) {
      out.push(`${what} in the name of user #${String(e.actor_id)}`);
      continue;
    }
    if (newReports.has(reportId)) {
      if (e.kind !== "submitted") out.push(what);
      continue;
    }
    const report = b.reports.get(reportId);
    if (!report || reportId !== targetReportId) {
      out.push(`${what}, which the URL did not name`);
      continue;
    }
    const facts = factsOf(report);
    // Which report action covers an entry, and who sees it.
    const rule: Record<string, [string, "public" | "internal"]> = {
      comment: ["report:comment", "public"],
      note: ["report:add_note", "internal"],
      field_change: ["report:edit_triage", "public"],
      assignment: ["report:assign", "internal"],
      attachment: ["report:upload", "public"],
      transition: ["report:act", "public"],
      deadline: [
        e.action === "extension_requested"
          ? "report:request_extension"
          : "report:set_deadline",
        "public",
      ],
      credit: [
        e.action === "proposed" ? "report:edit_triage" : "report:answer_credit",
        "public",
      ],
      disclosure_request: [
        e.action === "requested"
          ? "report:request_disclosure"
          : "report:edit_triage",
        "public",
      ],
    };
    const r = rule[String(e.kind)];
    const staff = can(actor, "report:edit_triage", facts);
    if (!r) {
      // A kind of entry this test does not know yet: staff's only.
      if (!staff)
        out.push(`${what} (if a non-staff user may, add its kind to the rule)`);
    } else if (
      !can(actor, r[0] as "report:view", facts) ||
      e.visibility !== r[1] ||
      (e.kind === "transition" &&
        n.reports.get(reportId)?.state === report.state)
    )
      out.push(what);
  }
  for (const id of b.events.keys())
    if (!n.events.has(id)) out.push(`${who} deleted timeline entry #${id}`);

  // ---- advisories
  for (const [reportId, row] of n.advisories) {
    const old = b.advisories.get(reportId);
    if (old && changedColumns(old, row).length === 0) continue;
    const report = b.reports.get(reportId);
    // The researcher answers the proposed credit; everything else is staff's.
    const answerOnly =
      old !== undefined &&
      changedColumns(old, row).every((c) =>
        ["credit_answer", "credit_answered_at"].includes(c),
      );
    const ok =
      report !== undefined &&
      reportId === targetReportId &&
      can(
        actor,
        answerOnly ? "report:answer_credit" : "report:edit_triage",
        factsOf(report),
      );
    if (!ok)
      out.push(
        `${who} ${old ? "changed" : "wrote"} the advisory of ${String(report?.public_id ?? reportId)}`,
      );
  }
  for (const reportId of b.advisories.keys())
    if (!n.advisories.has(reportId))
      out.push(`${who} deleted the advisory of report #${reportId}`);

  // ---- settings: admins only, on their page, whole days within bounds
  for (const [key, row] of n.settings) {
    const old = b.settings.get(key);
    if (old && changedColumns(old, row).length === 0) continue;
    const days = JSON.parse(String(row.value)) as unknown;
    const ok =
      path === "/admin/settings" &&
      may("settings:manage") &&
      row.updated_by === actor?.id &&
      Number.isInteger(days) &&
      (days as number) >= 1 &&
      (days as number) <= 3650;
    if (!ok)
      out.push(
        `${who} ${old ? "changed" : "saved"} the setting ${key} = ${String(row.value)}`,
      );
  }
  for (const key of b.settings.keys())
    if (
      !n.settings.has(key) &&
      !(path === "/admin/settings" && may("settings:manage"))
    )
      out.push(`${who} reset the setting ${key}`);

  // ---- attachments
  for (const [id, f] of n.attachments) {
    const old = b.attachments.get(id);
    const reportId = f.report_id as number | null;
    const target = targetReportId ? b.reports.get(targetReportId) : undefined;
    const mayUploadHere =
      actor !== null &&
      target !== undefined &&
      can(actor, "report:upload", factsOf(target));
    if (!old) {
      const ok =
        actor !== null &&
        f.owner_id === actor.id &&
        (reportId === null
          ? (path === "/reports/new" && may("report:create")) || mayUploadHere
          : newReports.has(reportId) ||
            (reportId === targetReportId && mayUploadHere));
      if (!ok)
        out.push(
          `${who} stored attachment ${String(f.public_id)} (owner #${String(f.owner_id)}, report #${String(reportId)})`,
        );
      continue;
    }
    const changed = changedColumns(old, f);
    if (changed.length === 0) continue;
    const linked =
      changed.length === 1 &&
      changed[0] === "report_id" &&
      old.report_id === null &&
      actor !== null &&
      old.owner_id === actor.id &&
      reportId !== null &&
      newReports.has(reportId);
    if (!linked)
      out.push(
        `${who} changed ${changed.join(", ")} of attachment ${String(old.public_id)} (owner #${String(old.owner_id)})`,
      );
  }
  for (const id of b.attachments.keys())
    if (!n.attachments.has(id)) out.push(`${who} deleted attachment #${id}`);

  return out;
}

// ---------------------------------------------------------------- the world

interface Base {
  users: Record<Exclude<ActorName, "anonymous">, TestUser>;
  orgA: { id: number; publicId: string };
  orgB: { id: number; publicId: string };
  /** Accounts and an organization staff may spend (change, disable, empty). */
  victims: TestUser[];
  victimOrg: { id: number; publicId: string };
}
interface World extends Base {
  /** Fresh per test: the owner's reports in many states, and two of another researcher. */
  reports: { publicId: string; id: number; state: State }[];
  /** The other researcher's files: one waiting for a form, one on a report. */
  foreignFiles: string[];
  /** Unique per test, for names and addresses that must not collide. */
  tag: number;
}
let worlds = 0;

type Core = Omit<Base, "victims" | "victimOrg">;

/** The actors and their organizations: created once, never spent. */
async function createCore(ctx: TestContext): Promise<Core> {
  const orgA = await createOrg(ctx);
  const orgB = await createOrg(ctx);
  return {
    orgA,
    orgB,
    users: {
      owner: await createUser(ctx, "researcher"),
      otherResearcher: await createUser(ctx, "researcher"),
      orgContact: await createUser(ctx, "org_contact", { orgIds: [orgA.id] }),
      otherOrgContact: await createUser(ctx, "org_contact", {
        orgIds: [orgB.id],
      }),
      triager: await createUser(ctx, "triager"),
      admin: await createUser(ctx, "admin"),
    },
  };
}

/** Accounts and an organization for staff to spend, fresh per route. */
async function createVictims(ctx: TestContext) {
  const victimOrg = await createOrg(ctx);
  return {
    victimOrg,
    victims: [
      await createUser(ctx, "researcher"),
      await createUser(ctx, "org_contact", { orgIds: [victimOrg.id] }),
      await createUser(ctx, "triager"),
    ],
  };
}

/**
 * Housekeeping, not part of any check: removes the reports a test made (and
 * what hangs on them) so snapshots stay small in the one database all tests share.
 */
async function removeReportsFrom(ctx: TestContext, firstId: number) {
  const tables = (await tableNames(ctx.db)).filter((n) => n !== "reports");
  for (const name of tables) {
    for (const key of await foreignKeys(ctx.db, name))
      if (key.table === "reports")
        await sql`delete from ${sql.table(name)} where ${sql.ref(key.from)} >= ${firstId}`.execute(
          ctx.db,
        );
  }
  await sql`delete from reports where id >= ${firstId}`.execute(ctx.db);
}

async function freshReports(ctx: TestContext, w: Core) {
  const alice = w.users.owner.user.id;
  const bob = w.users.otherResearcher.user.id;
  const fixtures: ReportFixture[] = [
    { reporterId: alice },
    { reporterId: alice, state: "acknowledged" },
    { reporterId: alice, state: "needs_info" },
    { reporterId: alice, state: "triaged", organizationId: w.orgA.id },
    {
      reporterId: alice,
      state: "vendor_notified",
      organizationId: w.orgA.id,
      assigneeId: w.users.triager.user.id,
      revealIdentity: true,
    },
    { reporterId: alice, state: "fixed", organizationId: w.orgA.id },
    { reporterId: alice, state: "closed", organizationId: w.orgA.id },
    { reporterId: bob },
    { reporterId: bob, state: "fix_in_progress", organizationId: w.orgB.id },
  ];
  const reports: World["reports"] = [];
  for (const f of fixtures)
    reports.push({
      ...(await insertReport(ctx, f)),
      state: f.state ?? "submitted",
    });
  // The organization asked for more time on the notified report (where the
  // schema has extension requests), so a triager can decide.
  if ((await columnNames(ctx.db, "reports")).includes("extension_requested_to"))
    await sql`update reports set extension_requested_to = ${Date.parse("2026-09-30T23:59:00Z")}
      where id = ${reports[4]!.id}`.execute(ctx.db);
  // Files of another researcher, whose IDs a forged form may name.
  const foreignFiles = [
    (await insertAttachmentRow(ctx, reports[7]!.id, bob)).publicId,
  ];
  const pending = newPublicId();
  await ctx.db
    .insertInto("attachments")
    .values({
      public_id: pending,
      report_id: null,
      owner_id: bob,
      sha256: "0".repeat(64),
      media_type: "text/plain",
      size: 5,
      file_name: "pending.txt",
      created_at: ctx.clock.now().getTime(),
    })
    .execute();
  foreignFiles.push(pending);
  return { reports, foreignFiles };
}

/**
 * Housekeeping: an actor who changed their own password through the account
 * page (allowed) gets the test password back, so they can sign in again.
 */
async function restoreActors(ctx: TestContext, core: Core) {
  for (const { user } of Object.values(core.users)) {
    const row = await ctx.db
      .selectFrom("users")
      .select(["password_hash", "email"])
      .where("id", "=", user.id)
      .executeTakeFirstOrThrow();
    if (row.password_hash !== originalHashes.get(user.id))
      await ctx.db
        .updateTable("users")
        .set({
          password_hash: originalHashes.get(user.id)!,
          email: user.email,
        })
        .where("id", "=", user.id)
        .execute();
  }
}
const originalHashes = new Map<number, string | null>();

// ---------------------------------------------------------------- requests

interface FileSpec {
  name: string;
  content: Buffer;
}
interface FormRequest {
  params: Record<string, PathValue>;
  body: Fields;
  multipart: boolean;
  files: FileSpec[];
}

const PNG = readFileSync(SCREENSHOT);
const fileArb: fc.Arbitrary<FileSpec> = fc.record({
  name: fc.oneof(
    fc.constantFrom(
      "poc.txt",
      "shot.png",
      "../../etc/passwd.png",
      `x"><script>.png`,
      "con.txt",
    ),
    fc.string({ minLength: 1, maxLength: 30 }),
  ),
  content: fc.constantFrom(
    PNG,
    Buffer.from("plain text proof of concept\n"),
    Buffer.from("<html><script>alert(1)</script></html>"),
    Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]),
    Buffer.alloc(0),
  ),
});

function describeRequest(
  actor: ActorName,
  route: AppRoute,
  req: FormRequest,
): string {
  const short = (v: string) =>
    v.length > 80
      ? `${JSON.stringify(v.slice(0, 40))}…(${v.length} chars)`
      : JSON.stringify(v);
  const body = Object.entries(req.body)
    .map(
      ([k, v]) =>
        `${JSON.stringify(k)}: ${Array.isArray(v) ? `[${v.map(short).join(", ")}]` : short(v)}`,
    )
    .join(", ");
  const files = req.files
    .map((f) => `${JSON.stringify(f.name)} (${f.content.length} bytes)`)
    .join(", ");
  const url = urlFor(route, req.params);
  return (
    `${actor} POST ${url.length > 160 ? `${url.slice(0, 120)}…(${url.length} chars)` : url} ` +
    `(${req.multipart ? "multipart" : "urlencoded"}) {${body}}` +
    (req.multipart && files ? ` files: ${files}` : "")
  );
}

const STACK_TRACE = /\bat\s+(?:\S+\s+\()?[^\s()]*\.(?:ts|js|mjs|cjs):\d+/;

// ---------------------------------------------------------------- tests

describe("property: hostile input at every form route", function () {
  this.timeout(300_000);
  const forms = new Map<string, FormInfo>();
  let requests = 0;
  let signIns = 0;
  const started = Date.now();
  // One app and database for all: the actors sign in once (and again after a
  // sign-out); each test makes its own reports and removes them afterwards.
  let ctx: TestContext;
  let core: Core;
  const browsers = new Map<ActorName, Browser>();
  /** The last snapshot taken, and the write count it was taken at. */
  let last: { at: number; state: Snapshot } | undefined;
  /** The tracked state now: the last snapshot while nothing was written since. */
  async function current() {
    const at = await writes(ctx);
    if (last?.at !== at) last = { at, state: await snapshot(ctx) };
    return last;
  }

  async function browserOf(name: ActorName): Promise<Browser> {
    let b = browsers.get(name);
    if (!b) {
      b =
        name === "anonymous"
          ? await anonymous(ctx)
          : await signedIn(ctx, core.users[name]);
      signIns += name === "anonymous" ? 0 : 1;
      browsers.set(name, b);
    }
    return b;
  }

  /**
   * After a request that may have touched the session (a sign-out, sign-in,
   * sign-up, password change): still who we think, with a current token?
   */
  async function checkIdentity(name: ActorName) {
    const b = browsers.get(name);
    if (!b) return;
    if (name === "anonymous") return void browsers.delete(name); // cheap to renew
    // A light page with the layout: who is signed in, and a current token.
    const res = await b.agent.get("/policy");
    const who = `Signed in as <strong>${core.users[name].user.displayName}</strong>`;
    if (res.status === 200 && res.text.includes(who))
      b.csrf = csrfFrom(res.text);
    else browsers.delete(name);
  }

  before(async () => {
    ctx = await createTestContext({ env: ENV });
    await watchWrites(ctx);
    core = await createCore(ctx);
    for (const row of await ctx.db
      .selectFrom("users")
      .select(["id", "password_hash"])
      .execute())
      originalHashes.set(row.id, row.password_hash);
    // Learn the real field names and choices from the forms the app renders.
    const { victimOrg } = await createVictims(ctx);
    const { reports } = await freshReports(ctx, core);
    const pages = listRoutes(ctx.app)
      .filter((r) => r.method === "GET")
      .flatMap((r) => {
        if (!r.path.includes(":")) return [r.path];
        if (/^\/reports\/:id$/.test(r.path))
          return reports.map((x) => `/reports/${x.publicId}`);
        if (/^\/orgs\/:orgPublicId$/.test(r.path))
          return [`/orgs/${victimOrg.publicId}`];
        return [];
      });
    for (const name of ACTORS) {
      const b = await browserOf(name);
      for (const page of pages) {
        const res = await b.agent.get(page);
        if (res.type === "text/html") scrapeForms(res.text, forms);
      }
    }
    await removeReportsFrom(ctx, reports[0]!.id);
  });
  after(() => ctx.close());

  after(() => {
    console.log(
      `      ${requests} requests to ${POST_ROUTES.length} POST routes (${RUNS} per route and user), ${signIns} sign-ins, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  });

  it("sees the app's form routes", () => {
    const paths = POST_ROUTES.map((r) => r.path);
    assert.ok(paths.length >= 20, `only ${paths.length} POST routes`);
    for (const p of [
      "/login",
      "/reports/new",
      "/reports/:id/transition",
      "/orgs/:orgPublicId/contacts",
      "/admin/users/:publicId/role",
      "/admin/settings",
    ])
      assert.ok(paths.includes(p), p);
    // The scraper found the forms: their fields are attacked by name.
    assert.ok(forms.get("/reports/new")?.fields.has("description"));
    assert.ok(forms.get("/reports/:id/transition")?.fields.has("name"));
  });

  for (const route of POST_ROUTES) {
    describe(`POST ${route.path}`, () => {
      let victims: Pick<Base, "victims" | "victimOrg">;
      before(async () => {
        victims = await createVictims(ctx);
      });

      for (const actorName of ACTORS) {
        it(`as ${actorName}: no 500, no change ${actorName} could not make`, async () => {
          const world: World = {
            ...core,
            ...victims,
            ...(await freshReports(ctx, core)),
            tag: ++worlds,
          };
          try {
            await attack(route, actorName, world);
          } finally {
            await removeReportsFrom(ctx, world.reports[0]!.id);
            await restoreActors(ctx, core);
          }
        });
      }
    });
  }

  /** The property for one route and one actor, in a fresh world. */
  async function attack(route: AppRoute, actorName: ActorName, world: World) {
    const self = actorName === "anonymous" ? undefined : world.users[actorName];
    const everyone = [...Object.values(world.users), ...world.victims];
    const reportIds = world.reports.map((r) => r.publicId);
    const worldValues = [
      ...reportIds,
      ...reportIds.map((id) => id.toLowerCase().replace(/0/g, "o")),
      world.orgA.publicId,
      world.orgB.publicId,
      world.victimOrg.publicId,
      ...world.foreignFiles,
      ...everyone.flatMap((u) => [u.user.publicId, u.email]),
    ];
    const info = forms.get(route.path);
    const scraped = [...(info?.values ?? [])].filter((v) => v.length < 200);

    const text: fc.Arbitrary<string> = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_VALUES) },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          ...APP_VALUES,
          ...worldValues,
          ...scraped,
          STRONG_PASSWORD,
          // The actors' own password: reaches the account forms' happy paths.
          TEST_PASSWORD,
        ),
      },
      { weight: 5, arbitrary: RANDOM_TEXT },
      { weight: 1, arbitrary: fc.integer().map(String) },
      { weight: 1, arbitrary: emailArb(world.tag) },
    );
    const value: fc.Arbitrary<string | string[]> = fc.oneof(
      { weight: 5, arbitrary: text },
      { weight: 1, arbitrary: fc.array(text, { maxLength: 4 }) },
    );
    const fields = [...new Set([...(info?.fields ?? []), ...KNOWN_FIELDS])];
    const extra = fc.dictionary(
      fc.oneof(fc.constantFrom(...fields, ...HOSTILE_KEYS), RANDOM_KEY),
      value,
      { maxKeys: 3, noNullPrototype: true },
    );
    // The form's own fields, each there or not; a form we never saw gets
    // a handful of the usual names.
    const own: fc.Arbitrary<Fields> = info
      ? (fc.record(
          Object.fromEntries([...info.fields].map((f) => [f, value])) as Record<
            string,
            fc.Arbitrary<string | string[]>
          >,
          { requiredKeys: [] },
        ) as fc.Arbitrary<Fields>)
      : fc.dictionary(fc.constantFrom(...KNOWN_FIELDS), value, {
          maxKeys: 6,
          noNullPrototype: true,
        });
    const random = fc
      .tuple(own, extra)
      .map(([o, e]) => ({ ...e, ...o }) as Fields);
    /** A valid form for this URL, bent at a field or two (or not at all). */
    const mutated = (params: Record<string, PathValue>) => {
      const seenParams: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(params)) seenParams[k] = seen(v);
      const template = templateFor(route, world, seenParams);
      if (!template) return undefined;
      return fc
        .tuple(
          template,
          fc.array(
            fc.tuple(
              fc.constantFrom(...fields),
              fc.option(value, { nil: undefined }),
            ),
            { maxLength: 2 },
          ),
          extra,
        )
        .map(([t, changes, e]) => {
          const body: Fields = { ...e, ...t };
          for (const [k, v] of changes) {
            if (v === undefined) delete body[k];
            else body[k] = v;
          }
          return body;
        });
    };
    const withoutToken = (f: Fields) => {
      const clean: Fields = {};
      for (const [k, v] of Object.entries(f))
        if (k !== "_csrf")
          Object.defineProperty(clean, k, {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
      return clean;
    };

    const params = fc.record(
      Object.fromEntries(
        paramNames(route).map((p) => [
          p,
          fc.oneof(
            {
              weight: 4,
              arbitrary: fc
                .constantFrom(...knownParamValues(p, actorName, world, self))
                .map((t) => ({ text: t }) as PathValue),
            },
            { weight: 1, arbitrary: garbageSegment },
          ),
        ]),
      ) as Record<string, fc.Arbitrary<PathValue>>,
    );
    const request: fc.Arbitrary<FormRequest> = params.chain((p) => {
      const valid = mutated(p);
      return fc.record({
        params: fc.constant(p),
        body: (valid
          ? fc.oneof(
              { weight: 1, arbitrary: random },
              { weight: 2, arbitrary: valid },
            )
          : random
        ).map(withoutToken),
        multipart: info?.multipart
          ? fc.constantFrom(true, true, false)
          : fc.constantFrom(false, false, false, true),
        files: fc.array(fileArb, { maxLength: 3 }),
      });
    });

    const property = fc.asyncProperty(request, async (req) => {
      const b = await browserOf(actorName);
      const before = await current();
      const auditBefore = await lastAuditId(ctx);
      const user = self && (await findUserById(ctx.db, self.user.id));
      const actor = user ? toActor(user) : null;
      const url = urlFor(route, req.params);
      let call = req.multipart
        ? b.agent.post(url).field("_csrf", b.csrf)
        : b.post(url, req.body);
      if (req.multipart) {
        for (const [k, v] of Object.entries(req.body))
          for (const x of Array.isArray(v) ? v : [v]) call = call.field(k, x);
        for (const f of req.files)
          call = call.attach("attachments", f.content, {
            filename: f.name,
          });
      }
      const res = await call;
      requests++;
      const after = await current();
      const what = describeRequest(actorName, route, req);
      assert.ok(res.status < 500, `${what}\n→ ${res.status}`);
      // A multipart body is read only by a route whose own form is multipart,
      // for someone signed in: anywhere else its token cannot be read.
      if (req.multipart && (!info?.multipart || actorName === "anonymous"))
        assert.equal(res.status, 403, `${what}\n→ multipart read`);
      // The token was valid: the request reached the route.
      else
        assert.doesNotMatch(
          res.text ?? "",
          /did not come from this site/,
          `${what}\n→ refused as a forged form`,
        );
      assert.doesNotMatch(
        res.text ?? "",
        STACK_TRACE,
        `${what}\n→ a stack trace in the response`,
      );
      const params: Record<string, string | null> = {};
      for (const [k, v] of Object.entries(req.params)) params[k] = seen(v);
      const illegal =
        after === before
          ? [] // nothing tracked was written
          : illegalChanges(
              { actor, route, params, body: req.body, now: ctx.clock.now() },
              before.state,
              after.state,
            );
      assert.deepEqual(illegal, [], `${what}\n→ ${res.status}`);
      // Every change of data leaves its entry in the audit log.
      const changed =
        after === before ? [] : changedTables(before.state, after.state);
      if (changed.length)
        assert.notDeepEqual(
          await changeEntriesAfter(ctx, auditBefore),
          [],
          `${what}\n→ ${res.status}: changed ${changed.join(", ")} without an audit entry`,
        );
      // Keep each actor who they are: a sign-out, sign-in, sign-up or
      // password change succeeds on a route outside reports and staff pages.
      if (
        (res.status < 400 && !/^\/(reports|orgs|admin)\//.test(route.path)) ||
        (res.headers.location === "/login" && actorName !== "anonymous")
      )
        await checkIdentity(actorName);
    });
    const details = await fc.check(property, {
      seed: SEED,
      numRuns: RUNS,
    });
    await checkIdentity(actorName);
    if (details.failed) {
      const example = details.counterexample?.[0];
      const message =
        details.errorInstance instanceof Error
          ? details.errorInstance.message
          : String(details.errorInstance);
      const request = example ? describeRequest(actorName, route, example) : "";
      throw new Error(
        `${message.includes(request) ? "" : `${request}\n`}${message}\n` +
          `(seed ${details.seed}, path "${details.counterexamplePath}", after ${details.numRuns} runs and ${details.numShrinks} shrinks)`,
      );
    }
  }

  describe("without a valid CSRF token, or without a readable body", () => {
    let world: World;
    before(async () => {
      world = {
        ...core,
        ...(await createVictims(ctx)),
        ...(await freshReports(ctx, core)),
        tag: ++worlds,
      };
      for (const name of ACTORS) await browserOf(name);
    });
    after(() => removeReportsFrom(ctx, world.reports[0]!.id));

    /** Refused requests write nothing at all to the tracked tables. */
    const dump = () => writes(ctx);

    /** A URL the actor could really act on, and a form that would work. */
    function target(route: AppRoute, actorName: ActorName) {
      const self =
        actorName === "anonymous" ? undefined : world.users[actorName];
      const params: Record<string, PathValue> = {};
      for (const p of paramNames(route))
        params[p] = { text: knownParamValues(p, actorName, world, self)[0]! };
      return urlFor(route, params);
    }
    const validForm = (route: AppRoute) =>
      fc.option(
        templateFor(route, world, { id: world.reports[0]!.publicId }) ??
          fc.constant({}),
        { nil: undefined },
      );

    it("every POST route answers 403 and changes nothing, whoever sends it", async () => {
      const token = fc.oneof(
        fc.constant<string | string[] | undefined>(undefined),
        fc.constant(""),
        fc.string({ maxLength: 60 }),
        fc.constantFrom(...ACTORS).map((a) => browsers.get(a)!.csrf + "x"),
        // Another session's token, and one's own twice (not a string).
        fc.constant("other"),
        fc.constant("twice"),
      );
      const property = fc.asyncProperty(
        fc
          .constantFrom(...POST_ROUTES)
          .chain((route) => fc.tuple(fc.constant(route), validForm(route))),
        fc.constantFrom(...ACTORS),
        token,
        fc.dictionary(
          fc.constantFrom(...KNOWN_FIELDS),
          fc.constantFrom(...HOSTILE_VALUES.slice(0, 20), ...APP_VALUES),
          { maxKeys: 6, noNullPrototype: true },
        ),
        fc.boolean(),
        async ([route, valid], actorName, tokenValue, fields, multipart) => {
          const b = browsers.get(actorName)!;
          const own = b.csrf;
          const other = browsers.get(
            actorName === "admin" ? "owner" : "admin",
          )!.csrf;
          const csrf =
            tokenValue === "other"
              ? other
              : tokenValue === "twice"
                ? [own, own]
                : tokenValue;
          const url = target(route, actorName);
          const before = await dump();
          const form: Fields = { ...(valid ?? fields) };
          if (csrf !== undefined) form._csrf = csrf;
          let call = multipart
            ? b.agent.post(url)
            : b.agent.post(url).type("form");
          if (multipart) {
            for (const [k, v] of Object.entries(form))
              for (const x of Array.isArray(v) ? v : [v])
                call = call.field(k, x);
          } else call = call.send(form);
          const res = await call;
          requests++;
          const what = `${actorName} POST ${url} (${multipart ? "multipart" : "urlencoded"}) _csrf=${JSON.stringify(csrf)} ${JSON.stringify(form).slice(0, 300)}`;
          // A signed-out form is kept only for a session that was signed in
          // and expired (kept-form.test.ts): none of these.
          assert.equal(res.status, 403, `${what} → ${res.status}`);
          assert.equal(await dump(), before, `${what} wrote to the database`);
        },
      );
      await fc.assert(property, { seed: SEED, numRuns: 150 });
    });

    it("a body the app cannot read (malformed multipart, not a form, too big) gets a 4xx on every POST route", async () => {
      const B = "----dd-boundary";
      const field = (name: string, value: string) =>
        `--${B}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
      const file = (name: string) =>
        `--${B}\r\nContent-Disposition: form-data; name="attachments"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\nproof\r\n`;
      const type = `multipart/form-data; boundary=${B}`;
      const MALFORMED: Record<
        string,
        (csrf: string) => { type: string; body: string }
      > = {
        "a NUL in a file name": (csrf) => ({
          type,
          body: field("_csrf", csrf) + file("a\u0000b.txt") + `--${B}--\r\n`,
        }),
        "a NUL in a field name": (csrf) => ({
          type,
          body:
            field("_csrf", csrf) + field("bo\u0000dy", "x") + `--${B}--\r\n`,
        }),
        "no boundary in the header": (csrf) => ({
          type: "multipart/form-data",
          body: field("_csrf", csrf) + `--${B}--\r\n`,
        }),
        "a body cut short": (csrf) => ({
          type,
          body: field("_csrf", csrf) + field("body", "x").slice(0, 30),
        }),
        "no parts at all": () => ({ type, body: "hello" }),
        "an empty body": () => ({ type, body: "" }),
        // Bodies that are not forms at all, or too big to read.
        "a JSON body": (csrf) => ({
          type: "application/json",
          body: JSON.stringify({ _csrf: csrf, role: "admin" }),
        }),
        "a text body": (csrf) => ({
          type: "text/plain",
          body: `_csrf=${csrf}&role=admin`,
        }),
        "an unknown charset": (csrf) => ({
          type: "application/x-www-form-urlencoded; charset=utf-7",
          body: `_csrf=${csrf}`,
        }),
        "too many fields": (csrf) => ({
          type: "application/x-www-form-urlencoded",
          body:
            `_csrf=${csrf}&` +
            Array.from({ length: 300 }, (_, i) => `f${i}=x`).join("&"),
        }),
        "a body over the size limit": (csrf) => ({
          type: "application/x-www-form-urlencoded",
          body: `_csrf=${csrf}&body=${"x".repeat(1_100_000)}`,
        }),
      };
      const property = fc.asyncProperty(
        fc.constantFrom(...POST_ROUTES),
        fc.constantFrom(...ACTORS),
        fc.constantFrom(...Object.keys(MALFORMED)),
        async (route, actorName, variant) => {
          const b = browsers.get(actorName)!;
          const url = target(route, actorName);
          const { type: contentType, body } = MALFORMED[variant]!(b.csrf);
          const before = await dump();
          const res = await b.agent
            .post(url)
            .set("Content-Type", contentType)
            .send(body);
          requests++;
          const what = `${actorName} POST ${url} with ${variant} (Content-Type: ${contentType}; body ${JSON.stringify(body.slice(0, 400))}${body.length > 400 ? `…(${body.length} chars)` : ""})`;
          assert.ok(
            res.status >= 400 && res.status < 500,
            `${what} → ${res.status}`,
          );
          assert.doesNotMatch(res.text ?? "", STACK_TRACE, what);
          assert.equal(await dump(), before, `${what} wrote to the database`);
        },
      );
      await fc.assert(property, { seed: SEED, numRuns: 80 });
    });
  });
});

/** The choices a URL offers, per actor: never the accounts the test acts as, for staff. */
function knownParamValues(
  name: string,
  actor: ActorName,
  w: World,
  self: TestUser | undefined,
): string[] {
  const reportIds = w.reports.map((r) => r.publicId);
  if (name === "id" || /report/i.test(name))
    return [
      ...reportIds,
      // As people type them: lower case, O for 0, spaces around.
      ...reportIds.map((id) => id.toLowerCase().replace(/0/g, "o")),
      ...reportIds.map((id) => `  ${id} `),
    ];
  // Staff must not dismantle the world the other actors live in.
  const staff = actor === "triager" || actor === "admin";
  if (/org/i.test(name))
    return staff
      ? [w.victimOrg.publicId]
      : [w.orgA.publicId, w.orgB.publicId, w.victimOrg.publicId];
  const victims = w.victims.flatMap((v) => [v.user.publicId, v.email]);
  if (/user|publicid/i.test(name))
    return actor === "admin"
      ? [...victims, self!.user.publicId, self!.email]
      : [
          ...victims,
          ...Object.values(w.users).flatMap((u) => [u.user.publicId, u.email]),
        ];
  return ["x", "0", ...reportIds, w.victimOrg.publicId, ...victims];
}

const LOCAL_PART = fc.constantFrom(..."abcdefghijkmnpqrstuvwxyz0123456789");
/** Plain addresses the app accepts, unique to the test; sometimes exotic ones. */
function emailArb(tag: number): fc.Arbitrary<string> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .string({ unit: LOCAL_PART, minLength: 1, maxLength: 12 })
        .map((l) => `${l}.${tag}@example.test`),
    },
    { weight: 1, arbitrary: EXOTIC_EMAIL },
  );
}
const EXOTIC_EMAIL = fc.emailAddress();

/** A valid form for routes we know, to be bent a field or two at a time. */
function templateFor(
  route: AppRoute,
  w: World,
  params: Record<string, string | null>,
): fc.Arbitrary<Fields> | undefined {
  const reportIds = w.reports.map((r) => r.publicId);
  const vector = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N";
  const email = emailArb(w.tag);
  const futureDate = fc.constantFrom(
    "2026-12-31",
    "2027-06-30",
    "2025-01-01",
    "2026-02-30",
  );
  // The steps that exist from the addressed report's state, whoever may take them.
  const id = params.id ? normalizeReportId(params.id) : null;
  const state = w.reports.find((r) => r.publicId === id)?.state;
  const steps = TRANSITION_NAMES.filter(
    (n) => !state || TRANSITIONS[n].from.includes(state),
  );
  const templates: Record<string, () => fc.Arbitrary<Fields>> = {
    "/reports/new": () =>
      fc
        .record({
          organization: fc.constantFrom(
            w.orgA.publicId,
            w.orgB.publicId,
            "new",
          ),
          keptAttachments: fc.subarray(w.foreignFiles),
        })
        .map((overrides) => reportFields(overrides)),
    "/reports/:id/transition": () =>
      fc.record({
        name: fc.constantFrom(...steps),
        message: fc.constantFrom("Retested: still there.", ""),
        resolution: fc.constantFrom("resolved", "", ...RESOLUTIONS),
        duplicateOf: fc.constantFrom("", ...reportIds),
      }),
    "/reports/:id/comments": () => fc.constant({ body: "Any news on this?" }),
    "/reports/:id/notes": () => fc.constant({ body: "Internal: call them." }),
    "/reports/:id/triage": () =>
      fc.record({
        cwe: fc.constantFrom("CWE-79", "CWE-639", "other"),
        cvss: fc.constantFrom("", vector),
        organization: fc.constantFrom("", w.orgA.publicId, w.orgB.publicId),
      }),
    "/reports/:id/share": () =>
      fc.record({ event: fc.constantFrom("1", "2", "3", "", "0", "x") }),
    "/reports/:id/assign": () =>
      fc.record({ assignee: fc.constantFrom("me", "none") }),
    "/reports/:id/facts": () =>
      fc.record({
        fact: fc.constantFrom(
          "public_aware",
          "exploit_public",
          "attacks_observed",
        ),
      }),
    "/reports/:id/ssvc": () =>
      fc.record({
        reportPublic: fc.constantFrom("yes", "no"),
        supplierContacted: fc.constantFrom("yes", "no"),
        reportCredibility: fc.constantFrom("credible", "not credible"),
        supplierCardinality: fc.constantFrom("one", "multiple"),
        supplierEngagement: fc.constantFrom("active", "unresponsive"),
        utility: fc.constantFrom("laborious", "efficient", "super effective"),
        publicSafetyImpact: fc.constantFrom("minimal", "significant"),
        outcome: fc.constantFrom("decline", "track", "coordinate"),
      }),
    "/reports/:id/deadline": () =>
      fc.record({ date: futureDate, reason: fc.constant("A release cycle.") }),
    "/reports/:id/extension": () =>
      fc.record({ date: futureDate, reason: fc.constant("Patch testing.") }),
    "/reports/:id/extension/decision": () =>
      fc.record({
        decision: fc.constantFrom("grant", "refuse"),
        note: fc.constantFrom("", "Agreed with the researcher."),
      }),
    "/reports/:id/advisory": () =>
      fc.record({
        summary: fc.constant(
          "A missing access check let any patient read other appointments.",
        ),
        cveId: fc.constantFrom("", "CVE-2026-12345", "cve-2026-1"),
        creditName0: fc.constantFrom("", "rhea", "Ana Colleague"),
        creditType0: fc.constantFrom("finder", "coordinator", "hacker"),
        creditName1: fc.constantFrom("", "National CERT"),
        creditType1: fc.constantFrom("coordinator", ""),
      }),
    "/reports/:id/credit": () =>
      fc.record({ answer: fc.constantFrom("accept", "decline", "maybe") }),
    "/reports/:id/disclosure-request": () =>
      fc.record({
        disclosureReason: fc.constantFrom("", "The fix is out."),
      }),
    "/reports/:id/disclosure-request/decline": () =>
      fc.record({
        declineReason: fc.constantFrom("", "Still rolling out the fix."),
      }),
    "/orgs": () =>
      fc.nat(9999).map((n) => ({ name: `Water Utility ${w.tag}-${n}` })),
    "/orgs/:orgPublicId/contacts": () =>
      fc.record({
        email: fc.oneof(
          email,
          fc.constantFrom(...w.victims.map((v) => v.email)),
        ),
        displayName: fc.constant("Security Contact"),
      }),
    "/admin/users": () =>
      fc.record({
        email,
        displayName: fc.constant("New Colleague"),
        role: fc.constantFrom(...ROLES),
      }),
    "/admin/users/:publicId/role": () =>
      fc.record({ role: fc.constantFrom(...ROLES) }),
    "/admin/settings": () => {
      const days = fc.constantFrom("", "1", "14", "30", "90", "3650");
      return fc.record({
        ackDueDays: days,
        triageDueDays: days,
        infoReminderDays: fc.constantFrom("", "3", "7"),
        infoExpiryDays: fc.constantFrom("", "30", "60"),
        disclosureDays: days,
        remediationCritical: days,
        remediationHigh: days,
        remediationMedium: days,
        remediationLow: days,
        orgAnswerDays: days,
      });
    },
    "/account/notifications": () =>
      fc.record({ notify: fc.constantFrom(...NOTIFY_LEVELS) }),
    "/account/password": () =>
      fc.constant({
        current: TEST_PASSWORD,
        password: STRONG_PASSWORD,
        confirm: STRONG_PASSWORD,
      }),
    "/account/email": () =>
      fc.record({ email, password: fc.constant(TEST_PASSWORD) }),
    "/password/forgot": () =>
      fc.record({
        email: fc.oneof(
          email,
          fc.constantFrom(...Object.values(w.users).map((u) => u.email)),
        ),
      }),
    "/register": () =>
      fc.record({
        email,
        displayName: fc.constant("New Researcher"),
        password: fc.constant(STRONG_PASSWORD),
      }),
    "/login": () =>
      fc.record({
        email: fc.constantFrom(
          ...[...w.victims, ...Object.values(w.users)].map((v) => v.email),
        ),
        password: fc.constantFrom(STRONG_PASSWORD, TEST_PASSWORD),
      }),
  };
  return templates[route.path]?.();
}

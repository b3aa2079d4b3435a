/**
 * The access matrix: every route of the app, read from the router itself,
 * must be classified below, and every non-public route is attacked by every
 * kind of outsider with foreign and with non-existent IDs. A route added
 * later without a row here fails the first test.
 */
import { toActor } from "../../src/users/service.js";
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { tableNames, tablesRows } from "../support/database.js";
import {
  can,
  type GlobalAction,
  type ReportAction,
} from "../../src/auth/policy.js";
import { findReportById } from "../../src/reports/repository.js";
import { accessFacts } from "../../src/reports/types.js";
import {
  createOrg,
  insertAttachmentRow,
  insertReport,
} from "../support/fixtures.js";
import { insertHeldMail } from "../support/inbound-rows.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { listRoutes, type AppRoute } from "../support/routes.js";
import { insertEndpoint } from "../../src/webhooks/repository.js";

type ParamKind =
  | "report"
  | "attachment"
  | "org"
  | "user"
  | "view"
  | "inbound"
  | "inboundMessage"
  | "webhook";

type Access =
  /** Anyone, signed in or not. Not attacked here (sign-in, registration, ...). */
  | { kind: "public" }
  /** Any signed-in user, acting on their own account only. */
  | { kind: "signed-in" }
  /**
   * A page of a role: everybody without the action gets 404. A visitor is
   * sent to sign in, or (explainsToVisitor) shown a page saying why to.
   */
  | { kind: "role"; action: GlobalAction; explainsToVisitor?: true }
  /** Takes IDs: foreign and non-existent IDs answer the same 404. */
  | {
      kind: "object";
      params: Record<string, ParamKind>;
      /** Also gated by a global action (staff and admin pages). */
      action?: GlobalAction;
    }
  /**
   * An organization's administrator's page (policy.ts canAdministerOrg, per
   * organization): its administrators and the staff get in; everybody
   * else, a plain member and another organization's administrator
   * included, gets the 404 of a missing ID, with forged members and cases too.
   */
  | { kind: "org-admin"; params: Record<string, ParamKind> };

const ACCESS: Record<string, Access> = {
  "GET /healthz": { kind: "public" },
  "GET /.well-known/security.txt": { kind: "public" },
  "GET /security.txt": { kind: "public" },
  "GET /favicon.ico": { kind: "public" },
  "GET /.well-known/openpgpkey.asc": { kind: "public" },
  "GET /pgp-key.asc": { kind: "public" },
  "GET /": { kind: "public" },
  "GET /policy": { kind: "public" },
  "GET /stats": { kind: "public" },
  "GET /login": { kind: "public" },
  "POST /login": { kind: "public" },
  "POST /logout": { kind: "public" },
  "GET /register": { kind: "public" },
  "POST /register": { kind: "public" },
  "GET /setup": { kind: "public" },
  "POST /setup": { kind: "public" },
  "GET /password/set": { kind: "public" },
  "POST /password/set": { kind: "public" },
  "GET /password/forgot": { kind: "public" },
  // Published advisories are public; unpublished ones answer 404 (advisories.test.ts).
  "GET /advisories": { kind: "public" },
  "GET /advisories.atom": { kind: "public" },
  "GET /advisories/:id": { kind: "public" },
  "GET /advisories/:id/csaf.json": { kind: "public" },
  "GET /advisories/:id/cve.json": { kind: "public" },
  "GET /acknowledgments": { kind: "public" },
  "POST /password/forgot": { kind: "public" },
  // A report by email's one-time claim link: the token is the key (intake.test.ts).
  "GET /claim/:token": { kind: "public" },
  "POST /claim/:token": { kind: "public" },
  // Without a half-finished sign-in in the session these send to /login.
  "GET /login/2fa": { kind: "public" },
  "POST /login/2fa": { kind: "public" },
  // The mailed token is the authority; without one they answer 400.
  "GET /verify-email": { kind: "public" },
  "POST /verify-email": { kind: "public" },

  "GET /account": { kind: "signed-in" },
  "POST /account/notifications": { kind: "signed-in" },
  "POST /account/password": { kind: "signed-in" },
  "POST /account/email": { kind: "signed-in" },
  "POST /account/sessions/end-others": { kind: "signed-in" },
  "POST /account/pgp-key": { kind: "signed-in" },
  "POST /account/pgp-key/remove": { kind: "signed-in" },
  "POST /account/verify-email": { kind: "signed-in" },
  // One's own API tokens; another user's token ID is a 404 (api-tokens.test.ts).
  "POST /account/tokens": { kind: "signed-in" },
  "POST /account/tokens/:tokenId/revoke": { kind: "signed-in" },
  "GET /verify-email/needed": { kind: "signed-in" },
  "GET /account/2fa": { kind: "signed-in" },
  "POST /account/2fa": { kind: "signed-in" },
  "POST /account/2fa/disable": { kind: "signed-in" },
  "POST /account/2fa/recovery-codes": { kind: "signed-in" },
  "POST /account/2fa/recovery-codes/download": { kind: "signed-in" },

  "GET /admin/users": { kind: "role", action: "user:manage" },
  "POST /admin/users": { kind: "role", action: "user:manage" },
  "POST /admin/users/:publicId/role": {
    kind: "object",
    action: "user:manage",
    params: { publicId: "user" },
  },
  "POST /admin/users/:publicId/disable": {
    kind: "object",
    action: "user:manage",
    params: { publicId: "user" },
  },
  "POST /admin/users/:publicId/enable": {
    kind: "object",
    action: "user:manage",
    params: { publicId: "user" },
  },
  "GET /admin/audit": { kind: "role", action: "audit:view" },
  "GET /stats/staff": { kind: "role", action: "stats:view_staff" },
  "GET /admin/outbox": { kind: "role", action: "outbox:manage" },
  // Mail received (src/inbound/admin-routes.ts): staff only.
  "GET /admin/inbound": { kind: "role", action: "inbound:manage" },
  "GET /admin/inbound/message/:messageId": {
    kind: "object",
    action: "inbound:manage",
    params: { messageId: "inboundMessage" },
  },
  "GET /admin/inbound/:id": {
    kind: "object",
    action: "inbound:manage",
    params: { id: "inbound" },
  },
  "GET /admin/inbound/:id/raw": {
    kind: "object",
    action: "inbound:manage",
    params: { id: "inbound" },
  },
  "POST /admin/inbound/:id/release": {
    kind: "object",
    action: "inbound:manage",
    params: { id: "inbound" },
  },
  "POST /admin/inbound/:id/discard": {
    kind: "object",
    action: "inbound:manage",
    params: { id: "inbound" },
  },
  "POST /admin/outbox/:key/retry": { kind: "role", action: "outbox:manage" },
  "GET /admin/settings": { kind: "role", action: "settings:manage" },
  "POST /admin/settings": { kind: "role", action: "settings:manage" },
  "POST /admin/settings/triage-mail": {
    kind: "role",
    action: "settings:manage",
  },

  // Webhook endpoints (src/webhooks/routes.ts): admins, and an organization's
  // administrators (can() holds webhook:manage for them) for their
  // organizations' endpoints only (below, and webhooks-org.test.ts).
  "GET /admin/webhooks": { kind: "role", action: "webhook:manage" },
  "POST /admin/webhooks": { kind: "role", action: "webhook:manage" },
  "GET /admin/webhooks/:webhookId": {
    kind: "object",
    action: "webhook:manage",
    params: { webhookId: "webhook" },
  },
  "POST /admin/webhooks/:webhookId/disable": {
    kind: "object",
    action: "webhook:manage",
    params: { webhookId: "webhook" },
  },
  "POST /admin/webhooks/:webhookId/enable": {
    kind: "object",
    action: "webhook:manage",
    params: { webhookId: "webhook" },
  },
  "POST /admin/webhooks/:webhookId/rotate-secret": {
    kind: "object",
    action: "webhook:manage",
    params: { webhookId: "webhook" },
  },
  "POST /admin/webhooks/:webhookId/delete": {
    kind: "object",
    action: "webhook:manage",
    params: { webhookId: "webhook" },
  },

  "GET /orgs": { kind: "role", action: "org:manage" },
  "POST /orgs": { kind: "role", action: "org:manage" },
  "GET /orgs/:orgPublicId": {
    kind: "object",
    action: "org:manage",
    params: { orgPublicId: "org" },
  },
  "POST /orgs/:orgPublicId/contacts": {
    kind: "object",
    action: "org:manage",
    params: { orgPublicId: "org" },
  },
  "POST /orgs/:orgPublicId/contacts/:userPublicId/remove": {
    kind: "object",
    action: "org:manage",
    params: { orgPublicId: "org", userPublicId: "user" },
  },
  // Staff make a contact the organization's administrator, and back.
  "POST /orgs/:orgPublicId/contacts/:userPublicId/admin": {
    kind: "object",
    action: "org:manage",
    params: { orgPublicId: "org", userPublicId: "user" },
  },
  "POST /orgs/:orgPublicId/contacts/:userPublicId/admin/remove": {
    kind: "object",
    action: "org:manage",
    params: { orgPublicId: "org", userPublicId: "user" },
  },

  // Inside an organization: its administrator's pages (org-admin.test.ts).
  "GET /org/members": { kind: "org-admin", params: {} },
  "GET /org/:orgPublicId/members": {
    kind: "org-admin",
    params: { orgPublicId: "org" },
  },
  "POST /org/:orgPublicId/members": {
    kind: "org-admin",
    params: { orgPublicId: "org" },
  },
  "POST /org/:orgPublicId/members/:userPublicId/remove": {
    kind: "org-admin",
    params: { orgPublicId: "org", userPublicId: "user" },
  },
  "POST /org/:orgPublicId/members/:userPublicId/admin": {
    kind: "org-admin",
    params: { orgPublicId: "org", userPublicId: "user" },
  },
  "POST /org/:orgPublicId/members/:userPublicId/admin/remove": {
    kind: "org-admin",
    params: { orgPublicId: "org", userPublicId: "user" },
  },
  "POST /org/:orgPublicId/visibility": {
    kind: "org-admin",
    params: { orgPublicId: "org" },
  },
  "POST /org/:orgPublicId/cases": {
    kind: "org-admin",
    params: { orgPublicId: "org" },
  },
  "POST /org/:orgPublicId/members/:userPublicId/cases/:reportId/remove": {
    kind: "org-admin",
    params: { orgPublicId: "org", userPublicId: "user", reportId: "report" },
  },

  "GET /reports": { kind: "role", action: "report:list_own" },
  "GET /queue": { kind: "role", action: "queue:view" },
  "GET /search": { kind: "role", action: "report:search" },
  "GET /queue/export.csv": { kind: "role", action: "queue:view" },
  // A staff member's own saved views; anybody else's view ID is a 404.
  "POST /queue/views": { kind: "role", action: "saved_view:use" },
  "POST /queue/views/:viewId/delete": {
    kind: "object",
    action: "saved_view:use",
    params: { viewId: "view" },
  },
  // One action on many reports; each report is asked of the policy again (bulk.test.ts).
  "POST /reports/bulk": { kind: "role", action: "queue:bulk" },
  "GET /org/reports": { kind: "role", action: "report:list_org" },

  // Filing and the report page (src/reports/routes.ts). Who may use each
  // route on a report is the action its route line declares (allowedOn).
  // A visitor reads why to sign in or register (newcomer.test.ts).
  "GET /reports/new": {
    kind: "role",
    action: "report:create",
    explainsToVisitor: true,
  },
  "POST /reports/new": { kind: "role", action: "report:create" },
  "GET /reports/:id": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/transition": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/comments": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/notes": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/triage": { kind: "object", params: { id: "report" } },
  "GET /reports/:id/letter": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/credit": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/disclosure-request": {
    kind: "object",
    params: { id: "report" },
  },
  "POST /reports/:id/disclosure-request/decline": {
    kind: "object",
    params: { id: "report" },
  },
  "POST /reports/:id/facts": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/ssvc": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/deadline": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/extension/decision": {
    kind: "object",
    params: { id: "report" },
  },
  "POST /reports/:id/extension": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/advisory": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/draft-advisory/comments": {
    kind: "object",
    params: { id: "report" },
  },
  "POST /reports/:id/share": { kind: "object", params: { id: "report" } },
  // The organizations on the case (participations-routes.ts); which
  // organization one answers for, the policy decides (participants.test.ts).
  "POST /reports/:id/participants": {
    kind: "object",
    params: { id: "report" },
  },
  "POST /reports/:id/case-open": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/participants/suggest": {
    kind: "object",
    params: { id: "report" },
  },
  // One organization's own page with its forms, on a case with many (staff).
  "GET /reports/:id/participants/:org": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/participants/:org/remove": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/participants/:org/statement/approve": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/participants/:org/status": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/participants/:org/statement": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/participants/:org/share": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/participants/:org/details": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/participants/:org/fix": {
    kind: "object",
    params: { id: "report", org: "org" },
  },
  "POST /reports/:id/assign": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/attachments": { kind: "object", params: { id: "report" } },
  // The researcher's correction before acknowledgment; the earlier versions (staff).
  "GET /reports/:id/edit": { kind: "object", params: { id: "report" } },
  "POST /reports/:id/edit": { kind: "object", params: { id: "report" } },
  "GET /reports/:id/revisions": { kind: "object", params: { id: "report" } },
  // The researcher takes back a file until acknowledgment (attachment-removal.test.ts).
  "POST /reports/:id/attachments/:aid/remove": {
    kind: "object",
    params: { id: "report", aid: "attachment" },
  },
  "GET /reports/:id/attachments/:aid": {
    kind: "object",
    params: { id: "report", aid: "attachment" },
  },
};

/**
 * Routes that tell the report's own researcher that the report's state has
 * closed the action (409, what they typed kept) instead of the outsider's
 * 404: they see the report anyway, so nothing is revealed to them.
 */
const EXPLAINED_TO_REPORTER = new Set([
  "GET /reports/:id/edit",
  "POST /reports/:id/edit",
  "POST /reports/:id/attachments/:aid/remove",
]);

/** Everything a forged form could try to smuggle in. */
const HOSTILE_FIELDS: Record<string, string> = {
  transition: "close",
  resolution: "resolved",
  message: "pwned",
  body: "pwned",
  state: "closed",
  assignee: "me",
  reporter_id: "1",
  organization: "",
  cwe: "CWE-79",
  cvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
  role: "admin",
  name: "Hijacked Org",
  email: "attacker@evil.example",
  displayName: "Attacker",
  notify: "none",
};

const MISSING: Record<ParamKind, string> = {
  report: "DD-0000-0000",
  attachment: "0000000000000000",
  org: "0000000000000000",
  user: "0000000000000000",
  view: "0000000000000000",
  inbound: "999999999",
  inboundMessage: "no-such-message@example.test",
  webhook: "0000000000000000",
};

/** Attempts that record an access in the audit log are expected, not a change. */
const AUDITED_ATTEMPTS = ["report.not_found"];

function fill(path: string, values: Record<string, string>): string {
  return path.replace(/:(\w+)/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for :${name} in ${path}`);
    return encodeURIComponent(v);
  });
}

describe("access matrix", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let routes: AppRoute[];

  interface Seeded {
    alice: TestUser;
    bob: TestUser;
    contactA: TestUser;
    contactB: TestUser;
    /** Administrators of organization A and of organization B. */
    adminA: TestUser;
    adminB: TestUser;
    triager: TestUser;
    admin: TestUser;
    orgA: { id: number; publicId: string };
    orgB: { id: number; publicId: string };
    /** Alice's, forwarded to organization A. */
    forwarded: { id: number; publicId: string };
    /** Alice's, about organization A but not forwarded yet. */
    notYetForwarded: { id: number; publicId: string };
    /** Bob's own. */
    bobs: { id: number; publicId: string };
    attachmentA: { publicId: string };
    attachmentB: { publicId: string };
    /** The triager's saved queue view. */
    triagersView: { publicId: string };
    /** Alice's reply by email, held. */
    inbound: { id: number; messageId: string };
    /** The admin's webhook endpoint. */
    webhook: { publicId: string };
  }
  let s: Seeded;
  const browsers = new Map<string, Browser>();

  async function as(name: keyof Seeded | "anonymous"): Promise<Browser> {
    let b = browsers.get(name);
    if (!b) {
      b =
        name === "anonymous"
          ? await anonymous(ctx)
          : await signedIn(ctx, s[name] as TestUser);
      browsers.set(name, b);
    }
    return b;
  }

  async function snapshot() {
    const tables = (await tableNames(ctx.db)).filter(
      (name) =>
        !name.startsWith("reports_fts") && // an index derived from reports
        !["sessions", "audit_log"].includes(name),
    );
    const dump = await tablesRows(ctx.db, tables);
    dump.audit_log = (
      await ctx.db
        .selectFrom("audit_log")
        .select(["id", "action", "target_id"])
        .where("action", "not in", AUDITED_ATTEMPTS)
        .orderBy("id")
        .execute()
    ).length;
    return dump;
  }

  before(async () => {
    // Every outsider asks for dozens of missing pages here; the not-found
    // limit (tested in account-security.test.ts) would answer 429 instead.
    ctx = await createTestContext({ env: { RATE_LIMITS: "false" } });
    routes = listRoutes(ctx.app);
    const orgA = await createOrg(ctx, "Org A");
    const orgB = await createOrg(ctx, "Org B");
    const alice = await createUser(ctx, "researcher");
    const bob = await createUser(ctx, "researcher");
    const contactA = await createUser(ctx, "org_contact", {
      orgIds: [orgA.id],
    });
    const contactB = await createUser(ctx, "org_contact", {
      orgIds: [orgB.id],
    });
    const adminA = await createUser(ctx, "org_contact", {
      orgIds: [orgA.id],
    });
    const adminB = await createUser(ctx, "org_contact", {
      orgIds: [orgB.id],
    });
    await ctx.db
      .updateTable("org_members")
      .set({ is_admin: 1 })
      .where("user_id", "in", [adminA.user.id, adminB.user.id])
      .execute();
    const triager = await createUser(ctx, "triager");
    const admin = await createUser(ctx, "admin");
    const forwarded = await insertReport(ctx, {
      reporterId: alice.user.id,
      state: "vendor_notified",
      organizationId: orgA.id,
      assigneeId: triager.user.id,
    });
    const notYetForwarded = await insertReport(ctx, {
      reporterId: alice.user.id,
      state: "triaged",
      organizationId: orgA.id,
    });
    const bobs = await insertReport(ctx, { reporterId: bob.user.id });
    const attachmentA = await insertAttachmentRow(
      ctx,
      forwarded.id,
      alice.user.id,
    );
    const attachmentB = await insertAttachmentRow(ctx, bobs.id, bob.user.id);
    const triagersView = { publicId: "a1b2c3d4e5f6g7h8" };
    await ctx.db
      .insertInto("saved_views")
      .values({
        public_id: triagersView.publicId,
        user_id: triager.user.id,
        name: "Mine",
        query: "assignee=me",
        created_at: Date.now(),
      })
      .execute();
    const inbound = await insertHeldMail(ctx, alice.email, forwarded.id);
    const webhook = await insertEndpoint(ctx.db, {
      publicId: "w1b2c3d4e5f6g7h8",
      ownerId: admin.user.id,
      orgId: null,
      url: "https://hooks.example.org/desk",
      description: "",
      events: ["report.created"],
      secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
      at: ctx.clock.now(),
    });
    s = {
      alice,
      bob,
      contactA,
      contactB,
      adminA,
      adminB,
      triager,
      admin,
      orgA,
      orgB,
      forwarded,
      notYetForwarded,
      bobs,
      attachmentA,
      attachmentB,
      triagersView,
      inbound,
      webhook,
    };
  });
  after(() => ctx.close());

  it("classifies every route of the app", () => {
    // The JSON API's routes have their own matrix, with tokens instead of
    // sessions (api-access-matrix.test.ts), which classifies each of them.
    const unclassified = routes
      .filter((r) => !r.path.startsWith("/api/v1/"))
      .map((r) => `${r.method} ${r.path}`)
      .filter((key) => !(key in ACCESS));
    assert.deepEqual(
      unclassified,
      [],
      "Add these routes to ACCESS in test/http/access-matrix.test.ts",
    );
    // The matrix is only as good as the enumeration: it must see our routers.
    assert.ok(routes.length >= 25);
    for (const key of [
      "GET /queue",
      "GET /orgs/:orgPublicId",
      "GET /admin/users",
    ])
      assert.ok(
        routes.some((r) => `${r.method} ${r.path}` === key),
        key,
      );
  });

  it("every route on a report declares the policy action it needs", () => {
    const undeclared = routes
      .filter((r) => r.path.startsWith("/reports/:id") && !r.action)
      .map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(undeclared, [], "add allowedOn(...) to these routes");
  });

  async function attempt(
    who: keyof Seeded | "anonymous",
    route: AppRoute,
    url: string,
  ) {
    const b = await as(who);
    const before = await snapshot();
    const res =
      route.method === "GET"
        ? await b.agent.get(url)
        : await b.post(url, HOSTILE_FIELDS);
    const after = await snapshot();
    assert.deepEqual(
      after,
      before,
      `${who} ${route.method} ${url} changed the database`,
    );
    return res;
  }

  function expectSignIn(
    res: { status: number; headers: Record<string, string> },
    what: string,
  ) {
    assert.equal(res.status, 303, what);
    assert.equal(res.headers.location, "/login", what);
  }

  const SIGNED_IN_USERS = [
    "alice",
    "bob",
    "contactA",
    "contactB",
    "triager",
    "admin",
  ] as const;

  function lacking(action: GlobalAction) {
    return SIGNED_IN_USERS.filter(
      (name) => !can(toActor(s[name].user), action),
    );
  }
  function holding(action: GlobalAction) {
    return SIGNED_IN_USERS.filter((name) => can(toActor(s[name].user), action));
  }

  /** Those who may see alice's forwarded report: her, its organization, the staff. */
  const ON_FORWARDED = ["alice", "contactA", "triager", "admin"] as const;
  async function mayOnForwarded(action: string) {
    const facts = accessFacts((await findReportById(ctx.db, s.forwarded.id))!);
    return ON_FORWARDED.filter((name) =>
      can(toActor(s[name].user), action as ReportAction, facts),
    );
  }
  async function lackingOnForwarded(action: string) {
    const may = await mayOnForwarded(action);
    return ON_FORWARDED.filter((name) => !may.includes(name));
  }

  /** Who attacks an object route, and with which foreign values. */
  function objectAttacks(access: Extract<Access, { kind: "object" }>) {
    const kinds = new Set(Object.values(access.params));
    const attacks: {
      who: keyof Seeded | "anonymous";
      foreign: Record<ParamKind, string>;
      label: string;
    }[] = [];
    const foreignOf = (
      report: string,
      attachment: string,
    ): Record<ParamKind, string> => ({
      report,
      attachment,
      org: s.orgA.publicId,
      user: s.contactA.user.publicId,
      view: s.triagersView.publicId,
      inbound: String(s.inbound.id),
      inboundMessage: s.inbound.messageId,
      webhook: s.webhook.publicId,
    });
    const attackers: (keyof Seeded | "anonymous")[] = access.action
      ? ["anonymous", ...lacking(access.action)]
      : ["anonymous", "bob", "contactB"];
    for (const who of attackers) {
      attacks.push({
        who,
        foreign: foreignOf(s.forwarded.publicId, s.attachmentA.publicId),
        label: "another user's object",
      });
    }
    if (kinds.has("view")) {
      // Another staff member, who holds the action, with the triager's view.
      attacks.push({
        who: "admin",
        foreign: foreignOf(s.forwarded.publicId, s.attachmentA.publicId),
        label: "another staff member's saved view",
      });
    }
    if (kinds.has("report") && !access.action) {
      // The organization's contact before the organization was notified.
      attacks.push({
        who: "contactA",
        foreign: foreignOf(s.notYetForwarded.publicId, s.attachmentA.publicId),
        label: "a report not yet forwarded to the contact's organization",
      });
      if (kinds.has("attachment")) {
        // Bob's own report with Alice's attachment ID.
        attacks.push({
          who: "bob",
          foreign: foreignOf(s.bobs.publicId, s.attachmentA.publicId),
          label: "an attachment of another report, through one's own report",
        });
      }
    }
    return attacks;
  }

  /**
   * An organization administrator's route, attacked by everybody who does
   * not administer organization A (with A's IDs and with missing ones), and
   * by A's own administrator with another organization's member and case.
   */
  async function orgAdminAttacks(
    route: AppRoute,
    params: Record<string, ParamKind>,
  ): Promise<number> {
    const key = `${route.method} ${route.path}`;
    const urlWith = (map: Partial<Record<ParamKind, string>>) =>
      fill(
        route.path,
        Object.fromEntries(
          Object.entries(params).map(([name, kind]) => [name, map[kind]!]),
        ),
      );
    const ofA = {
      org: s.orgA.publicId,
      user: s.contactA.user.publicId,
      report: s.forwarded.publicId,
    };
    let checked = 0;
    const same404 = async (
      who: keyof Seeded | "anonymous",
      foreignUrl: string,
      missingUrl: string,
      label: string,
    ) => {
      const foreign = await attempt(who, route, foreignUrl);
      const missing = await attempt(who, route, missingUrl);
      const what = `${who} ${key} (${label})`;
      if (who === "anonymous") {
        expectSignIn(foreign, what);
        expectSignIn(missing, what);
      } else {
        assert.equal(foreign.status, 404, `${what}: foreign ID`);
        assert.equal(missing.status, 404, `${what}: missing ID`);
        assert.equal(foreign.text, missing.text, `${what}: 404s differ`);
        const none = await (await as(who)).agent.get("/no-such-page");
        assert.equal(foreign.text, none.text, `${what}: not the 404 page`);
      }
      checked++;
    };
    const outsiders = [
      "anonymous",
      "alice",
      "bob",
      "contactA", // a plain member of A
      "contactB",
      "adminB", // another organization's administrator
    ] as const;
    const hasIds = Object.keys(params).length > 0;
    for (const who of outsiders)
      // Without IDs the page is one's own organization's (adminB: B's).
      if (hasIds || who !== "adminB")
        await same404(who, urlWith(ofA), urlWith(MISSING), "organization A");
    // Staff administer every organization, but have none of their own to list.
    if (!hasIds)
      for (const who of ["triager", "admin"] as const)
        await same404(who, route.path, route.path, "no organization of theirs");
    // A's administrator with another organization's member or case.
    if (params.userPublicId || params.reportId) {
      const forged = {
        org: s.orgA.publicId,
        user: params.userPublicId ? s.contactB.user.publicId : ofA.user,
        report: params.reportId ? s.bobs.publicId : ofA.report,
      };
      await same404(
        "adminA",
        urlWith(forged),
        urlWith({
          org: s.orgA.publicId,
          user: params.userPublicId ? MISSING.user : ofA.user,
          report: params.reportId ? MISSING.report : ofA.report,
        }),
        "another organization's member or case",
      );
    }
    return checked;
  }

  describe("attacks", () => {
    it("every non-public route refuses outsiders and changes nothing", async () => {
      let checked = 0;
      for (const route of routes) {
        const key = `${route.method} ${route.path}`;
        const access = ACCESS[key];
        if (!access || access.kind === "public") continue;
        if (route.method === "ALL") continue;

        if (access.kind === "signed-in") {
          expectSignIn(await attempt("anonymous", route, route.path), key);
          checked++;
          continue;
        }

        if (access.kind === "role") {
          const visitor = await attempt("anonymous", route, route.path);
          if (access.explainsToVisitor) {
            assert.equal(visitor.status, 200, `anonymous ${key}`);
            assert.match(visitor.text, /href="\/login/, `anonymous ${key}`);
          } else expectSignIn(visitor, `anonymous ${key}`);
          for (const who of lacking(access.action)) {
            const res = await attempt(who, route, route.path);
            assert.equal(res.status, 404, `${who} ${key}`);
            // Exactly the page of an address that does not exist.
            const none = await (await as(who)).agent.get("/no-such-page");
            assert.equal(
              res.text,
              none.text,
              `${who} ${key}: 404 page differs`,
            );
            checked++;
          }
          continue;
        }

        if (access.kind === "org-admin") {
          checked += await orgAdminAttacks(route, access.params);
          continue;
        }

        for (const attack of objectAttacks(access)) {
          const values = (map: Record<ParamKind, string>) =>
            Object.fromEntries(
              Object.entries(access.params).map(([name, kind]) => [
                name,
                map[kind],
              ]),
            );
          const foreignUrl = fill(route.path, values(attack.foreign));
          const missingUrl = fill(route.path, values(MISSING));
          const what = `${attack.who} ${route.method} ${route.path} (${attack.label})`;
          const foreign = await attempt(attack.who, route, foreignUrl);
          const missing = await attempt(attack.who, route, missingUrl);
          if (attack.who === "anonymous") {
            expectSignIn(foreign, what);
            expectSignIn(missing, what);
          } else {
            assert.equal(foreign.status, 404, `${what}: foreign ID`);
            assert.equal(missing.status, 404, `${what}: missing ID`);
            assert.equal(
              foreign.text,
              missing.text,
              `${what}: the two 404 pages differ`,
            );
          }
          checked++;
        }

        if (route.action) {
          // Those who see the report but lack the declared action (the
          // researcher on her own report, the notified organization, the
          // staff) get the same 404 as an outsider.
          const url = fill(route.path, {
            id: s.forwarded.publicId,
            aid: s.attachmentA.publicId,
            org: s.orgA.publicId,
          });
          for (const who of await lackingOnForwarded(route.action)) {
            const res = await attempt(who, route, url);
            const explained = EXPLAINED_TO_REPORTER.has(key) && who === "alice";
            assert.equal(
              res.status,
              explained ? 409 : 404,
              `${who} ${key} on alice's report`,
            );
            checked++;
          }
        }
      }
      assert.ok(checked > 30, `only ${checked} attempts ran`);
    });
  });

  describe("the right people get in", () => {
    it("every role page answers 200 to the roles that hold its action", async () => {
      for (const route of routes) {
        const access = ACCESS[`${route.method} ${route.path}`];
        if (route.method !== "GET" || access?.kind !== "role") continue;
        for (const who of holding(access.action)) {
          const res = await (await as(who)).agent.get(route.path);
          assert.equal(res.status, 200, `${who} GET ${route.path}`);
        }
      }
    });

    it("an organization's administrator and the staff get into its pages", async () => {
      const page = `/org/${s.orgA.publicId}/members`;
      for (const who of ["adminA", "triager", "admin"] as const) {
        const res = await (await as(who)).agent.get(page);
        assert.equal(res.status, 200, `${who} GET ${page}`);
      }
      const own = await (await as("adminA")).agent.get("/org/members");
      assert.equal(own.status, 303);
      assert.equal(own.headers.location, page);
    });

    it("an organization's administrator reaches the webhook pages, never the admin's endpoint", async () => {
      for (const who of ["adminA", "adminB"] as const) {
        const b = await as(who);
        assert.equal((await b.agent.get("/admin/webhooks")).status, 200, who);
        const missing = await b.agent.get(`/admin/webhooks/${MISSING.webhook}`);
        const foreign = await b.agent.get(
          `/admin/webhooks/${s.webhook.publicId}`,
        );
        assert.equal(foreign.status, 404, who);
        assert.equal(foreign.text, missing.text, who);
      }
    });

    it("every object page answers 200 to its owner or the staff", async () => {
      for (const route of routes) {
        const access = ACCESS[`${route.method} ${route.path}`];
        if (route.method !== "GET" || access?.kind !== "object") continue;
        const kinds = Object.values(access.params);
        // Attachment rows here have no file behind them; their downloads are
        // covered with real uploads in the report tests.
        if (kinds.includes("attachment")) continue;
        const map: Record<ParamKind, string> = {
          report: s.forwarded.publicId,
          attachment: s.attachmentA.publicId,
          org: s.orgA.publicId,
          user: s.contactA.user.publicId,
          view: s.triagersView.publicId,
          inbound: String(s.inbound.id),
          inboundMessage: s.inbound.messageId,
          webhook: s.webhook.publicId,
        };
        const url = fill(
          route.path,
          Object.fromEntries(
            Object.entries(access.params).map(([n, k]) => [n, map[k]]),
          ),
        );
        const who = access.action
          ? holding(access.action)
          : route.action
            ? await mayOnForwarded(route.action)
            : ON_FORWARDED;
        for (const name of who) {
          const res = await (await as(name)).agent.get(url);
          assert.equal(res.status, 200, `${name} GET ${url}`);
        }
      }
    });
  });
});

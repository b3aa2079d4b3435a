/**
 * The API's access matrix: every route under /api/v1, read from the router
 * itself, must be classified below, and is tried with tokens of every role
 * and every scope, with a revoked, an expired, a disabled user's and a
 * two-factor-less staff token, a forged one and none, with another
 * organization's contact's token, and with foreign and missing IDs. Each
 * gets the right status and never data; an attempt that is refused changes
 * nothing. Every answer is checked against the OpenAPI document.
 */
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import { after, before, describe, it } from "mocha";
import {
  can,
  canAnswerFor,
  type GlobalAction,
  type ReportAction,
} from "../../src/auth/policy.js";
import { scopesFor, type ApiScope } from "../../src/api/tokens.js";
import { NOT_FOUND_BODY } from "../../src/api/http.js";
import { storedPath } from "../../src/reports/attachments.js";
import { findReportById } from "../../src/reports/repository.js";
import { accessFacts } from "../../src/reports/types.js";
import { toActor } from "../../src/users/service.js";
import {
  createOrg,
  insertAttachmentRow,
  insertReport,
} from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { listRoutes, type AppRoute } from "../support/routes.js";
import {
  apiClient,
  checkerFor,
  tokenFor,
  type ApiCall,
  type ResponseChecker,
} from "../support/api.js";

type ParamKind = "report" | "attachment" | "organization";

type Access =
  | { kind: "public" }
  /** The reports the caller may see: never one more. */
  | { kind: "list"; scope: ApiScope }
  /** A global action of the policy (filing). */
  | { kind: "create"; scope: ApiScope; action: GlobalAction }
  /** Takes IDs: foreign and missing IDs answer the same 404. */
  | {
      kind: "object";
      scope: ApiScope;
      action: ReportAction;
      params: Record<string, ParamKind>;
    };

const ACCESS: Record<string, Access> = {
  "GET /api/v1/openapi.json": { kind: "public" },
  "GET /api/v1/reports": { kind: "list", scope: "reports:read" },
  "POST /api/v1/reports": {
    kind: "create",
    scope: "reports:write",
    action: "report:create",
  },
  "GET /api/v1/reports/:id": {
    kind: "object",
    scope: "reports:read",
    action: "report:view",
    params: { id: "report" },
  },
  "POST /api/v1/reports/:id/comments": {
    kind: "object",
    scope: "reports:write",
    action: "report:comment",
    params: { id: "report" },
  },
  "POST /api/v1/reports/:id/steps": {
    kind: "object",
    scope: "workflow:write",
    action: "report:act",
    params: { id: "report" },
  },
  "POST /api/v1/reports/:id/attachments": {
    kind: "object",
    scope: "reports:write",
    action: "report:upload",
    params: { id: "report" },
  },
  // An organization's own answers: only for the organizations the caller
  // answers for (policy.ts canAnswerFor), any other the same 404.
  "PUT /api/v1/reports/:id/participants/:org/status": {
    kind: "object",
    scope: "workflow:write",
    action: "report:answer_as_org",
    params: { id: "report", org: "organization" },
  },
  "PUT /api/v1/reports/:id/participants/:org/statement": {
    kind: "object",
    scope: "reports:write",
    action: "report:answer_as_org",
    params: { id: "report", org: "organization" },
  },
  "PUT /api/v1/reports/:id/participants/:org/details": {
    kind: "object",
    scope: "reports:write",
    action: "report:answer_as_org",
    params: { id: "report", org: "organization" },
  },
  "GET /api/v1/reports/:id/attachments/:aid": {
    kind: "object",
    scope: "reports:read",
    action: "report:view",
    params: { id: "report", aid: "attachment" },
  },
};

/** Everything a forged request could try to smuggle in. */
const HOSTILE_JSON = {
  name: "close",
  resolution: "resolved",
  message: "pwned",
  body: "pwned",
  title: "pwned pwned",
  state: "closed",
  reporter_id: 1,
  organization: "",
  role: "admin",
};

const MISSING: Record<ParamKind, string> = {
  report: "DD-0000-0000",
  attachment: "0000000000000000",
  organization: "ORG-MISSING",
};

const USERS = [
  "alice",
  "bob",
  "contactA",
  "contactB",
  "triager",
  "admin",
] as const;
type UserName = (typeof USERS)[number];

function fill(p: string, values: Record<string, string>): string {
  return p.replace(/:(\w+)/g, (_, name: string) =>
    encodeURIComponent(values[name]!),
  );
}

describe("API access matrix", function () {
  this.timeout(300_000);
  let ctx: TestContext;
  let checker: ResponseChecker;
  let routes: AppRoute[];
  const users = {} as Record<UserName, TestUser>;
  let orgA: { id: number; publicId: string };
  let orgB: { id: number; publicId: string };
  /** A case with A and B on it, each with its own tracking ID and statement, closed. */
  let twoOrgs: { id: number; publicId: string };
  let forwarded: { id: number; publicId: string };
  let notYetForwarded: { id: number; publicId: string };
  let bobs: { id: number; publicId: string };
  let attachmentA: { publicId: string };
  /** A token per user and scope ("all": every scope the role may have). */
  const tokens = new Map<string, string>();
  /** Tokens that must not work at all. */
  const dead: Record<string, string | null> = {};

  async function snapshot() {
    const tables = await sql<{ name: string }>`
      select name from sqlite_master where type = 'table'
        and name not like 'sqlite_%' and name not like 'kysely_%'
        and name not like 'reports_fts%'
        -- a token's last use is written on every use, refused or not
        and name not in ('sessions', 'audit_log', 'api_tokens') order by name`.execute(
      ctx.db,
    );
    const dump: Record<string, unknown> = {};
    for (const { name } of tables.rows)
      dump[name] = (
        await sql`select * from ${sql.table(name)} order by rowid`.execute(
          ctx.db,
        )
      ).rows;
    dump.audit_log = (
      await ctx.db
        .selectFrom("audit_log")
        .select("id")
        .where("action", "not in", ["report.viewed", "attachment.downloaded"])
        .execute()
    ).length;
    return dump;
  }

  before(async () => {
    ctx = await createTestContext({ env: { RATE_LIMITS: "false" } });
    checker = checkerFor(ctx);
    routes = listRoutes(ctx.app).filter((r) => r.path.startsWith("/api/"));
    orgA = await createOrg(ctx, "Org A");
    orgB = await createOrg(ctx, "Org B");
    users.alice = await createUser(ctx, "researcher");
    users.bob = await createUser(ctx, "researcher");
    users.contactA = await createUser(ctx, "org_contact", {
      orgIds: [orgA.id],
    });
    users.contactB = await createUser(ctx, "org_contact", {
      orgIds: [orgB.id],
    });
    users.triager = await createUser(ctx, "triager");
    users.admin = await createUser(ctx, "admin");
    forwarded = await insertReport(ctx, {
      reporterId: users.alice.user.id,
      state: "vendor_notified",
      organizationId: orgA.id,
    });
    notYetForwarded = await insertReport(ctx, {
      reporterId: users.alice.user.id,
      state: "triaged",
      organizationId: orgA.id,
    });
    bobs = await insertReport(ctx, { reporterId: users.bob.user.id });
    twoOrgs = await insertReport(ctx, {
      reporterId: users.alice.user.id,
      state: "vendor_notified",
      organizationId: orgA.id,
    });
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: twoOrgs.id,
        organization_id: orgB.id,
        added_at: ctx.clock.now().getTime(),
        notified_at: ctx.clock.now().getTime(),
      })
      .execute();
    for (const [org, name] of [
      [orgA, "ALPHA"],
      [orgB, "BETA"],
    ] as const)
      await ctx.db
        .updateTable("participations")
        .set({
          status: "affected",
          tracking_id: `${name}-SECRET-1`,
          statement: `${name} secret statement`,
          statement_references: `https://${name.toLowerCase()}.example.test/secret`,
          fix_target_at: Date.UTC(2027, 2, 31, 23, 59),
        })
        .where("report_id", "=", twoOrgs.id)
        .where("organization_id", "=", org.id)
        .execute();
    attachmentA = await insertAttachmentRow(
      ctx,
      forwarded.id,
      users.alice.user.id,
    );
    await insertAttachmentRow(ctx, bobs.id, users.bob.user.id);
    // The rows' file (their sha256 is all zeros), so a download can succeed.
    const file = storedPath(ctx.config.attachmentsDir, "0".repeat(64));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, "hello");

    for (const name of USERS) {
      const role = users[name].user.role;
      for (const scope of scopesFor(role))
        tokens.set(
          `${name} ${scope}`,
          await tokenFor(ctx, users[name], [scope]),
        );
      tokens.set(
        `${name} all`,
        await tokenFor(ctx, users[name], scopesFor(role)),
      );
    }
    // Dead tokens: each with every scope its user could hold.
    const revokedUser = await createUser(ctx, "researcher");
    dead.revoked = await tokenFor(ctx, revokedUser, scopesFor("researcher"));
    await ctx.db
      .updateTable("api_tokens")
      .set({ revoked_at: ctx.clock.now().getTime() })
      .where("user_id", "=", revokedUser.user.id)
      .execute();
    const expiredUser = await createUser(ctx, "triager");
    dead.expired = await tokenFor(ctx, expiredUser, scopesFor("triager"));
    await ctx.db
      .updateTable("api_tokens")
      .set({ expires_at: ctx.clock.now().getTime() })
      .where("user_id", "=", expiredUser.user.id)
      .execute();
    const disabledUser = await createUser(ctx, "admin");
    dead.disabled = await tokenFor(ctx, disabledUser, scopesFor("admin"));
    await ctx.db
      .updateTable("users")
      .set({ disabled_at: ctx.clock.now().getTime() })
      .where("id", "=", disabledUser.user.id)
      .execute();
    const no2fa = await createUser(ctx, "triager");
    dead.staffWithoutTwoFactor = await tokenFor(
      ctx,
      no2fa,
      scopesFor("triager"),
    );
    await ctx.db
      .updateTable("users")
      .set({ totp_enabled_at: null })
      .where("id", "=", no2fa.user.id)
      .execute();
    dead.forged = "dd_pat_" + "x".repeat(43);
    dead.malformed = "not-a-token";
    dead.none = null;
  });
  after(() => ctx.close());

  it("classifies every API route, with the scope and action its route line declares", () => {
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    assert.deepEqual(
      keys.filter((k) => !(k in ACCESS)),
      [],
      "Add these routes to ACCESS in test/http/api-access-matrix.test.ts",
    );
    assert.deepEqual(
      Object.keys(ACCESS).filter((k) => !keys.includes(k)),
      [],
      "ACCESS lists routes the router does not have",
    );
    for (const route of routes) {
      const access = ACCESS[`${route.method} ${route.path}`]!;
      if (access.kind === "public") continue;
      assert.equal(route.scope, access.scope, `${route.path} scope`);
      if (access.kind !== "list")
        assert.equal(route.action, access.action, `${route.path} action`);
    }
    // Every path of the document is a route, and every route is documented.
    const documented = Object.keys(checker.doc.paths).map((p) =>
      p.replace(/\{(\w+)\}/g, ":$1"),
    );
    assert.deepEqual(
      [...new Set(routes.map((r) => r.path.slice("/api/v1".length)))].sort(),
      documented.sort(),
    );
  });

  async function attempt(
    route: AppRoute,
    url: string,
    token: string | null,
  ): Promise<ApiCall> {
    const api = apiClient(ctx, checker, token);
    const p = url.slice("/api/v1".length);
    if (route.method === "GET") return api.get(p);
    if (route.method === "PUT") return api.put(p, HOSTILE_JSON);
    if (route.path.endsWith("/attachments"))
      return api.upload(`${p}?filename=pwned.txt`, Buffer.from("pwned\n"));
    return api.post(p, HOSTILE_JSON);
  }

  /** Refused: the status, nothing changed, no data in the body. */
  async function refused(
    route: AppRoute,
    url: string,
    token: string | null,
    status: number,
    label: string,
  ) {
    const before = await snapshot();
    const res = await attempt(route, url, token);
    assert.equal(res.status, status, `${label}: ${route.method} ${url}`);
    assert.match(
      res.headers["content-type"] ?? "",
      /^application\/problem\+json/,
      label,
    );
    assert.deepEqual(
      Object.keys(res.body).sort(),
      ["detail", "status", "title", "type"],
      `${label}: only the problem, never data`,
    );
    if (status === 404) assert.equal(res.text, NOT_FOUND_BODY, label);
    assert.deepEqual(await snapshot(), before, `${label} changed the database`);
    return res;
  }

  const sampleUrl = (route: AppRoute) =>
    fill(route.path, {
      id: forwarded.publicId,
      aid: attachmentA.publicId,
      org: orgA.publicId,
    });

  it("a dead, forged or missing token is 401 on every route", async () => {
    for (const route of routes) {
      const access = ACCESS[`${route.method} ${route.path}`]!;
      if (access.kind === "public") continue;
      for (const [label, token] of Object.entries(dead))
        await refused(route, sampleUrl(route), token, 401, label);
    }
  });

  it("a token without the route's scope is 403, whoever holds it", async () => {
    let checked = 0;
    for (const route of routes) {
      const access = ACCESS[`${route.method} ${route.path}`]!;
      if (access.kind === "public") continue;
      for (const name of USERS)
        for (const scope of scopesFor(users[name].user.role)) {
          if (scope === access.scope) continue;
          await refused(
            route,
            sampleUrl(route),
            tokens.get(`${name} ${scope}`)!,
            403,
            `${name} with ${scope}`,
          );
          checked += 1;
        }
    }
    assert.ok(checked > 100, `only ${checked} checked`);
  });

  it("foreign and missing IDs answer the same 404 to everyone who may not see them", async () => {
    const factsOf = async (id: number) =>
      accessFacts((await findReportById(ctx.db, id))!);
    for (const route of routes) {
      const access = ACCESS[`${route.method} ${route.path}`]!;
      if (access.kind !== "object") continue;
      const kinds = Object.values(access.params);
      for (const name of USERS) {
        const token = tokens.get(`${name} ${access.scope}`)!;
        const actor = toActor(users[name].user);
        // Missing IDs: 404 for everyone, even staff.
        await refused(
          route,
          fill(route.path, {
            id: MISSING.report,
            aid: MISSING.attachment,
            org: orgA.publicId,
          }),
          token,
          404,
          `${name}, a missing report`,
        );
        if (
          kinds.includes("attachment") &&
          can(actor, "report:view", await factsOf(forwarded.id))
        )
          await refused(
            route,
            fill(route.path, {
              id: forwarded.publicId,
              aid: MISSING.attachment,
            }),
            token,
            404,
            `${name}, a missing file`,
          );
        // The forwarded report, and the one not yet forwarded.
        for (const report of [forwarded, notYetForwarded, bobs]) {
          const facts = await factsOf(report.id);
          if (can(actor, access.action, facts)) continue;
          await refused(
            route,
            fill(route.path, {
              id: report.publicId,
              aid: attachmentA.publicId,
              org: orgA.publicId,
            }),
            token,
            404,
            `${name} on ${report === bobs ? "bob's" : report === forwarded ? "the forwarded" : "the unforwarded"} report`,
          );
        }
      }
      if (kinds.includes("attachment")) {
        // Bob's own report with Alice's file ID.
        await refused(
          route,
          fill(route.path, { id: bobs.publicId, aid: attachmentA.publicId }),
          tokens.get(`bob ${access.scope}`)!,
          404,
          "a file of another report, through one's own",
        );
      }
    }
  });

  it("on a case with two organizations, each answers only for its own: any other, forged or missing is the same 404", async () => {
    const facts = accessFacts((await findReportById(ctx.db, twoOrgs.id))!);
    let answered = 0;
    for (const route of routes) {
      const access = ACCESS[`${route.method} ${route.path}`]!;
      if (access.kind !== "object" || !("org" in access.params)) continue;
      for (const name of USERS) {
        const token = tokens.get(`${name} ${access.scope}`)!;
        const actor = toActor(users[name].user);
        for (const org of [
          { id: orgA.id, publicId: orgA.publicId },
          { id: orgB.id, publicId: orgB.publicId },
          { id: -1, publicId: MISSING.organization },
          { id: -1, publicId: "ORG-" + "X".repeat(36) },
        ]) {
          const url = fill(route.path, {
            id: twoOrgs.publicId,
            org: org.publicId,
          });
          if (canAnswerFor(actor, facts, org.id)) {
            // Let through to the form, which refuses the hostile body.
            const before = await snapshot();
            const res = await attempt(route, url, token);
            assert.equal(res.status, 422, `${name} ${url}`);
            assert.deepEqual(await snapshot(), before);
            answered += 1;
          } else
            await refused(
              route,
              url,
              token,
              404,
              `${name} for ${org.publicId}`,
            );
        }
      }
    }
    // Contact A for A, contact B for B, and both staff for each, per route.
    assert.equal(answered, 3 * 6);
  });

  it("org B's token never reads A's participation details, closed or open", async () => {
    const read = async (name: UserName) => {
      const res = await apiClient(
        ctx,
        checker,
        tokens.get(`${name} reports:read`)!,
      ).get(`/reports/${twoOrgs.publicId}`);
      assert.equal(res.status, 200, name);
      return res;
    };
    const secretsOf = (org: string) => [
      `${org}-SECRET-1`,
      `${org} secret statement`,
      `${org.toLowerCase()}.example.test/secret`,
      "2027-03-31",
    ];
    for (const open of [false, true]) {
      await ctx.db
        .updateTable("reports")
        .set({ case_open: open ? 1 : 0 })
        .where("id", "=", twoOrgs.id)
        .execute();
      const a = await read("contactA");
      const b = await read("contactB");
      for (const secret of secretsOf("BETA").slice(0, 3))
        assert.ok(!a.text.includes(secret), `A reads ${secret}`);
      for (const secret of secretsOf("ALPHA").slice(0, 3))
        assert.ok(!b.text.includes(secret), `B reads ${secret}`);
      // Its own, in full.
      assert.ok(a.text.includes("ALPHA-SECRET-1"));
      assert.ok(b.text.includes("BETA secret statement"));
      const names = (r: ApiCall) =>
        r.body.participants.map(
          (p: { organization: { id: string } }) => p.organization.id,
        );
      assert.deepEqual(
        names(b),
        open ? [orgA.publicId, orgB.publicId] : [orgB.publicId],
      );
      // The researcher: names and statuses only; staff: everything.
      const alice = await read("alice");
      for (const secret of [...secretsOf("ALPHA"), ...secretsOf("BETA")])
        assert.ok(
          !alice.text.includes(secret),
          `the researcher reads ${secret}`,
        );
      assert.equal(names(alice).length, 2);
      const triager = await read("triager");
      for (const secret of [...secretsOf("ALPHA"), ...secretsOf("BETA")])
        assert.ok(triager.text.includes(secret), `staff miss ${secret}`);
      // Not on the case: the report's 404.
      assert.equal(
        (
          await apiClient(ctx, checker, tokens.get("bob reports:read")!).get(
            `/reports/${twoOrgs.publicId}`,
          )
        ).text,
        NOT_FOUND_BODY,
      );
    }
  });

  it("those who may read a report read it, and its files", async () => {
    for (const route of routes) {
      const access = ACCESS[`${route.method} ${route.path}`]!;
      if (access.kind !== "object" || route.method !== "GET") continue;
      const facts = accessFacts((await findReportById(ctx.db, forwarded.id))!);
      const may = USERS.filter((n) =>
        can(toActor(users[n].user), access.action, facts),
      );
      assert.deepEqual(may, ["alice", "contactA", "triager", "admin"]);
      for (const name of may) {
        const res = await attempt(
          route,
          sampleUrl(route),
          tokens.get(`${name} ${access.scope}`)!,
        );
        assert.equal(res.status, 200, `${name} ${route.path}`);
      }
    }
  });

  it("the list holds exactly the reports each caller may see", async () => {
    const all = [forwarded, notYetForwarded, bobs, twoOrgs];
    for (const name of USERS) {
      const actor = toActor(users[name].user);
      const expected = [];
      for (const r of all)
        if (
          can(
            actor,
            "report:view",
            accessFacts((await findReportById(ctx.db, r.id))!),
          )
        )
          expected.push(r.publicId);
      const res = await apiClient(
        ctx,
        checker,
        tokens.get(`${name} reports:read`)!,
      ).get("/reports");
      assert.equal(res.status, 200);
      assert.deepEqual(
        res.body.items.map((i: { id: string }) => i.id).sort(),
        expected.sort(),
        name,
      );
    }
  });

  it("filing is for researchers: others are refused 403 and nothing is filed", async () => {
    const route = routes.find(
      (r) => r.method === "POST" && r.path === "/api/v1/reports",
    )!;
    for (const name of USERS) {
      const token = tokens.get(`${name} reports:write`)!;
      if (can(toActor(users[name].user), "report:create")) {
        const before = await snapshot();
        const res = await attempt(route, route.path, token);
        assert.equal(res.status, 422, `${name}: a hostile filing is invalid`);
        assert.deepEqual(await snapshot(), before);
      } else await refused(route, route.path, token, 403, name);
    }
  });

  it("every documented answer of the routes above was seen", () => {
    for (const key of [
      "GET /reports 200",
      "GET /reports 401",
      "GET /reports 403",
      "GET /reports/{id} 404",
      "POST /reports/{id}/steps 404",
      "POST /reports/{id}/comments 404",
      "POST /reports/{id}/attachments 404",
      "GET /reports/{id}/attachments/{aid} 200",
      "GET /reports/{id}/attachments/{aid} 404",
      "PUT /reports/{id}/participants/{org}/status 404",
      "PUT /reports/{id}/participants/{org}/status 403",
      "PUT /reports/{id}/participants/{org}/status 422",
      "PUT /reports/{id}/participants/{org}/statement 404",
      "PUT /reports/{id}/participants/{org}/statement 422",
      "PUT /reports/{id}/participants/{org}/details 404",
      "PUT /reports/{id}/participants/{org}/details 422",
      "POST /reports 403",
      "POST /reports 422",
    ])
      assert.ok(checker.seen.has(key), key);
  });
});

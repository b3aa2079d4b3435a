import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";
import { listRoutes } from "../support/routes.js";

/** Row counts of every table but sessions: "nothing changed". */
async function snapshot(ctx: TestContext) {
  const tables = [
    "users",
    "tokens",
    "organizations",
    "org_members",
    "reports",
    "report_events",
    "attachments",
    "outbox",
    "audit_log",
  ] as const;
  const counts: Record<string, number> = {};
  for (const t of tables) {
    const row = await ctx.db
      .selectFrom(t)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    counts[t] = Number(row.n);
  }
  const reports = await ctx.db
    .selectFrom("reports")
    .select(["state", "updated_at", "assignee_id"])
    .orderBy("id")
    .execute();
  return JSON.stringify({ counts, reports });
}

describe("CSRF, security headers and hostile form input", () => {
  let ctx: TestContext;
  let admin: Browser;
  let reportId: string;
  before(async () => {
    ctx = await createTestContext();
    const adminUser = await createUser(ctx, "admin");
    admin = await signedIn(ctx, adminUser);
    const researcher = await createUser(ctx, "researcher");
    const org = await createOrg(ctx);
    reportId = (
      await insertReport(ctx, {
        reporterId: researcher.user.id,
        organizationId: org.id,
      })
    ).publicId;
  });
  after(() => ctx.close());

  it("refuses every POST route of the app without a CSRF token, and changes nothing", async () => {
    const posts = listRoutes(ctx.app).filter((r) => r.method === "POST");
    assert.ok(posts.length >= 20, `found ${posts.length} POST routes`);
    const before = await snapshot(ctx);
    for (const route of posts) {
      const url = route.path.replace(/:id\b/, reportId).replace(/:(\w+)/g, "x");
      if (url.startsWith("/api/v1/")) {
        // The API reads no cookie: a signed-in browser's session opens
        // nothing there, so a forged cross-site request has nothing to ride on.
        const api = await admin.agent
          .post(url)
          .type("form")
          .send({ name: "acknowledge", body: "x" });
        assert.equal(api.status, 401, `${route.path} answered ${api.status}`);
        assert.match(api.headers["content-type"]!, /problem\+json/);
        continue;
      }
      const res = await admin.agent
        .post(url)
        .type("form")
        .send({ name: "acknowledge", body: "x", email: "a@b.test" });
      assert.equal(res.status, 403, `${route.path} answered ${res.status}`);
      assert.match(
        res.text,
        /This form has expired or did not come from this site/,
      );
      const multipart = await admin.agent.post(url).field("body", "x");
      assert.equal(
        multipart.status,
        403,
        `${route.path} (multipart) answered ${multipart.status}`,
      );
    }
    assert.equal(await snapshot(ctx), before);
  });

  it("sends strict security headers and no inline script or style on every page", async () => {
    const pages = [
      "/",
      "/login",
      "/register",
      "/policy",
      "/account",
      "/admin/users",
      "/queue",
      "/orgs",
      "/admin/outbox",
      "/admin/webhooks",
      "/admin/inbound",
      "/admin/audit",
      "/admin/settings",
      "/advisories",
      "/acknowledgments",
      "/stats",
      `/reports/${reportId}`,
      "/no-such-page",
    ];
    for (const page of pages) {
      const res = await admin.agent.get(page);
      const csp = res.headers["content-security-policy"] ?? "";
      assert.match(csp, /default-src 'self'/, page);
      assert.match(csp, /frame-ancestors 'none'/, page);
      assert.match(csp, /script-src 'self'(;|$)/, page);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, page);
      assert.equal(res.headers["referrer-policy"], "no-referrer", page);
      assert.equal(res.headers["x-content-type-options"], "nosniff", page);
      assert.equal(res.headers["x-frame-options"], "DENY", page);
      assert.equal(res.headers["x-powered-by"], undefined, page);
      assert.doesNotMatch(
        res.text,
        /<script(?![^>]*\bsrc=)[^>]*>/i,
        `${page}: inline script`,
      );
      assert.doesNotMatch(res.text, /\sstyle=/i, `${page}: style attribute`);
      assert.doesNotMatch(
        res.text,
        /\son[a-z]+=/i,
        `${page}: event handler attribute`,
      );
    }
  });

  it("gives a signed-in page no-store and no ETag; a public page keeps its ETag and answers 304", async () => {
    // A page no browser or proxy stores is never revalidated: its ETag (a
    // hash of the whole page) would never be used.
    for (const page of ["/queue", `/reports/${reportId}`, "/account"]) {
      const res = await admin.agent.get(page);
      assert.equal(res.status, 200, page);
      assert.equal(res.headers["cache-control"], "no-store", page);
      assert.equal(res.headers.etag, undefined, page);
    }
    // What anyone may keep (the advisories and their feed) is revalidated.
    const visitor = await anonymous(ctx);
    for (const page of ["/advisories", "/advisories.atom"]) {
      const res = await visitor.agent.get(page);
      assert.equal(res.status, 200, page);
      assert.ok(res.headers.etag, page);
      const again = await visitor.agent
        .get(page)
        .set("If-None-Match", res.headers.etag!);
      assert.equal(again.status, 304, page);
    }
  });

  it("sets HttpOnly, SameSite=Lax session cookies, Secure when the public URL is https", async () => {
    const res = await supertest(ctx.app).get("/login");
    const cookie = String(res.headers["set-cookie"]);
    assert.match(cookie, new RegExp(`${SESSION_COOKIE}=`));
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.doesNotMatch(cookie, /Secure/);
    // Behind a TLS-terminating proxy, as in production.
    const https = await createTestContext({
      env: { BASE_URL: "https://desk.example.org", TRUST_PROXY: "true" },
    });
    try {
      const secure = await supertest(https.app)
        .get("/login")
        .set("X-Forwarded-Proto", "https");
      assert.match(String(secure.headers["set-cookie"]), /; Secure/);
      assert.match(
        secure.headers["strict-transport-security"] ?? "",
        /max-age=/,
      );
    } finally {
      await https.close();
    }
  });

  const HOSTILE = [
    `<script>alert(1)</script>`,
    `"><img src=x onerror=alert(1)>`,
    "a\u0000b",
    "x".repeat(5000),
  ];

  it("refuses bad registration input next to each field, keeps what was typed, writes nothing", async () => {
    const before = await snapshot(ctx);
    const cases: [Record<string, string | string[]>, string, RegExp][] = [
      [
        { email: "", displayName: "", password: "" },
        "email",
        /Email is required\./,
      ],
      [
        {
          email: "not-an-email",
          displayName: "Kept Name",
          password: "a long passphrase ok",
        },
        "email",
        /Enter a valid email address/,
      ],
      [
        {
          email: "k@example.test",
          displayName: "",
          password: "a long passphrase ok",
        },
        "displayName",
        /Display name is required\./,
      ],
      [
        {
          email: "k@example.test",
          displayName: "x".repeat(81),
          password: "a long passphrase ok",
        },
        "displayName",
        /at most 80 characters/,
      ],
      [
        {
          email: "k@example.test",
          displayName: "Kept Name",
          password: "short",
        },
        "password",
        /Use at least 12 characters\./,
      ],
      [
        {
          email: "k@example.test",
          displayName: "Kept Name",
          password: "password1234",
        },
        "password",
        /too common/,
      ],
      [
        {
          email: "kepler@example.test",
          displayName: "Kept Name",
          password: "kepler-rules-forever",
        },
        "password",
        /email address/,
      ],
      [
        {
          email: ["a@b.test", "c@d.test"],
          displayName: "Kept Name",
          password: "a long passphrase ok",
        },
        "email",
        /Email/,
      ],
      [
        {
          email: "k@example.test",
          displayName: "bad\u0000name",
          password: "a long passphrase ok",
        },
        "displayName",
        /not allowed/,
      ],
    ];
    for (const [fields, field, message] of cases) {
      const browser = await anonymous(ctx);
      const res = await browser.post("/register", fields);
      assert.equal(res.status, 422, JSON.stringify(fields).slice(0, 80));
      const error =
        new RegExp(`id="f-${field}-error"[^>]*>[\\s\\S]*?</p>`).exec(
          res.text,
        )?.[0] ?? "";
      assert.match(error, message, `${field}: ${error}`);
      assert.match(
        res.text,
        new RegExp(`id="f-${field}"[^>]*aria-invalid="true"`),
      );
      assert.doesNotMatch(
        res.text,
        /a long passphrase ok|kepler-rules-forever|password1234/,
        "passwords are never echoed",
      );
      if (fields.displayName === "Kept Name")
        assert.match(res.text, /value="Kept Name"/);
    }
    assert.equal(await snapshot(ctx), before);
  });

  it("renders hostile strings escaped on every foundation form", async () => {
    for (const value of HOSTILE) {
      const browser = await anonymous(ctx);
      const reg = await browser.post("/register", {
        email: value,
        displayName: value,
        password: "",
      });
      assert.ok(
        reg.status === 422 || reg.status === 413,
        `register: ${reg.status}`,
      );
      assert.doesNotMatch(reg.text, /<script>alert|<img src=x/);
      const login = await browser.post("/login", {
        email: value,
        password: value,
      });
      assert.ok(
        [401, 422, 429].includes(login.status),
        `login: ${login.status}`,
      );
      assert.doesNotMatch(login.text, /<script>alert|<img src=x/);
      const created = await admin.post("/admin/users", {
        email: value,
        displayName: value,
        role: "triager",
      });
      assert.equal(created.status, 422);
      assert.doesNotMatch(created.text, /<script>alert|<img src=x/);
      const pref = await admin.post("/account/notifications", {
        notify: value,
      });
      assert.equal(pref.status, 422);
      assert.match(pref.text, /Choose one option\./);
    }
  });

  it("refuses a NUL byte in the sign-in form with 422 on either database, the attempt audited", async () => {
    // PostgreSQL's text cannot hold a NUL (SQLite's can): refused as input,
    // both databases answer alike instead of a 500 on one of them.
    const known = await createUser(ctx, "researcher");
    const audited = () =>
      ctx.db
        .selectFrom("audit_log")
        .select("id")
        .where("action", "=", "auth.sign_in_failed")
        .execute();
    const before = (await audited()).length;
    for (const [email, password] of <[string, string][]>[
      [`${known.email}\u0000`, known.password],
      [known.email, `${known.password}\u0000`],
      ["a\u0000b@example.test", "x"],
    ]) {
      const browser = await anonymous(ctx);
      const res = await browser.post("/login", { email, password });
      assert.equal(res.status, 422, JSON.stringify(email));
      assert.match(res.text, /contains characters that are not allowed/);
    }
    assert.equal((await audited()).length, before + 3);
  });

  it("answers 404 to a NUL byte in a page's path on either database, before any lookup", async () => {
    // Nothing changes but the audit log, which records each "not found".
    const unaudited = async () => {
      const state = JSON.parse(await snapshot(ctx));
      delete state.counts.audit_log;
      return state;
    };
    const before = await unaudited();
    const revoke = await admin.post("/account/tokens/%00/revoke", {});
    assert.equal(revoke.status, 404);
    const page = await admin.agent.get(`/reports/${reportId}%00`);
    assert.equal(page.status, 404);
    assert.deepEqual(await unaudited(), before);
  });

  it("refuses an unknown role and keeps the admin form filled", async () => {
    const res = await admin.post("/admin/users", {
      email: "x@example.test",
      displayName: "Role Less",
      role: "superuser",
    });
    assert.equal(res.status, 422);
    assert.match(res.text, /Choose a role\./);
    assert.match(res.text, /value="Role Less"/);
    assert.match(res.text, /value="x@example\.test"/);
  });
});

/**
 * Personal access tokens: made on the account page (shown once) and by the
 * command line, listed with their last use, revocable at once; only staff
 * with two-factor sign-in may have one.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { runCli } from "../../src/cli.js";
import { sha256Hex } from "../../src/ids.js";
import {
  cliEnv,
  createTestContext,
  createUser,
  shown,
  signedIn,
  type TestContext,
} from "../support/harness.js";

const TOKEN = /dd_pat_[A-Za-z0-9_-]{43}/;

describe("API tokens on the account page", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext({ env: { RATE_LIMITS: "false" } });
  });
  after(() => ctx.close());

  it("creates a token, shows it once, stores only its hash, and revokes it", async () => {
    const alice = await createUser(ctx, "researcher");
    const b = await signedIn(ctx, alice);
    const res = await b.post("/account/tokens", {
      name: "Jira sync",
      scopes: ["reports:read", "reports:write"],
    });
    assert.equal(res.status, 201);
    assert.equal(res.headers["cache-control"], "no-store");
    const token = TOKEN.exec(res.text)?.[0];
    assert.ok(token, "the new token is on the page");
    assert.match(shown(res.text), /shown only this once/);
    const row = await ctx.db
      .selectFrom("api_tokens")
      .selectAll()
      .where("user_id", "=", alice.user.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.token_hash, sha256Hex(token));
    assert.equal(row.scopes, "reports:read reports:write");
    assert.equal(
      row.expires_at - row.created_at,
      90 * 86_400_000,
      "90 days by default",
    );
    const page = await b.agent.get("/account");
    assert.doesNotMatch(page.text, TOKEN, "never shown again");
    assert.match(shown(page.text), /Jira sync/);
    assert.match(page.text, /Never/);

    // Used once: the page says when and from where.
    const api = await b.agent
      .get("/api/v1/reports")
      .set("Authorization", `Bearer ${token}`);
    assert.equal(api.status, 200);
    const used = await b.agent.get("/account");
    assert.doesNotMatch(used.text, />Never</);

    await b.refreshCsrf("/account");
    const revoked = await b.post(`/account/tokens/${row.public_id}/revoke`);
    assert.equal(revoked.status, 303);
    const after = await b.agent
      .get("/api/v1/reports")
      .set("Authorization", `Bearer ${token}`);
    assert.equal(after.status, 401);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["action", "target_id"])
      .where("action", "in", ["api.token_created", "api.token_revoked"])
      .execute();
    assert.deepEqual(
      audit.map((a) => a.action),
      ["api.token_created", "api.token_revoked"],
    );
  });

  it("keeps what was typed next to the errors, and refuses scopes the role cannot use", async () => {
    const bob = await createUser(ctx, "researcher");
    const b = await signedIn(ctx, bob);
    const res = await b.post("/account/tokens", {
      name: "",
      scopes: [],
      expiresDays: "999",
    });
    assert.equal(res.status, 422);
    assert.match(res.text, /Token name is required/);
    assert.match(res.text, /Choose at least one scope/);
    assert.match(res.text, /value="999"/);
    const admin = await b.post("/account/tokens", {
      name: "Too much",
      scopes: ["admin"],
    });
    assert.equal(admin.status, 422);
    assert.match(admin.text, /cannot use these scopes: admin/);
    assert.match(admin.text, /value="Too much"/);
  });

  it("another user's token ID is a 404 and stays alive", async () => {
    const carol = await createUser(ctx, "researcher");
    const dave = await createUser(ctx, "researcher");
    const c = await signedIn(ctx, carol);
    const made = await c.post("/account/tokens", {
      name: "Carol's",
      scopes: "reports:read",
    });
    const token = TOKEN.exec(made.text)![0];
    const id = (await ctx.db
      .selectFrom("api_tokens")
      .select("public_id")
      .where("user_id", "=", carol.user.id)
      .executeTakeFirstOrThrow())!.public_id;
    const d = await signedIn(ctx, dave);
    assert.equal((await d.post(`/account/tokens/${id}/revoke`)).status, 404);
    const still = await d.agent
      .get("/api/v1/reports")
      .set("Authorization", `Bearer ${token}`);
    assert.equal(still.status, 200);
  });
});

describe("npm run cli -- token:create", () => {
  let ctx: TestContext;
  const capture = () => {
    const lines: string[] = [];
    const out = {
      log: (...a: unknown[]) => lines.push(a.join(" ")),
      error: (...a: unknown[]) => lines.push(a.join(" ")),
    };
    return { lines, out: out as unknown as Console };
  };
  const env = () => cliEnv(ctx);
  before(async () => {
    ctx = await createTestContext({ env: { RATE_LIMITS: "false" } });
  });
  after(() => ctx.close());

  it("prints the token once; it works; the expiry is as asked", async () => {
    const r = await createUser(ctx, "researcher", {
      email: "cli-researcher@example.test",
    });
    const c = capture();
    const code = await runCli(
      [
        "token:create",
        "--email",
        "CLI-Researcher@example.test",
        "--scopes",
        "reports:read,reports:write",
        "--expires-days",
        "7",
      ],
      env(),
      c.out,
    );
    assert.equal(code, 0, c.lines.join("\n"));
    const token = TOKEN.exec(c.lines.join("\n"))?.[0];
    assert.ok(token);
    const row = await ctx.db
      .selectFrom("api_tokens")
      .selectAll()
      .where("user_id", "=", r.user.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.expires_at - row.created_at, 7 * 86_400_000);
    const res = await (
      await import("supertest")
    )
      .default(ctx.app)
      .get("/api/v1/reports")
      .set("Authorization", `Bearer ${token}`);
    assert.equal(res.status, 200);
  });

  it("refuses an unknown address, a bad scope, and staff without two-factor sign-in", async () => {
    const a = capture();
    assert.equal(
      await runCli(
        ["token:create", "--email", "nobody@example.test", "--scopes", "admin"],
        env(),
        a.out,
      ),
      2,
    );
    assert.match(a.lines.join("\n"), /No account/);
    await createUser(ctx, "researcher", { email: "r2@example.test" });
    const b = capture();
    assert.equal(
      await runCli(
        ["token:create", "--email", "r2@example.test", "--scopes", "root"],
        env(),
        b.out,
      ),
      2,
    );
    assert.match(b.lines.join("\n"), /Choose scopes from the list/);
    await createUser(ctx, "triager", {
      email: "t-no2fa@example.test",
      twoFactor: false,
    });
    const t = capture();
    assert.equal(
      await runCli(
        [
          "token:create",
          "--email",
          "t-no2fa@example.test",
          "--scopes",
          "reports:read",
        ],
        env(),
        t.out,
      ),
      1,
    );
    assert.match(t.lines.join("\n"), /two-factor/);
    assert.doesNotMatch(t.lines.join("\n"), TOKEN);
  });
});

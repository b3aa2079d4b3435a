import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { runCli } from "../../src/cli.js";
import {
  createAccount,
  disableUser,
  issueSetupLinkIfNeeded,
} from "../../src/users/service.js";
import {
  anonymous,
  createTestContext,
  csrfFrom,
  TEST_ENV,
  type TestContext,
} from "../support/harness.js";

describe("first run: the one-time setup link", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const tokenOf = (link: string) => new URL(link).searchParams.get("token")!;

  it("refuses a wrong or expired token", async () => {
    const link = await issueSetupLinkIfNeeded(ctx.deps);
    assert.ok(link);
    assert.equal(
      (await supertest(ctx.app).get("/setup?token=wrong")).status,
      400,
    );
    ctx.clock.advance(ctx.config.setupTokenHours * 3_600_000 + 1000);
    const expired = await supertest(ctx.app).get(
      `/setup?token=${tokenOf(link)}`,
    );
    assert.equal(expired.status, 400);
    assert.match(expired.text, /not valid/);
  });

  it("creates the first admin once; the link then stops working, and no new link is issued", async () => {
    const link = (await issueSetupLinkIfNeeded(ctx.deps))!;
    const token = tokenOf(link);
    const browser = await anonymous(ctx);
    const form = await browser.agent.get(`/setup?token=${token}`);
    assert.equal(form.status, 200);
    browser.csrf = csrfFrom(form.text);
    const bad = await browser.post("/setup", {
      token,
      email: "root@example.test",
      displayName: "Root",
      password: "short",
    });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /value="Root"/);
    const ok = await browser.post("/setup", {
      token,
      email: "root@example.test",
      displayName: "Root",
      password: "the first admin passphrase",
    });
    assert.equal(ok.status, 303);
    // Staff enroll in two-factor sign-in before any other page.
    assert.equal(ok.headers.location, "/account/2fa");
    const row = await ctx.db
      .selectFrom("users")
      .select("role")
      .where("email", "=", "root@example.test")
      .executeTakeFirstOrThrow();
    assert.equal(row.role, "admin");
    assert.equal(
      (await supertest(ctx.app).get(`/setup?token=${token}`)).status,
      400,
    );
    const replay = await (
      await anonymous(ctx)
    ).post("/setup", {
      token,
      email: "evil@example.test",
      displayName: "Evil",
      password: "another long passphrase",
    });
    assert.equal(replay.status, 400);
    assert.equal(await issueSetupLinkIfNeeded(ctx.deps), null);
  });
});

describe("first run: the setup link dies once an admin has existed", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("is refused after an admin was made another way and then disabled, and no new one is issued", async () => {
    const link = (await issueSetupLinkIfNeeded(ctx.deps))!;
    const token = new URL(link).searchParams.get("token")!;
    // The operator made the admin on the command line instead of using the
    // printed link, which stayed unused; later every admin is disabled.
    const created = await createAccount(ctx.deps, null, {
      email: "cli-admin@example.test",
      displayName: "CLI Admin",
      role: "admin",
    });
    assert.ok(created.ok);
    const unused = await ctx.db
      .selectFrom("tokens")
      .select("id")
      .where("purpose", "=", "setup")
      .where("used_at", "is", null)
      .execute();
    assert.deepEqual(unused, [], "making an admin retires the link");
    await disableUser(ctx.deps, null, created.value.user.id);
    assert.equal(
      (await supertest(ctx.app).get(`/setup?token=${token}`)).status,
      400,
    );
    const browser = await anonymous(ctx);
    const res = await browser.post("/setup", {
      token,
      email: "late@example.test",
      displayName: "Late Comer",
      password: "a long enough passphrase",
    });
    assert.equal(res.status, 400);
    const admins = await ctx.db
      .selectFrom("users")
      .select("email")
      .where("role", "=", "admin")
      .execute();
    assert.deepEqual(admins, [{ email: "cli-admin@example.test" }]);
    assert.equal(await issueSetupLinkIfNeeded(ctx.deps), null);
  });
});

describe("the command line", () => {
  let dataDir: string;
  const env = () => ({ ...TEST_ENV, DATA_DIR: dataDir });
  const capture = () => {
    const lines: string[] = [];
    const out = {
      log: (...a: unknown[]) => lines.push(a.join(" ")),
      error: (...a: unknown[]) => lines.push(a.join(" ")),
    };
    return { lines, out: out as unknown as Console };
  };
  before(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-cli-"));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it("creates an account and prints a set-password link that works", async () => {
    const { lines, out } = capture();
    const code = await runCli(
      [
        "user:create",
        "--email",
        "Cli@Example.test",
        "--role",
        "triager",
        "--name",
        "Cli Triager",
      ],
      env(),
      out,
    );
    assert.equal(code, 0, lines.join("\n"));
    const link = /http:\/\/localhost:3000(\/password\/set\?token=[\w-]+)/.exec(
      lines.join("\n"),
    )?.[1];
    assert.ok(link);
    const ctx = await createTestContext({ dataDir });
    try {
      const res = await supertest(ctx.app).get(link);
      assert.equal(res.status, 200);
      assert.match(res.text, /cli@example\.test/);
    } finally {
      await ctx.close();
    }
  });

  it("refuses a bad role or email with exit code 2", async () => {
    const a = capture();
    assert.equal(
      await runCli(
        ["user:create", "--email", "x@example.test", "--role", "god"],
        env(),
        a.out,
      ),
      2,
    );
    assert.match(a.lines.join("\n"), /--role must be one of/);
    const b = capture();
    assert.equal(
      await runCli(
        ["user:create", "--email", "nope", "--role", "researcher"],
        env(),
        b.out,
      ),
      2,
    );
    assert.match(b.lines.join("\n"), /valid email/);
    const c = capture();
    assert.equal(await runCli(["frobnicate"], env(), c.out), 2);
  });

  it("lists accounts and disables one, ending its sessions", async () => {
    const list = capture();
    assert.equal(await runCli(["user:list"], env(), list.out), 0);
    assert.match(
      list.lines.join("\n"),
      /cli@example\.test\ttriager\tactive\tCli Triager/,
    );
    const disable = capture();
    assert.equal(
      await runCli(
        ["user:disable", "--email", "cli@example.test"],
        env(),
        disable.out,
      ),
      0,
    );
    const again = capture();
    await runCli(["user:list"], env(), again.out);
    assert.match(
      again.lines.join("\n"),
      /cli@example\.test\ttriager\tdisabled/,
    );
    const missing = capture();
    assert.equal(
      await runCli(
        ["user:disable", "--email", "ghost@example.test"],
        env(),
        missing.out,
      ),
      1,
    );
  });
});

describe("health and security.txt", () => {
  it("answers 200 while the database is reachable and 503 when it is not", async () => {
    const ctx = await createTestContext();
    assert.equal((await supertest(ctx.app).get("/healthz")).status, 200);
    await ctx.db.destroy();
    const down = await supertest(ctx.app).get("/healthz");
    assert.equal(down.status, 503);
    rmSync(ctx.dataDir, { recursive: true, force: true });
  });

  it("publishes RFC 9116 fields pointing to the submission page", async () => {
    const ctx = await createTestContext({
      env: { SECURITY_CONTACT: "mailto:cert@example.org" },
    });
    try {
      const res = await supertest(ctx.app).get("/.well-known/security.txt");
      assert.equal(res.status, 200);
      assert.match(res.headers["content-type"] ?? "", /^text\/plain/);
      assert.match(
        res.text,
        /^Contact: http:\/\/localhost:3000\/reports\/new$/m,
      );
      assert.match(res.text, /^Contact: mailto:cert@example\.org$/m);
      assert.match(
        res.text,
        /^Expires: 2026-08-29T09:00:00Z$/m,
        "180 days after the test clock",
      );
      assert.match(res.text, /^Policy: http:\/\/localhost:3000\/policy$/m);
      assert.match(res.text, /^Preferred-Languages: en$/m);
      assert.match(
        res.text,
        /^Canonical: http:\/\/localhost:3000\/\.well-known\/security\.txt$/m,
      );
    } finally {
      await ctx.close();
    }
  });
});

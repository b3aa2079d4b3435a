import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import {
  anonymous,
  createTestContext,
  countSessions,
  createUser,
  csrfFrom,
  signedIn,
  TEST_PASSWORD,
  type TestContext,
  shown,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

const sessionCookie = (res: supertest.Response) =>
  ([] as string[])
    .concat(res.headers["set-cookie"] ?? [])
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`))
    ?.split(";")[0];

describe("accounts and sessions", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("registers a researcher, who confirms the address by mail, then signs in", async () => {
    const browser = await anonymous(ctx);
    const res = await browser.post("/register", {
      email: "Ada@Example.test",
      displayName: "Ada Lovelace 🔍",
      password: "a long passphrase that is mine",
    });
    assert.equal(res.status, 200);
    assert.match(res.text, /Check your email/);
    const row = await ctx.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", "ada@example.test")
      .executeTakeFirstOrThrow();
    assert.equal(row.role, "researcher");
    assert.equal(row.email_verified_at, null);
    assert.match(row.password_hash ?? "", /^scrypt\$1024\$8\$1\$/);
    const signIn = await browser.post("/login", {
      email: "ada@example.test",
      password: "a long passphrase that is mine",
    });
    assert.equal(signIn.headers.location, "/reports");
    const account = await browser.agent.get("/account");
    assert.match(
      shown(account.text),
      /Signed in as <strong>Ada Lovelace 🔍<\/strong>/,
    );
    assert.match(account.text, /not confirmed/);
  });

  it("answers a wrong password and an unknown email with the same page", async () => {
    const user = await createUser(ctx, "researcher");
    const strip = (html: string) =>
      html.replace(/name="_csrf" value="[^"]+"/g, "");
    const a = await (
      await anonymous(ctx)
    ).post("/login", { email: user.email, password: "wrong password 123" });
    const b = await (
      await anonymous(ctx)
    ).post("/login", {
      email: "nobody@example.test",
      password: "wrong password 123",
    });
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    assert.equal(
      strip(a.text).replace(user.email, "X"),
      strip(b.text).replace("nobody@example.test", "X"),
    );
  });

  it("rotates the session on sign-in: the session id from before no longer exists", async () => {
    const user = await createUser(ctx, "researcher");
    const agent = supertest.agent(ctx.app);
    const page = await agent.get("/login");
    const before = sessionCookie(page);
    assert.ok(before);
    const login = await agent
      .post("/login")
      .type("form")
      .send({
        _csrf: csrfFrom(page.text),
        email: user.email,
        password: TEST_PASSWORD,
      });
    const afterCookie = sessionCookie(login);
    assert.ok(afterCookie);
    assert.notEqual(afterCookie, before);
    const old = await supertest(ctx.app).get("/account").set("Cookie", before!);
    assert.equal(
      old.status,
      303,
      "the pre-login session does not authenticate",
    );
    assert.equal(old.headers.location, "/login");
  });

  it("logs out: the session row is gone and pages ask to sign in again", async () => {
    const user = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, user);
    assert.equal(await countSessions(ctx, user.user.id), 1);
    const res = await browser.post("/logout");
    assert.equal(res.status, 303);
    assert.equal(await countSessions(ctx, user.user.id), 0);
    assert.equal((await browser.agent.get("/account")).status, 303);
  });

  it("ends a session that stayed idle longer than allowed", async () => {
    const user = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, user);
    ctx.clock.advance(ctx.config.sessionIdleMs - 60_000);
    assert.equal(
      (await browser.agent.get("/account")).status,
      200,
      "activity keeps it alive",
    );
    ctx.clock.advance(ctx.config.sessionIdleMs - 60_000);
    assert.equal((await browser.agent.get("/account")).status, 200);
    ctx.clock.advance(ctx.config.sessionIdleMs + 60_000);
    const res = await browser.agent.get("/account");
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/login");
  });

  it("writes an unchanged session's expiry at most once a minute", async () => {
    const user = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, user);
    const expiry = async () =>
      (
        await ctx.db
          .selectFrom("sessions")
          .select("expires_at")
          .where("user_id", "=", user.user.id)
          .executeTakeFirstOrThrow()
      ).expires_at;
    const first = await expiry();
    ctx.clock.advance(20_000);
    assert.equal((await browser.agent.get("/account")).status, 200);
    assert.equal(await expiry(), first, "not written within the minute");
    ctx.clock.advance(50_000);
    assert.equal((await browser.agent.get("/account")).status, 200);
    assert.equal(await expiry(), first + 70_000, "written after it");
  });

  it("a client that never follows the redirects does not grow its session", async () => {
    // Every request takes the waiting messages for its own page, so a script
    // filing reports without loading the receipt keeps just the newest one.
    const user = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, user);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await submitReport(browser, reportFields());
      assert.equal(res.status, 303);
      ids.push(reportIdFrom(res.headers.location));
    }
    const stored = await ctx.db
      .selectFrom("sessions")
      .select("data")
      .where("user_id", "=", user.user.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(
      JSON.parse(stored.data).flash.map((m: { message: string }) =>
        m.message.slice(0, 28),
      ),
      [`Report ${ids[3]} received`],
    );
    const page = await browser.agent.get("/reports");
    assert.match(page.text, new RegExp(`Report ${ids[3]} received`));
    assert.doesNotMatch(page.text, new RegExp(`Report ${ids[2]} received`));
  });

  it("disabling an account ends its sessions at once and refuses its sign-in", async () => {
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const victim = await createUser(ctx, "triager");
    const session = await signedIn(ctx, victim);
    const res = await admin.post(
      `/admin/users/${victim.user.publicId}/disable`,
    );
    assert.equal(res.status, 303);
    assert.equal(await countSessions(ctx, victim.user.id), 0);
    assert.equal((await session.agent.get("/queue")).status, 303);
    const again = await (
      await anonymous(ctx)
    ).post("/login", { email: victim.email, password: victim.password });
    assert.equal(again.status, 401);
  });

  it("a role change ends the account's sessions", async () => {
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const user = await createUser(ctx, "triager");
    const session = await signedIn(ctx, user);
    assert.equal(
      (
        await admin.post(`/admin/users/${user.user.publicId}/role`, {
          role: "researcher",
        })
      ).status,
      303,
    );
    assert.equal((await session.agent.get("/account")).status, 303);
    const row = await ctx.db
      .selectFrom("users")
      .select("role")
      .where("id", "=", user.user.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.role, "researcher");
  });

  it("non-admins get the not-found page for the user administration", async () => {
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const res = await triager.agent.get("/admin/users");
    assert.equal(res.status, 404);
    const missing = await triager.agent.get("/no-such-page");
    assert.equal(res.text, missing.text);
  });

  it("an admin creates a staff account; the set-password link is mailed through the outbox and works once", async () => {
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const res = await admin.post("/admin/users", {
      email: "Tri@Example.test",
      displayName: "Tri Ager",
      role: "triager",
    });
    assert.equal(res.status, 303);
    const mail = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("to_address", "=", "tri@example.test")
      .executeTakeFirstOrThrow();
    assert.equal(mail.subject, "Set your Disclosure Desk password");
    const link = /http:\/\/localhost:3000(\/password\/set\?token=[\w-]+)/.exec(
      mail.text_body,
    )?.[1];
    assert.ok(link);
    const browser = await anonymous(ctx);
    const form = await browser.agent.get(link);
    assert.equal(form.status, 200);
    const token = new URL(link, "http://x").searchParams.get("token")!;
    browser.csrf = csrfFrom(form.text);
    const mismatch = await browser.post("/password/set", {
      token,
      password: "a brand new passphrase",
      confirm: "different",
    });
    assert.equal(mismatch.status, 422);
    assert.match(mismatch.text, /The two passwords do not match/);
    const set = await browser.post("/password/set", {
      token,
      password: "a brand new passphrase",
      confirm: "a brand new passphrase",
    });
    assert.equal(set.status, 303);
    const reuse = await browser.agent.get(link);
    assert.equal(reuse.status, 400, "the link works once");
    const login = await (
      await anonymous(ctx)
    ).post("/login", {
      email: "tri@example.test",
      password: "a brand new passphrase",
    });
    assert.equal(login.status, 303);
    // A new triager sets up two-factor sign-in before anything else.
    assert.equal(login.headers.location, "/account/2fa");
  });

  it("limits sign-in attempts per account with a clear message", async () => {
    const limited = await createTestContext();
    try {
      const user = await createUser(limited, "researcher");
      let last: supertest.Response | undefined;
      for (let i = 0; i < 11; i++) {
        last = await (
          await anonymous(limited)
        ).post("/login", {
          email: user.email,
          password: `wrong ${i} password`,
        });
      }
      assert.equal(last!.status, 429);
      assert.match(last!.text, /Too many sign-in attempts for this account/);
      const correct = await (
        await anonymous(limited)
      ).post("/login", { email: user.email, password: user.password });
      assert.equal(correct.status, 429, "even the right password waits");
    } finally {
      await limited.close();
    }
  });
});

describe("sessions survive a restart", () => {
  it("keeps a signed-in session across a new app on the same database file", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-restart-"));
    try {
      const first = await createTestContext({ dataDir });
      const user = await createUser(first, "researcher", {
        displayName: "Persistent Pat",
      });
      const browser = await anonymous(first);
      const login = await browser.post("/login", {
        email: user.email,
        password: user.password,
      });
      const cookie = sessionCookie(login)!;
      await first.close();
      const second = await createTestContext({ dataDir, clock: first.clock });
      try {
        const res = await supertest(second.app)
          .get("/account")
          .set("Cookie", cookie);
        assert.equal(res.status, 200);
        assert.match(res.text, /Persistent Pat/);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

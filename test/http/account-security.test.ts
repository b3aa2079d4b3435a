import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { authenticator } from "otplib";
import {
  anonymous,
  createTestContext,
  countSessions,
  createUser,
  csrfFrom,
  signedIn,
  TEST_PASSWORD,
  totpCode,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { reportFields } from "../support/reports.js";
import { issueToken } from "../../src/auth/tokens.js";

/** The newest mail to an address, and the first link in it to a path. */
async function mailLink(ctx: TestContext, to: string, pathPrefix: string) {
  const mails = await ctx.db
    .selectFrom("outbox")
    .selectAll()
    .where("to_address", "=", to.toLowerCase())
    .orderBy("id", "desc")
    .execute();
  for (const mail of mails) {
    const link = new RegExp(
      `http://localhost:3000(${pathPrefix.replace(/[?]/g, "\\?")}[^\\s"<]*)`,
    ).exec(mail.text_body)?.[1];
    if (link) return { mail, link };
  }
  throw new Error(`no mail to ${to} with a link to ${pathPrefix}`);
}

const auditCount = async (ctx: TestContext, action: string) =>
  (
    await ctx.db
      .selectFrom("audit_log")
      .select("id")
      .where("action", "=", action)
      .execute()
  ).length;

const userRow = (ctx: TestContext, id: number) =>
  ctx.db
    .selectFrom("users")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirstOrThrow();

/** Signs in with the password only (the first step), returning the client. */
async function passwordStep(ctx: TestContext, who: TestUser) {
  const browser = await anonymous(ctx);
  const res = await browser.post("/login", {
    email: who.email,
    password: who.password,
  });
  return { browser, res };
}

async function secondStep(browser: Browser, code: string) {
  await browser.refreshCsrf("/login/2fa");
  return browser.post("/login/2fa", { code });
}

describe("two-factor sign-in", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("a new triager sees only the enrollment page until two-factor sign-in is on", async () => {
    const triager = await createUser(ctx, "triager", { twoFactor: false });
    const { browser, res } = await passwordStep(ctx, triager);
    assert.equal(res.headers.location, "/account/2fa");
    for (const page of ["/queue", "/orgs", "/account", "/reports/new"]) {
      const blocked = await browser.agent.get(page);
      assert.equal(blocked.status, 303, page);
      assert.equal(blocked.headers.location, "/account/2fa", page);
    }
    const enroll = await browser.agent.get("/account/2fa");
    assert.equal(enroll.status, 200);
    assert.match(
      enroll.text,
      /<img class="qr" src="data:image\/svg\+xml;base64,/,
    );
    assert.match(enroll.text, /two-factor sign-in is required/);
    const secret = /id="totp-secret">([A-Z2-7 ]+)</
      .exec(enroll.text)![1]!
      .replace(/ /g, "");
    const row = await userRow(ctx, triager.user.id);
    assert.equal(row.totp_secret, secret);
    assert.equal(row.totp_enabled_at, null, "not on until confirmed");

    browser.csrf = csrfFrom(enroll.text);
    const wrong = await browser.post("/account/2fa", { code: "000000" });
    assert.equal(wrong.status, 422);
    assert.match(wrong.text, /That code is not right/);
    assert.match(wrong.text, /aria-invalid="true"/);
    assert.equal((await userRow(ctx, triager.user.id)).totp_enabled_at, null);

    const ok = await browser.post("/account/2fa", {
      code: totpCode(ctx, secret),
    });
    assert.equal(ok.status, 200);
    const codes = [
      ...ok.text.matchAll(/<li><code>([0-9A-Z]{5}-[0-9A-Z]{5})<\/code><\/li>/g),
    ].map((m) => m[1]!);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    const stored = await ctx.db
      .selectFrom("recovery_codes")
      .select("code_hash")
      .where("user_id", "=", triager.user.id)
      .execute();
    assert.equal(stored.length, 10);
    for (const { code_hash } of stored) {
      assert.match(code_hash, /^[0-9a-f]{64}$/, "stored as a hash");
      assert.ok(!codes.some((c) => code_hash.includes(c)));
    }
    assert.equal((await browser.agent.get("/queue")).status, 200);
    assert.equal(await auditCount(ctx, "auth.2fa_enabled"), 1);
  });

  it("asks for the code after the password; a wrong, replayed or stale code is refused", async () => {
    const triager = await createUser(ctx, "triager");
    const { browser, res } = await passwordStep(ctx, triager);
    assert.equal(res.headers.location, "/login/2fa");
    // Halfway in is not signed in.
    assert.equal(
      (await browser.agent.get("/queue")).headers.location,
      "/login",
    );

    const failuresBefore = await auditCount(ctx, "auth.sign_in_failed");
    const wrong = await secondStep(browser, "123456");
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /That code is not right, or was used already/);
    assert.equal(
      await auditCount(ctx, "auth.sign_in_failed"),
      failuresBefore + 1,
    );

    const code = totpCode(ctx, triager.totpSecret!);
    const ok = await secondStep(browser, code);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.location, "/queue");
    assert.equal((await browser.agent.get("/queue")).status, 200);

    // The same code again, within its 30 s window, from another browser.
    const again = await passwordStep(ctx, triager);
    const replay = await secondStep(again.browser, code);
    assert.equal(replay.status, 401, "a code is accepted once");

    // A code from two steps ago is outside the window.
    const old = authenticator
      .clone({ epoch: ctx.clock.now().getTime() - 90_000 })
      .generate(triager.totpSecret!);
    assert.equal((await secondStep(again.browser, old)).status, 401);

    // The next step's code works (clocks drift by one step).
    ctx.clock.advance(30_000);
    assert.equal(
      (await secondStep(again.browser, totpCode(ctx, triager.totpSecret!)))
        .status,
      303,
    );
  });

  it("a half-finished sign-in expires after five minutes", async () => {
    const admin = await createUser(ctx, "admin");
    const { browser } = await passwordStep(ctx, admin);
    await browser.refreshCsrf("/login/2fa");
    ctx.clock.advance(6 * 60_000);
    const late = await browser.post("/login/2fa", {
      code: totpCode(ctx, admin.totpSecret!),
    });
    assert.equal(late.status, 303);
    assert.equal(late.headers.location, "/login");
    assert.equal(
      (await browser.agent.get("/queue")).headers.location,
      "/login",
    );
  });

  it("a recovery code works once in place of a code", async () => {
    const researcher = await createUser(ctx, "researcher", { twoFactor: true });
    // Fresh codes through the enrollment page of another account are tested
    // above; here the codes are set directly to know them.
    const browser = await signedIn(ctx, researcher);
    assert.ok(browser);
    const { createHash } = await import("node:crypto");
    const code = "ABCDE-FGH12";
    await ctx.db
      .insertInto("recovery_codes")
      .values({
        user_id: researcher.user.id,
        code_hash: createHash("sha256").update("ABCDEFGH12").digest("hex"),
      })
      .execute();
    const first = await passwordStep(ctx, researcher);
    assert.equal(
      (await secondStep(first.browser, code.toLowerCase())).status,
      303,
    );
    assert.equal(await auditCount(ctx, "auth.recovery_code_used"), 1);
    const second = await passwordStep(ctx, researcher);
    assert.equal((await secondStep(second.browser, code)).status, 401);
  });

  it("researchers may turn it off with password and code; staff may not", async () => {
    const researcher = await createUser(ctx, "researcher", { twoFactor: true });
    const browser = await signedIn(ctx, researcher);
    await browser.refreshCsrf("/account/2fa");
    ctx.clock.advance(30_000);
    const badPassword = await browser.post("/account/2fa/disable", {
      password: "not my password at all",
      code: totpCode(ctx, researcher.totpSecret!),
    });
    assert.equal(badPassword.status, 422);
    assert.match(badPassword.text, /That password is not right/);
    const badCode = await browser.post("/account/2fa/disable", {
      password: TEST_PASSWORD,
      code: "000000",
    });
    assert.equal(badCode.status, 422);
    assert.equal(
      (await userRow(ctx, researcher.user.id)).totp_enabled_at !== null,
      true,
    );
    ctx.clock.advance(30_000);
    const off = await browser.post("/account/2fa/disable", {
      password: TEST_PASSWORD,
      code: totpCode(ctx, researcher.totpSecret!),
    });
    assert.equal(off.status, 303);
    const row = await userRow(ctx, researcher.user.id);
    assert.equal(row.totp_enabled_at, null);
    assert.equal(row.totp_secret, null);
    assert.equal(await auditCount(ctx, "auth.2fa_disabled"), 1);

    const triager = await createUser(ctx, "triager");
    const staff = await signedIn(ctx, triager);
    const page = await staff.agent.get("/account/2fa");
    assert.match(page.text, /cannot be turned off/);
    ctx.clock.advance(30_000);
    await staff.post("/account/2fa/disable", {
      password: TEST_PASSWORD,
      code: totpCode(ctx, triager.totpSecret!),
    });
    assert.notEqual(
      (await userRow(ctx, triager.user.id)).totp_enabled_at,
      null,
    );
  });

  it("brute force on the code hits the limit", async () => {
    const limited = await createTestContext();
    try {
      const triager = await createUser(limited, "triager");
      const { browser } = await passwordStep(limited, triager);
      await browser.refreshCsrf("/login/2fa");
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++)
        statuses.push(
          (await browser.post("/login/2fa", { code: String(100000 + i) }))
            .status,
        );
      assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
      assert.equal(statuses[10], 429);
      // Even the right code is refused until the window passes.
      const right = await browser.post("/login/2fa", {
        code: totpCode(limited, triager.totpSecret!),
      });
      assert.equal(right.status, 429);
      assert.match(right.text, /Too many wrong codes/);
    } finally {
      await limited.close();
    }
  });
});

describe("email verification", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  async function register(email: string) {
    const browser = await anonymous(ctx);
    await browser.refreshCsrf("/register");
    const res = await browser.post("/register", {
      email,
      displayName: "New Finder",
      password: "a long passphrase for finding",
    });
    return { browser, res };
  }

  it("files a report only after the address is confirmed through the mailed link", async () => {
    const { res } = await register("finder@example.test");
    assert.equal(res.status, 200);
    const user = await ctx.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", "finder@example.test")
      .executeTakeFirstOrThrow();
    const browser = await signedIn(ctx, {
      user: { id: user.id } as TestUser["user"],
      email: "finder@example.test",
      password: "a long passphrase for finding",
    });
    const form = await browser.agent.get("/reports/new");
    assert.equal(form.status, 303);
    assert.equal(form.headers.location, "/verify-email/needed");
    const filed = await browser.post("/reports/new", reportFields());
    assert.equal(
      filed.status,
      404,
      "the form cannot be posted around the check",
    );
    assert.equal(
      (await ctx.db.selectFrom("reports").select("id").execute()).length,
      0,
    );

    const { mail, link } = await mailLink(
      ctx,
      "finder@example.test",
      "/verify-email?token=",
    );
    assert.equal(
      mail.subject,
      "Confirm your email address for Disclosure Desk",
    );
    const token = new URL(link, "http://x").searchParams.get("token")!;
    const stored = await ctx.db
      .selectFrom("tokens")
      .select("token_hash")
      .where("purpose", "=", "verify_email")
      .execute();
    assert.ok(
      stored.every((t) => t.token_hash !== token),
      "only a hash is stored",
    );

    // Opening the link changes nothing (mail scanners follow links).
    const page = await browser.agent.get(link);
    assert.equal(page.status, 200);
    assert.equal((await userRow(ctx, user.id)).email_verified_at, null);
    browser.csrf = csrfFrom(page.text);
    const confirm = await browser.post("/verify-email", { token });
    assert.equal(confirm.status, 303);
    assert.equal(confirm.headers.location, "/reports/new");
    assert.notEqual((await userRow(ctx, user.id)).email_verified_at, null);
    assert.equal((await browser.agent.get("/reports/new")).status, 200);
    assert.equal(await auditCount(ctx, "auth.email_verified"), 1);

    const reuse = await browser.post("/verify-email", { token });
    assert.equal(reuse.status, 400, "a link works once");
  });

  it("refuses a forged or expired link, and a resent link replaces the old one", async () => {
    await register("late@example.test");
    const first = await mailLink(
      ctx,
      "late@example.test",
      "/verify-email?token=",
    );
    const anon = await anonymous(ctx);
    assert.equal(
      (await anon.agent.get("/verify-email?token=forged")).status,
      400,
    );
    assert.equal(
      (await anon.post("/verify-email", { token: "forged" })).status,
      400,
    );
    ctx.clock.advance(25 * 3600_000);
    assert.equal(
      (await anon.agent.get(first.link)).status,
      400,
      "expired after 24 h",
    );

    const user = await ctx.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", "late@example.test")
      .executeTakeFirstOrThrow();
    const browser = await signedIn(ctx, {
      user: { id: user.id } as TestUser["user"],
      email: "late@example.test",
      password: "a long passphrase for finding",
    });
    await browser.refreshCsrf("/verify-email/needed");
    assert.equal((await browser.post("/account/verify-email")).status, 303);
    const second = await mailLink(
      ctx,
      "late@example.test",
      "/verify-email?token=",
    );
    assert.notEqual(second.link, first.link);
    assert.equal((await anon.agent.get(second.link)).status, 200);
  });

  it("answers a taken address exactly like a new one, and tells its owner by mail", async () => {
    const owner = await createUser(ctx, "researcher", {
      email: "taken@example.test",
    });
    const fresh = await register("brand-new@example.test");
    const taken = await register("taken@example.test");
    const strip = (html: string) =>
      html
        .replace(/name="_csrf" value="[^"]+"/g, "")
        .replace(/brand-new@example\.test|taken@example\.test/g, "EMAIL");
    assert.equal(taken.res.status, fresh.res.status);
    assert.equal(strip(taken.res.text), strip(fresh.res.text));
    const { mail } = await mailLink(ctx, "taken@example.test", "/login");
    assert.equal(mail.subject, "Someone tried to register with your address");
    assert.equal(mail.to_user_id, owner.user.id);
    assert.equal(
      (
        await ctx.db
          .selectFrom("users")
          .select("id")
          .where("email", "=", "taken@example.test")
          .execute()
      ).length,
      1,
    );
  });
});

describe("password reset", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  async function ask(email: string) {
    const browser = await anonymous(ctx);
    await browser.refreshCsrf("/password/forgot");
    return browser.post("/password/forgot", { email });
  }

  it("answers the same for known and unknown addresses, and mails only a real account", async () => {
    const known = await createUser(ctx, "researcher", {
      email: "known@example.test",
    });
    const outboxBefore = (
      await ctx.db.selectFrom("outbox").select("id").execute()
    ).length;
    const a = await ask("known@example.test");
    const b = await ask("nobody@example.test");
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    const strip = (html: string) =>
      html
        .replace(/name="_csrf" value="[^"]+"/g, "")
        .replace(/known@example\.test|nobody@example\.test/g, "EMAIL");
    assert.equal(strip(a.text), strip(b.text));
    const outbox = await ctx.db.selectFrom("outbox").selectAll().execute();
    assert.equal(outbox.length, outboxBefore + 1);
    assert.equal(outbox.at(-1)!.to_user_id, known.user.id);
    assert.equal(outbox.at(-1)!.subject, "Reset your Disclosure Desk password");
  });

  it("sets a new password once through the link, ends every session, and is audited", async () => {
    const who = await createUser(ctx, "researcher", {
      email: "forgetful@example.test",
    });
    const elsewhere = await signedIn(ctx, who);
    assert.equal(await countSessions(ctx, who.user.id), 1);
    await ask("forgetful@example.test");
    const { link } = await mailLink(
      ctx,
      "forgetful@example.test",
      "/password/set?token=",
    );
    const token = new URL(link, "http://x").searchParams.get("token")!;
    const browser = await anonymous(ctx);
    const form = await browser.agent.get(link);
    assert.equal(form.status, 200);
    browser.csrf = csrfFrom(form.text);
    const set = await browser.post("/password/set", {
      token,
      password: "my brand new long passphrase",
      confirm: "my brand new long passphrase",
    });
    assert.equal(set.status, 303);
    assert.equal(await countSessions(ctx, who.user.id), 0);
    assert.equal(
      (await elsewhere.agent.get("/account")).headers.location,
      "/login",
    );
    assert.equal(await auditCount(ctx, "auth.password_reset"), 1);
    assert.equal((await browser.agent.get(link)).status, 400, "works once");
    const old = await (
      await anonymous(ctx)
    ).post("/login", {
      email: who.email,
      password: TEST_PASSWORD,
    });
    assert.equal(old.status, 401);
  });

  it("a completed reset retires every other link of the account (an unused invitation too)", async () => {
    const who = await createUser(ctx, "org_contact", {
      email: "invited-twice@example.test",
    });
    // An invitation link still unused in an old mail: whoever finds it later
    // must not be able to set the password after the owner reset it.
    const invitation = await issueToken(
      ctx.db,
      "set_password",
      who.user.id,
      ctx.clock.now(),
      7 * 24 * 3_600_000,
      null,
    );
    await ask("invited-twice@example.test");
    const { link } = await mailLink(
      ctx,
      "invited-twice@example.test",
      "/password/set?token=",
    );
    const browser = await anonymous(ctx);
    const form = await browser.agent.get(link);
    browser.csrf = csrfFrom(form.text);
    const set = await browser.post("/password/set", {
      token: new URL(link, "http://x").searchParams.get("token")!,
      password: "my brand new long passphrase",
      confirm: "my brand new long passphrase",
    });
    assert.equal(set.status, 303);
    const anon = await anonymous(ctx);
    assert.equal(
      (await anon.agent.get(`/password/set?token=${invitation}`)).status,
      400,
      "the old invitation no longer sets the password",
    );
  });

  it("a reset link expires after 30 minutes, and a newer one retires the older", async () => {
    await createUser(ctx, "researcher", { email: "slow@example.test" });
    await ask("slow@example.test");
    const first = await mailLink(
      ctx,
      "slow@example.test",
      "/password/set?token=",
    );
    await ask("slow@example.test");
    const second = await mailLink(
      ctx,
      "slow@example.test",
      "/password/set?token=",
    );
    const anon = await anonymous(ctx);
    assert.equal((await anon.agent.get(first.link)).status, 400, "retired");
    assert.equal((await anon.agent.get(second.link)).status, 200);
    ctx.clock.advance(31 * 60_000);
    assert.equal((await anon.agent.get(second.link)).status, 400, "expired");
  });

  it("limits requests per address with a clear message", async () => {
    await createUser(ctx, "researcher", { email: "spammed@example.test" });
    const statuses = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await ask("spammed@example.test")).status);
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    const res = await ask("spammed@example.test");
    assert.match(res.text, /Too many password reset requests for this address/);
    assert.ok((await auditCount(ctx, "auth.rate_limited")) >= 1);
  });
});

describe("the account page", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("changes the password with the current one, keeps this session and ends the others", async () => {
    const who = await createUser(ctx, "researcher");
    const other = await signedIn(ctx, who);
    const browser = await signedIn(ctx, who);
    assert.equal(await countSessions(ctx, who.user.id), 2);
    const wrong = await browser.post("/account/password", {
      current: "not the password",
      password: "a new long passphrase here",
      confirm: "a new long passphrase here",
    });
    assert.equal(wrong.status, 422);
    assert.match(
      wrong.text,
      /id="f-current-error"[^>]*>.*Your current password is not right/s,
    );
    const weak = await browser.post("/account/password", {
      current: TEST_PASSWORD,
      password: "short",
      confirm: "short",
    });
    assert.equal(weak.status, 422);
    assert.match(weak.text, /Use at least 12 characters/);
    const ok = await browser.post("/account/password", {
      current: TEST_PASSWORD,
      password: "a new long passphrase here",
      confirm: "a new long passphrase here",
    });
    assert.equal(ok.status, 303);
    assert.equal((await browser.agent.get("/account")).status, 200);
    assert.equal(
      (await other.agent.get("/account")).headers.location,
      "/login",
    );
    assert.equal(await countSessions(ctx, who.user.id), 1);
    assert.equal(await auditCount(ctx, "auth.password_changed"), 1);
    const notice = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("template", "=", "password_changed")
      .executeTakeFirstOrThrow();
    assert.equal(notice.to_user_id, who.user.id);
  });

  it("changes the email only when the new address confirms, telling the old one", async () => {
    const who = await createUser(ctx, "researcher", {
      email: "old@example.test",
    });
    await createUser(ctx, "researcher", { email: "someone@example.test" });
    const browser = await signedIn(ctx, who);
    const taken = await browser.post("/account/email", {
      email: "someone@example.test",
      password: TEST_PASSWORD,
    });
    assert.equal(taken.status, 422);
    assert.match(taken.text, /That address belongs to another account/);
    assert.match(
      taken.text,
      /value="someone@example.test"/,
      "what was typed is kept",
    );
    const badPassword = await browser.post("/account/email", {
      email: "new@example.test",
      password: "wrong wrong wrong",
    });
    assert.equal(badPassword.status, 422);
    const ok = await browser.post("/account/email", {
      email: "New@Example.test",
      password: TEST_PASSWORD,
    });
    assert.equal(ok.status, 303);
    assert.equal((await userRow(ctx, who.user.id)).email, "old@example.test");
    const notice = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("to_address", "=", "old@example.test")
      .where("template", "=", "email_change_notice")
      .executeTakeFirstOrThrow();
    assert.match(notice.text_body, /new@example\.test/);
    const { link } = await mailLink(
      ctx,
      "new@example.test",
      "/verify-email?token=",
    );
    const page = await browser.agent.get(link);
    browser.csrf = csrfFrom(page.text);
    const token = new URL(link, "http://x").searchParams.get("token")!;
    const confirm = await browser.post("/verify-email", { token });
    assert.equal(confirm.status, 303);
    assert.equal((await userRow(ctx, who.user.id)).email, "new@example.test");
    assert.equal(await auditCount(ctx, "auth.email_changed"), 1);
  });

  it("lists the sessions with device and address, and signs out everywhere else", async () => {
    const who = await createUser(ctx, "org_contact");
    const phone = await anonymous(ctx);
    await phone.agent
      .post("/login")
      .set(
        "User-Agent",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
      )
      .type("form")
      .send({ _csrf: phone.csrf, email: who.email, password: who.password });
    const laptop = await signedIn(ctx, who);
    const page = await laptop.agent.get("/account");
    assert.match(page.text, /Safari on iOS/);
    assert.equal(page.headers["cache-control"], "no-store");
    assert.match(page.text, /\(this session\)/);
    assert.match(page.text, /Sign out everywhere else/);
    const end = await laptop.post("/account/sessions/end-others");
    assert.equal(end.status, 303);
    assert.equal(await countSessions(ctx, who.user.id), 1);
    assert.equal(
      (await phone.agent.get("/account")).headers.location,
      "/login",
    );
    assert.equal((await laptop.agent.get("/account")).status, 200);
    assert.equal(await auditCount(ctx, "auth.sessions_ended"), 1);
  });
});

describe("rate limits on registration, submission and not-found answers", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("guessing report IDs is slowed down and each miss is in the audit log", async () => {
    const who = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, who);
    const statuses: number[] = [];
    for (let i = 0; i < 62; i++) {
      const id = `DD-${String(i).padStart(4, "0")}-0000`;
      statuses.push((await browser.agent.get(`/reports/${id}`)).status);
    }
    assert.deepEqual(statuses.slice(0, 60), Array(60).fill(404));
    assert.equal(statuses[60], 429);
    assert.equal(await auditCount(ctx, "report.not_found"), 60);
    const entry = await ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "auth.rate_limited")
      .executeTakeFirstOrThrow();
    assert.match(entry.details, /not_found/);
    // Pages that exist still count nothing: another person is unaffected.
    const other = await signedIn(ctx, await createUser(ctx, "researcher"));
    assert.equal((await other.agent.get("/reports")).status, 200);
  });

  it("limits report submissions per researcher", async () => {
    const browser = await signedIn(ctx, await createUser(ctx, "researcher"));
    await browser.refreshCsrf("/reports/new");
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++)
      statuses.push(
        (await browser.post("/reports/new", { title: "x" })).status,
      );
    assert.deepEqual(statuses.slice(0, 30), Array(30).fill(422));
    assert.equal(statuses[30], 429);
  });

  it("limits registrations from one address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 21; i++) {
      const browser = await anonymous(ctx);
      await browser.refreshCsrf("/register");
      statuses.push(
        (
          await browser.post("/register", {
            email: `bulk${i}@example.test`,
            displayName: "Bulk",
            password: "a long passphrase for bulk",
          })
        ).status,
      );
    }
    assert.equal(statuses.filter((s) => s === 200).length, 20);
    assert.equal(statuses[20], 429);
  });
});

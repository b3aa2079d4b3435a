import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  anonymous,
  countSessions,
  createTestContext,
  createUser,
  csrfFrom,
  signedIn,
  TEST_PASSWORD,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { issueToken } from "../../src/auth/tokens.js";

/**
 * Whoever could read the old mailbox must lose the account with it: a
 * confirmed address change retires every link mailed before it and signs
 * out every other session.
 */
describe("an email change cancels what was sent to the old address", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  /** The newest link to a path mailed to an address. */
  async function mailedLink(to: string, pathPrefix: string) {
    const mail = await ctx.db
      .selectFrom("outbox")
      .select("text_body")
      .where("to_address", "=", to)
      .where("text_body", "like", `%${pathPrefix}%`)
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    const at = mail.text_body.indexOf(pathPrefix);
    return /^[^\s"<]+/.exec(mail.text_body.slice(at))![0];
  }

  async function askReset(email: string) {
    const browser = await anonymous(ctx);
    await browser.refreshCsrf("/password/forgot");
    const res = await browser.post("/password/forgot", { email });
    assert.equal(res.status, 200);
  }

  /** Changes the address through the account page and the mailed link. */
  async function changeEmail(browser: Browser, newEmail: string) {
    await browser.refreshCsrf("/account");
    const ask = await browser.post("/account/email", {
      email: newEmail,
      password: TEST_PASSWORD,
    });
    assert.equal(ask.status, 303);
    const link = await mailedLink(newEmail, "/verify-email?token=");
    const page = await browser.agent.get(link);
    browser.csrf = csrfFrom(page.text);
    const token = new URL(link, "http://x").searchParams.get("token")!;
    const confirm = await browser.post("/verify-email", { token });
    assert.equal(confirm.status, 303);
    assert.equal(confirm.headers.location, "/account");
  }

  const emailOf = async (who: TestUser) =>
    (
      await ctx.db
        .selectFrom("users")
        .select("email")
        .where("id", "=", who.user.id)
        .executeTakeFirstOrThrow()
    ).email;

  it("a reset link sent to the old address is refused after the change", async () => {
    const who = await createUser(ctx, "researcher", {
      email: "moving@example.test",
    });
    await askReset("moving@example.test");
    const resetLink = await mailedLink(
      "moving@example.test",
      "/password/set?token=",
    );
    const anon = await anonymous(ctx);
    assert.equal((await anon.agent.get(resetLink)).status, 200, "works now");
    await changeEmail(await signedIn(ctx, who), "moved@example.test");
    assert.equal(await emailOf(who), "moved@example.test");
    assert.equal((await anon.agent.get(resetLink)).status, 400);
    const token = new URL(resetLink, "http://x").searchParams.get("token")!;
    await anon.refreshCsrf("/login");
    const set = await anon.post("/password/set", {
      token,
      password: "the mailbox thief's passphrase",
      confirm: "the mailbox thief's passphrase",
    });
    assert.notEqual(set.status, 303);
    const signIn = await (
      await anonymous(ctx)
    ).post("/login", { email: "moved@example.test", password: TEST_PASSWORD });
    assert.equal(signIn.status, 303, "the password is unchanged");
  });

  it("a confirmation link and another pending change are refused after the change", async () => {
    const who = await createUser(ctx, "researcher", {
      email: "unconfirmed@example.test",
      emailVerified: false,
    });
    const browser = await signedIn(ctx, who);
    const resend = await browser.post("/account/verify-email");
    assert.equal(resend.status, 303);
    const verifyLink = await mailedLink(
      "unconfirmed@example.test",
      "/verify-email?token=",
    );
    // A second browser asks for a change to yet another address, then the
    // first one asks for and confirms its own change.
    const other = await signedIn(ctx, who);
    const elsewhere = await other.post("/account/email", {
      email: "elsewhere@example.test",
      password: TEST_PASSWORD,
    });
    assert.equal(elsewhere.status, 303);
    const elsewhereLink = await mailedLink(
      "elsewhere@example.test",
      "/verify-email?token=",
    );
    const anon = await anonymous(ctx);
    assert.equal((await anon.agent.get(verifyLink)).status, 200, "works now");
    await changeEmail(browser, "confirmed@example.test");
    assert.equal((await anon.agent.get(verifyLink)).status, 400);
    assert.equal(
      (await anon.agent.get(elsewhereLink)).status,
      400,
      "a newer change request replaces the older one",
    );
    assert.equal(await emailOf(who), "confirmed@example.test");
  });

  it("an invitation's set-password link to the old address is refused after the change", async () => {
    const who = await createUser(ctx, "researcher", {
      email: "invited@example.test",
    });
    const token = await issueToken(
      ctx.db,
      "set_password",
      who.user.id,
      ctx.clock.now(),
      72 * 3600_000,
    );
    const anon = await anonymous(ctx);
    const setLink = `/password/set?token=${token}`;
    assert.equal((await anon.agent.get(setLink)).status, 200, "works now");
    await changeEmail(await signedIn(ctx, who), "invited-new@example.test");
    assert.equal((await anon.agent.get(setLink)).status, 400);
  });

  it("ends every other session and keeps the one that confirmed", async () => {
    const who = await createUser(ctx, "researcher", {
      email: "sessions-old@example.test",
    });
    const phone = await signedIn(ctx, who);
    const tablet = await signedIn(ctx, who);
    const laptop = await signedIn(ctx, who);
    assert.equal(await countSessions(ctx, who.user.id), 3);
    await changeEmail(laptop, "sessions-new@example.test");
    assert.equal(await countSessions(ctx, who.user.id), 1);
    for (const ended of [phone, tablet]) {
      const res = await ended.agent.get("/account");
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, "/login");
    }
    assert.equal((await laptop.agent.get("/account")).status, 200);
  });

  it("a link confirmed without being signed in ends every session", async () => {
    const who = await createUser(ctx, "researcher", {
      email: "anon-old@example.test",
    });
    const browser = await signedIn(ctx, who);
    const ask = await browser.post("/account/email", {
      email: "anon-new@example.test",
      password: TEST_PASSWORD,
    });
    assert.equal(ask.status, 303);
    const link = await mailedLink("anon-new@example.test", "/verify-email?");
    const anon = await anonymous(ctx);
    anon.csrf = csrfFrom((await anon.agent.get(link)).text);
    const confirm = await anon.post("/verify-email", {
      token: new URL(link, "http://x").searchParams.get("token")!,
    });
    assert.equal(confirm.status, 303);
    assert.equal(await emailOf(who), "anon-new@example.test");
    assert.equal(await countSessions(ctx, who.user.id), 0);
    assert.equal((await browser.agent.get("/account")).status, 303);
  });
});

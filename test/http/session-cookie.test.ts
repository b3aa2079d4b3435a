import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import {
  anonymous,
  countSessions,
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
} from "../support/harness.js";

/*
 * The session middleware (src/auth/session.ts) as a browser meets it: the
 * cookie express-session wrote (so sessions outlive the change), a forged
 * signature refused, no cookie and no row for a visit that stores nothing,
 * a rolling cookie for a stored session.
 */

const setCookie = (res: supertest.Response) =>
  ([] as string[])
    .concat(res.headers["set-cookie"] ?? [])
    .find((c) => c.startsWith(`${SESSION_COOKIE}=`));

/** A cookie value as express-session (cookie-signature) signed it. */
const signed = (sid: string, secret: string) =>
  encodeURIComponent(
    `s:${sid}.${createHmac("sha256", secret).update(sid).digest("base64").replace(/=+$/, "")}`,
  );

describe("the session cookie", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const sessionRows = async () =>
    (await ctx.db.selectFrom("sessions").select("sid").execute()).map(
      (r) => r.sid,
    );

  /** A researcher signed in, and the ID of their one session. */
  const signedInSession = async () => {
    const who = await createUser(ctx, "researcher");
    await signedIn(ctx, who);
    const { sid } = await ctx.db
      .selectFrom("sessions")
      .select("sid")
      .where("user_id", "=", who.user.id)
      .executeTakeFirstOrThrow();
    return { who, sid };
  };

  it("sends no cookie and stores no session for a page that keeps nothing", async () => {
    const before = await sessionRows();
    const res = await supertest(ctx.app).get("/advisories");
    assert.equal(res.status, 200);
    assert.equal(setCookie(res), undefined);
    assert.deepEqual(await sessionRows(), before);
  });

  it("sends a signed, HttpOnly, SameSite=Lax cookie with the idle expiry once a form's token is stored", async () => {
    const res = await supertest(ctx.app).get("/login");
    const cookie = setCookie(res)!;
    assert.match(
      cookie,
      /^dd\.sid=s%3A[\w-]{32}\.[\w%]+; Path=\/; Expires=[^;]+ GMT; HttpOnly; SameSite=Lax$/,
    );
    const expires = Date.parse(/Expires=([^;]+)/.exec(cookie)![1]!);
    const idle = ctx.config.sessionIdleMs;
    assert.ok(
      Math.abs(expires - (Date.now() + idle)) < 60_000,
      `expires ${new Date(expires).toISOString()}`,
    );
    const sid = decodeURIComponent(cookie.split(";")[0]!.split("=")[1]!)
      .slice(2)
      .split(".")[0]!;
    assert.ok((await sessionRows()).includes(sid));
  });

  it("keeps a signed-in session whose cookie express-session signed, and renews its cookie on every page", async () => {
    const { who, sid } = await signedInSession();
    const cookie = `${SESSION_COOKIE}=${signed(sid, ctx.config.sessionSecret)}`;
    const page = await supertest(ctx.app).get("/reports").set("Cookie", cookie);
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(who.user.displayName));
    assert.equal(setCookie(page)?.split(";")[0], cookie);
  });

  it("refuses a cookie with a forged signature: a new, empty session, the row named untouched", async () => {
    const { who, sid } = await signedInSession();
    for (const forged of [
      signed(sid, "another secret"),
      encodeURIComponent(`s:${sid}`),
      sid,
      `s%3A${sid}.%E0%A4%A`,
    ]) {
      const res = await supertest(ctx.app)
        .get("/reports")
        .set("Cookie", `${SESSION_COOKIE}=${forged}`);
      assert.equal(res.status, 303, forged);
      assert.equal(res.headers.location, "/login");
      assert.doesNotMatch(setCookie(res) ?? "", new RegExp(sid), forged);
    }
    assert.equal(await countSessions(ctx, who.user.id), 1);
  });

  it("stores nothing for a cookie whose session has ended, until the new session holds something", async () => {
    const before = await sessionRows();
    const gone = `${SESSION_COOKIE}=${signed("x".repeat(32), ctx.config.sessionSecret)}`;
    const res = await supertest(ctx.app).get("/advisories").set("Cookie", gone);
    assert.equal(res.status, 200);
    assert.equal(setCookie(res), undefined);
    assert.deepEqual(await sessionRows(), before);
    // A form's token is something: a new session under a new id.
    const form = await anonymous(ctx);
    assert.ok(form.csrf);
    assert.equal((await sessionRows()).length, before.length + 1);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import {
  insertPublishableReport,
  publishAdvisory,
} from "../support/advisories.js";
import { createOrg } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  csrfFrom,
  signedIn,
  TEST_PASSWORD,
  type TestContext,
} from "../support/harness.js";

/**
 * Reading the public pages needs no session: a crawler or a feed reader
 * must not add a row to the sessions table per request. A session starts
 * when something needs one: a form's CSRF token, a sign-in.
 */
describe("public pages store no session", () => {
  let ctx: TestContext;
  let advisoryId: string;

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Feed Readers Inc");
    const researcher = await createUser(ctx, "researcher");
    const report = await insertPublishableReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
    });
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    await publishAdvisory(triager, report.publicId, {
      summary: "Booking IDs could be changed to read other bookings.",
    });
    advisoryId = report.publicId;
  });
  after(() => ctx.close());

  const sessionRows = async () =>
    (await ctx.db.selectFrom("sessions").select("sid").execute()).length;

  const setsSessionCookie = (res: supertest.Response) =>
    ([] as string[])
      .concat(res.headers["set-cookie"] ?? [])
      .some((c) => c.startsWith(`${SESSION_COOKIE}=`));

  it("leaves the sessions table unchanged and sets no cookie", async () => {
    const pages = [
      "/",
      "/advisories",
      "/advisories.atom",
      `/advisories/${advisoryId}`,
      "/acknowledgments",
      "/stats",
      "/policy",
      // "Report a vulnerability" signed out: why to sign in, no session yet.
      "/reports/new",
    ];
    const before = await sessionRows();
    for (let round = 0; round < 3; round++) {
      for (const page of pages) {
        const res = await supertest(ctx.app).get(page);
        assert.equal(res.status, 200, page);
        assert.equal(setsSessionCookie(res), false, `${page} sets a cookie`);
      }
    }
    const missing = await supertest(ctx.app).get("/no-such-page");
    assert.equal(missing.status, 404);
    assert.equal(setsSessionCookie(missing), false, "the 404 page");
    assert.equal(await sessionRows(), before);
  });

  it("the sign-in form starts a session for its token, and signing in works", async () => {
    const who = await createUser(ctx, "researcher");
    const before = await sessionRows();
    const agent = supertest.agent(ctx.app);
    const page = await agent.get("/login");
    assert.equal(page.status, 200);
    assert.ok(setsSessionCookie(page), "the form's token needs a session");
    assert.equal(await sessionRows(), before + 1);
    const forged = await supertest(ctx.app)
      .post("/login")
      .type("form")
      .send({ email: who.email, password: TEST_PASSWORD });
    assert.equal(forged.status, 403, "no token, no sign-in");
    const res = await agent
      .post("/login")
      .type("form")
      .send({
        _csrf: csrfFrom(page.text),
        email: who.email,
        password: TEST_PASSWORD,
      });
    assert.equal(res.status, 303);
    assert.equal((await agent.get("/account")).status, 200);
  });
});

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import path from "node:path";
import { sql } from "kysely";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import {
  anonymous,
  createTestContext,
  createUser,
  csrfFrom,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { reportFields } from "../support/reports.js";

const KEPT = "Written during a long night";

const sessionCookies = (res: supertest.Response) =>
  ([] as string[])
    .concat(res.headers["set-cookie"] ?? [])
    .filter((c) => c.startsWith(`${SESSION_COOKIE}=`))
    .map((c) => c.split(";")[0]!);

describe("a report form kept over an expired session", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  /** What the sessions table holds: rows and bytes. */
  const sessionsFootprint = async () => {
    const row = await sql<{ n: number; bytes: number | null }>`
      select count(*) as n, sum(length(data)) as bytes from sessions`.execute(
      ctx.db,
    );
    return row.rows[0]!;
  };
  const reportCount = async () =>
    Number(
      (
        await ctx.db
          .selectFrom("reports")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );

  /** A researcher signed in, whose session then ends by idle expiry. */
  const expiredResearcher = async () => {
    const who = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, who);
    ctx.clock.advance(ctx.config.sessionIdleMs + 60_000);
    return { who, browser };
  };

  const signInAgain = async (browser: Browser, who: TestUser) => {
    const login = await browser.agent.get("/login");
    const res = await browser.agent
      .post("/login")
      .type("form")
      .send({
        _csrf: csrfFrom(login.text),
        email: who.email,
        password: who.password,
      });
    assert.equal(res.status, 303);
    return res;
  };

  it("stores nothing and sets no cookie for 20 signed-out POSTs of a large report", async () => {
    const big = reportFields({ description: "x".repeat(900_000) });
    const page = await supertest(ctx.app).get("/login");
    const liveAnonymous = sessionCookies(page)[0]!;
    const before = await sessionsFootprint();
    const reports = await reportCount();
    const senders: [string, string | null][] = [
      ["no cookie", null],
      ["a forged cookie", `${SESSION_COOKIE}=s%3Aforged.abc`],
      ["a never-signed-in session", liveAnonymous],
    ];
    for (const [what, cookie] of senders) {
      for (let i = 0; i < 20; i++) {
        let req = supertest(ctx.app).post("/reports/new");
        if (cookie) req = req.set("Cookie", cookie);
        const res = await req
          .type("form")
          .send({ _csrf: i % 2 ? "guess" : "", ...big });
        assert.equal(res.status, 403, what);
        for (const set of sessionCookies(res))
          assert.equal(set, cookie, `${what}: a session cookie was set`);
      }
      // The real form is multipart.
      let req = supertest(ctx.app).post("/reports/new");
      if (cookie) req = req.set("Cookie", cookie);
      req = req.field("_csrf", "guess");
      for (const [k, v] of Object.entries(big))
        for (const x of Array.isArray(v) ? v : [v]) req = req.field(k, x);
      const res = await req;
      assert.ok([303, 403].includes(res.status), `${what}: ${res.status}`);
      for (const set of sessionCookies(res))
        assert.equal(set, cookie, `${what}: a session cookie was set`);
    }
    assert.deepEqual(await sessionsFootprint(), before);
    assert.equal(await reportCount(), reports);
  });

  it("keeps nothing from a form without the expired session's own token (a cross-site form)", async () => {
    const { who, browser } = await expiredResearcher();
    const before = await sessionsFootprint();
    for (const token of [undefined, "", "guess", browser.csrf + "x"]) {
      const res = await browser.agent
        .post("/reports/new")
        .type("form")
        .send({
          ...(token === undefined ? {} : { _csrf: token }),
          ...reportFields({ title: KEPT }),
        });
      assert.equal(res.status, 403, `_csrf=${token}`);
    }
    assert.deepEqual(await sessionsFootprint(), before);
    await signInAgain(browser, who);
    const form = await browser.agent.get("/reports/new");
    assert.doesNotMatch(form.text, new RegExp(KEPT));
    assert.doesNotMatch(form.text, /Your session had ended/);
  });

  it("offers a kept form only to the user whose session ended", async () => {
    const { browser } = await expiredResearcher();
    const res = await browser.agent
      .post("/reports/new")
      .type("form")
      .send({ _csrf: browser.csrf, ...reportFields({ title: KEPT }) });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/login");
    // Someone else signs in on that browser.
    const other = await createUser(ctx, "researcher");
    await signInAgain(browser, other);
    const form = await browser.agent.get("/reports/new");
    assert.equal(form.status, 200);
    assert.doesNotMatch(form.text, new RegExp(KEPT));
    assert.doesNotMatch(form.text, /Your session had ended/);
  });

  it("keeps the real (multipart) form's text for the same user, drops its files, and writes none", async () => {
    const { who, browser } = await expiredResearcher();
    const reports = await reportCount();
    let req = browser.agent.post("/reports/new").field("_csrf", browser.csrf);
    for (const [k, v] of Object.entries(reportFields({ title: KEPT })))
      for (const x of Array.isArray(v) ? v : [v]) req = req.field(k, x);
    const res = await req.attach(
      "attachments",
      Buffer.from("proof"),
      "proof.txt",
    );
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/login");
    assert.deepEqual(readdirSync(path.join(ctx.dataDir, "tmp")), []);
    const signIn = await signInAgain(browser, who);
    assert.equal(signIn.headers.location, "/reports/new");
    const form = await browser.agent.get("/reports/new");
    assert.match(form.text, new RegExp(`value="${KEPT}"`));
    assert.match(form.text, /Your session had ended/);
    assert.equal(await reportCount(), reports, "never filed automatically");
  });

  it("refuses, with a message, to keep more than 64 KB of text", async () => {
    const { browser } = await expiredResearcher();
    const before = await sessionsFootprint();
    const res = await browser.agent
      .post("/reports/new")
      .type("form")
      .send({
        _csrf: browser.csrf,
        ...reportFields({ title: KEPT, description: "x".repeat(70_000) }),
      });
    assert.equal(res.status, 413);
    assert.match(res.text, /too long to keep/);
    assert.deepEqual(await sessionsFootprint(), before);
  });

  it("keeps at most 10 forms an hour for one account", async () => {
    const who = await createUser(ctx, "researcher");
    const page = await supertest(ctx.app).get("/login");
    const signIn = await supertest(ctx.app)
      .post("/login")
      .set("Cookie", sessionCookies(page)[0]!)
      .type("form")
      .send({
        _csrf: csrfFrom(page.text),
        email: who.email,
        password: who.password,
      });
    const cookie = sessionCookies(signIn)[0]!;
    const account = await supertest(ctx.app)
      .get("/account")
      .set("Cookie", cookie);
    const csrf = csrfFrom(account.text);
    ctx.clock.advance(ctx.config.sessionIdleMs + 60_000);
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      // Each kept form starts a new session; the ended one is what counts.
      const res = await supertest(ctx.app)
        .post("/reports/new")
        .set("Cookie", cookie)
        .type("form")
        .send({ _csrf: csrf, ...reportFields({ title: KEPT }) });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(303), 429]);
  });

  it("is not fooled by a session that never signed in", async () => {
    const browser = await anonymous(ctx);
    ctx.clock.advance(ctx.config.sessionIdleMs + 60_000);
    const before = await sessionsFootprint();
    const res = await browser.post(
      "/reports/new",
      reportFields({ title: KEPT }),
    );
    assert.equal(res.status, 403);
    assert.deepEqual(sessionCookies(res), []);
    assert.deepEqual(await sessionsFootprint(), before);
  });
});

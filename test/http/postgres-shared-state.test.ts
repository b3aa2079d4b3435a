import assert from "node:assert/strict";
import { sql } from "kysely";
import { after, before, beforeEach, describe, it } from "mocha";
import supertest from "supertest";
import { createApp } from "../../src/app.js";
import {
  nextChange,
  startChangeListener,
  whenListening,
  type ChangeListener,
} from "../../src/db/changes.js";
import { openPostgres } from "../../src/db/index.js";
import type { Deps } from "../../src/deps.js";
import {
  DatabaseStore,
  pruneRateLimitCounters,
} from "../../src/http/rate-limits.js";
import { followSettings, loadSettings } from "../../src/settings/service.js";
import { apiClient, checkerFor, tokenFor } from "../support/api.js";
import { insertReport } from "../support/fixtures.js";
import {
  anonymous,
  createUser,
  csrfFrom,
  signedIn,
  type TestContext,
} from "../support/harness.js";
import {
  createPostgresTestContext,
  type PostgresTestContext,
} from "../support/postgres.js";

/*
 * Issue 24: two app instances behind a load balancer on one PostgreSQL
 * database. Each "instance" here is a createApp on a pool of its own, with
 * its own change listener, as another process would have; they share only
 * the database (and, being tests, the clock).
 */

const MINUTE = 60_000;

/** The environment's clocks, as the settings form sends them. */
const DEFAULT_FORM = {
  ackDueDays: "3",
  triageDueDays: "10",
  infoReminderDays: "7",
  infoExpiryDays: "30",
  disclosureDays: "90",
  remediationCritical: "7",
  remediationHigh: "30",
  remediationMedium: "90",
  remediationLow: "120",
  orgAnswerDays: "7",
};

describe("PostgreSQL: rate limits and kept copies shared by two instances", function () {
  this.timeout(120_000);
  let a: PostgresTestContext;
  let b: TestContext;
  const stops: (() => unknown)[] = [];

  before(async () => {
    a = await createPostgresTestContext();
    const opened = openPostgres({
      url: a.databaseUrl,
      poolSize: 5,
      statementTimeoutMs: 30_000,
    });
    const deps: Deps = {
      ...a.deps,
      db: opened.db,
      settings: await loadSettings(opened.db, a.config),
    };
    b = {
      ...a,
      app: createApp(deps),
      deps,
      db: opened.db,
      close: () => opened.db.destroy(),
    };
    // What server.ts starts for each instance.
    for (const instance of [a, b]) {
      const listener: ChangeListener = await startChangeListener({
        db: instance.db,
        url: instance.config.database.url,
        logger: instance.deps.logger,
      });
      stops.push(() => listener.stop(), followSettings(instance.deps));
    }
  });
  after(async () => {
    for (const stop of stops) await stop();
    await b?.close();
    await a?.close();
  });
  // Sign-ins count towards the per-address limits too: each test starts
  // in windows of its own.
  beforeEach(() => a.clock.advance(16 * MINUTE));

  it("counts sign-in failures on both instances against one limit per account", async () => {
    const who = await createUser(a, "researcher");
    const onA = await anonymous(a);
    const onB = await anonymous(b);
    const wrong = { email: who.email, password: "not the password at all" };
    for (let i = 0; i < 9; i += 1)
      assert.equal((await onA.post("/login", wrong)).status, 401, `A ${i}`);
    // The tenth attempt of the quarter hour, on the other instance.
    assert.equal((await onB.post("/login", wrong)).status, 401);

    const right = { email: who.email, password: who.password };
    for (const browser of [onA, onB]) {
      const refused = await browser.post("/login", right);
      assert.equal(refused.status, 429);
      assert.match(refused.text, /Too many sign-in attempts for this account/);
    }
    const row = await a.db
      .selectFrom("rate_limit_hits")
      .select(["hits"])
      .where("name", "=", "sign_in_account")
      .where("key", "=", `acct:${who.email}`)
      .executeTakeFirstOrThrow();
    assert.equal(row.hits, 12);

    // The window ends for both; then the scheduler's pruning removes it.
    a.clock.advance(15 * MINUTE);
    assert.equal((await onB.post("/login", right)).status, 303);
    a.clock.advance(15 * MINUTE);
    await pruneRateLimitCounters(a.deps);
    const left = await a.db
      .selectFrom("rate_limit_hits")
      .select("key")
      .where("name", "=", "sign_in_account")
      .execute();
    assert.deepEqual(left, []);
  });

  it("counts pages not found on both instances together, and a page found writes no counter", async () => {
    const who = await createUser(a, "researcher");
    const onA = await signedIn(a, who);
    const onB = await signedIn(b, who);
    const notFound = () =>
      a.db
        .selectFrom("rate_limit_hits")
        .select(["hits"])
        .where("name", "=", "not_found")
        .where("key", "=", `user:${who.user.id}`)
        .executeTakeFirst();
    // Every page passes the not-found limit: reading it costs no write.
    assert.equal((await onA.agent.get("/reports")).status, 200);
    assert.equal((await onB.agent.get("/reports")).status, 200);
    assert.equal(await notFound(), undefined);

    for (let i = 0; i < 30; i += 1) {
      assert.equal((await onA.agent.get(`/reports/R-404-${i}`)).status, 404);
      assert.equal((await onB.agent.get(`/reports/R-405-${i}`)).status, 404);
    }
    // A 404 is counted once it has been answered: the last count may still
    // be on its way to the database when the test reads it.
    const counted = Date.now() + 10_000;
    while ((await notFound())?.hits !== 60 && Date.now() < counted)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await notFound())?.hits, 60);
    // The sixty-first asks too many, on either instance, whatever the page.
    assert.equal((await onA.agent.get("/reports")).status, 429);
    assert.equal((await onB.agent.get("/reports/R-406")).status, 429);
  });

  it("a session signed in on A works on B, and signing out on B ends it on A", async () => {
    const who = await createUser(a, "researcher");
    const onA = await anonymous(a);
    const signIn = await onA.post("/login", {
      email: who.email,
      password: who.password,
    });
    assert.equal(signIn.status, 303);
    const cookie = signIn.headers["set-cookie"]![0]!.split(";")[0]!;
    const account = await supertest(b.app)
      .get("/account")
      .set("Cookie", cookie);
    assert.equal(account.status, 200);
    const out = await supertest(b.app)
      .post("/logout")
      .set("Cookie", cookie)
      .type("form")
      .send({ _csrf: csrfFrom(account.text) });
    assert.equal(out.status, 303);
    const after = await supertest(a.app).get("/account").set("Cookie", cookie);
    assert.equal(after.status, 303);
    assert.match(after.headers.location ?? "", /^\/login/);
  });

  it("keeps apart keys that PostgreSQL's text could not hold as typed (NUL, %)", async () => {
    const store = new DatabaseStore(a.db, a.clock, "typed_keys");
    store.init({ windowMs: MINUTE } as Parameters<DatabaseStore["init"]>[0]);
    assert.equal((await store.increment("acct:a\u0000b")).totalHits, 1);
    assert.equal((await store.increment("acct:a\u0000b")).totalHits, 2);
    assert.equal((await store.increment("acct:a%00b")).totalHits, 1);
    assert.equal((await store.get("acct:a\u0000b")).totalHits, 2);
  });

  it("counts web comments on one instance and API comments on the other together", async () => {
    const busy = await createUser(a, "researcher");
    const own = await insertReport(a, { reporterId: busy.user.id });
    const web = await signedIn(a, busy);
    for (let i = 0; i < 29; i += 1) {
      const res = await web.post(`/reports/${own.publicId}/comments`, {
        body: `Web comment ${i}`,
      });
      assert.equal(res.status, 303, `web comment ${i}`);
    }
    const api = apiClient(b, checkerFor(b), await tokenFor(a, busy));
    const thirtieth = await api.post(`/reports/${own.publicId}/comments`, {
      body: "The thirtieth, by the API on the other instance.",
    });
    assert.equal(thirtieth.status, 201, thirtieth.text);

    const refusedApi = await api.post(`/reports/${own.publicId}/comments`, {
      body: "One more by the API.",
    });
    assert.equal(refusedApi.status, 429);
    assert.match(refusedApi.body.detail, /many comments/);
    const refusedWeb = await web.post(`/reports/${own.publicId}/comments`, {
      body: "One more on the web.",
    });
    assert.equal(refusedWeb.status, 429);
  });

  it("an organization added on A is in B's pickers at once", async () => {
    const adminOnA = await signedIn(a, await createUser(a, "admin"));
    const triagerOnB = await signedIn(b, await createUser(a, "triager"));
    const name = "Hospital Portal Authority";
    // B keeps the list it read.
    assert.doesNotMatch(
      (await triagerOnB.agent.get("/queue")).text,
      /Hospital/,
    );

    const noticed = nextChange(b.db, "organizations");
    await adminOnA.refreshCsrf("/orgs");
    assert.equal((await adminOnA.post("/orgs", { name })).status, 303);
    await noticed;
    const queue = await triagerOnB.agent.get("/queue");
    assert.match(
      queue.text,
      new RegExp(`<option value="[^"]+">${name}</option>`),
    );
  });

  it("a setting saved on A is what B uses", async () => {
    const adminOnA = await signedIn(a, await createUser(a, "admin"));
    const policyOnB = async () =>
      (await (await anonymous(b)).agent.get("/policy")).text;
    assert.match(await policyOnB(), /within <strong>3 days<\/strong>/);

    const noticed = nextChange(b.db, "settings");
    await adminOnA.refreshCsrf("/admin/settings");
    const saved = await adminOnA.post("/admin/settings", {
      ...DEFAULT_FORM,
      ackDueDays: "5",
    });
    assert.equal(saved.status, 303);
    await noticed;
    assert.equal(b.deps.settings.clocks().ackDueDays, 5);
    assert.match(await policyOnB(), /within <strong>5 days<\/strong>/);
  });

  it("a staff member added or disabled on A is in or out of B's lists", async () => {
    const adminOnA = await signedIn(a, await createUser(a, "admin"));
    const triagerOnB = await signedIn(b, await createUser(a, "triager"));
    const assignees = async () =>
      /name="assignee"[\s\S]*?<\/select>/.exec(
        (await triagerOnB.agent.get("/queue")).text,
      )?.[0] ?? "";
    assert.doesNotMatch(await assignees(), /Grace Newcomer/);

    await adminOnA.refreshCsrf("/admin/users");
    const added = await adminOnA.post("/admin/users", {
      email: "grace@cert.example",
      displayName: "Grace Newcomer",
      role: "triager",
    });
    assert.equal(added.status, 303);
    assert.match(await assignees(), /Grace Newcomer/);

    const grace = await a.db
      .selectFrom("users")
      .select("public_id")
      .where("email", "=", "grace@cert.example")
      .executeTakeFirstOrThrow();
    await adminOnA.refreshCsrf("/admin/users");
    const disabled = await adminOnA.post(
      `/admin/users/${grace.public_id}/disable`,
    );
    assert.equal(disabled.status, 303);
    assert.doesNotMatch(await assignees(), /Grace Newcomer/);
  });

  it("when B's listening connection drops, B drops what it kept, listens again and hears A", async () => {
    const adminOnA = await signedIn(a, await createUser(a, "admin"));
    const triagerOnB = await signedIn(b, await createUser(a, "triager"));
    await triagerOnB.agent.get("/queue");

    const lost = nextChange(b.db, "organizations");
    const { rows } = await sql<{ pid: number }>`
      select pg_terminate_backend(pid) as pid from pg_stat_activity
      where datname = current_database() and query = 'listen dd_changes'`.execute(
      a.db,
    );
    assert.equal(rows.length, 2, "one listening connection per instance");
    await lost;
    await whenListening(b.db);
    await whenListening(a.db);

    const name = "Regional Water Utility";
    const noticed = nextChange(b.db, "organizations");
    await adminOnA.refreshCsrf("/orgs");
    assert.equal((await adminOnA.post("/orgs", { name })).status, 303);
    await noticed;
    assert.match(
      (await triagerOnB.agent.get("/queue")).text,
      new RegExp(`>${name}</option>`),
    );
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { sql } from "kysely";
import { dialectOf, fullTextMatch } from "../../src/db/dialect.js";
import {
  findReportListPage,
  INDEX_BATCH,
  toIndexedSearchQuery,
  type ListScope,
} from "../../src/reports/list-repository.js";
import { startSearchIndexer } from "../../src/reports/list-service.js";
import { searchWords, toSearchQuery } from "../../src/reports/search-query.js";
import { openConfiguredDatabase } from "../../src/db/index.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/** The report IDs listed on a results page, in order. */
const idsOn = (html: string) =>
  [...html.matchAll(/<td[^>]*><a href="\/reports\/(DD-[0-9A-Z-]+)">/g)].map(
    (m) => m[1]!,
  );

describe("full-text search", () => {
  let ctx: TestContext;
  let alice: TestUser, bob: TestUser, contact: TestUser, other: TestUser;
  let triager: TestUser;
  const ids: Record<string, string> = {};

  before(async () => {
    ctx = await createTestContext();
    const hospital = await createOrg(ctx, "Hôpital Général");
    const bank = await createOrg(ctx, "Sparkasse Nord");
    alice = await createUser(ctx, "researcher");
    bob = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager");
    contact = await createUser(ctx, "org_contact", { orgIds: [hospital.id] });
    other = await createUser(ctx, "org_contact", { orgIds: [bank.id] });
    const insert = async (
      key: string,
      fixture: Parameters<typeof insertReport>[1],
    ) => {
      ids[key] = (await insertReport(ctx, fixture)).publicId;
    };
    await insert("aliceAppointments", {
      reporterId: alice.user.id,
      title: "Appointment IDOR in the booking page",
      organizationId: hospital.id,
      state: "vendor_notified",
    });
    await insert("aliceUnsent", {
      reporterId: alice.user.id,
      title: "Appointment export leaks names",
      organizationId: hospital.id,
      state: "triaged",
    });
    await insert("bobBank", {
      reporterId: bob.user.id,
      title: "Transfer limit bypass",
      organizationId: bank.id,
      state: "fix_in_progress",
    });
  });
  after(() => ctx.close());

  const browsers = new Map<TestUser, Awaited<ReturnType<typeof signedIn>>>();
  async function search(who: TestUser, q: string) {
    // One sign-in per person: sign-in itself is rate limited.
    let browser = browsers.get(who);
    if (!browser) browsers.set(who, (browser = await signedIn(ctx, who)));
    const res = await browser.agent.get(`/search?q=${encodeURIComponent(q)}`);
    assert.equal(res.status, 200, q);
    return res;
  }

  it("finds reports by a word of the title, the text, the asset, the organization and the ID", async () => {
    assert.deepEqual(
      new Set(idsOn((await search(triager, "appointment")).text)),
      new Set([ids.aliceAppointments, ids.aliceUnsent, ids.bobBank]),
      "every fixture's text mentions an appointment",
    );
    assert.deepEqual(idsOn((await search(triager, "transfer")).text), [
      ids.bobBank,
    ]);
    assert.deepEqual(idsOn((await search(triager, "sparkasse")).text), [
      ids.bobBank,
    ]);
    // Accents and case do not matter; words match as prefixes.
    assert.equal(idsOn((await search(triager, "hopital gen")).text).length, 2);
    // Prefixes are spelled out as the indexed words they stand for.
    assert.deepEqual(
      new Set(idsOn((await search(triager, "APPOINT portal")).text)),
      new Set([ids.aliceAppointments, ids.aliceUnsent, ids.bobBank]),
    );
    assert.deepEqual(idsOn((await search(triager, "appointmentz")).text), []);
    // An exact ID opens the report (search-targets.test.ts); part of one is a word.
    const byId = await browsers
      .get(triager)!
      .agent.get(`/search?q=${ids.bobBank!.toLowerCase()}`);
    assert.equal(byId.status, 303);
    assert.equal(byId.headers.location, `/reports/${ids.bobBank}`);
    assert.deepEqual(
      idsOn((await search(triager, ids.bobBank!.slice(3))).text),
      [ids.bobBank],
    );
    assert.equal(
      idsOn((await search(triager, "portal.example.test")).text).length,
      3,
    );
  });

  it("shows each person only what they may see", async () => {
    assert.deepEqual(
      new Set(idsOn((await search(alice, "appointment")).text)),
      new Set([ids.aliceAppointments, ids.aliceUnsent]),
    );
    assert.deepEqual(idsOn((await search(bob, "appointment")).text), [
      ids.bobBank,
    ]);
    // The contact sees the notified hospital report, not the unsent one.
    assert.deepEqual(idsOn((await search(contact, "appointment")).text), [
      ids.aliceAppointments,
    ]);
    const foreign = await search(other, "hopital");
    assert.deepEqual(idsOn(foreign.text), []);
    assert.match(foreign.text, /No report you can see matches/);
    // Anonymous visitors are sent to sign in.
    const anon = await anonymous(ctx);
    const res = await anon.agent.get("/search?q=appointment");
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/login");
  });

  it("follows edits: a changed title is found under its new words only", async () => {
    await ctx.db
      .updateTable("reports")
      .set({ title: "Wire limit circumvention" })
      .where("public_id", "=", ids.bobBank!)
      .execute();
    assert.deepEqual(idsOn((await search(triager, "circumvention")).text), [
      ids.bobBank,
    ]);
    assert.deepEqual(idsOn((await search(triager, "transfer")).text), []);
  });

  it("finds a word written after the same prefix was searched", async () => {
    // A prefix is spelled out as the indexed words it stands for, kept until
    // the index changes: a new word with it must be found at once, whoever
    // wrote it (here another connection, as the command line would).
    const before = idsOn((await search(triager, "limi")).text);
    assert.ok(!before.includes(ids.aliceUnsent!));
    const other = openConfiguredDatabase(ctx.config).db;
    try {
      await other
        .updateTable("reports")
        .set({ title: "Appointment export leaks names, limitless" })
        .where("public_id", "=", ids.aliceUnsent!)
        .execute();
      assert.deepEqual(
        new Set(idsOn((await search(triager, "limi")).text)),
        new Set([...before, ids.aliceUnsent]),
      );
      // A renamed organization re-indexes its reports: found under the new
      // name by a prefix that was spelled out under the old one.
      assert.deepEqual(idsOn((await search(triager, "spar")).text), [
        ids.bobBank,
      ]);
      await other
        .updateTable("organizations")
        .set({ name: "Sparbank Nord" })
        .where("name", "=", "Sparkasse Nord")
        .execute();
      assert.deepEqual(idsOn((await search(triager, "spar")).text), [
        ids.bobBank,
      ]);
      assert.deepEqual(idsOn((await search(triager, "sparkasse")).text), []);
    } finally {
      await other.destroy();
    }
  });

  it("treats search syntax and hostile input as plain words", async () => {
    for (const q of [
      '" OR title:* NEAR(',
      "*",
      "'; drop table reports; --",
      "<script>alert(1)</script>",
      "a".repeat(500),
      "\u0000\u202e",
      "title:appointment",
    ]) {
      const res = await search(triager, q);
      assert.doesNotMatch(res.text, /<script>alert/);
    }
    assert.equal(toSearchQuery('" OR title:* NEAR('), '"OR"* "title"* "NEAR"*');
    assert.equal(toSearchQuery("*"), null);
    assert.equal(
      (await ctx.db.selectFrom("reports").select("id").execute()).length,
      3,
    );
  });

  it("hints the triager at possible duplicates while triaging: same asset at the organization, or a similar title", async () => {
    const browser = browsers.get(triager) ?? (await signedIn(ctx, triager));
    browsers.set(triager, browser);
    const page = await browser.agent.get(`/reports/${ids.aliceUnsent}`);
    const related = /Possibly related reports<\/h2>([\s\S]*?)<\/section>/.exec(
      page.text,
    )![1]!;
    // Same asset and organization, and "Appointment" in both titles.
    assert.match(related, new RegExp(ids.aliceAppointments!));
    assert.doesNotMatch(related, new RegExp(ids.aliceUnsent!), "not itself");
    assert.doesNotMatch(related, new RegExp(ids.bobBank!));
    // The title matches are kept until the index changes: a similar report
    // filed since is in the hint at once.
    const similar = await insertReport(ctx, {
      reporterId: bob.user.id,
      title: "Names leak from the export",
      organizationId: null,
    });
    const again = await browser.agent.get(`/reports/${ids.aliceUnsent}`);
    assert.match(again.text, new RegExp(similar.publicId));
    // Past triage the hint is not computed.
    const later = await browser.agent.get(`/reports/${ids.aliceAppointments}`);
    assert.doesNotMatch(later.text, /Possibly related reports/);
    // Researchers do not get the hint (it would show other people's reports).
    const own = await (
      await signedIn(ctx, alice)
    ).agent.get(`/reports/${ids.aliceUnsent}`);
    assert.doesNotMatch(own.text, /Possibly related reports/);
  });

  it("pages through many results by keyset", async () => {
    for (let i = 0; i < 30; i++)
      await insertReport(ctx, {
        reporterId: alice.user.id,
        title: `Zebra finding ${i}`,
        createdAt: new Date(ctx.clock.now().getTime() + i * 60_000),
      });
    const first = await search(triager, "zebra");
    const browser = browsers.get(triager)!;
    assert.equal(idsOn(first.text).length, 25);
    const next = /<a href="([^"]+)" rel="next">/
      .exec(first.text)![1]!
      .replace(/&amp;/g, "&");
    // The link names the last report by its public ID only: no internal id.
    const cursor = new URL(next, "http://x").searchParams.get("cursor")!;
    assert.match(
      Buffer.from(cursor, "base64url").toString(),
      /^filing_desc\|0\|DD-[0-9A-Z]{4}-[0-9A-Z]{4}$/,
    );
    const second = await browser.agent.get(next);
    assert.equal(idsOn(second.text).length, 5);
    assert.equal(
      new Set([...idsOn(first.text), ...idsOn(second.text)]).size,
      30,
    );
  });

  it("finds a researcher's oldest reports under a word thousands of newer reports share, newest filed first", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 3; i++)
      mine.push(
        (
          await insertReport(ctx, {
            reporterId: alice.user.id,
            title: `Quokka session fixation ${i}`,
          })
        ).publicId,
      );
    // More newer matches than a search used to look at (2,000).
    for (let i = 0; i < 2100; i++)
      await insertReport(ctx, {
        reporterId: bob.user.id,
        title: `Quokka open redirect ${i}`,
      });
    const res = await search(alice, "quokka");
    assert.deepEqual(idsOn(res.text), [...mine].reverse());
    assert.match(res.text, /newest first/);
    // The triager's first page is the newest 25 of everybody's.
    const staff = idsOn((await search(triager, "quokka")).text);
    assert.equal(staff.length, 25);
    assert.ok(!staff.some((id) => mine.includes(id)));
  });

  it("chooses the same pages whether it walks the matches or the reports one may see", async () => {
    const text = await toIndexedSearchQuery(ctx.db, searchWords("quokka"));
    // PostgreSQL has no vocabulary to count from (no fts5vocab): no estimate.
    assert.equal(text.atMost, dialectOf(ctx.db) === "postgres" ? null : 2103);
    const cases: { scope: ListScope; count: number }[] = [
      { scope: { kind: "reporter", reporterId: bob.user.id }, count: 2100 },
      { scope: { kind: "reporter", reporterId: alice.user.id }, count: 3 },
    ];
    for (const { scope, count } of cases) {
      const walk = async (atMost: number | null) => {
        const ids: string[] = [];
        let after;
        for (;;) {
          const page = await findReportListPage(ctx.db, {
            scope,
            filters: { text: { ...text, atMost } },
            sort: "filing",
            direction: "desc",
            after,
            limit: 500,
          });
          ids.push(...page.items.map((i) => i.publicId));
          if (!page.next) return ids;
          after = page.next;
        }
      };
      const byMatches = await walk(1);
      const byReports = await walk(null);
      assert.equal(byMatches.length, count);
      assert.deepEqual(byReports, byMatches);
    }
  });
});

describe("the full-text index, filled in batches", () => {
  let ctx: TestContext;
  let researcher: TestUser;
  let triager: Awaited<ReturnType<typeof signedIn>>;
  before(async () => {
    ctx = await createTestContext();
    researcher = await createUser(ctx, "researcher");
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
  });
  after(() => ctx.close());

  const search = async (q: string) => {
    const res = await triager.agent.get(`/search?q=${encodeURIComponent(q)}`);
    assert.equal(res.status, 200, q);
    return res;
  };

  /** Report ids the full-text index itself matches, not waiting ones. */
  const indexedMatches = async (match: string) =>
    (
      await sql<{ id: number }>`select f.rowid as id from reports_fts f
        where ${fullTextMatch(ctx.db, "f", match)} order by f.rowid`.execute(
        ctx.db,
      )
    ).rows.map((r) => r.id);
  const waiting = async () =>
    (
      await ctx.db.selectFrom("search_pending").select("report_id").execute()
    ).map((r) => r.report_id);

  it("indexes a new report after its transaction, before the next search reads the index", async () => {
    const version = async () =>
      (
        await ctx.db
          .selectFrom("search_index_version")
          .select("version")
          .executeTakeFirstOrThrow()
      ).version;
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      title: "Quokka portal leaks referrals",
    });
    const before = await version();
    assert.deepEqual(await waiting(), [report.id]);
    assert.deepEqual(await indexedMatches("quokka"), []);
    assert.deepEqual(idsOn((await search("quokka")).text), [report.publicId]);
    assert.deepEqual(await waiting(), []);
    assert.deepEqual(await indexedMatches("quokka"), [report.id]);
    assert.equal(await version(), before + 1, "what was kept is dropped");
  });

  it("indexes more than a batch of waiting reports before a search", async () => {
    const first = await insertReport(ctx, {
      reporterId: researcher.user.id,
      title: "Wombat first of many",
    });
    for (let i = 0; i < INDEX_BATCH; i++)
      await insertReport(ctx, { reporterId: researcher.user.id });
    const last = await insertReport(ctx, {
      reporterId: researcher.user.id,
      title: "Wombat last of many",
    });
    assert.equal((await waiting()).length, INDEX_BATCH + 2);
    assert.deepEqual(idsOn((await search("wombat")).text), [
      last.publicId,
      first.publicId,
    ]);
    assert.deepEqual(await waiting(), []);
  });

  it("the server's indexer takes in waiting reports without any search", async () => {
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      title: "Numbat gateway replays tokens",
    });
    const indexer = startSearchIndexer(ctx.deps, ctx.deps.logger);
    try {
      for (let i = 0; i < 100 && (await waiting()).length > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await indexer.stop();
    }
    assert.deepEqual(await indexedMatches("numbat"), [report.id]);
  });
});

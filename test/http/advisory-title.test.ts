import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";
import * as migration from "../../db/migrations/2026-12-02-04-advisory-title.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

/** In the researcher's title only: it must reach no public output. */
const CANARY = "CANARY-7f3a9c-researcher-title";
const TITLE =
  "Authorization Bypass Through User-Controlled Key in Example Hospital Portal";

describe("the advisory's title is the triager's, never the researcher's", () => {
  let ctx: TestContext;
  let triager: Browser;
  let publicId: string;

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Example Hospital Portal");
    const researcher = await createUser(ctx, "researcher");
    const own = await signedIn(ctx, researcher);
    await own.refreshCsrf("/reports/new");
    const filed = await submitReport(
      own,
      reportFields({
        title: `Booking IDs readable ${CANARY}`,
        creditKind: "handle",
        creditHandle: "finder42",
      }),
    );
    assert.equal(filed.status, 303, filed.text);
    publicId = reportIdFrom(filed.headers.location);
    // Validated, notified and fixed, as the workflow's steps leave it.
    const at = ctx.clock.now().getTime();
    await ctx.db
      .updateTable("reports")
      .set({
        organization_id: org.id,
        state: "fix_verified",
        vendor_notified_at: at,
        disclosure_due_at: at + 90 * 86_400_000,
        fix_verified_at: at,
      })
      .where("public_id", "=", publicId)
      .execute();
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
  });
  after(() => ctx.close());

  const advisoryForm = (fields: Record<string, string>) =>
    triager.post(`/reports/${publicId}/advisory`, {
      summary: "Booking IDs could be changed to read other patients' bookings.",
      cveId: "CVE-2026-40001",
      creditName0: "finder42",
      creditType0: "finder",
      ...fields,
    });

  it("suggests a title from the weakness and the organization", async () => {
    const page = shown((await triager.agent.get(`/reports/${publicId}`)).text);
    assert.match(page, new RegExp(`name="title"[^>]*value="${TITLE}"`));
  });

  it("requires the title, with the error next to the field and the form kept", async () => {
    await triager.refreshCsrf(`/reports/${publicId}`);
    const res = await advisoryForm({ title: "  " });
    assert.equal(res.status, 422);
    assert.match(res.text, /Advisory title is required/);
    assert.match(res.text, /value="CVE-2026-40001"/, "what was typed is kept");
    assert.equal(
      (await ctx.db.selectFrom("advisories").select("report_id").execute())
        .length,
      0,
    );
  });

  it("publishes the triager's title everywhere and the researcher's nowhere", async () => {
    await triager.refreshCsrf(`/reports/${publicId}`);
    const save = await advisoryForm({ title: TITLE });
    assert.equal(save.status, 303, save.text);
    // The researcher accepts the credit, so /acknowledgments lists the advisory.
    const reporter = await ctx.db
      .selectFrom("reports")
      .select("reporter_id")
      .where("public_id", "=", publicId)
      .executeTakeFirstOrThrow();
    await ctx.db
      .updateTable("advisories")
      .set({
        credit_answer: "accepted",
        credit_answered_at: ctx.clock.now().getTime(),
      })
      .where("report_id", "in", (eb) =>
        eb
          .selectFrom("reports")
          .select("id")
          .where("reporter_id", "=", reporter.reporter_id),
      )
      .execute();
    const publish = await triager.post(`/reports/${publicId}/transition`, {
      name: "publish",
      confirm: "yes",
    });
    assert.equal(publish.status, 303, publish.text);

    const anon = supertest(ctx.app);
    const page = await anon.get(`/advisories/${publicId}`);
    assert.equal(page.status, 200);
    assert.match(shown(page.text), new RegExp(`<h1>${TITLE}</h1>`));
    const feed = await anon.get("/advisories.atom");
    assert.match(feed.text, new RegExp(`<title>${publicId}: ${TITLE}</title>`));
    const csaf = await anon.get(`/advisories/${publicId}/csaf.json`);
    assert.equal(JSON.parse(csaf.text).document.title, TITLE);
    const cve = await anon.get(`/advisories/${publicId}/cve.json`);
    assert.equal(JSON.parse(cve.text).containers.cna.title, TITLE);
    const thanks = await anon.get("/acknowledgments");
    assert.match(thanks.text, /finder42/);

    for (const url of [
      `/advisories/${publicId}`,
      "/advisories",
      "/advisories.atom",
      `/advisories/${publicId}/csaf.json`,
      `/advisories/${publicId}/cve.json`,
      "/acknowledgments",
      "/stats",
    ]) {
      const res = await anon.get(url);
      assert.equal(res.status, 200, url);
      assert.doesNotMatch(res.text, new RegExp(CANARY), url);
    }
  });
});

describe("migration 2026-12-02-04-advisory-title: advisories saved before titles", () => {
  let ctx: TestContext;
  after(() => ctx.close());

  it("titles them from the weakness and organization, never from the researcher's title", async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Example Hospital Portal");
    const researcher = await createUser(ctx, "researcher");
    const named = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      state: "disclosed",
      title: `Booking IDs readable ${CANARY}`,
    });
    const unnamed = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "disclosed",
      cwe: "other",
      title: `Another finding ${CANARY}`,
    });
    // The database as it was: no title column on advisories.
    await migration.down(ctx.db);
    for (const { id } of [named, unnamed])
      await ctx.db
        .insertInto("advisories")
        .values({
          report_id: id,
          summary: "Booking IDs could be changed to read other bookings.",
          updated_at: ctx.clock.now().getTime(),
          published_at: ctx.clock.now().getTime(),
        } as never)
        .execute();
    await migration.up(ctx.db);

    const titles = await ctx.db
      .selectFrom("advisories")
      .select(["report_id", "title"])
      .orderBy("report_id")
      .execute();
    assert.deepEqual(
      titles.map((t) => t.title),
      [TITLE, "Vulnerability"],
    );
    const page = await supertest(ctx.app).get(`/advisories/${named.publicId}`);
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.text, new RegExp(CANARY));
    assert.match(shown(page.text), new RegExp(`<h1>${TITLE}</h1>`));
  });
});

describe("the suggested title of a case with several organizations", () => {
  let ctx: TestContext;
  after(() => ctx?.close());

  it("names no organization: the draft is read by each of them, and none may learn the others take part", async () => {
    ctx = await createTestContext();
    const lead = await createOrg(ctx, "Lead Hospital Portal");
    const other = await createOrg(ctx, "Second Clinic");
    const researcher = await createUser(ctx, "researcher");
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "fix_verified",
      organizationId: lead.id,
      cwe: "CWE-639",
    });
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: report.id,
        organization_id: other.id,
        added_at: ctx.clock.now().getTime(),
        notified_at: ctx.clock.now().getTime(),
      })
      .execute();
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const page = shown(
      (await triager.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.match(
      page,
      /name="title"[^>]*value="Authorization Bypass Through User-Controlled Key"/,
    );
    assert.doesNotMatch(page, /value="[^"]* in Lead Hospital Portal"/);
  });
});

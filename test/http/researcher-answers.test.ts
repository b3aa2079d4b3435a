import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "mocha";
import { runDueReminders } from "../../src/reports/reminders.js";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/** Posts a form of the report page as a person does: from the page, with its token. */
async function postOn(
  who: Browser,
  publicId: string,
  path: string,
  fields: Record<string, string>,
) {
  await who.refreshCsrf(`/reports/${publicId}`);
  return who.post(`/reports/${publicId}/${path}`, fields);
}

async function reportRow(ctx: TestContext, id: number) {
  return ctx.db
    .selectFrom("reports")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
}

async function events(ctx: TestContext, id: number) {
  return ctx.db
    .selectFrom("report_events")
    .select(["kind", "action", "from_state", "to_state", "body"])
    .where("report_id", "=", id)
    .orderBy("id")
    .execute();
}

describe("a researcher's comment while the CERT waits for them is their answer", () => {
  let ctx: TestContext;
  let researcher: TestUser;
  let triagerUser: TestUser;
  let triager: Browser;
  let rhea: Browser;

  before(async () => {
    ctx = await createTestContext();
    researcher = await createUser(ctx, "researcher");
    triagerUser = await createUser(ctx, "triager");
  });
  // Tests move the clock by weeks: sessions end, so everyone signs in again.
  beforeEach(async () => {
    triager = await signedIn(ctx, triagerUser);
    rhea = await signedIn(ctx, researcher);
  });
  after(() => ctx.close());

  /** An acknowledged report on which the triager asks a question through the page. */
  async function askedReport() {
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    });
    const asked = await postOn(triager, report.publicId, "transition", {
      name: "request_info",
      message: "Which **booking page** shows it?",
    });
    assert.equal(asked.status, 303);
    return report;
  }

  it("shows the question and the answer box together at the top, and the comment box says it answers", async () => {
    const report = await askedReport();
    const page = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.equal(page.status, 200);
    const html = shown(page.text);
    const top = html.indexOf('id="info-request-title"');
    assert.ok(top > 0, "the question panel is on the page");
    assert.ok(
      top < html.indexOf('id="timeline"'),
      "the question comes before the timeline",
    );
    const panel = html.slice(top, html.indexOf("</section>", top));
    assert.match(panel, /Which <strong>booking page<\/strong> shows it\?/);
    assert.match(panel, /<textarea id="f-answer-body" name="body"/);
    assert.match(panel, /Send my answer/);
    assert.match(html, /a comment here answers its question/);
    // The top box takes the step: no second "Send the information" button.
    assert.doesNotMatch(html, /value="provide_info"/);
    // Staff and other states do not get it.
    const staffPage = await triager.agent.get(`/reports/${report.publicId}`);
    assert.doesNotMatch(staffPage.text, /info-request-title/);
  });

  it("a comment in needs_info returns the report to its previous state and stops the clock: it does not expire", async () => {
    const report = await askedReport();
    assert.equal((await reportRow(ctx, report.id)).state, "needs_info");
    ctx.clock.advanceDays(3);
    rhea = await signedIn(ctx, researcher);
    const res = await postOn(rhea, report.publicId, "comments", {
      body: "The booking page at /booking?id=1234.",
    });
    assert.equal(res.status, 303);
    const row = await reportRow(ctx, report.id);
    assert.equal(row.state, "acknowledged");
    assert.equal(row.info_requested_at, null);
    assert.equal(row.state_before_info, null);
    // One timeline entry: the answer (the workflow step), with the text.
    const last = (await events(ctx, report.id)).slice(-1)[0]!;
    assert.deepEqual(last, {
      kind: "transition",
      action: "provide_info",
      from_state: "needs_info",
      to_state: "acknowledged",
      body: "The booking page at /booking?id=1234.",
    });
    assert.equal(
      (await events(ctx, report.id)).filter((e) => e.kind === "comment").length,
      0,
    );
    const flash = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.match(shown(flash.text), /Your answer was sent to the CERT/);
    assert.doesNotMatch(flash.text, /info-request-title/);
    // Long past the expiry the reminders run: nothing closes the report.
    ctx.clock.advanceDays(60);
    await runDueReminders(ctx.deps);
    const later = await reportRow(ctx, report.id);
    assert.equal(later.state, "acknowledged");
    assert.equal(later.resolution, null);
  });

  it("the answer box at the top keeps what was typed next to its own error", async () => {
    const report = await askedReport();
    const res = await postOn(rhea, report.publicId, "comments", {
      answer: "1",
      body: "   ",
    });
    assert.equal(res.status, 422);
    const html = shown(res.text);
    const panel = html.slice(
      html.indexOf('id="info-request-title"'),
      html.indexOf('id="timeline"'),
    );
    assert.match(panel, /id="f-answer-body-error"/);
    assert.equal((await reportRow(ctx, report.id)).state, "needs_info");
  });

  it("a triager's comment in needs_info is only a comment; the report keeps waiting", async () => {
    const report = await askedReport();
    const res = await postOn(triager, report.publicId, "comments", {
      body: "Any page of the portal will do.",
    });
    assert.equal(res.status, 303);
    const row = await reportRow(ctx, report.id);
    assert.equal(row.state, "needs_info");
    assert.notEqual(row.info_requested_at, null);
    assert.equal((await events(ctx, report.id)).slice(-1)[0]!.kind, "comment");
  });

  it("a researcher's comment in another state is only a comment", async () => {
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "triaged",
    });
    const res = await postOn(rhea, report.publicId, "comments", {
      body: "One more detail.",
    });
    assert.equal(res.status, 303);
    assert.equal((await reportRow(ctx, report.id)).state, "triaged");
    assert.equal((await events(ctx, report.id)).slice(-1)[0]!.kind, "comment");
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { waitingForResearcher, STATES } from "../../src/reports/workflow.js";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

const HOUR = 3_600_000;

describe('"My reports" marks the reports waiting for the researcher', () => {
  let ctx: TestContext;
  let rhea: TestUser;
  let bob: TestUser;

  before(async () => {
    ctx = await createTestContext();
    rhea = await createUser(ctx, "researcher");
    bob = await createUser(ctx, "researcher");
  });
  after(() => ctx.close());

  it("the rule: a question, a fix to retest, or a credit to answer; nothing else", () => {
    for (const state of STATES) {
      const expected =
        state === "needs_info"
          ? "Answer the CERT's question"
          : state === "fixed"
            ? "Retest the fix"
            : null;
      assert.equal(
        waitingForResearcher({ state, creditAnswerPending: false }),
        expected,
        state,
      );
      assert.equal(
        waitingForResearcher({ state, creditAnswerPending: true }),
        expected ?? "Accept or decline your credit",
        state,
      );
    }
  });

  it("lists them first with what is asked, and marks them in the full list", async () => {
    const at = (hoursAgo: number) =>
      new Date(ctx.clock.now().getTime() - hoursAgo * HOUR);
    const mk = (
      title: string,
      state: (typeof STATES)[number],
      hoursAgo: number,
    ) =>
      insertReport(ctx, {
        reporterId: rhea.user.id,
        title,
        state,
        createdAt: at(hoursAgo + 100),
        updatedAt: at(hoursAgo),
      });
    const question = await mk("Question report", "needs_info", 5);
    const retest = await mk("Retest report", "fixed", 4);
    const credit = await mk("Credit report", "fix_verified", 3);
    const answered = await mk("Answered credit report", "fix_verified", 2);
    const plain = await mk("Plain report", "submitted", 1);
    await insertReport(ctx, {
      reporterId: bob.user.id,
      title: "Bob's question",
      state: "needs_info",
    });
    const credits = JSON.stringify([{ name: "Rhea", type: "finder" }]);
    await ctx.db
      .insertInto("advisories")
      .values([
        {
          report_id: credit.id,
          title: "Authorization bypass in the portal",
          summary: "Summary of the advisory for the portal.",
          cve_id: null,
          updated_at: ctx.clock.now().getTime(),
          published_at: null,
          credits,
          credit_answer: "pending",
          credit_answered_at: null,
        },
        {
          report_id: answered.id,
          title: "Authorization bypass in the portal",
          summary: "Summary of the advisory for the portal.",
          cve_id: null,
          updated_at: ctx.clock.now().getTime(),
          published_at: null,
          credits,
          credit_answer: "accepted",
          credit_answered_at: ctx.clock.now().getTime(),
        },
      ])
      .execute();

    const page = await (await signedIn(ctx, rhea)).agent.get("/reports");
    assert.equal(page.status, 200);
    const html = shown(page.text);
    const start = html.indexOf('id="waiting-title"');
    const end = html.indexOf("All your reports");
    assert.ok(start > 0 && end > start, "the waiting section comes first");
    const waiting = html.slice(start, end);
    const rows = [...waiting.matchAll(/<tr>[\s\S]*?<\/tr>/g)]
      .map((m) => m[0])
      .filter((r) => r.includes("<td"));
    assert.deepEqual(
      rows.map((r) => /(DD-[0-9A-Z]{4}-[0-9A-Z]{4})/.exec(r)?.[1]),
      [credit.publicId, retest.publicId, question.publicId],
    );
    assert.match(rows[0]!, /Accept or decline your credit/);
    assert.match(rows[1]!, /Retest the fix/);
    assert.match(rows[2]!, /Answer the CERT(&#39;|')s question/);
    assert.doesNotMatch(waiting, /Bob's question|Plain report|Answered credit/);

    const full = html.slice(end);
    const rowOf = (publicId: string) =>
      [...full.matchAll(/<tr>[\s\S]*?<\/tr>/g)]
        .map((m) => m[0])
        .find((r) => r.includes(publicId))!;
    assert.match(rowOf(question.publicId), /Waiting for you: Answer/);
    assert.doesNotMatch(rowOf(plain.publicId), /Waiting for you/);
    assert.doesNotMatch(rowOf(answered.publicId), /Waiting for you/);
  });

  it("says nothing is waiting when nothing is", async () => {
    const page = await (await signedIn(ctx, bob)).agent.get("/reports");
    assert.match(page.text, /Waiting for you/);
    const fresh = await createUser(ctx, "researcher");
    await insertReport(ctx, { reporterId: fresh.user.id, state: "triaged" });
    const none = await (await signedIn(ctx, fresh)).agent.get("/reports");
    assert.doesNotMatch(none.text, /Waiting for you/);
  });
});

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { DAY } from "../../src/clock.js";
import { runDueReminders } from "../../src/reports/reminders.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/**
 * The two disagreements clocks.ts settles: the report page, the queue's
 * overdue filter and the reminders say the same about each clock.
 */
describe("the clocks: page, queue and reminders agree", () => {
  let ctx: TestContext;
  let researcher: TestUser, triager: TestUser;

  beforeEach(async () => {
    ctx = await createTestContext();
    researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager");
  });
  afterEach(() => ctx?.close());

  /** What a triager reads now: the report page and the overdue queue's row. */
  async function readers(publicId: string) {
    const browser = await signedIn(ctx, triager);
    const page = (await browser.agent.get(`/reports/${publicId}`)).text;
    const queue = (await browser.agent.get("/queue?overdue=1")).text;
    // The queue's row for this report, when it is listed.
    const at = queue.indexOf(`href="/reports/${publicId}"`);
    const row =
      at < 0
        ? ""
        : queue.slice(queue.lastIndexOf("<tr", at), queue.indexOf("</tr>", at));
    return {
      page,
      inQueue: at >= 0,
      row,
    };
  }

  const remindersOf = async (reportId: number) =>
    (
      await ctx.db
        .selectFrom("reminders")
        .select("kind")
        .where("report_id", "=", reportId)
        .orderBy("kind")
        .execute()
    ).map((r) => r.kind);

  it("triage counts from the acknowledgment: a report nobody acknowledged is late for acknowledgment only", async () => {
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      createdAt: new Date(ctx.clock.now().getTime() - 12 * DAY),
    });
    await runDueReminders(ctx.deps);
    assert.deepEqual(await remindersOf(report.id), ["ack_overdue"]);
    const late = await readers(report.publicId);
    assert.match(late.page, /Acknowledgment overdue by 9 days/);
    assert.doesNotMatch(late.page, /Triage (due|overdue)/);
    assert.ok(late.inQueue);
    assert.match(late.row, /Acknowledgment overdue by 9 days/);
    assert.doesNotMatch(late.row, /Triage overdue/);

    // Acknowledged now: the triage clock starts, 10 days from now.
    const browser = await signedIn(ctx, triager);
    await browser.refreshCsrf(`/reports/${report.publicId}`);
    const ack = await browser.post(`/reports/${report.publicId}/transition`, {
      name: "acknowledge",
    });
    assert.equal(ack.status, 303);
    const running = await readers(report.publicId);
    assert.match(running.page, /Triage due in 10 days/);
    assert.doesNotMatch(running.page, /Acknowledgment (due|overdue)/);
    assert.ok(!running.inQueue);

    ctx.clock.advanceDays(11);
    await runDueReminders(ctx.deps);
    assert.deepEqual(await remindersOf(report.id), [
      "ack_overdue",
      "triage_overdue",
    ]);
    const overdue = await readers(report.publicId);
    assert.match(overdue.page, /Triage overdue by 1 day/);
    assert.ok(overdue.inQueue);
    assert.match(overdue.row, /Triage overdue by 1 day/);
  });

  it("the disclosure clock stops when the fix is verified: no page says it is due, no reminder goes out", async () => {
    const org = await createOrg(ctx);
    const reported = (state: "fixed" | "fix_verified") =>
      insertReport(ctx, {
        reporterId: researcher.user.id,
        organizationId: org.id,
        state,
        severity: "high",
        cvssScore: 8.1,
      });
    const fixed = await reported("fixed");
    const verified = await reported("fix_verified");
    ctx.clock.advanceDays(2);
    assert.match(
      (await readers(fixed.publicId)).page,
      /Disclosure due in 88 days/,
    );
    const stopped = (await readers(verified.publicId)).page;
    assert.doesNotMatch(stopped, /Disclosure (due|overdue)/);
    // Nor its panel, where the deadline would be moved.
    assert.doesNotMatch(stopped, /\/deadline"/);

    ctx.clock.advanceDays(89);
    await runDueReminders(ctx.deps);
    assert.deepEqual(await remindersOf(verified.id), []);
    assert.ok((await remindersOf(fixed.id)).includes("disclosure_passed"));
    assert.match(
      (await readers(fixed.publicId)).page,
      /Disclosure overdue by 1 day/,
    );
    assert.doesNotMatch(
      (await readers(verified.publicId)).page,
      /Disclosure (due|overdue)/,
    );
  });
});

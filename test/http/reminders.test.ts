import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { runDueReminders } from "../../src/reports/reminders.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  addressFanouts,
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

const DAY = 86_400_000;

/** The outbox as [address, subject] pairs, in order. */
async function mails(ctx: TestContext) {
  await addressFanouts(ctx);
  const rows = await ctx.db
    .selectFrom("outbox")
    .select(["to_address", "subject", "text_body"])
    .orderBy("id")
    .execute();
  return rows.map((r) => [r.to_address, r.subject]);
}

describe("deadlines and reminders (the scheduler, with the clock moved)", () => {
  let ctx: TestContext;
  let researcher: TestUser, triager: TestUser, contact: TestUser;
  let orgId: number;

  beforeEach(async () => {
    ctx = await createTestContext();
    researcher = await createUser(ctx, "researcher", {
      email: "rhea@example.test",
    });
    triager = await createUser(ctx, "triager", { email: "tom@example.test" });
    const org = await createOrg(ctx, "City Hospital");
    orgId = org.id;
    contact = await createUser(ctx, "org_contact", {
      email: "olga@example.test",
      orgIds: [org.id],
    });
  });
  afterEach(() => ctx?.close());

  it("mails the triage team once when acknowledgment is overdue, and again only for triage", async () => {
    const report = await insertReport(ctx, { reporterId: researcher.user.id });
    assert.equal(await runDueReminders(ctx.deps), 0, "nothing due yet");
    ctx.clock.advanceDays(3);
    ctx.clock.advance(1000);
    assert.equal(await runDueReminders(ctx.deps), 1);
    assert.deepEqual(await mails(ctx), [
      ["tom@example.test", `[${report.publicId}] Acknowledgment overdue`],
    ]);
    // Idempotent: a second run (or a restart) sends nothing more.
    assert.equal(await runDueReminders(ctx.deps), 0);
    ctx.clock.advanceDays(30);
    assert.equal(await runDueReminders(ctx.deps), 0);
    assert.equal((await mails(ctx)).length, 1);
  });

  it("counts triage from the acknowledgment and reminds when it is overdue", async () => {
    const report = await insertReport(ctx, { reporterId: researcher.user.id });
    ctx.clock.advanceDays(2);
    const browser = await signedIn(ctx, triager);
    await browser.refreshCsrf(`/reports/${report.publicId}`);
    const ack = await browser.post(`/reports/${report.publicId}/transition`, {
      name: "acknowledge",
    });
    assert.equal(ack.status, 303);
    const row = await ctx.db
      .selectFrom("reports")
      .select("triage_due_at")
      .where("public_id", "=", report.publicId)
      .executeTakeFirstOrThrow();
    assert.equal(row.triage_due_at, ctx.clock.now().getTime() + 10 * DAY);
    const before = (await mails(ctx)).length;
    ctx.clock.advanceDays(9);
    assert.equal(
      await runDueReminders(ctx.deps),
      0,
      "ack is done; triage not due",
    );
    ctx.clock.advanceDays(1);
    ctx.clock.advance(1000);
    assert.equal(await runDueReminders(ctx.deps), 1);
    assert.deepEqual((await mails(ctx)).slice(before), [
      ["tom@example.test", `[${report.publicId}] Triage overdue`],
    ]);
  });

  it("mails the organization and the assigned triager 30, 7 and 1 days before the disclosure deadline and when it passes", async () => {
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
      state: "fix_in_progress",
      assigneeId: triager.user.id,
    });
    const subjects = async () =>
      (await mails(ctx)).map(([to, subject]) => `${to} ${subject}`);
    const id = report.publicId;
    ctx.clock.advanceDays(59);
    assert.equal(await runDueReminders(ctx.deps), 0);
    ctx.clock.advanceDays(1);
    // One reminder, mailed to the contact and the assigned triager.
    assert.equal(await runDueReminders(ctx.deps), 1);
    ctx.clock.advanceDays(23);
    await runDueReminders(ctx.deps);
    ctx.clock.advanceDays(6);
    await runDueReminders(ctx.deps);
    ctx.clock.advanceDays(1);
    ctx.clock.advance(1000);
    await runDueReminders(ctx.deps);
    await runDueReminders(ctx.deps);
    assert.deepEqual(await subjects(), [
      `tom@example.test [${id}] Disclosure deadline in 30 days`,
      `olga@example.test [${id}] Disclosure deadline in 30 days`,
      `tom@example.test [${id}] Disclosure deadline in 7 days`,
      `olga@example.test [${id}] Disclosure deadline in 7 days`,
      `tom@example.test [${id}] Disclosure deadline tomorrow`,
      `olga@example.test [${id}] Disclosure deadline tomorrow`,
      `tom@example.test [${id}] Disclosure deadline passed`,
      `olga@example.test [${id}] Disclosure deadline passed`,
    ]);
    const body = (
      await ctx.db
        .selectFrom("outbox")
        .select("text_body")
        .orderBy("id")
        .executeTakeFirstOrThrow()
    ).text_body;
    assert.match(body, /Disclosure deadline: \d+ \w+ \d{4}, \d{2}:\d{2} UTC\./);
    assert.doesNotMatch(body, /patient's appointment/, "no report text");
  });

  it("sends only the latest disclosure reminder when the app was down for the earlier ones", async () => {
    await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
      state: "vendor_notified",
      assigneeId: triager.user.id,
    });
    ctx.clock.advanceDays(85);
    assert.equal(await runDueReminders(ctx.deps), 1);
    const subjects = (await mails(ctx)).map(([, s]) =>
      s!.replace(/^\[.*?\] /, ""),
    );
    assert.deepEqual(subjects, [
      "Disclosure deadline in 7 days",
      "Disclosure deadline in 7 days",
    ]);
  });

  it("records but does not mail a reminder noticed more than a week late (downtime, an upgraded old database)", async () => {
    const now = ctx.clock.now().getTime();
    const stale = await insertReport(ctx, {
      reporterId: researcher.user.id,
      createdAt: new Date(now - 30 * DAY),
    });
    const recent = await insertReport(ctx, {
      reporterId: researcher.user.id,
      createdAt: new Date(now - 9 * DAY),
    });
    const forgotten = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
      state: "fix_in_progress",
      vendorNotifiedAt: new Date(now - 200 * DAY),
    });
    const unanswered = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "needs_info",
    });
    await ctx.db
      .updateTable("reports")
      .set({
        info_requested_at: now - 90 * DAY,
        state_before_info: "submitted",
      })
      .where("id", "=", unanswered.id)
      .execute();

    // Acknowledgment 6 days overdue: mailed. 27 days overdue: recorded only.
    // The disclosure deadline passed 110 days ago: recorded only, with the
    // earlier reminders it supersedes. The unanswered request still closes,
    // with its notice (the researcher must learn why).
    const sent = await runDueReminders(ctx.deps);
    const subjects = (await mails(ctx)).map(([, s]) => s);
    assert.ok(subjects.includes(`[${recent.publicId}] Acknowledgment overdue`));
    assert.ok(!subjects.some((s) => s!.startsWith(`[${stale.publicId}]`)));
    assert.ok(!subjects.some((s) => s!.startsWith(`[${forgotten.publicId}]`)));
    assert.ok(subjects.includes(`[${unanswered.publicId}] Closed: no answer`));
    assert.equal(sent, 2);
    const rows = await ctx.db
      .selectFrom("reminders")
      .select(["report_id", "kind", "mailed"])
      .orderBy("report_id")
      .orderBy("kind")
      .execute();
    const of = (id: number) =>
      rows
        .filter((r) => r.report_id === id)
        .map((r) => `${r.kind}:${r.mailed}`);
    assert.deepEqual(of(stale.id), ["ack_overdue:0"]);
    assert.deepEqual(of(recent.id), ["ack_overdue:1"]);
    assert.deepEqual(of(forgotten.id), [
      "disclosure_1:0",
      "disclosure_30:0",
      "disclosure_7:0",
      "disclosure_passed:0",
      // Its organization's answer, silent for 200 days: recorded only too.
      `org_answer:${orgId}:0`,
    ]);
    assert.deepEqual(of(unanswered.id), ["info_expired:1", "info_reminder:0"]);
    const closed = await ctx.db
      .selectFrom("reports")
      .select("state")
      .where("id", "=", unanswered.id)
      .executeTakeFirstOrThrow();
    assert.equal(closed.state, "closed");
    // Nothing is sent for them later either.
    assert.equal(await runDueReminders(ctx.deps), 0);
  });

  it("reminds the researcher after 7 days of an unanswered request, and closes it as invalid after 30", async () => {
    const report = await insertReport(ctx, { reporterId: researcher.user.id });
    const browser = await signedIn(ctx, triager);
    await browser.refreshCsrf(`/reports/${report.publicId}`);
    const ask = await browser.post(`/reports/${report.publicId}/transition`, {
      name: "request_info",
      message: "Which booking page?",
    });
    assert.equal(ask.status, 303);
    const before = (await mails(ctx)).length;
    ctx.clock.advanceDays(7);
    assert.equal(await runDueReminders(ctx.deps), 1);
    assert.deepEqual((await mails(ctx)).slice(before), [
      ["rhea@example.test", `[${report.publicId}] Your answer is needed`],
    ]);
    ctx.clock.advanceDays(23);
    assert.equal(await runDueReminders(ctx.deps), 1);
    const row = await ctx.db
      .selectFrom("reports")
      .selectAll()
      .where("public_id", "=", report.publicId)
      .executeTakeFirstOrThrow();
    assert.equal(row.state, "closed");
    assert.equal(row.resolution, "invalid");
    const closing = (await mails(ctx)).slice(before + 1);
    assert.deepEqual(closing, [
      ["rhea@example.test", `[${report.publicId}] Closed: no answer`],
      ["tom@example.test", `[${report.publicId}] Closed: no answer`],
    ]);
    // (30 days later the triager's session has long expired: sign in again.)
    const again = await signedIn(ctx, triager);
    const page = await again.agent.get(`/reports/${report.publicId}`);
    assert.match(
      page.text,
      /Closed automatically: the request for information went unanswered/,
    );
    assert.match(page.text, /<strong>Disclosure Desk<\/strong>/);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "report.state_changed")
      .where("actor_label", "=", "system")
      .execute();
    assert.equal(audit.length, 1);
  });

  it("shows the organization and the triager the fix target by severity, in plain words with the date", async () => {
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
      state: "fix_in_progress",
      severity: "high",
      cvssScore: 8.1,
    });
    ctx.clock.advanceDays(2);
    for (const who of [contact, triager]) {
      const page = await (
        await signedIn(ctx, who)
      ).agent.get(`/reports/${report.publicId}`);
      assert.match(
        page.text,
        /Fix target due in 28 days \(\d+ \w+ \d{4}, \d{2}:\d{2} UTC\)/,
      );
      assert.match(page.text, /Disclosure due in 88 days/);
    }
    const own = await (
      await signedIn(ctx, researcher)
    ).agent.get(`/reports/${report.publicId}`);
    assert.doesNotMatch(own.text, /Fix target/);
    ctx.clock.advanceDays(30);
    const late = await (
      await signedIn(ctx, triager)
    ).agent.get(`/reports/${report.publicId}`);
    assert.match(late.text, /class="overdue">Fix target overdue by 2 days/);
  });

  it("an answer in time stops the clock", async () => {
    const report = await insertReport(ctx, { reporterId: researcher.user.id });
    const staff = await signedIn(ctx, triager);
    await staff.refreshCsrf(`/reports/${report.publicId}`);
    const ask = await staff.post(`/reports/${report.publicId}/transition`, {
      name: "request_info",
      message: "Which page?",
    });
    assert.equal(ask.status, 303);
    ctx.clock.advanceDays(3);
    const finder = await signedIn(ctx, researcher);
    await finder.refreshCsrf(`/reports/${report.publicId}`);
    const reply = await finder.post(`/reports/${report.publicId}/transition`, {
      name: "provide_info",
      message: "The one at /booking?id=",
    });
    assert.equal(reply.status, 303);
    ctx.clock.advanceDays(40);
    const sent = await runDueReminders(ctx.deps);
    const kinds = await ctx.db.selectFrom("reminders").select("kind").execute();
    assert.ok(!kinds.some((k) => k.kind.startsWith("info_")));
    assert.ok(sent <= 1, "at most the overdue acknowledgment");
    void contact;
  });
});

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { runDueReminders } from "../../src/reports/reminders.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  addressFanouts,
  createTestContext,
  createUser,
  type TestContext,
} from "../support/harness.js";

const DAY = 86_400_000;

/**
 * Silence is not "not affected": each organization on a case has its own
 * answer clock from its own notice, and one reminder when it runs out, to
 * its contacts and the triage side, never to the other organizations.
 */
describe("each organization's answer clock and its reminder", () => {
  let ctx: TestContext;

  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx?.close());

  const mailsSince = async (id: number) => {
    await addressFanouts(ctx);
    return (
      await ctx.db
        .selectFrom("outbox")
        .select(["id", "to_address", "subject", "text_body"])
        .where("id", ">", id)
        .orderBy("id")
        .execute()
    ).map((r) => [r.to_address, r.subject, r.text_body] as const);
  };
  const lastMailId = async () =>
    (
      await ctx.db
        .selectFrom("outbox")
        .select((eb) => eb.fn.max("id").as("id"))
        .executeTakeFirst()
    )?.id ?? 0;

  it("reminds each silent organization once, from its own notice, and not one that answered", async () => {
    await createUser(ctx, "triager", { email: "tom@example.test" });
    const researcher = await createUser(ctx, "researcher", {
      email: "rhea@example.test",
    });
    const alpha = await createOrg(ctx, "Alpha Water Works");
    const beta = await createOrg(ctx, "Beta Power Grid");
    const gamma = await createOrg(ctx, "Gamma Telecom");
    await createUser(ctx, "org_contact", {
      email: "ann@alpha.test",
      orgIds: [alpha.id],
    });
    await createUser(ctx, "org_contact", {
      email: "bob@beta.test",
      orgIds: [beta.id],
    });
    await createUser(ctx, "org_contact", {
      email: "gil@gamma.test",
      orgIds: [gamma.id],
    });
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: alpha.id,
    });
    const t0 = ctx.clock.now().getTime();
    // Beta notified two days after Alpha; Gamma too, but it answers.
    await ctx.db
      .insertInto("participations")
      .values([
        {
          report_id: report.id,
          organization_id: beta.id,
          added_at: t0,
          notified_at: t0 + 2 * DAY,
          status: "not_answered",
          answered_at: null,
        },
        {
          report_id: report.id,
          organization_id: gamma.id,
          added_at: t0,
          notified_at: t0 + 2 * DAY,
          status: "investigating",
          answered_at: t0 + 3 * DAY,
        },
      ])
      .execute();
    await ctx.db
      .updateTable("participations")
      .set({ tracking_id: "AWW-7" })
      .where("organization_id", "=", alpha.id)
      .execute();
    const start = await lastMailId();

    ctx.clock.advanceDays(7);
    assert.equal(await runDueReminders(ctx.deps), 0, "not overdue yet");
    ctx.clock.advance(1000);
    assert.equal(await runDueReminders(ctx.deps), 1);
    const first = await mailsSince(start);
    assert.deepEqual(
      first.map(([to, subject]) => [to, subject]).sort(),
      [
        [
          "ann@alpha.test",
          `[${report.publicId}] [AWW-7] Your answer is overdue`,
        ],
        [
          "tom@example.test",
          `[${report.publicId}] Organization's answer overdue`,
        ],
      ].sort(),
    );
    const staffMail = first.find(([to]) => to === "tom@example.test")!;
    assert.match(staffMail[2], /Alpha Water Works was notified/);
    // Once.
    assert.equal(await runDueReminders(ctx.deps), 0);

    const mid = await lastMailId();
    ctx.clock.advanceDays(2);
    assert.equal(
      await runDueReminders(ctx.deps),
      1,
      "Beta, from its own notice",
    );
    const second = await mailsSince(mid);
    const to = second.map(([address]) => address).sort();
    assert.deepEqual(to, ["bob@beta.test", "tom@example.test"]);
    assert.ok(second.every(([, , text]) => !/Alpha/.test(text)));

    // Gamma answered: never reminded; nobody again.
    ctx.clock.advanceDays(20);
    assert.equal(await runDueReminders(ctx.deps), 0);
    const kinds = (
      await ctx.db
        .selectFrom("reminders")
        .select("kind")
        .where("report_id", "=", report.id)
        .where("kind", "like", "org_answer:%")
        .execute()
    ).map((r) => r.kind);
    assert.deepEqual(
      kinds.sort(),
      [`org_answer:${alpha.id}`, `org_answer:${beta.id}`].sort(),
    );
  });

  it("follows the admin's setting, and stops with the case", async () => {
    await createUser(ctx, "triager", { email: "tom@example.test" });
    const researcher = await createUser(ctx, "researcher");
    const alpha = await createOrg(ctx, "Alpha Water Works");
    const closed = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "closed",
      organizationId: alpha.id,
      vendorNotifiedAt: ctx.clock.now(),
    });
    const open = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "fix_in_progress",
      organizationId: alpha.id,
    });
    ctx.deps.settings.replace({ orgAnswerDays: 3 });
    ctx.clock.advanceDays(3);
    ctx.clock.advance(1000);
    assert.equal(await runDueReminders(ctx.deps), 1);
    const reminded = await ctx.db
      .selectFrom("reminders")
      .select("report_id")
      .where("kind", "like", "org_answer:%")
      .execute();
    assert.deepEqual(
      reminded.map((r) => r.report_id),
      [open.id],
    );
    assert.notEqual(closed.id, open.id);
  });
});

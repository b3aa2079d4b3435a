import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  addressFanouts,
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

describe("moving the disclosure deadline and asking for more time", () => {
  let ctx: TestContext;
  let triager: Browser, contact: Browser, researcher: Browser;
  let reporter: TestUser;
  let id: string;

  const row = () =>
    ctx.db
      .selectFrom("reports")
      .select(["disclosure_due_at", "extension_requested_to"])
      .where("public_id", "=", id)
      .executeTakeFirstOrThrow();
  const subjects = async () => {
    await addressFanouts(ctx);
    return (
      await ctx.db
        .selectFrom("outbox")
        .select(["to_address", "subject"])
        .orderBy("id")
        .execute()
    ).map((m) => `${m.to_address} ${m.subject}`);
  };

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "City Hospital");
    reporter = await createUser(ctx, "researcher", {
      email: "rhea@example.test",
    });
    id = (
      await insertReport(ctx, {
        reporterId: reporter.user.id,
        organizationId: org.id,
        state: "fix_in_progress",
      })
    ).publicId;
    triager = await signedIn(
      ctx,
      await createUser(ctx, "triager", { email: "tom@example.test" }),
    );
    contact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", {
        email: "olga@example.test",
        orgIds: [org.id],
      }),
    );
    researcher = await signedIn(ctx, reporter);
    for (const b of [triager, contact, researcher])
      await b.refreshCsrf(`/reports/${id}`);
  });
  after(() => ctx.close());

  it("a triager moves it with a reason on the timeline; a date in the past or without a reason is refused", async () => {
    const before = await row();
    const noReason = await triager.post(`/reports/${id}/deadline`, {
      date: "2026-07-31",
    });
    assert.equal(noReason.status, 422);
    assert.match(noReason.text, /Reason is required/);
    assert.match(noReason.text, /value="2026-07-31"/, "what was typed is kept");
    const past = await triager.post(`/reports/${id}/deadline`, {
      date: "2020-01-01",
      reason: "typo",
    });
    assert.equal(past.status, 422);
    assert.match(past.text, /must be in the future/);
    // A day the calendar does not have is refused, not moved to March.
    const noSuchDay = await triager.post(`/reports/${id}/deadline`, {
      date: "2027-02-30",
      reason: "End of February.",
    });
    assert.equal(noSuchDay.status, 422);
    assert.match(noSuchDay.text, /Enter a date like 2027-03-31/);
    assert.match(
      noSuchDay.text,
      /value="2027-02-30"/,
      "what was typed is kept",
    );
    assert.deepEqual(await row(), before, "nothing changed");

    const ok = await triager.post(`/reports/${id}/deadline`, {
      date: "2026-07-31",
      reason: "The hospital patches in its July window.",
    });
    assert.equal(ok.status, 303);
    assert.equal(
      (await row()).disclosure_due_at,
      Date.parse("2026-07-31T23:59:00Z"),
    );
    const page = await researcher.agent.get(`/reports/${id}`);
    assert.match(page.text, /moved the disclosure deadline/);
    assert.match(page.text, /The hospital patches in its July window/);
    assert.ok(
      (await subjects()).includes(
        `rhea@example.test [${id}] Disclosure deadline moved`,
      ),
    );
    assert.ok(
      (await subjects()).includes(
        `olga@example.test [${id}] Disclosure deadline moved`,
      ),
    );
  });

  it("the organization asks for an extension; the researcher cannot; a triager refuses, then grants a second one", async () => {
    const early = await contact.post(`/reports/${id}/extension`, {
      date: "2026-05-01",
      reason: "More time please",
    });
    assert.equal(early.status, 422);
    assert.match(early.text, /Ask for a date after the current deadline/);

    const byResearcher = await researcher.post(`/reports/${id}/extension`, {
      date: "2026-09-30",
      reason: "I want to wait",
    });
    assert.equal(byResearcher.status, 404);

    const ask = await contact.post(`/reports/${id}/extension`, {
      date: "2026-09-30",
      reason: "The vendor of our booking system ships the fix in September.",
    });
    assert.equal(ask.status, 303);
    assert.equal(
      (await row()).extension_requested_to,
      Date.parse("2026-09-30T23:59:00Z"),
    );
    assert.ok(
      (await subjects()).includes(
        `tom@example.test [${id}] Extension requested`,
      ),
    );
    const staffPage = await triager.agent.get(`/reports/${id}`);
    assert.match(staffPage.text, /The organization asked for more time, until/);

    const refuse = await triager.post(`/reports/${id}/extension/decision`, {
      decision: "refuse",
      note: "Patients are exposed; July stays.",
    });
    assert.equal(refuse.status, 303);
    assert.deepEqual(await row(), {
      disclosure_due_at: Date.parse("2026-07-31T23:59:00Z"),
      extension_requested_to: null,
    });
    assert.ok(
      (await subjects()).includes(
        `olga@example.test [${id}] Extension refused`,
      ),
    );
    const again = await triager.post(`/reports/${id}/extension/decision`, {
      decision: "grant",
    });
    assert.equal(again.status, 422, "no open request");

    await contact.post(`/reports/${id}/extension`, {
      date: "2026-08-15",
      reason: "Two more weeks for the last clinics.",
    });
    const grant = await triager.post(`/reports/${id}/extension/decision`, {
      decision: "grant",
    });
    assert.equal(grant.status, 303);
    assert.deepEqual(await row(), {
      disclosure_due_at: Date.parse("2026-08-15T23:59:00Z"),
      extension_requested_to: null,
    });
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("id")
      .where("action", "=", "report.deadline_changed")
      .execute();
    assert.equal(audit.length, 5);
  });

  it("refuses a second request for more time while the first is open, and keeps what was typed", async () => {
    const first = await contact.post(`/reports/${id}/extension`, {
      date: "2026-09-30",
      reason: "The vendor of our booking system ships the fix in September.",
    });
    assert.equal(first.status, 303);
    const requestsOnTimeline = async () =>
      (
        await ctx.db
          .selectFrom("report_events")
          .select("id")
          .where("action", "=", "extension_requested")
          .execute()
      ).length;
    const before = await requestsOnTimeline();
    const second = await contact.post(`/reports/${id}/extension`, {
      date: "2026-12-31",
      reason: "Actually, the end of the year.",
    });
    assert.equal(second.status, 422);
    assert.match(second.text, /already asked for more time/);
    assert.match(second.text, /Actually, the end of the year\./);
    assert.equal(
      (await row()).extension_requested_to,
      Date.parse("2026-09-30T23:59:00Z"),
      "the open request is unchanged",
    );
    assert.equal(
      await requestsOnTimeline(),
      before,
      "no second request recorded",
    );
  });
});

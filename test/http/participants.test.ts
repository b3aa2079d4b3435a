import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { canReadEvent, readableEvents } from "../../src/auth/policy.js";
import { findReportById } from "../../src/reports/repository.js";
import { accessFacts } from "../../src/reports/types.js";
import { findUserById } from "../../src/users/repository.js";
import { toActor } from "../../src/users/service.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/**
 * A case with three organizations, from notification to a verified fix:
 * each answers for itself, the report's state follows from all of them,
 * and no organization reads another's status, statement, tracking ID or
 * contacts unless the CERT opened the case (names and statuses) and the
 * organization shares its statement.
 */
describe("several organizations on one case", () => {
  let ctx: TestContext;
  let orgs: Record<
    "a" | "b" | "c",
    { id: number; publicId: string; name: string }
  >;
  let users: Record<"researcher" | "triager" | "a" | "b" | "c", TestUser>;
  let as: Record<"researcher" | "triager" | "a" | "b" | "c", Browser>;
  let id: string;
  let reportId: number;

  /** The page as text, as a person reads it (tags out, entities decoded). */
  const page = async (who: Browser) => {
    const res = await who.agent.get(`/reports/${id}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    return shown(res.text)
      .replace(/<[^>]*>/g, " ")
      .replace(/&#39;/g, "'")
      .replace(/&quot;/g, '"')
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&amp;/g, "&")
      .replace(/\s+/g, " ")
      .replace(/ :/g, ":");
  };
  const post = async (
    who: Browser,
    url: string,
    fields: Record<string, string>,
  ) => {
    const res = await who.post(`/reports/${id}${url}`, fields);
    assert.equal(res.status, 303, `${url}: ${shown(res.text).slice(0, 800)}`);
  };
  const state = async () => (await findReportById(ctx.db, reportId))!.state;
  const status = async (org: { id: number }) =>
    (
      await ctx.db
        .selectFrom("participations")
        .select("status")
        .where("report_id", "=", reportId)
        .where("organization_id", "=", org.id)
        .executeTakeFirstOrThrow()
    ).status;
  const mailsTo = async (user: TestUser) =>
    (
      await ctx.db
        .selectFrom("outbox")
        .select(["subject", "text_body", "html_body", "event_id"])
        .where("to_user_id", "=", user.user.id)
        .orderBy("id")
        .execute()
    ).map((m) => `${m.subject}\n${m.text_body}\n${m.html_body}`);

  before(async () => {
    ctx = await createTestContext();
    orgs = {
      a: await createOrg(ctx, "Alpha Water Works"),
      b: await createOrg(ctx, "Beta Power Grid"),
      c: await createOrg(ctx, "Gamma Health Portal"),
    };
    users = {
      researcher: await createUser(ctx, "researcher"),
      triager: await createUser(ctx, "triager"),
      a: await createUser(ctx, "org_contact", { orgIds: [orgs.a.id] }),
      b: await createUser(ctx, "org_contact", { orgIds: [orgs.b.id] }),
      c: await createUser(ctx, "org_contact", { orgIds: [orgs.c.id] }),
    };
    as = {
      researcher: await signedIn(ctx, users.researcher),
      triager: await signedIn(ctx, users.triager),
      a: await signedIn(ctx, users.a),
      b: await signedIn(ctx, users.b),
      c: await signedIn(ctx, users.c),
    };
    const report = await insertReport(ctx, {
      reporterId: users.researcher.user.id,
      state: "triaged",
      organizationId: orgs.a.id,
      severity: "high",
      cvssScore: 8.1,
    });
    id = report.publicId;
    reportId = report.id;
  });
  after(() => ctx.close());

  it("a triager adds a second organization before notifying; both are notified together", async () => {
    await post(as.triager, "/participants", { organization: orgs.b.publicId });
    // Not notified yet: B's contact does not see the case.
    assert.equal((await as.b.agent.get(`/reports/${id}`)).status, 404);
    await post(as.triager, "/transition", { name: "notify_vendor" });
    assert.equal(await state(), "vendor_notified");
    assert.equal((await as.b.agent.get(`/reports/${id}`)).status, 200);
    assert.ok(
      (await mailsTo(users.b)).some((m) =>
        m.includes("New vulnerability report"),
      ),
    );
  });

  it("an organization added after notification is notified at once, with its own mail and nobody else's", async () => {
    const before = {
      a: (await mailsTo(users.a)).length,
      b: (await mailsTo(users.b)).length,
    };
    await post(as.triager, "/participants", { organization: orgs.c.publicId });
    const c = await mailsTo(users.c);
    assert.equal(c.length, 1);
    assert.match(c[0]!, /New vulnerability report for your organization/);
    assert.equal((await mailsTo(users.a)).length, before.a);
    assert.equal((await mailsTo(users.b)).length, before.b);
    assert.equal((await as.c.agent.get(`/reports/${id}`)).status, 200);
    // Adding it again is an error next to the field, the choice kept.
    const again = await as.triager.post(`/reports/${id}/participants`, {
      organization: orgs.c.publicId,
    });
    assert.equal(again.status, 422);
    assert.match(
      shown(again.text),
      /Gamma Health Portal is already on this case/,
    );
  });

  it("staff see every participant and '0 of 3 answered'", async () => {
    const text = await page(as.triager);
    assert.match(text, /0 of 3 answered/);
    for (const o of Object.values(orgs)) assert.ok(text.includes(o.name));
  });

  it("an organization's acknowledgment sets its own status; the report follows", async () => {
    await post(as.a, "/transition", {
      name: "vendor_acknowledge",
      message: "Alpha is on it",
    });
    assert.equal(await status(orgs.a), "affected");
    assert.equal(await state(), "fix_in_progress");
    // B and C did not answer: silence is not "not affected".
    assert.equal(await status(orgs.b), "not_answered");
    assert.match(await page(as.triager), /1 of 3 answered/);
  });

  it("B answers with its status, tracking ID and statement; A sees none of it on a closed case", async () => {
    await post(as.b, `/participants/${orgs.b.publicId}/status`, {
      status: "not_affected",
    });
    await post(as.b, `/participants/${orgs.b.publicId}/details`, {
      trackingId: "BETA-PSIRT-0077",
      fixTarget: "",
    });
    await post(as.b, `/participants/${orgs.b.publicId}/statement`, {
      statement: "Beta does not ship the vulnerable module.",
      references: "",
    });
    const a = await page(as.a);
    for (const secret of [
      "Beta Power Grid",
      "BETA-PSIRT-0077",
      "does not ship the vulnerable module",
      users.b.email,
      "Gamma Health Portal",
    ])
      assert.ok(!a.includes(secret), `A reads ${secret}`);
    // B sees its own.
    const b = await page(as.b);
    assert.match(b, /BETA-PSIRT-0077/);
    assert.match(b, /does not ship the vulnerable module/);
    assert.ok(!b.includes("Alpha Water Works"), "B reads A's name");
    // Nor in its list of reports (the case's lead organization is A).
    const list = await as.b.agent.get("/org/reports");
    assert.equal(list.status, 200);
    assert.ok(list.text.includes(id));
    assert.ok(!list.text.includes("Alpha Water Works"), "B's list names A");
    // The researcher sees every organization's name and status.
    const r = await page(as.researcher);
    assert.match(r, /Beta Power Grid: Not affected/);
    assert.match(r, /Alpha Water Works: Affected/);
    assert.ok(!r.includes("BETA-PSIRT-0077"));
  });

  it("an org contact may not answer for another organization: the report's 404", async () => {
    const res = await as.a.post(
      `/reports/${id}/participants/${orgs.b.publicId}/status`,
      { status: "fixed" },
    );
    const missing = await as.a.post(
      `/reports/DD-0000-0000/participants/${orgs.b.publicId}/status`,
      { status: "fixed" },
    );
    assert.equal(res.status, 404);
    assert.equal(res.text, missing.text);
    assert.equal(await status(orgs.b), "not_affected");
  });

  it("bad input is refused next to the field, with what was typed", async () => {
    const disputed = await as.c.post(
      `/reports/${id}/participants/${orgs.c.publicId}/status`,
      { status: "disputed", reason: "" },
    );
    assert.equal(disputed.status, 422);
    assert.match(shown(disputed.text), /Say why the organization disputes/);
    assert.match(disputed.text, /<option value="disputed" selected/);
    const tracking = await as.c.post(
      `/reports/${id}/participants/${orgs.c.publicId}/details`,
      {
        trackingId: "GAMMA-1\r\nBcc: x@evil.example",
        fixTarget: "2027-02-30x",
      },
    );
    assert.equal(tracking.status, 422);
    assert.match(shown(tracking.text), /Tracking ID may hold letters/);
    assert.match(shown(tracking.text), /Enter a date like/);
    const remove = await as.triager.post(
      `/reports/${id}/participants/${orgs.b.publicId}/remove`,
      { reason: "" },
    );
    assert.equal(remove.status, 422);
    assert.match(shown(remove.text), /Reason is required/);
  });

  it("opened, the case shows names and statuses; a statement only when its organization shares it", async () => {
    await post(as.triager, "/case-open", { open: "yes" });
    let a = await page(as.a);
    assert.match(a, /Beta Power Grid: Not affected/);
    assert.ok(!a.includes("does not ship the vulnerable module"));
    assert.ok(!a.includes("BETA-PSIRT-0077"));
    await post(as.b, `/participants/${orgs.b.publicId}/share`, {
      shared: "yes",
    });
    a = await page(as.a);
    assert.match(a, /does not ship the vulnerable module/);
    assert.ok(!a.includes("BETA-PSIRT-0077"), "a tracking ID is never shared");
    assert.ok(!a.includes(users.b.email), "nor a contact");
    // Closed again, it is gone.
    await post(as.triager, "/case-open", { open: "no" });
    a = await page(as.a);
    assert.ok(!a.includes("Beta Power Grid"));
  });

  it("an organization suggests another one: a message to the CERT alone", async () => {
    const before = {
      b: (await mailsTo(users.b)).length,
      researcher: (await mailsTo(users.researcher)).length,
    };
    await post(as.a, "/participants/suggest", {
      name: "Delta Cloud Hosting",
      why: "It hosts our portal.",
    });
    assert.match(await page(as.triager), /Delta Cloud Hosting/);
    assert.match(await page(as.a), /Delta Cloud Hosting/);
    assert.ok(!(await page(as.b)).includes("Delta Cloud Hosting"));
    assert.ok(!(await page(as.researcher)).includes("Delta Cloud Hosting"));
    assert.equal((await mailsTo(users.b)).length, before.b);
    assert.equal((await mailsTo(users.researcher)).length, before.researcher);
    // The triage team hears of it (one notice for the team).
    const fanouts = await ctx.db
      .selectFrom("outbox_fanouts")
      .select("data")
      .where("report_id", "=", reportId)
      .execute();
    assert.ok(fanouts.some((f) => f.data.includes("Organization suggested")));
  });

  it("a triager approves a statement; an edit withdraws the approval", async () => {
    await post(
      as.triager,
      `/participants/${orgs.b.publicId}/statement/approve`,
      {},
    );
    const approved = async () =>
      (
        await ctx.db
          .selectFrom("participations")
          .select("statement_approved_at")
          .where("report_id", "=", reportId)
          .where("organization_id", "=", orgs.b.id)
          .executeTakeFirstOrThrow()
      ).statement_approved_at;
    assert.notEqual(await approved(), null);
    await post(as.b, `/participants/${orgs.b.publicId}/statement`, {
      statement: "Beta does not ship the vulnerable module at all.",
      references: "https://beta.example/psirt",
    });
    assert.equal(await approved(), null);
  });

  it("A's fix alone does not fix the case while C has not answered", async () => {
    await post(as.a, "/transition", { name: "mark_fixed" });
    assert.equal(await status(orgs.a), "fixed");
    assert.equal(await state(), "fix_in_progress");
    await post(as.c, `/participants/${orgs.c.publicId}/status`, {
      status: "fixed",
    });
    assert.equal(await state(), "fixed");
  });

  it("the researcher checks each organization's fix: one not fixed sends the case back", async () => {
    const r = await page(as.researcher);
    assert.match(r, /Confirm Alpha Water Works's fix/);
    assert.match(r, /Confirm Gamma Health Portal's fix/);
    // Not the case's fix at once: each organization's.
    assert.ok(!r.includes("Confirm the fix works"));
    await post(as.researcher, `/participants/${orgs.a.publicId}/fix`, {
      decision: "verified",
    });
    assert.equal(await state(), "fixed");
    const noMessage = await as.researcher.post(
      `/reports/${id}/participants/${orgs.c.publicId}/fix`,
      { decision: "not_fixed", message: "" },
    );
    assert.equal(noMessage.status, 422);
    await post(as.researcher, `/participants/${orgs.c.publicId}/fix`, {
      decision: "not_fixed",
      message: "Gamma still shows other patients' bookings.",
    });
    assert.equal(await status(orgs.c), "affected");
    assert.equal(await state(), "fix_in_progress");
    // The researcher's words about C reach C, never A or B.
    assert.ok(!(await page(as.a)).includes("other patients' bookings"));
    assert.match(await page(as.c), /other patients' bookings/);
    await post(as.c, `/participants/${orgs.c.publicId}/status`, {
      status: "fixed",
    });
    assert.equal(await state(), "fixed");
    await post(as.researcher, `/participants/${orgs.c.publicId}/fix`, {
      decision: "verified",
    });
    assert.equal(await state(), "fix_verified");
  });

  it("every mail of the case went only to people who may read its entry", async () => {
    const facts = accessFacts((await findReportById(ctx.db, reportId))!);
    const rows = await ctx.db
      .selectFrom("outbox as o")
      .innerJoin("report_events as e", "e.id", "o.event_id")
      .select(["o.to_user_id", "o.subject", "e.audience", "e.audience_org_id"])
      .where("o.report_id", "=", reportId)
      .where("o.to_user_id", "is not", null)
      .execute();
    assert.ok(rows.length > 5);
    for (const row of rows) {
      const user = (await findUserById(ctx.db, row.to_user_id!))!;
      assert.ok(
        canReadEvent(readableEvents(toActor(user), facts), {
          audience: row.audience as "everyone",
          audienceOrgId: row.audience_org_id,
        }),
        `${user.email} was mailed "${row.subject}" (${row.audience} ${row.audience_org_id})`,
      );
    }
    // A never heard of B's or C's answers.
    const a = (await mailsTo(users.a)).join("\n");
    assert.ok(!a.includes("Beta") && !a.includes("Gamma"));
  });

  it("a removed organization loses access at once: the same 404 as a missing report", async () => {
    await as.b.agent.get("/account"); // its last flash read
    await post(as.triager, `/participants/${orgs.b.publicId}/remove`, {
      reason: "Beta does not use the product.",
    });
    const gone = await as.b.agent.get(`/reports/${id}`);
    const missing = await as.b.agent.get(`/reports/DD-0000-0000`);
    assert.equal(gone.status, 404);
    assert.equal(gone.text, missing.text);
    // The reason is the CERT's: the researcher does not read it.
    assert.ok(
      !(await page(as.researcher)).includes("does not use the product"),
    );
    assert.match(await page(as.triager), /does not use the product/);
  });

  it("one organization: its steps work as before, also when the fix is found not to work", async () => {
    const single = await insertReport(ctx, {
      reporterId: users.researcher.user.id,
      state: "vendor_notified",
      organizationId: orgs.a.id,
      severity: "high",
      cvssScore: 8.1,
    });
    const at = (path: string) => `/reports/${single.publicId}${path}`;
    const stateOf = async () =>
      (await findReportById(ctx.db, single.id))!.state;
    const go = async (who: Browser, fields: Record<string, string>) => {
      const res = await who.post(at("/transition"), fields);
      assert.equal(res.status, 303, shown(res.text).slice(0, 500));
    };
    await go(as.a, { name: "vendor_acknowledge" });
    assert.equal(await stateOf(), "fix_in_progress");
    await go(as.a, { name: "mark_fixed" });
    assert.equal(await stateOf(), "fixed");
    await go(as.researcher, { name: "reject_fix", message: "Still there." });
    assert.equal(await stateOf(), "fix_in_progress");
    await go(as.a, { name: "mark_fixed" });
    assert.equal(await stateOf(), "fixed");
    await go(as.researcher, { name: "verify_fix" });
    assert.equal(await stateOf(), "fix_verified");
    const p = await ctx.db
      .selectFrom("participations")
      .select(["status", "fix_verified_at"])
      .where("report_id", "=", single.id)
      .executeTakeFirstOrThrow();
    assert.equal(p.status, "fixed");
    assert.notEqual(p.fix_verified_at, null);
  });

  it("a triager's step for a one-organization case answers for that organization", async () => {
    const single = await insertReport(ctx, {
      reporterId: users.researcher.user.id,
      state: "vendor_notified",
      organizationId: orgs.c.id,
      severity: "high",
      cvssScore: 8.1,
    });
    const statusHere = async () =>
      await ctx.db
        .selectFrom("participations")
        .select(["status", "answered_at"])
        .where("report_id", "=", single.id)
        .executeTakeFirstOrThrow();
    const res = await as.triager.post(
      `/reports/${single.publicId}/transition`,
      { name: "vendor_acknowledge" },
    );
    assert.equal(res.status, 303);
    assert.equal((await statusHere()).status, "affected");
    assert.notEqual((await statusHere()).answered_at, null);
    await as.triager.post(`/reports/${single.publicId}/transition`, {
      name: "mark_fixed",
    });
    assert.equal((await statusHere()).status, "fixed");
  });
});

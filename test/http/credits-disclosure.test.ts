import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
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

const SUMMARY =
  "Appointment IDs could be changed to read other patients' bookings.";

/** The advisory row as stored, to prove a refused request changed nothing. */
async function advisoryRow(ctx: TestContext, reportId: number) {
  return ctx.db
    .selectFrom("advisories")
    .selectAll()
    .where("report_id", "=", reportId)
    .executeTakeFirst();
}

/** Subjects of the mail queued for one person, or for everyone but them. */
async function outboxSubjects(
  ctx: TestContext,
  userId: number,
  others = false,
) {
  await addressFanouts(ctx);
  const rows = await ctx.db
    .selectFrom("outbox")
    .select("subject")
    .where("to_user_id", others ? "!=" : "=", userId)
    .execute();
  return rows.map((r) => r.subject).join("\n");
}

async function timeline(ctx: TestContext, reportId: number, kind: string) {
  return ctx.db
    .selectFrom("report_events")
    .select(["action", "visibility", "body", "actor_id"])
    .where("report_id", "=", reportId)
    .where("kind", "=", kind)
    .orderBy("id")
    .execute();
}

async function auditActions(ctx: TestContext, action: string) {
  return ctx.db
    .selectFrom("audit_log")
    .select(["details"])
    .where("action", "=", action)
    .execute();
}

describe("credit in advisories: proposed by the CERT, accepted or declined by the researcher", () => {
  let ctx: TestContext;
  let triager: Browser;
  let researcher: Browser;
  let researcherUser: TestUser;
  let orgContact: Browser;
  let otherResearcher: Browser;
  let report: { id: number; publicId: string };

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "North Hospital");
    researcherUser = await createUser(ctx, "researcher", {
      displayName: "Rhea Real-Name",
    });
    report = await insertReport(ctx, {
      reporterId: researcherUser.user.id,
      organizationId: org.id,
      state: "fix_verified",
      title: "Booking IDs are guessable",
      revealIdentity: false,
    });
    await ctx.db
      .updateTable("reports")
      .set({ credit_kind: "handle", credit_handle: "rhea" })
      .where("id", "=", report.id)
      .execute();
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    researcher = await signedIn(ctx, researcherUser);
    orgContact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [org.id] }),
    );
    otherResearcher = await signedIn(ctx, await createUser(ctx, "researcher"));
    await triager.refreshCsrf(`/reports/${report.publicId}`);
  });
  after(() => ctx.close());

  const page = (who: Browser) => who.agent.get(`/reports/${report.publicId}`);
  const save = (fields: Record<string, string>) =>
    triager.post(`/reports/${report.publicId}/advisory`, {
      title: "Appointments readable by changing an ID",
      summary: SUMMARY,
      cveId: "",
      ...fields,
    });
  const answer = (who: Browser, value: string) =>
    who.post(`/reports/${report.publicId}/credit`, { answer: value });
  const publish = () =>
    triager.post(`/reports/${report.publicId}/transition`, {
      name: "publish",
      confirm: "yes",
    });

  it("offers the researcher's own choice at filing as the first credit row", async () => {
    const html = (await page(triager)).text;
    assert.match(html, /name="creditName0"[^>]*value="rhea"/);
    assert.match(
      html,
      /<select id="f-creditType0" name="creditType0"[^]*?<option value="finder" selected>Finder<\/option>/,
    );
    // Two empty rows to add people.
    assert.match(html, /name="creditName2"/);
    assert.doesNotMatch(html, /name="creditName3"/);
  });

  it("refuses bad credit rows next to the field, keeps what was typed and changes nothing", async () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [
        { creditName0: "rhea", creditType0: "hacker" },
        "creditType0",
        /Choose what this person is credited for/,
      ],
      [
        { creditName1: "x".repeat(121), creditType1: "analyst" },
        "creditName1",
        /A credited name must be at most 120 characters/,
      ],
      [
        { creditName0: "rhea\u0007", creditType0: "finder" },
        "creditName0",
        /A credited name contains characters that are not allowed/,
      ],
    ];
    for (const [fields, field, message] of cases) {
      const res = await save(fields);
      assert.equal(res.status, 422, field);
      assert.match(
        res.text,
        new RegExp(
          `id="f-${field}-error"><span class="visually-hidden">Error:</span> ${message.source}`,
        ),
      );
      assert.match(res.text, /Appointment IDs could be changed/, "kept");
      assert.equal(await advisoryRow(ctx, report.id), undefined, field);
    }
    const kept = await save({
      creditName1: "Ana <b>Colleague</b>",
      creditType1: "nonsense",
    });
    assert.match(kept.text, /value="Ana &lt;b&gt;Colleague&lt;\/b&gt;"/);
  });

  it("proposes several credits with their types; the researcher is asked and mailed, the names stay off the timeline", async () => {
    const res = await save({
      creditName0: "rhea",
      creditType0: "finder",
      creditName1: "Ana Colleague",
      creditType1: "analyst",
      creditName2: "National CERT",
      creditType2: "coordinator",
    });
    assert.equal(res.status, 303);
    const row = await advisoryRow(ctx, report.id);
    assert.deepEqual(JSON.parse(row!.credits!), [
      { name: "rhea", type: "finder" },
      { name: "Ana Colleague", type: "analyst" },
      { name: "National CERT", type: "coordinator" },
    ]);
    assert.equal(row!.credit_answer, "pending");
    const events = await timeline(ctx, report.id, "credit");
    assert.equal(events.length, 1);
    assert.equal(events[0]!.action, "proposed");
    assert.doesNotMatch(String(events[0]!.body), /Ana|rhea|National/);
    assert.match(
      await outboxSubjects(ctx, researcherUser.user.id),
      /Credit proposed: please answer/,
    );
    // Saving the same credit again does not ask again.
    await save({
      creditName0: "rhea",
      creditType0: "finder",
      creditName1: "Ana Colleague",
      creditType1: "analyst",
      creditName2: "National CERT",
      creditType2: "coordinator",
    });
    assert.equal((await timeline(ctx, report.id, "credit")).length, 1);
  });

  it("shows the proposal to the researcher only; the organization, who may not know the researcher, sees no names", async () => {
    const mine = (await page(researcher)).text;
    assert.match(mine, /Your credit in the advisory/);
    assert.match(mine, /Ana Colleague \(Analyst\)/);
    assert.match(mine, /rhea \(Finder\)/);
    const theirs = (await page(orgContact)).text;
    assert.doesNotMatch(theirs, /Ana Colleague|Your credit in the advisory/);
    assert.doesNotMatch(theirs, /\brhea\b/);
    assert.match(theirs, /proposed the credit for the advisory/);
  });

  it("lets nobody but the researcher answer (same answer as a missing report)", async () => {
    for (const who of [triager, orgContact, otherResearcher]) {
      await who.refreshCsrf("/account");
      const res = await answer(who, "accept");
      assert.equal(res.status, 404);
    }
    assert.equal((await advisoryRow(ctx, report.id))!.credit_answer, "pending");
  });

  it("refuses an unknown answer and a missing CSRF token", async () => {
    await researcher.refreshCsrf(`/reports/${report.publicId}`);
    const bad = await answer(researcher, "maybe");
    assert.equal(bad.status, 422);
    assert.match(bad.text, /Choose to accept or decline the credit/);
    const noToken = await researcher.agent
      .post(`/reports/${report.publicId}/credit`)
      .type("form")
      .send({ answer: "accept" });
    assert.equal(noToken.status, 403);
    assert.equal((await advisoryRow(ctx, report.id))!.credit_answer, "pending");
  });

  it("holds publication until the researcher answers", async () => {
    const res = await publish();
    assert.equal(res.status, 422);
    assert.match(res.text, /has not yet accepted or declined the credit/);
    const state = await ctx.db
      .selectFrom("reports")
      .select("state")
      .where("id", "=", report.id)
      .executeTakeFirstOrThrow();
    assert.equal(state.state, "fix_verified");
  });

  it("records a decline, then an accept, each audited, on the timeline and mailed to the CERT", async () => {
    const declined = await answer(researcher, "decline");
    assert.equal(declined.status, 303);
    assert.equal(
      (await advisoryRow(ctx, report.id))!.credit_answer,
      "declined",
    );
    const accepted = await answer(researcher, "accept");
    assert.equal(accepted.status, 303);
    assert.equal(
      (await advisoryRow(ctx, report.id))!.credit_answer,
      "accepted",
    );
    const actions = (await timeline(ctx, report.id, "credit")).map(
      (e) => e.action,
    );
    assert.deepEqual(actions, ["proposed", "declined", "accepted"]);
    const audits = await auditActions(ctx, "report.credit_answered");
    assert.deepEqual(
      audits.map((a) => JSON.parse(a.details!).answer),
      ["declined", "accepted"],
    );
    const staffMail = await outboxSubjects(ctx, researcherUser.user.id, true);
    assert.match(staffMail, /Credit declined/);
    assert.match(staffMail, /Credit accepted/);
    const html = (await page(triager)).text;
    assert.match(
      html,
      /Researcher's answer:<\/strong> Accepted by the researcher/,
    );
  });

  it("asks again when the credit changes after an answer", async () => {
    await save({
      creditName0: "rhea",
      creditType0: "finder",
      creditName1: "Ana Colleague",
      creditType1: "remediation_verifier",
      creditName2: "National CERT",
      creditType2: "coordinator",
    });
    assert.equal((await advisoryRow(ctx, report.id))!.credit_answer, "pending");
    assert.equal((await publish()).status, 422);
    await researcher.refreshCsrf(`/reports/${report.publicId}`);
    assert.equal((await answer(researcher, "accept")).status, 303);
  });

  it("publishes every accepted credit with its type, on the advisory and the acknowledgments", async () => {
    assert.equal((await publish()).status, 303);
    const advisory = await supertest(ctx.app).get(
      `/advisories/${report.publicId}`,
    );
    assert.equal(advisory.status, 200);
    assert.match(advisory.text, /rhea \(Finder\)/);
    assert.match(advisory.text, /Ana Colleague \(Remediation verifier\)/);
    assert.match(advisory.text, /National CERT \(Coordinator\)/);
    assert.doesNotMatch(advisory.text, /Rhea Real-Name/);
    const thanks = await supertest(ctx.app).get("/acknowledgments");
    assert.match(thanks.text, /Ana Colleague/);
    assert.match(thanks.text, /rhea/);
  });

  it("keeps the credit as published: no more answers, and the triager's form no longer changes it", async () => {
    await researcher.refreshCsrf(`/reports/${report.publicId}`);
    const late = await answer(researcher, "decline");
    assert.equal(late.status, 422);
    assert.match(late.text, /There is no credit to answer/);
    const before = await advisoryRow(ctx, report.id);
    await triager.refreshCsrf(`/reports/${report.publicId}`);
    const res = await save({
      creditName0: "Someone Else",
      creditType0: "tool",
    });
    assert.equal(res.status, 303);
    const now = await advisoryRow(ctx, report.id);
    assert.equal(now!.credits, before!.credits);
    assert.equal(now!.credit_answer, "accepted");
  });
});

describe("credit declined, or nobody credited", () => {
  let ctx: TestContext;
  let triager: Browser;
  let researcher: Browser;

  before(async () => {
    ctx = await createTestContext();
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    researcher = await signedIn(
      ctx,
      await createUser(ctx, "researcher", { displayName: "Dana Declines" }),
    );
  });
  after(() => ctx.close());

  async function publishable() {
    const r = await insertReport(ctx, {
      reporterId: (
        await ctx.db
          .selectFrom("users")
          .select("id")
          .where("display_name", "=", "Dana Declines")
          .executeTakeFirstOrThrow()
      ).id,
      organizationId: (await createOrg(ctx)).id,
      state: "fix_verified",
    });
    await triager.refreshCsrf(`/reports/${r.publicId}`);
    return r;
  }

  it("publishes a declined credit as nobody", async () => {
    const r = await publishable();
    await triager.post(`/reports/${r.publicId}/advisory`, {
      title: "Appointments readable by changing an ID",
      summary: SUMMARY,
      creditName0: "Dana Declines",
      creditType0: "finder",
    });
    await researcher.refreshCsrf(`/reports/${r.publicId}`);
    assert.equal(
      (
        await researcher.post(`/reports/${r.publicId}/credit`, {
          answer: "decline",
        })
      ).status,
      303,
    );
    assert.equal(
      (
        await triager.post(`/reports/${r.publicId}/transition`, {
          name: "publish",
          confirm: "yes",
        })
      ).status,
      303,
    );
    const advisory = await supertest(ctx.app).get(`/advisories/${r.publicId}`);
    assert.doesNotMatch(advisory.text, /Dana Declines/);
    const thanks = await supertest(ctx.app).get("/acknowledgments");
    assert.doesNotMatch(thanks.text, /Dana Declines/);
  });

  it("publishes without waiting when the triager credits nobody (an unresponsive researcher)", async () => {
    const r = await publishable();
    const res = await triager.post(`/reports/${r.publicId}/advisory`, {
      title: "Appointments readable by changing an ID",
      summary: SUMMARY,
      creditName0: "",
      creditType0: "finder",
    });
    assert.equal(res.status, 303);
    assert.equal(
      (
        await triager.post(`/reports/${r.publicId}/transition`, {
          name: "publish",
          confirm: "yes",
        })
      ).status,
      303,
    );
    const advisory = await supertest(ctx.app).get(`/advisories/${r.publicId}`);
    assert.equal(advisory.status, 200);
    assert.doesNotMatch(advisory.text, /Dana Declines/);
  });
});

describe("the researcher asks for disclosure; the CERT decides", () => {
  let ctx: TestContext;
  let triager: Browser;
  let researcher: Browser;
  let researcherUser: TestUser;
  let orgContact: Browser;
  let notified: { id: number; publicId: string };
  let early: { id: number; publicId: string };

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx);
    researcherUser = await createUser(ctx, "researcher");
    notified = await insertReport(ctx, {
      reporterId: researcherUser.user.id,
      organizationId: org.id,
      state: "fix_in_progress",
    });
    early = await insertReport(ctx, {
      reporterId: researcherUser.user.id,
      organizationId: org.id,
      state: "triaged",
    });
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    researcher = await signedIn(ctx, researcherUser);
    orgContact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [org.id] }),
    );
  });
  after(() => ctx.close());

  const requestedAt = async (id: number) =>
    (
      await ctx.db
        .selectFrom("reports")
        .select("disclosure_requested_at")
        .where("id", "=", id)
        .executeTakeFirstOrThrow()
    ).disclosure_requested_at;

  it("is not offered before the organization was notified, and refused if forced", async () => {
    const html = (await researcher.agent.get(`/reports/${early.publicId}`))
      .text;
    assert.doesNotMatch(html, /Ask for disclosure/);
    await researcher.refreshCsrf(`/reports/${early.publicId}`);
    const res = await researcher.post(
      `/reports/${early.publicId}/disclosure-request`,
      { disclosureReason: "Please." },
    );
    assert.equal(res.status, 422);
    assert.match(res.text, /once the organization has been notified/);
    assert.equal(await requestedAt(early.id), null);
  });

  it("is the researcher's alone to ask", async () => {
    for (const who of [triager, orgContact]) {
      await who.refreshCsrf("/account");
      const res = await who.post(
        `/reports/${notified.publicId}/disclosure-request`,
        { disclosureReason: "" },
      );
      assert.equal(res.status, 404);
    }
    assert.equal(await requestedAt(notified.id), null);
  });

  it("records the request with its reason, audits it and tells the CERT; a second request is refused", async () => {
    await researcher.refreshCsrf(`/reports/${notified.publicId}`);
    assert.match(
      (await researcher.agent.get(`/reports/${notified.publicId}`)).text,
      /Ask for disclosure/,
    );
    const res = await researcher.post(
      `/reports/${notified.publicId}/disclosure-request`,
      { disclosureReason: "The fix is out for two weeks now." },
    );
    assert.equal(res.status, 303);
    assert.equal(await requestedAt(notified.id), ctx.clock.now().getTime());
    const events = await timeline(ctx, notified.id, "disclosure_request");
    assert.equal(events.length, 1);
    assert.equal(events[0]!.action, "requested");
    assert.equal(events[0]!.visibility, "public");
    assert.match(String(events[0]!.body), /The fix is out for two weeks now/);
    assert.equal(
      (await auditActions(ctx, "report.disclosure_requested")).length,
      1,
    );
    assert.match(
      await outboxSubjects(ctx, researcherUser.user.id, true),
      /Disclosure requested/,
    );
    const again = await researcher.post(
      `/reports/${notified.publicId}/disclosure-request`,
      { disclosureReason: "" },
    );
    assert.equal(again.status, 422);
    assert.match(again.text, /You already asked/);
    assert.equal(
      (await timeline(ctx, notified.id, "disclosure_request")).length,
      1,
    );
  });

  it("shows the open request to staff, who answer 'not yet' with a required reason", async () => {
    const html = (await triager.agent.get(`/reports/${notified.publicId}`))
      .text;
    assert.match(html, /The researcher asked for disclosure/);
    // The queue says so too, on that report's row only.
    const queue = (await triager.agent.get("/queue")).text;
    const row = (id: string) =>
      new RegExp(`${id}[\\s\\S]*?</tr>`).exec(queue)?.[0] ?? "";
    assert.match(row(notified.publicId), /Disclosure requested \d+ \w+ \d{4}/);
    assert.doesNotMatch(row(early.publicId), /Disclosure requested/);
    await triager.refreshCsrf(`/reports/${notified.publicId}`);
    const empty = await triager.post(
      `/reports/${notified.publicId}/disclosure-request/decline`,
      { declineReason: " " },
    );
    assert.equal(empty.status, 422);
    assert.match(empty.text, /Reason is required/);
    assert.notEqual(await requestedAt(notified.id), null);
    // The researcher cannot answer their own request.
    await researcher.refreshCsrf(`/reports/${notified.publicId}`);
    assert.equal(
      (
        await researcher.post(
          `/reports/${notified.publicId}/disclosure-request/decline`,
          { declineReason: "I changed my mind." },
        )
      ).status,
      404,
    );
    const res = await triager.post(
      `/reports/${notified.publicId}/disclosure-request/decline`,
      { declineReason: "The organization is still rolling the fix out." },
    );
    assert.equal(res.status, 303);
    assert.equal(await requestedAt(notified.id), null);
    assert.match(
      await outboxSubjects(ctx, researcherUser.user.id),
      /Disclosure not yet/,
    );
    assert.doesNotMatch(
      (await triager.agent.get("/queue")).text,
      /Disclosure requested/,
    );
    const mine = (await researcher.agent.get(`/reports/${notified.publicId}`))
      .text;
    assert.match(mine, /Not yet published: The organization is still rolling/);
    assert.match(mine, /Ask for disclosure/, "may ask again later");
  });

  it("refuses to answer a request that is not open", async () => {
    await triager.refreshCsrf(`/reports/${notified.publicId}`);
    const res = await triager.post(
      `/reports/${notified.publicId}/disclosure-request/decline`,
      { declineReason: "Nothing to answer." },
    );
    assert.equal(res.status, 422);
    assert.match(res.text, /There is no open request for disclosure/);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { createOrg, insertReport } from "../support/fixtures.js";

/**
 * Every comment is written to one audience, chosen on the form from
 * exactly what the policy lets the writer choose (writableAudiences), and
 * reaches only those: on their pages and by mail. Two organizations on one
 * case never read each other's thread.
 */
describe("comment audiences: who reads each message", () => {
  let ctx: TestContext;
  let triager: Browser;
  let researcher: Browser;
  let researcherUser: TestUser;
  let contactA: Browser;
  let contactB: Browser;
  let contactAUser: TestUser;
  let contactBUser: TestUser;
  let orgA: { id: number; publicId: string; name: string };
  let orgB: { id: number; publicId: string; name: string };
  let report: { id: number; publicId: string };

  const page = async (who: Browser) => {
    const res = await who.agent.get(`/reports/${report.publicId}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    return shown(res.text);
  };
  const comment = (who: Browser, body: string, audience?: string) =>
    who.post(`/reports/${report.publicId}/comments`, {
      body,
      ...(audience !== undefined && { audience }),
    });
  const mailTo = async (userId: number) =>
    (
      await ctx.db
        .selectFrom("outbox")
        .select(["subject", "text_body"])
        .where("to_user_id", "=", userId)
        .execute()
    )
      .map((m) => `${m.subject}\n${m.text_body}`)
      .join("\n");
  const commentCount = async () =>
    (
      await ctx.db
        .selectFrom("report_events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("report_id", "=", report.id)
        .where("kind", "=", "comment")
        .executeTakeFirstOrThrow()
    ).n;
  const lastComment = () =>
    ctx.db
      .selectFrom("report_events")
      .select(["audience", "audience_org_id", "body"])
      .where("report_id", "=", report.id)
      .where("kind", "=", "comment")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();

  before(async () => {
    ctx = await createTestContext();
    orgA = await createOrg(ctx, "Alpha Water Works");
    orgB = await createOrg(ctx, "Beta Power Grid");
    researcherUser = await createUser(ctx, "researcher");
    contactAUser = await createUser(ctx, "org_contact", { orgIds: [orgA.id] });
    contactBUser = await createUser(ctx, "org_contact", { orgIds: [orgB.id] });
    report = await insertReport(ctx, {
      reporterId: researcherUser.user.id,
      state: "vendor_notified",
      organizationId: orgA.id,
      revealIdentity: true,
    });
    // The second organization, notified too.
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: report.id,
        organization_id: orgB.id,
        added_at: ctx.clock.now().getTime(),
        notified_at: ctx.clock.now().getTime(),
      })
      .execute();
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    researcher = await signedIn(ctx, researcherUser);
    contactA = await signedIn(ctx, contactAUser);
    contactB = await signedIn(ctx, contactBUser);
  });
  after(() => ctx.close());

  it("the form names who will read it, and offers each writer only what the policy allows", async () => {
    const staffPage = await page(triager);
    for (const words of [
      "The CERT and the researcher",
      "The CERT and Alpha Water Works",
      "The CERT, the researcher and Alpha Water Works",
      "The CERT and Beta Power Grid",
      "The CERT, the researcher and Beta Power Grid",
      "Everyone on the case",
    ])
      assert.ok(staffPage.includes(words), words);

    const researcherPage = await page(researcher);
    assert.match(researcherPage, /Only the CERT/);
    assert.match(researcherPage, /The CERT, you and Alpha Water Works/);
    assert.match(researcherPage, /The CERT, you and Beta Power Grid/);
    assert.doesNotMatch(researcherPage, /Everyone on the case/);

    const contactPage = await page(contactA);
    assert.match(contactPage, /The CERT and Alpha Water Works/);
    assert.match(contactPage, /The CERT, the researcher and Alpha Water Works/);
    assert.doesNotMatch(contactPage, /Beta Power Grid/);
    // Before the case is open, never everyone.
    assert.doesNotMatch(contactPage, /Everyone on the case/);
    // It starts on the organization's own thread with the CERT and the researcher.
    assert.match(
      contactPage,
      new RegExp(`value="org_researcher:${orgA.publicId}" checked`),
    );
  });

  it("a comment to one organization with the researcher reaches them, by mail and on their pages, never the other organization", async () => {
    const body = "Alpha: the patch window is Tuesday night.";
    const res = await comment(triager, body, `org_researcher:${orgA.publicId}`);
    assert.equal(res.status, 303, res.text.slice(0, 500));
    const written = await lastComment();
    assert.equal(written.audience, "org_researcher");
    assert.equal(written.audience_org_id, orgA.id);

    assert.match(await page(researcher), /patch window is Tuesday/);
    assert.match(await page(contactA), /patch window is Tuesday/);
    assert.doesNotMatch(await page(contactB), /patch window/);

    assert.match(await mailTo(researcherUser.user.id), /New comment/);
    assert.match(await mailTo(contactAUser.user.id), /New comment/);
    assert.doesNotMatch(await mailTo(contactBUser.user.id), /New comment/);

    // Staff read who it was written to.
    assert.match(
      await page(triager),
      /Read by: The CERT, the researcher and Alpha Water Works/,
    );
  });

  it("a comment to the CERT and one organization does not reach the researcher", async () => {
    const before = await mailTo(researcherUser.user.id);
    const res = await comment(
      triager,
      "Beta only: please confirm your firmware version.",
      `org:${orgB.publicId}`,
    );
    assert.equal(res.status, 303);
    assert.match(await page(contactB), /confirm your firmware version/);
    assert.doesNotMatch(await page(contactA), /firmware version/);
    assert.doesNotMatch(await page(researcher), /firmware version/);
    assert.equal(await mailTo(researcherUser.user.id), before);
    assert.match(await mailTo(contactBUser.user.id), /New comment/);
  });

  it("a forged audience or organization is refused next to the field, the text kept, nothing written", async () => {
    const before = await commentCount();
    const typed = "A long careful message the writer must not lose.";
    for (const [who, audience] of [
      [triager, "org_researcher:NOT-AN-ORG"],
      [triager, "internal"],
      [triager, `org_researcher:${String(orgA.id)}`],
      [researcher, "everyone"],
      [researcher, `org:${orgA.publicId}`],
      // An organization writing into the other's thread.
      [contactA, `org:${orgB.publicId}`],
      [contactA, `org_researcher:${orgB.publicId}`],
      // An organization cannot write to everyone before the case is open.
      [contactA, "everyone"],
      [contactA, ""],
    ] as const) {
      const res = await comment(who, typed, audience);
      assert.equal(res.status, 422, `${audience}: ${res.status}`);
      const html = shown(res.text);
      assert.match(html, /Choose who will read your comment/);
      assert.ok(html.includes(typed), "the text is kept");
    }
    assert.equal(await commentCount(), before);
    assert.doesNotMatch(await mailTo(contactBUser.user.id), /careful message/);
  });

  it("once the case is open, an organization may write to everyone", async () => {
    await ctx.db
      .updateTable("reports")
      .set({ case_open: 1 })
      .where("id", "=", report.id)
      .execute();
    assert.match(await page(contactA), /Everyone on the case/);
    const res = await comment(
      contactA,
      "Alpha to all: we are affected.",
      "everyone",
    );
    assert.equal(res.status, 303);
    assert.match(await page(contactB), /we are affected/);
    await ctx.db
      .updateTable("reports")
      .set({ case_open: 0 })
      .where("id", "=", report.id)
      .execute();
  });

  it("an organization's comment without a choice (the API, a reply by mail) stays in its own thread", async () => {
    const res = await comment(contactB, "Beta: investigating on our side.");
    assert.equal(res.status, 303);
    const written = await lastComment();
    assert.equal(written.audience, "org_researcher");
    assert.equal(written.audience_org_id, orgB.id);
    assert.doesNotMatch(await page(contactA), /investigating on our side/);
    assert.match(await page(researcher), /investigating on our side/);
  });

  it("a message between the researcher and the CERT is shared with one organization, chosen on the form", async () => {
    const eventId = (
      await ctx.db
        .insertInto("report_events")
        .values({
          report_id: report.id,
          actor_id: researcherUser.user.id,
          kind: "comment",
          visibility: "public",
          audience: "researcher",
          body: "Only for the CERT: I also found the admin panel.",
          created_at: ctx.clock.now().getTime(),
        })
        .returning("id")
        .executeTakeFirstOrThrow()
    ).id;
    const staffPage = await page(triager);
    assert.match(staffPage, /Share with this organization/);
    // Several notified: the organization must be named.
    const refused = await triager.post(`/reports/${report.publicId}/share`, {
      event: String(eventId),
    });
    assert.equal(refused.status, 422);
    assert.doesNotMatch(await page(contactB), /admin panel/);

    const res = await triager.post(`/reports/${report.publicId}/share`, {
      event: String(eventId),
      organization: orgB.publicId,
    });
    assert.equal(res.status, 303, res.text.slice(0, 400));
    assert.match(await page(contactB), /admin panel/);
    assert.doesNotMatch(await page(contactA), /admin panel/);
    assert.match(await page(researcher), /admin panel/);
    assert.match(await page(triager), /shared with Beta Power Grid/);
  });

  it("each organization's mail subject carries its own tracking ID beside the report ID, and a malformed one never", async () => {
    const setTracking = (orgId: number, trackingId: string) =>
      ctx.db
        .updateTable("participations")
        .set({ tracking_id: trackingId })
        .where("report_id", "=", report.id)
        .where("organization_id", "=", orgId)
        .execute();
    await setTracking(orgA.id, "ACME-123");
    // Written past the form's check: the subject checks it again.
    await setTracking(orgB.id, "BETA-9\r\nBcc: victim@example.test");
    await ctx.db.deleteFrom("outbox").execute();
    const res = await comment(
      triager,
      "To all: coordinated date set.",
      "everyone",
    );
    assert.equal(res.status, 303);
    const subjects = async (userId: number) =>
      (
        await ctx.db
          .selectFrom("outbox")
          .select("subject")
          .where("to_user_id", "=", userId)
          .execute()
      ).map((m) => m.subject);
    assert.deepEqual(await subjects(contactAUser.user.id), [
      `[${report.publicId}] [ACME-123] New comment`,
    ]);
    assert.deepEqual(await subjects(contactBUser.user.id), [
      `[${report.publicId}] New comment`,
    ]);
    assert.deepEqual(await subjects(researcherUser.user.id), [
      `[${report.publicId}] New comment`,
    ]);
  });

  it("with many organizations the choices are a list to pick from, still exactly the policy's", async () => {
    const gamma = await createOrg(ctx, "Gamma Telecom");
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: report.id,
        organization_id: gamma.id,
        added_at: ctx.clock.now().getTime(),
        notified_at: ctx.clock.now().getTime(),
      })
      .execute();
    const html = shown(
      (await triager.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.match(html, /<select id="f-audience" name="audience"/);
    assert.match(html, /The CERT, the researcher and Gamma Telecom/);
    const res = await comment(
      triager,
      "Gamma: please confirm.",
      `org:${gamma.publicId}`,
    );
    assert.equal(res.status, 303);
    const refused = await comment(triager, "Kept text.", "org:GAMMA");
    assert.equal(refused.status, 422);
    assert.match(shown(refused.text), /Kept text\./);
  });
});

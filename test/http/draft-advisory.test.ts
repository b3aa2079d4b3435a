import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  addressFanouts,
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

const DRAFT = {
  title: "Authorization bypass in the North Hospital portal",
  summary: "Booking IDs could be changed to read **other patients'** data.",
  cveId: "CVE-2026-12345",
  creditName0: "Rhea Real-Name",
  creditType0: "finder",
};

/** The draft panel of a report page, or "" when there is none. */
function panelOf(html: string): string {
  const page = shown(html);
  const start = page.indexOf('id="draft-advisory-title"');
  return start < 0 ? "" : page.slice(start, page.indexOf("</section>", start));
}

describe("the draft advisory: read and commented on by everyone on the case before publication", () => {
  let ctx: TestContext;
  let rhea: Browser;
  let bob: Browser;
  let triager: Browser;
  let contactA: Browser;
  let contactB: Browser;
  let triagerId: number;
  let orgA: { id: number };
  let rheaId: number;

  before(async () => {
    ctx = await createTestContext();
    orgA = await createOrg(ctx, "North Hospital");
    const orgB = await createOrg(ctx, "South Clinic");
    const rheaUser = await createUser(ctx, "researcher", {
      displayName: "Rhea Real-Name",
    });
    rheaId = rheaUser.user.id;
    const triagerUser = await createUser(ctx, "triager");
    triagerId = triagerUser.user.id;
    rhea = await signedIn(ctx, rheaUser);
    bob = await signedIn(ctx, await createUser(ctx, "researcher"));
    triager = await signedIn(ctx, triagerUser);
    contactA = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [orgA.id] }),
    );
    contactB = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [orgB.id] }),
    );
  });
  after(() => ctx.close());

  async function post(
    who: Browser,
    publicId: string,
    path: string,
    fields: Record<string, string>,
  ) {
    await who.refreshCsrf("/account");
    return who.post(`/reports/${publicId}/${path}`, fields);
  }

  async function forwarded(state: "fix_verified" | "triaged" = "fix_verified") {
    return insertReport(ctx, {
      reporterId: rheaId,
      organizationId: orgA.id,
      state,
      revealIdentity: false,
    });
  }

  const saveDraft = async (publicId: string) =>
    assert.equal(
      (await post(triager, publicId, "advisory", DRAFT)).status,
      303,
    );

  /** The same 404 as a report that does not exist, for this person. */
  async function assertNotFound(who: Browser, publicId: string) {
    const fields = { body: "Looks good to us." };
    const res = await post(who, publicId, "draft-advisory/comments", fields);
    const missing = await post(
      who,
      "DD-0000-0000",
      "draft-advisory/comments",
      fields,
    );
    assert.equal(res.status, 404);
    assert.equal(res.text, missing.text);
  }

  it("shows nothing, and takes no comment, before a draft is saved", async () => {
    const report = await forwarded();
    const page = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.equal(panelOf(page.text), "");
    await assertNotFound(rhea, report.publicId);
    await assertNotFound(contactA, report.publicId);
  });

  it("shows the researcher and the notified organization the draft as it would be published; credit names only to the researcher", async () => {
    const report = await forwarded();
    await saveDraft(report.publicId);
    const own = panelOf(
      (await rhea.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.ok(own.includes(DRAFT.title));
    assert.ok(own.includes("<strong>other patients'</strong>"));
    assert.ok(own.includes("CVE-2026-12345"));
    assert.ok(own.includes("Rhea Real-Name (Finder)"));
    assert.match(own, /not yet accepted or declined/);
    // Read-only: no fields of the triager's form.
    assert.doesNotMatch(own, /name="summary"|name="creditName0"/);

    const org = panelOf(
      (await contactA.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.ok(org.includes(DRAFT.title));
    assert.ok(org.includes("CVE-2026-12345"));
    assert.doesNotMatch(org, /Rhea/);
    assert.match(
      org,
      /shown to your organization when the advisory is published/,
    );

    // Not even when the researcher revealed themselves to the organization.
    const revealed = await insertReport(ctx, {
      reporterId: rheaId,
      organizationId: orgA.id,
      state: "fix_verified",
      revealIdentity: true,
    });
    await saveDraft(revealed.publicId);
    const told = panelOf(
      (await contactA.agent.get(`/reports/${revealed.publicId}`)).text,
    );
    assert.ok(told.includes(DRAFT.title));
    assert.doesNotMatch(told, /Rhea Real-Name \(Finder\)/);

    // Staff have the form, not the read-only panel.
    const staff = await triager.agent.get(`/reports/${report.publicId}`);
    assert.equal(panelOf(staff.text), "");

    // Another organization, another researcher: nothing at all.
    assert.equal(
      (await contactB.agent.get(`/reports/${report.publicId}`)).status,
      404,
    );
    await assertNotFound(contactB, report.publicId);
    await assertNotFound(bob, report.publicId);
  });

  it("a comment on the draft is marked as such on the timeline, read by everyone on the case, and mailed", async () => {
    const report = await forwarded();
    await saveDraft(report.publicId);
    const res = await post(
      contactA,
      report.publicId,
      "draft-advisory/comments",
      {
        body: "Please name the fixed version: 4.2.1.",
      },
    );
    assert.equal(res.status, 303);
    const events = await ctx.db
      .selectFrom("report_events")
      .select(["kind", "action", "audience", "body"])
      .where("report_id", "=", report.id)
      .where("kind", "=", "comment")
      .execute();
    assert.deepEqual(events, [
      {
        kind: "comment",
        action: "draft_advisory",
        audience: "everyone",
        body: "Please name the fixed version: 4.2.1.",
      },
    ]);
    for (const who of [rhea, triager, contactA]) {
      const page = shown(
        (await who.agent.get(`/reports/${report.publicId}`)).text,
      );
      assert.match(page, /commented on the draft advisory/);
      assert.ok(page.includes("Please name the fixed version: 4.2.1."));
    }
    await addressFanouts(ctx);
    const mail = await ctx.db
      .selectFrom("outbox")
      .select(["to_user_id", "subject"])
      .where(
        "subject",
        "=",
        `[${report.publicId}] Comment on the draft advisory`,
      )
      .execute();
    const to = mail.map((m) => m.to_user_id);
    assert.ok(to.includes(rheaId));
    assert.ok(to.includes(triagerId));
  });

  it("the researcher's comment on the draft while the CERT waits for them is their answer: the report does not expire", async () => {
    const report = await forwarded("triaged");
    await saveDraft(report.publicId);
    const asked = await post(triager, report.publicId, "transition", {
      name: "request_info",
      message: "Which version did you test?",
    });
    assert.equal(asked.status, 303);
    assert.match(
      panelOf((await rhea.agent.get(`/reports/${report.publicId}`)).text),
      /this comment is sent as your answer/,
    );
    const res = await post(rhea, report.publicId, "draft-advisory/comments", {
      body: "Version 4.2.0; the title is right.",
    });
    assert.equal(res.status, 303);
    const row = await ctx.db
      .selectFrom("reports")
      .select(["state", "info_requested_at"])
      .where("id", "=", report.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { state: "triaged", info_requested_at: null });
    const answer = await ctx.db
      .selectFrom("report_events")
      .select(["action", "body"])
      .where("report_id", "=", report.id)
      .where("action", "=", "provide_info")
      .executeTakeFirstOrThrow();
    assert.equal(answer.body, "Version 4.2.0; the title is right.");
    const page = shown(
      (await rhea.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.match(page, /sent to the CERT as your answer/);
  });

  it("an empty comment is refused next to its field, nothing written", async () => {
    const report = await forwarded();
    await saveDraft(report.publicId);
    const res = await post(rhea, report.publicId, "draft-advisory/comments", {
      body: "  ",
    });
    assert.equal(res.status, 422);
    assert.match(panelOf(res.text), /id="f-draft-comment-error"/);
    const count = await ctx.db
      .selectFrom("report_events")
      .select("id")
      .where("report_id", "=", report.id)
      .where("kind", "=", "comment")
      .execute();
    assert.equal(count.length, 0);
  });

  it("an organization not yet notified sees nothing; the researcher reads the draft", async () => {
    const report = await forwarded("triaged");
    await saveDraft(report.publicId);
    assert.equal(
      (await contactA.agent.get(`/reports/${report.publicId}`)).status,
      404,
    );
    await assertNotFound(contactA, report.publicId);
    const own = panelOf(
      (await rhea.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.ok(own.includes(DRAFT.title));
  });

  it("after publication there is no draft: no panel, and the draft route answers 404", async () => {
    const report = await forwarded();
    await saveDraft(report.publicId);
    // The researcher accepts the credit; then the triager publishes.
    assert.equal(
      (await post(rhea, report.publicId, "credit", { answer: "accept" }))
        .status,
      303,
    );
    assert.equal(
      (
        await post(triager, report.publicId, "transition", {
          name: "publish",
          confirm: "yes",
        })
      ).status,
      303,
    );
    const page = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.equal(panelOf(page.text), "");
    await assertNotFound(rhea, report.publicId);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { insertReport } from "../support/fixtures.js";
import {
  addressFanouts,
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

const EDIT = {
  title: "Appointment of any patient readable by changing the booking ID",
  asset: "https://portal.example.test/booking",
  description:
    "Changing the booking ID in the URL shows another patient's appointment.",
  steps: "1. Sign in\n2. Open a booking\n3. Change the zebracorn parameter",
  impact: "Every patient's appointment can be read.",
};

describe("the researcher corrects their report until it is acknowledged", () => {
  let ctx: TestContext;
  let rheaUser: TestUser;
  let triagerUser: TestUser;
  let rhea: Browser;
  let triager: Browser;
  let bob: Browser;

  before(async () => {
    ctx = await createTestContext();
    rheaUser = await createUser(ctx, "researcher", { displayName: "Rhea" });
    triagerUser = await createUser(ctx, "triager");
    rhea = await signedIn(ctx, rheaUser);
    triager = await signedIn(ctx, triagerUser);
    bob = await signedIn(ctx, await createUser(ctx, "researcher"));
  });
  after(() => ctx.close());

  const row = (id: number) =>
    ctx.db
      .selectFrom("reports")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();

  async function editOf(who: Browser, publicId: string, fields: object) {
    await who.refreshCsrf(`/reports/${publicId}`);
    return who.post(`/reports/${publicId}/edit`, {
      ...EDIT,
      ...fields,
    } as Record<string, string>);
  }

  it("saves the edit, keeps the earlier version for staff, puts it on the timeline and in the search index", async () => {
    const report = await insertReport(ctx, { reporterId: rheaUser.user.id });
    const before = await row(report.id);
    const page = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.match(
      page.text,
      new RegExp(`href="/reports/${report.publicId}/edit">Edit report`),
    );
    const form = await rhea.agent.get(`/reports/${report.publicId}/edit`);
    assert.equal(form.status, 200);
    assert.match(
      shown(form.text),
      /value="https:\/\/portal.example.test\/appointments"/,
    );

    const res = await editOf(rhea, report.publicId, {});
    assert.equal(res.status, 303);
    const after = await row(report.id);
    assert.equal(after.title, EDIT.title);
    assert.equal(after.steps, EDIT.steps);
    assert.equal(after.state, "submitted");

    const events = await ctx.db
      .selectFrom("report_events")
      .select(["id", "kind", "action", "body", "actor_id"])
      .where("report_id", "=", report.id)
      .execute();
    const edit = events.find((e) => e.action === "submission_edited")!;
    assert.equal(edit.kind, "field_change");
    assert.equal(edit.actor_id, rheaUser.user.id);
    assert.equal(
      edit.body,
      "Changed: title, affected asset, description, steps to reproduce.",
    );
    const revisions = await ctx.db
      .selectFrom("report_revisions")
      .selectAll()
      .where("report_id", "=", report.id)
      .execute();
    assert.equal(revisions.length, 1);
    assert.equal(revisions[0]!.title, before.title);
    assert.equal(revisions[0]!.steps, before.steps);
    assert.equal(revisions[0]!.event_id, edit.id);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "=", "report.submission_edited")
      .where("target_id", "=", report.publicId)
      .execute();
    assert.equal(audit.length, 1);
    await addressFanouts(ctx);
    const mail = await ctx.db
      .selectFrom("outbox")
      .select("subject")
      .where("to_user_id", "=", triagerUser.user.id)
      .execute();
    assert.ok(
      mail.some(
        (m) => m.subject === `[${report.publicId}] Edited by the researcher`,
      ),
    );

    // The researcher sees the entry; staff also get the earlier version.
    const own = shown(
      (await rhea.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.match(own, /Rhea<\/strong> \(Researcher\) edited the report/);
    assert.doesNotMatch(own, /See the version before this edit/);
    const staff = shown(
      (await triager.agent.get(`/reports/${report.publicId}`)).text,
    );
    const link = `/reports/${report.publicId}/revisions#revision-${edit.id}`;
    assert.ok(staff.includes(`href="${link}"`));
    const versions = await triager.agent.get(link.split("#")[0]!);
    assert.equal(versions.status, 200);
    assert.ok(shown(versions.text).includes(before.title));
    assert.match(versions.text, new RegExp(`id="revision-${edit.id}"`));

    // Nobody else reads the earlier version: the same 404 as a missing report.
    for (const who of [rhea, bob]) {
      const missing = await who.agent.get("/reports/DD-0000-0000/revisions");
      const res = await who.agent.get(`/reports/${report.publicId}/revisions`);
      assert.equal(res.status, 404);
      assert.equal(res.text, missing.text);
    }

    // The search finds the new words.
    const found = await rhea.agent.get("/search?q=zebracorn");
    assert.ok(found.text.includes(report.publicId));
  });

  it("keeps what was typed next to the field on bad input, and changes nothing", async () => {
    const report = await insertReport(ctx, { reporterId: rheaUser.user.id });
    const before = await row(report.id);
    const res = await editOf(rhea, report.publicId, {
      title: "Bad",
      steps: "My long <script>alert(1)</script> steps, kept",
    });
    assert.equal(res.status, 422);
    assert.match(res.text, /id="f-title-error"/);
    assert.ok(
      res.text.includes(
        "My long &lt;script&gt;alert(1)&lt;/script&gt; steps, kept",
      ),
    );
    assert.doesNotMatch(res.text, /<script>alert/);
    assert.deepEqual(await row(report.id), before);
  });

  it("an edit without the CSRF token is refused and changes nothing", async () => {
    const report = await insertReport(ctx, { reporterId: rheaUser.user.id });
    const before = await row(report.id);
    const res = await rhea.agent
      .post(`/reports/${report.publicId}/edit`)
      .type("form")
      .send(EDIT);
    assert.equal(res.status, 403);
    assert.deepEqual(await row(report.id), before);
  });

  it("refuses after acknowledgment with a clear message, keeping what was typed", async () => {
    const report = await insertReport(ctx, {
      reporterId: rheaUser.user.id,
      state: "acknowledged",
    });
    const before = await row(report.id);
    const page = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.doesNotMatch(page.text, /Edit report/);
    const form = await rhea.agent.get(`/reports/${report.publicId}/edit`);
    assert.equal(form.status, 409);
    assert.match(
      shown(form.text),
      /acknowledged this report, so it can no longer be edited/,
    );
    const res = await editOf(rhea, report.publicId, {
      impact: "My careful new impact text",
    });
    assert.equal(res.status, 409);
    assert.match(shown(res.text), /can no longer be edited/);
    assert.ok(res.text.includes("My careful new impact text"));
    assert.doesNotMatch(res.text, /Save the changes/);
    assert.deepEqual(await row(report.id), before);
  });

  it("nobody but the reporter edits: the same 404 as a missing report", async () => {
    const report = await insertReport(ctx, { reporterId: rheaUser.user.id });
    const before = await row(report.id);
    for (const who of [bob, triager]) {
      const missing = await who.agent.get("/reports/DD-0000-0000/edit");
      const get = await who.agent.get(`/reports/${report.publicId}/edit`);
      assert.equal(get.status, 404);
      assert.equal(get.text, missing.text);
      const post = await editOf(who, report.publicId, {});
      assert.equal(post.status, 404);
    }
    assert.deepEqual(await row(report.id), before);
  });
});

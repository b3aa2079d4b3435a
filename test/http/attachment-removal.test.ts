/**
 * Until a triager acknowledges it, the researcher can take back a file they
 * attached (one showing a real patient's data): gone for them and for the
 * organization, on the timeline and audited, kept for CERT staff.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { findReportById } from "../../src/reports/repository.js";
import { removeAttachment } from "../../src/reports/uploads.js";
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

describe("the researcher removes an attachment before acknowledgment", () => {
  let ctx: TestContext;
  let rheaUser: TestUser;
  let rhea: Browser;
  let triager: Browser;
  let bob: Browser;
  let contact: Browser;
  let orgId: number;

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Clinic Org");
    orgId = org.id;
    rheaUser = await createUser(ctx, "researcher", { displayName: "Rhea" });
    rhea = await signedIn(ctx, rheaUser);
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    bob = await signedIn(ctx, await createUser(ctx, "researcher"));
    contact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [org.id] }),
    );
  });
  after(() => ctx.close());

  async function upload(publicId: string, name: string, text: string) {
    await rhea.refreshCsrf(`/reports/${publicId}`);
    const res = await rhea.agent
      .post(`/reports/${publicId}/attachments`)
      .field("_csrf", rhea.csrf)
      .attach("attachments", Buffer.from(text), name);
    assert.equal(res.status, 303);
    return ctx.db
      .selectFrom("attachments")
      .selectAll()
      .where("file_name", "=", name)
      .executeTakeFirstOrThrow();
  }
  const attachment = (id: number) =>
    ctx.db
      .selectFrom("attachments")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
  async function remove(who: Browser, publicId: string, aid: string) {
    await who.refreshCsrf(`/reports/${publicId}`);
    return who.post(`/reports/${publicId}/attachments/${aid}/remove`);
  }

  it("removes the file for the researcher and the organization, on the timeline and audited, kept for staff", async () => {
    const report = await insertReport(ctx, {
      reporterId: rheaUser.user.id,
      organizationId: orgId,
    });
    const patient = await upload(
      report.publicId,
      "patient-record.txt",
      "Name: Jane Roe, born 1970\n",
    );
    const proof = await upload(report.publicId, "proof.txt", "proof\n");
    const href = `/reports/${report.publicId}/attachments/${patient.public_id}`;

    const page = shown(
      (await rhea.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.ok(page.includes(`action="${href}/remove"`));
    assert.ok(
      page.includes(
        `action="/reports/${report.publicId}/attachments/${proof.public_id}/remove"`,
      ),
    );

    // The edit page lists the researcher's files with the same button.
    const edit = shown(
      (await rhea.agent.get(`/reports/${report.publicId}/edit`)).text,
    );
    assert.ok(edit.includes(`action="${href}/remove"`));

    // Without the CSRF token: refused, nothing changed.
    const forged = await rhea.agent
      .post(`${href}/remove`)
      .type("form")
      .send({});
    assert.equal(forged.status, 403);
    assert.equal((await attachment(patient.id)).removed_at, null);

    // Nobody but its researcher may remove it: the policy's 404.
    for (const who of [bob, triager]) {
      const res = await remove(who, report.publicId, patient.public_id);
      assert.equal(res.status, 404);
    }
    assert.equal((await attachment(patient.id)).removed_at, null);

    const res = await remove(rhea, report.publicId, patient.public_id);
    assert.equal(res.status, 303);
    const row = await attachment(patient.id);
    assert.ok(row.removed_at !== null);
    assert.equal(row.removed_by, rheaUser.user.id);
    assert.equal((await attachment(proof.id)).removed_at, null);

    const events = await ctx.db
      .selectFrom("report_events")
      .select(["kind", "action", "actor_id", "body"])
      .where("report_id", "=", report.id)
      .where("action", "=", "attachment_removed")
      .execute();
    assert.equal(events.length, 1);
    assert.equal(events[0]!.actor_id, rheaUser.user.id);
    assert.ok(!events[0]!.body?.includes("patient"));
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("details")
      .where("action", "=", "report.attachment_removed")
      .where("target_id", "=", report.publicId)
      .execute();
    assert.equal(audit.length, 1);
    assert.ok(audit[0]!.details?.includes(patient.public_id));

    // The researcher no longer sees it, nor can download it; the other stays.
    const own = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.match(shown(own.text), /patient-record\.txt was removed/);
    assert.ok(!own.text.includes(`href="${href}"`));
    assert.ok(own.text.includes(`>proof.txt</a>`));
    const later = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.ok(!later.text.includes("patient-record.txt"));
    assert.match(
      shown(own.text),
      /Rhea<\/strong> \(Researcher\) removed a file/,
    );
    assert.equal((await rhea.agent.get(href)).status, 404);
    // Removing it again: there is nothing left to remove.
    assert.equal(
      (await remove(rhea, report.publicId, patient.public_id)).status,
      404,
    );

    // Staff see it marked removed, download it, and find it with the earlier versions.
    const staff = shown(
      (await triager.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.ok(staff.includes(`href="${href}"`));
    assert.match(
      staff,
      /Removed<\/strong> <span class="hint">by the researcher/,
    );
    assert.equal((await triager.agent.get(href)).status, 200);
    const versions = shown(
      (await triager.agent.get(`/reports/${report.publicId}/revisions`)).text,
    );
    assert.match(versions, /Files the researcher removed/);
    assert.ok(versions.includes(`href="${href}"`));

    // Once the organization reads the report, the removed file is not listed to it.
    await ctx.db
      .updateTable("reports")
      .set({ state: "vendor_notified", vendor_notified_at: Date.now() })
      .where("id", "=", report.id)
      .execute();
    await ctx.db
      .updateTable("participations")
      .set({ notified_at: Date.now() })
      .where("report_id", "=", report.id)
      .execute();
    const org = await contact.agent.get(`/reports/${report.publicId}`);
    assert.equal(org.status, 200);
    assert.ok(
      org.text.includes(
        `/reports/${report.publicId}/attachments/${proof.public_id}`,
      ),
    );
    assert.ok(!org.text.includes(patient.public_id));
    // Its neutral name counts only the files it is shown: no gap betrays one.
    assert.ok(org.text.includes(">attachment-1.txt</a>"));
    const download = await contact.agent.get(
      `/reports/${report.publicId}/attachments/${proof.public_id}`,
    );
    assert.match(
      String(download.headers["content-disposition"]),
      /attachment-1\.txt/,
    );
    // Nor that one was removed: that was between the researcher and the CERT.
    assert.doesNotMatch(org.text, /removed a file/);
    assert.equal((await contact.agent.get(href)).status, 404);
  });

  it("refuses after acknowledgment with a clear message, and removes nothing", async () => {
    const report = await insertReport(ctx, { reporterId: rheaUser.user.id });
    const file = await upload(report.publicId, "late.txt", "late proof\n");
    await ctx.db
      .updateTable("reports")
      .set({ state: "acknowledged" })
      .where("id", "=", report.id)
      .execute();
    const page = await rhea.agent.get(`/reports/${report.publicId}`);
    assert.ok(!page.text.includes("/remove"));
    const res = await remove(rhea, report.publicId, file.public_id);
    assert.equal(res.status, 409);
    assert.match(
      shown(res.text),
      /acknowledged this report, so its files can no longer be removed/,
    );
    assert.equal((await attachment(file.id)).removed_at, null);
  });

  it("removes nothing when the report was acknowledged between the page and the click", async () => {
    const report = await insertReport(ctx, { reporterId: rheaUser.user.id });
    const file = await upload(report.publicId, "race.txt", "race proof\n");
    // The report as the page loaded it, still submitted.
    const seen = (await findReportById(ctx.db, report.id))!;
    await ctx.db
      .updateTable("reports")
      .set({ state: "acknowledged" })
      .where("id", "=", report.id)
      .execute();
    const outcome = await removeAttachment(
      ctx.deps,
      toActor(rheaUser.user),
      seen,
      file.public_id,
    );
    assert.equal(outcome.ok, false);
    assert.equal((await attachment(file.id)).removed_at, null);
    const events = await ctx.db
      .selectFrom("report_events")
      .select("id")
      .where("report_id", "=", report.id)
      .where("action", "=", "attachment_removed")
      .execute();
    assert.equal(events.length, 0);
  });
});

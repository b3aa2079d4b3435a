// Every change to a report made through a form leaves an audit entry,
// written in the change's own transaction: comments, internal notes,
// triage edits and assignment (issue 19, item 13).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { verifyAuditChain } from "../../src/audit/service.js";
import type { Organization } from "../../src/orgs/types.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  anonymous,
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { refuseInserts } from "../support/database.js";

const VECTOR = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N";

describe("audit entries for report changes", () => {
  let ctx: TestContext;
  let triagerUser: TestUser;
  let triager: Browser, researcher: Browser;
  let id: string;
  let orgA: Organization;
  let orgB: Organization;

  const entries = (action: string) =>
    ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", action)
      .orderBy("id")
      .execute();
  const events = (kind: string) =>
    ctx.db
      .selectFrom("report_events")
      .selectAll()
      .where("kind", "=", kind)
      .execute();

  beforeEach(async () => {
    ctx = await createTestContext();
    orgA = await createOrg(ctx, "National Hospital Portal");
    orgB = await createOrg(ctx, "Water Utility");
    const reporter = await createUser(ctx, "researcher");
    id = (
      await insertReport(ctx, {
        reporterId: reporter.user.id,
        organizationId: orgA.id,
        state: "acknowledged",
        cwe: "CWE-639",
      })
    ).publicId;
    triagerUser = await createUser(ctx, "triager");
    triager = await signedIn(ctx, triagerUser);
    researcher = await signedIn(ctx, reporter);
    for (const b of [triager, researcher])
      await b.refreshCsrf(`/reports/${id}`);
  });
  afterEach(() => ctx.close());

  it("a comment is audited with who, which report and where from", async () => {
    const res = await researcher.post(`/reports/${id}/comments`, {
      body: "Any news on this?",
    });
    assert.equal(res.status, 303);
    const [entry, ...more] = await entries("report.commented");
    assert.ok(entry, "no report.commented entry");
    assert.equal(more.length, 0);
    assert.equal(entry.actor_label, "researcher");
    assert.equal(entry.target_type, "report");
    assert.equal(entry.target_id, id);
    assert.ok(entry.ip, "the address is kept");
    // The comment's text stays on the timeline, never in the log.
    assert.doesNotMatch(entry.details, /Any news/);
    assert.equal((await verifyAuditChain(ctx.db)).ok, true);
  });

  it("an internal note is audited", async () => {
    const res = await triager.post(`/reports/${id}/notes`, {
      body: "Internal: call them.",
    });
    assert.equal(res.status, 303);
    const [entry] = await entries("report.note_added");
    assert.ok(entry, "no report.note_added entry");
    assert.equal(entry.actor_id, triagerUser.user.id);
    assert.equal(entry.target_id, id);
    assert.doesNotMatch(entry.details, /call them/);
  });

  it("a triage edit is audited with each field's old and new value, organization included", async () => {
    const res = await triager.post(`/reports/${id}/triage`, {
      cwe: "CWE-79",
      cvss: VECTOR,
      organization: orgB.publicId,
    });
    assert.equal(res.status, 303);
    const [entry] = await entries("report.triage_changed");
    assert.ok(entry, "no report.triage_changed entry");
    assert.equal(entry.target_id, id);
    assert.deepEqual(JSON.parse(entry.details), {
      cwe: "CWE-639 → CWE-79",
      cvss: `none → ${VECTOR} (6.5)`,
      organization: `${orgA.name} (${orgA.publicId}) → ${orgB.name} (${orgB.publicId})`,
    });
    // Saving the same values again changes nothing and logs nothing.
    await triager.refreshCsrf(`/reports/${id}`);
    await triager.post(`/reports/${id}/triage`, {
      cwe: "CWE-79",
      cvss: VECTOR,
      organization: orgB.publicId,
    });
    assert.equal((await entries("report.triage_changed")).length, 1);
  });

  it("taking and giving back a report are audited with the assignee before and after", async () => {
    assert.equal(
      (await triager.post(`/reports/${id}/assign`, { assignee: "me" })).status,
      303,
    );
    await triager.refreshCsrf(`/reports/${id}`);
    assert.equal(
      (await triager.post(`/reports/${id}/assign`, { assignee: "none" }))
        .status,
      303,
    );
    const log = await entries("report.assigned");
    assert.deepEqual(
      log.map((e) => [e.target_id, JSON.parse(e.details)]),
      [
        [id, { from: null, to: triagerUser.user.publicId }],
        [id, { from: triagerUser.user.publicId, to: null }],
      ],
    );
  });

  it("closing as a duplicate names the original in the state change's entry", async () => {
    const original = await insertReport(ctx, {
      reporterId: triagerUser.user.id,
    });
    const res = await triager.post(`/reports/${id}/transition`, {
      name: "close",
      resolution: "duplicate",
      duplicateOf: original.publicId,
      message: "Reported before.",
    });
    assert.equal(res.status, 303);
    const [entry] = await entries("report.state_changed");
    assert.ok(entry, "no report.state_changed entry");
    assert.equal(JSON.parse(entry.details).duplicateOf, original.publicId);
  });

  it("writes the change and its entry together: no entry, no comment", async () => {
    // The log refusing this one entry stands for any failure after the event.
    const allow = await refuseInserts(ctx.db, {
      name: "refuse_comment_entry",
      table: "audit_log",
      column: "action",
      value: "report.commented",
      message: "audit refused",
    });
    try {
      const res = await researcher.post(`/reports/${id}/comments`, {
        body: "Lost with its entry.",
      });
      assert.equal(res.status, 500);
      assert.deepEqual(await events("comment"), []);
      const outbox = await ctx.db.selectFrom("outbox").select("id").execute();
      assert.deepEqual(outbox, [], "no mail for a comment that was not made");
    } finally {
      await allow();
    }
  });

  it("registers an account and its entry together: no entry, no account and no mail", async () => {
    const allow = await refuseInserts(ctx.db, {
      name: "refuse_created_entry",
      table: "audit_log",
      column: "action",
      value: "user.created",
      message: "audit refused",
    });
    try {
      const browser = await anonymous(ctx);
      await browser.refreshCsrf("/register");
      const res = await browser.post("/register", {
        email: "unlogged@example.test",
        displayName: "Unlogged Finder",
        password: "a long passphrase for finding",
      });
      assert.equal(res.status, 500);
      const users = await ctx.db
        .selectFrom("users")
        .select("id")
        .where("email", "=", "unlogged@example.test")
        .execute();
      assert.deepEqual(users, [], "no account without its entry");
      const outbox = await ctx.db.selectFrom("outbox").select("id").execute();
      assert.deepEqual(outbox, [], "no confirmation mail for it either");
    } finally {
      await allow();
    }
  });

  it("the admin's audit log shows the entries with their old → new values", async () => {
    await triager.post(`/reports/${id}/comments`, { body: "Looking." });
    await triager.refreshCsrf(`/reports/${id}`);
    await triager.post(`/reports/${id}/triage`, {
      cwe: "CWE-79",
      cvss: "",
      organization: orgB.publicId,
    });
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const page = await admin.agent.get(`/admin/audit?target=${id}`);
    assert.equal(page.status, 200);
    const text = shown(page.text).replace(/<[^>]+>/g, "");
    assert.match(page.text, /<code>report.commented<\/code>/);
    assert.match(page.text, /<code>report.triage_changed<\/code>/);
    assert.match(text, /cwe: CWE-639 → CWE-79/);
    assert.match(
      text,
      new RegExp(
        `organization: National Hospital Portal \\(${orgA.publicId}\\) → Water Utility \\(${orgB.publicId}\\)`,
      ),
    );
    // The new actions can be chosen in the filter.
    for (const action of [
      "report.commented",
      "report.note_added",
      "report.triage_changed",
      "report.assigned",
    ])
      assert.match(page.text, new RegExp(`<option value="${action}"`));
  });
});

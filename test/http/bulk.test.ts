// Bulk actions on the queue's selected reports (issue 21): assign,
// acknowledge, set the severity, close as duplicate. A confirmation lists
// what will change; each report's change is its own timeline entry, audit
// entry and mail; nothing is partial when any report cannot take it.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import {
  applyBulk,
  BulkConflict,
  bulkForm,
  checkBulk,
} from "../../src/reports/bulk.js";
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

const VECTOR = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N"; // 6.5, medium

describe("bulk actions on the queue", () => {
  let ctx: TestContext;
  let people: Record<
    "triager" | "colleague" | "researcher" | "contact",
    TestUser
  >;
  let triager: Browser;
  /** Three submitted reports of the researcher's. */
  let three: { id: number; publicId: string }[];
  let acknowledged: { id: number; publicId: string };
  let original: { id: number; publicId: string };

  const ids = () => three.map((r) => r.publicId);
  const reportIds = () => three.map((r) => r.id);
  const events = (kind: string) =>
    ctx.db
      .selectFrom("report_events")
      .selectAll()
      .where("kind", "=", kind)
      .where("report_id", "in", reportIds())
      .execute();
  const audits = (action: string) =>
    ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", action)
      .where("target_id", "in", ids())
      .execute();
  const reportsNow = () =>
    ctx.db
      .selectFrom("reports")
      .selectAll()
      .where("id", "in", reportIds())
      .orderBy("id")
      .execute();
  /** Everything a change would leave behind, to compare before and after. */
  const snapshot = async () => ({
    reports: await ctx.db.selectFrom("reports").selectAll().execute(),
    events: (await ctx.db.selectFrom("report_events").select("id").execute())
      .length,
    audits: (
      await ctx.db
        .selectFrom("audit_log")
        .select("id")
        .where("action", "like", "report.%")
        .execute()
    ).length,
    mails: (await ctx.db.selectFrom("outbox").select("id").execute()).length,
  });
  const bulk = (who: Browser, fields: Record<string, string | string[]>) =>
    who.post("/reports/bulk", fields);

  beforeEach(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Hospital Portal");
    people = {
      triager: await createUser(ctx, "triager", { displayName: "Tia Triager" }),
      colleague: await createUser(ctx, "triager", {
        displayName: "Cole League",
      }),
      researcher: await createUser(ctx, "researcher"),
      contact: await createUser(ctx, "org_contact", { orgIds: [org.id] }),
    };
    const reporterId = people.researcher.user.id;
    three = [];
    for (let i = 0; i < 3; i++)
      three.push(
        await insertReport(ctx, {
          reporterId,
          organizationId: org.id,
          title: `Bulk report ${i + 1}`,
        }),
      );
    acknowledged = await insertReport(ctx, {
      reporterId,
      state: "acknowledged",
      title: "Already acknowledged",
    });
    original = await insertReport(ctx, {
      reporterId,
      state: "triaged",
      organizationId: org.id,
      title: "The original",
    });
    triager = await signedIn(ctx, people.triager);
    await triager.refreshCsrf("/queue");
  });
  afterEach(() => ctx.close());

  it("shows what will change on each report before anything changes", async () => {
    const before = await snapshot();
    const res = await bulk(triager, { ids: ids(), action: "acknowledge" });
    assert.equal(res.status, 200);
    const page = shown(res.text);
    for (const id of ids()) {
      assert.ok(page.includes(`${id}: Submitted → Acknowledged`), id);
      assert.match(page, new RegExp(`type="hidden" name="ids" value="${id}"`));
    }
    assert.match(page, /name="confirm" value="yes"/);
    assert.match(page, /Apply to 3 reports/);
    assert.deepEqual(await snapshot(), before);
  });

  it("acknowledges 3 reports: 3 timeline entries, 3 audit entries, 3 mails", async () => {
    const res = await bulk(triager, {
      ids: ids(),
      action: "acknowledge",
      message: "We are looking at these.",
      confirm: "yes",
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/queue");
    assert.deepEqual(
      (await reportsNow()).map((r) => r.state),
      ["acknowledged", "acknowledged", "acknowledged"],
    );
    const written = await events("transition");
    assert.equal(written.length, 3);
    assert.ok(written.every((e) => e.body === "We are looking at these."));
    const logged = await audits("report.state_changed");
    assert.deepEqual(logged.map((a) => a.target_id).sort(), [...ids()].sort());
    const mails = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("report_id", "in", reportIds())
      .execute();
    assert.equal(mails.length, 3);
    assert.ok(
      mails.every(
        (m) =>
          m.to_address === people.researcher.email &&
          m.subject.endsWith("Acknowledged by CERT"),
      ),
    );
    const queue = shown((await triager.agent.get("/queue")).text);
    assert.match(queue, /Done: 3 reports acknowledged\./);
  });

  it("assigns 3 reports to a colleague, who is mailed for each", async () => {
    const res = await bulk(triager, {
      ids: ids(),
      action: "assign",
      assignee_id: people.colleague.user.publicId,
      confirm: "yes",
    });
    assert.equal(res.status, 303);
    assert.ok(
      (await reportsNow()).every(
        (r) => r.assignee_id === people.colleague.user.id,
      ),
    );
    assert.equal((await events("assignment")).length, 3);
    const logged = await audits("report.assigned");
    assert.equal(logged.length, 3);
    assert.ok(
      logged.every(
        (a) => JSON.parse(a.details).to === people.colleague.user.publicId,
      ),
    );
    const mails = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("report_id", "in", reportIds())
      .execute();
    assert.equal(mails.length, 3);
    assert.ok(mails.every((m) => m.to_address === people.colleague.email));
  });

  it("sets the severity of 3 reports", async () => {
    const preview = shown(
      (
        await bulk(triager, {
          ids: ids(),
          action: "severity",
          severity: "high",
        })
      ).text,
    );
    assert.ok(preview.includes(`${ids()[0]}: Severity: Not rated → High`));
    const res = await bulk(triager, {
      ids: ids(),
      action: "severity",
      severity: "high",
      confirm: "yes",
    });
    assert.equal(res.status, 303);
    assert.ok((await reportsNow()).every((r) => r.severity === "high"));
    assert.equal((await events("field_change")).length, 3);
    const logged = await audits("report.triage_changed");
    assert.equal(logged.length, 3);
    assert.ok(
      logged.every(
        (a) => JSON.parse(a.details).severity === "not rated → high",
      ),
    );
    // The severity set so is what the report page and the triage step see.
    const page = shown((await triager.agent.get(`/reports/${ids()[0]}`)).text);
    assert.match(page, /High/);
  });

  it("a severity set without a vector survives saving the triage details", async () => {
    await bulk(triager, {
      ids: ids(),
      action: "severity",
      severity: "low",
      confirm: "yes",
    });
    const id = ids()[0]!;
    await triager.refreshCsrf(`/reports/${id}`);
    const res = await triager.post(`/reports/${id}/triage`, {
      cwe: "CWE-79",
      cvss: "",
      organization: "",
    });
    assert.equal(res.status, 303);
    const [first] = await reportsNow();
    assert.equal(first!.cwe, "CWE-79", "the triage change was saved");
    assert.equal(first!.severity, "low");
  });

  it("closes 3 reports as duplicates of another", async () => {
    const res = await bulk(triager, {
      ids: ids(),
      action: "duplicate",
      duplicate_of: original.publicId.toLowerCase(),
      confirm: "yes",
    });
    assert.equal(res.status, 303);
    for (const r of await reportsNow()) {
      assert.equal(r.state, "closed");
      assert.equal(r.resolution, "duplicate");
      assert.equal(r.duplicate_of_id, original.id);
    }
    assert.equal((await events("transition")).length, 3);
    const logged = await audits("report.state_changed");
    assert.equal(logged.length, 3);
    assert.ok(
      logged.every(
        (a) => JSON.parse(a.details).duplicateOf === original.publicId,
      ),
    );
  });

  it("changes nothing when one report's workflow forbids the step, and says which", async () => {
    const before = await snapshot();
    const selection = [...ids(), acknowledged.publicId];
    const res = await bulk(triager, {
      ids: selection,
      action: "acknowledge",
      confirm: "yes",
    });
    assert.equal(res.status, 422);
    const page = shown(res.text);
    const problemRow = new RegExp(
      `${acknowledged.publicId}</a></td>\\s*<td>Already acknowledged</td>\\s*<td><p class="error">[^<]*<span[^>]*>Problem:</span> This action is not possible in the report(?:&#39;|')s current state\\.`,
    );
    assert.match(page, problemRow);
    assert.doesNotMatch(page, /Apply to/);
    // The others can be sent again without it.
    assert.match(page, /Leave out the 1 report with a problem and check again/);
    assert.deepEqual(await snapshot(), before);
  });

  it("rolls every change back when one report moved between the check and the write", async () => {
    const actor = toActor(people.triager.user);
    const check = await checkBulk(
      ctx.deps,
      actor,
      bulkForm({ ids: ids(), action: "acknowledge", confirm: "yes" }),
    );
    assert.equal(check.steps.length, 3);
    // Someone acknowledges the last one first.
    await ctx.db
      .updateTable("reports")
      .set({ state: "acknowledged" })
      .where("id", "=", three[2]!.id)
      .execute();
    const before = await snapshot();
    await assert.rejects(
      applyBulk(ctx.deps, actor, check, null),
      (err) => err instanceof BulkConflict && err.publicId === ids()[2],
    );
    assert.deepEqual(await snapshot(), before, "the first two were undone");
  });

  it("refuses a severity on a report scored by its CVSS vector, changing nothing", async () => {
    await ctx.db
      .updateTable("reports")
      .set({ cvss_vector: VECTOR, cvss_score: 6.5, severity: "medium" })
      .where("id", "=", three[2]!.id)
      .execute();
    const before = await snapshot();
    const res = await bulk(triager, {
      ids: ids(),
      action: "severity",
      severity: "critical",
      confirm: "yes",
    });
    assert.equal(res.status, 422);
    assert.match(shown(res.text), /Its CVSS vector rates it Medium/);
    assert.deepEqual(await snapshot(), before);
  });

  for (const forged of ["DD-0000-0000", "not-an-id<script>", "42"])
    it(`answers "Not found." for ${forged} and changes nothing`, async () => {
      const before = await snapshot();
      const res = await bulk(triager, {
        ids: [...ids(), forged],
        action: "acknowledge",
        confirm: "yes",
      });
      assert.equal(res.status, 422);
      const page = shown(res.text);
      assert.ok(!page.includes("<script>"), "the typed ID is escaped");
      assert.match(page, /Not found\./);
      assert.deepEqual(await snapshot(), before);
    });

  it("refuses an original that is one of the selected reports, or unknown", async () => {
    const before = await snapshot();
    const self = await bulk(triager, {
      ids: ids(),
      action: "duplicate",
      duplicate_of: ids()[1]!,
      confirm: "yes",
    });
    assert.equal(self.status, 422);
    assert.match(
      shown(self.text),
      /The original must not be one of the selected reports/,
    );
    const unknown = await bulk(triager, {
      ids: ids(),
      action: "duplicate",
      duplicate_of: "DD-0000-0000",
      confirm: "yes",
    });
    assert.equal(unknown.status, 422);
    assert.match(shown(unknown.text), /Enter the ID of an existing report/);
    assert.match(
      unknown.text,
      /value="DD-0000-0000"/,
      "what was typed is kept",
    );
    assert.deepEqual(await snapshot(), before);
  });

  it("asks for the action and its fields when the form has none", async () => {
    const noAction = await bulk(triager, { ids: ids() });
    assert.equal(noAction.status, 200);
    assert.match(noAction.text, /<select id="f-action" name="action"/);
    assert.doesNotMatch(noAction.text, /Apply to/);

    const noAssignee = await bulk(triager, { ids: ids(), action: "assign" });
    assert.equal(noAssignee.status, 200);
    const select = /<select id="f-assignee_id"[^]*?<\/select>/.exec(
      noAssignee.text,
    )?.[0];
    assert.ok(select, "the assignee is asked for");
    assert.ok(select.includes(people.colleague.user.publicId));
    assert.match(select, />Unassigned</);
    assert.doesNotMatch(noAssignee.text, /Apply to/);

    // Confirming without the field applies nothing.
    const before = await snapshot();
    const res = await bulk(triager, {
      ids: ids(),
      action: "assign",
      confirm: "yes",
    });
    assert.equal(res.status, 422);
    assert.deepEqual(await snapshot(), before);
  });

  it("refuses an assignee who is not active staff", async () => {
    const before = await snapshot();
    const res = await bulk(triager, {
      ids: ids(),
      action: "assign",
      assignee_id: people.researcher.user.publicId,
      confirm: "yes",
    });
    assert.equal(res.status, 422);
    assert.match(shown(res.text), /Choose someone on the CERT team/);
    assert.deepEqual(await snapshot(), before);
  });

  it("is the policy's 404 for a researcher and an organization contact", async () => {
    const before = await snapshot();
    for (const who of ["researcher", "contact"] as const) {
      const browser = await signedIn(ctx, people[who]);
      const res = await bulk(browser, {
        ids: ids(),
        action: "acknowledge",
        confirm: "yes",
      });
      assert.equal(res.status, 404, who);
    }
    assert.deepEqual(
      (await snapshot()).reports,
      before.reports,
      "nothing changed",
    );
  });

  it("refuses a form without its CSRF token", async () => {
    const before = await snapshot();
    const res = await triager.agent
      .post("/reports/bulk")
      .type("form")
      .send({ ids: ids(), action: "acknowledge", confirm: "yes" });
    assert.equal(res.status, 403);
    assert.deepEqual(await snapshot(), before);
  });

  it("refuses more than 100 reports at once", async () => {
    const before = await snapshot();
    const many = [
      ...ids(),
      ...Array.from(
        { length: 98 },
        (_, i) => `DD-0000-${String(i).padStart(4, "0")}`,
      ),
    ];
    assert.equal(many.length, 101);
    const res = await bulk(triager, {
      ids: many,
      action: "acknowledge",
      confirm: "yes",
    });
    assert.equal(res.status, 422);
    assert.match(
      shown(res.text),
      /Choose at most 100 reports at once \(you chose 101\)/,
    );
    assert.deepEqual(await snapshot(), before);
  });
});

// Assignment to anyone on the CERT team (issue 21): a select of the active
// triagers and admins on the report page; the assignment is on the timeline
// and in the audit log, and the new assignee is mailed. Any other account
// ID is refused with nothing changed.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { setUserDisabled } from "../../src/users/repository.js";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

describe("assigning a report to anyone on the team", () => {
  let ctx: TestContext;
  let people: Record<
    "triager" | "colleague" | "admin" | "gone" | "researcher",
    TestUser
  >;
  let triager: Browser;
  let researcher: Browser;
  let id: string;
  let reportId: number;

  const assigneeOf = async () =>
    (
      await ctx.db
        .selectFrom("reports")
        .select("assignee_id")
        .where("id", "=", reportId)
        .executeTakeFirstOrThrow()
    ).assignee_id;
  const audits = () =>
    ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "report.assigned")
      .orderBy("id")
      .execute();
  const events = () =>
    ctx.db
      .selectFrom("report_events")
      .selectAll()
      .where("kind", "=", "assignment")
      .orderBy("id")
      .execute();
  const mails = () =>
    ctx.db.selectFrom("outbox").selectAll().orderBy("id").execute();

  beforeEach(async () => {
    ctx = await createTestContext();
    people = {
      triager: await createUser(ctx, "triager", { displayName: "Tia Triager" }),
      colleague: await createUser(ctx, "triager", {
        displayName: "Cole League",
      }),
      admin: await createUser(ctx, "admin", { displayName: "Ada Admin" }),
      gone: await createUser(ctx, "triager", { displayName: "Gone Person" }),
      researcher: await createUser(ctx, "researcher", {
        displayName: "Rae Searcher",
      }),
    };
    await setUserDisabled(ctx.db, people.gone.user.id, ctx.clock.now());
    const report = await insertReport(ctx, {
      reporterId: people.researcher.user.id,
      state: "acknowledged",
    });
    id = report.publicId;
    reportId = report.id;
    triager = await signedIn(ctx, people.triager);
    researcher = await signedIn(ctx, people.researcher);
    await triager.refreshCsrf(`/reports/${id}`);
    await researcher.refreshCsrf(`/reports/${id}`);
  });
  afterEach(() => ctx.close());

  it("the report page offers every active triager and admin, and Unassigned", async () => {
    const page = shown((await triager.agent.get(`/reports/${id}`)).text);
    const select = /<select id="f-assignee_id"[^]*?<\/select>/.exec(page)?.[0];
    assert.ok(select, "no assignee select on the report page");
    assert.match(select, /<option value="" selected>Unassigned<\/option>/);
    for (const who of ["colleague", "admin", "triager"] as const)
      assert.ok(
        select.includes(`value="${people[who].user.publicId}"`),
        `${who} is offered`,
      );
    assert.match(select, /Tia Triager \(you\)/);
    assert.ok(
      !select.includes("Gone Person"),
      "a disabled account is not offered",
    );
    assert.ok(!select.includes("Rae Searcher"), "a researcher is not offered");
  });

  it("assigning a colleague: on the timeline, audited, and the colleague is mailed a link only", async () => {
    const res = await triager.post(`/reports/${id}/assign`, {
      assignee_id: people.colleague.user.publicId,
    });
    assert.equal(res.status, 303);
    assert.equal(await assigneeOf(), people.colleague.user.id);
    const [event, ...moreEvents] = await events();
    assert.equal(moreEvents.length, 0);
    assert.equal(event!.body, "Assigned to Cole League");
    assert.equal(event!.actor_id, people.triager.user.id);
    const [entry, ...moreAudits] = await audits();
    assert.equal(moreAudits.length, 0);
    assert.deepEqual(JSON.parse(entry!.details), {
      from: null,
      to: people.colleague.user.publicId,
    });
    const [mail, ...moreMails] = await mails();
    assert.equal(moreMails.length, 0, "only the new assignee is mailed");
    assert.equal(mail!.to_address, people.colleague.email);
    assert.equal(mail!.subject, `[${id}] Assigned to you`);
    assert.ok(mail!.text_body.includes(`/reports/${id}`), "links the report");
    assert.ok(
      !mail!.text_body.includes("another patient"),
      "no report text in clear",
    );

    // The page now shows the colleague chosen.
    const page = (await triager.agent.get(`/reports/${id}`)).text;
    assert.match(
      page,
      new RegExp(`<option value="${people.colleague.user.publicId}" selected>`),
    );
  });

  it("taking it oneself from the list mails nobody; Unassigned clears it", async () => {
    assert.equal(
      (
        await triager.post(`/reports/${id}/assign`, {
          assignee_id: people.triager.user.publicId,
        })
      ).status,
      303,
    );
    assert.equal(await assigneeOf(), people.triager.user.id);
    assert.equal((await mails()).length, 0);
    assert.equal(
      (await triager.post(`/reports/${id}/assign`, { assignee_id: "" })).status,
      303,
    );
    assert.equal(await assigneeOf(), null);
    assert.deepEqual(
      (await events()).map((e) => e.body),
      ["Assigned to themselves", "Unassigned"],
    );
    assert.equal((await audits()).length, 2);
  });

  for (const [label, pick] of [
    ["a researcher", () => people.researcher.user.publicId],
    ["a disabled triager", () => people.gone.user.publicId],
    ["a forged ID", () => "U-NOTAREAL1"],
    ["an internal number", () => String(people.colleague.user.id)],
  ] as const) {
    it(`${label} is refused with a clear error and nothing changed`, async () => {
      const res = await triager.post(`/reports/${id}/assign`, {
        assignee_id: pick(),
      });
      assert.equal(res.status, 400);
      assert.match(
        shown(res.text),
        /Choose someone on the CERT team from the list/,
      );
      assert.equal(await assigneeOf(), null);
      assert.equal((await events()).length, 0);
      assert.equal((await audits()).length, 0);
      assert.equal((await mails()).length, 0);
    });
  }

  it("a researcher cannot assign (the policy's 404)", async () => {
    const res = await researcher.post(`/reports/${id}/assign`, {
      assignee_id: people.colleague.user.publicId,
    });
    assert.equal(res.status, 404);
    assert.equal(await assigneeOf(), null);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

const DAY = 86_400_000;

/**
 * The queue says, for a case with organizations, how many answered and how
 * many let their answer clock run out: silence is not "not affected".
 */
describe("the queue's answer markers", () => {
  let ctx: TestContext;
  let triager: Browser;
  let contact: Browser;
  let many: { id: number; publicId: string };
  let none: { id: number; publicId: string };

  /** The queue row of one report, as text. */
  const rowOf = (html: string, publicId: string) => {
    const at = html.indexOf(`/reports/${publicId}"`);
    assert.ok(at >= 0, `${publicId} is listed`);
    const start = html.lastIndexOf("<tr", at);
    const end = html.indexOf("</tr>", at);
    return shown(html.slice(start, end));
  };

  before(async () => {
    ctx = await createTestContext();
    const researcher = await createUser(ctx, "researcher");
    const orgs = await Promise.all(
      ["Alpha", "Beta", "Gamma"].map((n) => createOrg(ctx, `${n} Utility`)),
    );
    const now = ctx.clock.now().getTime();
    many = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: orgs[0]!.id,
      vendorNotifiedAt: new Date(now - 10 * DAY),
    });
    // Beta answered; Gamma is silent, notified 10 days ago like Alpha.
    await ctx.db
      .updateTable("participations")
      .set({ notified_at: now - 10 * DAY })
      .where("report_id", "=", many.id)
      .execute();
    for (const [org, answered] of [
      [orgs[1]!, now - 2 * DAY],
      [orgs[2]!, null],
    ] as const)
      await ctx.db
        .insertInto("participations")
        .values({
          report_id: many.id,
          organization_id: org.id,
          added_at: now - 10 * DAY,
          notified_at: now - 10 * DAY,
          status: answered ? "investigating" : "not_answered",
          answered_at: answered,
        })
        .execute();
    none = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    });
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    contact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [orgs[0]!.id] }),
    );
  });
  after(() => ctx.close());

  it("shows how many organizations answered and how many are overdue", async () => {
    const html = (await triager.agent.get("/queue")).text;
    const row = rowOf(html, many.publicId);
    assert.match(row, /1 of 3 answered/);
    assert.match(row, /2 overdue/);
    assert.match(row, /2 organizations have not answered within 7 days/);
    const plain = rowOf(html, none.publicId);
    assert.doesNotMatch(plain, /answered/);
  });

  it("follows the setting: with 14 days nobody is overdue yet", async () => {
    ctx.deps.settings.replace({ orgAnswerDays: 14 });
    try {
      const row = rowOf(
        (await triager.agent.get("/queue")).text,
        many.publicId,
      );
      assert.match(row, /1 of 3 answered/);
      assert.doesNotMatch(row, /overdue/);
    } finally {
      ctx.deps.settings.replace({});
    }
  });

  it("tells an organization nothing of the others' answers", async () => {
    const res = await contact.agent.get("/org/reports");
    assert.equal(res.status, 200, res.text.slice(0, 200));
    assert.ok(res.text.includes(many.publicId));
    assert.doesNotMatch(shown(res.text), /of 3 answered|overdue/);
  });
});

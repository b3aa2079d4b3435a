import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/** Report IDs in the order the queue lists them. */
function idsOn(html: string): string[] {
  return [
    ...html.matchAll(/<td[^>]*><a href="\/reports\/(DD-[0-9A-Z-]+)"/g),
  ].map((m) => m[1]!);
}

describe("the triager's queue", () => {
  let ctx: TestContext;
  let researcher: TestUser;
  let triager: TestUser;

  before(async () => {
    ctx = await createTestContext();
    researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager", { displayName: "Tess Triager" });
  });
  after(() => ctx.close());

  describe("open by default", () => {
    const ids: Record<string, string> = {};
    before(async () => {
      for (const state of [
        "submitted",
        "vendor_notified",
        "closed",
        "disclosed",
      ] as const)
        ids[state] = (
          await insertReport(ctx, {
            reporterId: researcher.user.id,
            title: `Default ${state}`,
            state,
          })
        ).publicId;
    });

    it("lists open reports unless any state is asked for", async () => {
      const b = await signedIn(ctx, triager);
      const open = await b.agent.get("/queue");
      assert.equal(open.status, 200);
      const shownIds = idsOn(open.text);
      assert.ok(shownIds.includes(ids.submitted!));
      assert.ok(shownIds.includes(ids.vendor_notified!));
      assert.ok(!shownIds.includes(ids.closed!), "closed is not open");
      assert.ok(!shownIds.includes(ids.disclosed!), "disclosed is not open");
      assert.match(open.text, /<option value="open" selected>/);

      const any = await b.agent.get("/queue?state=any");
      const all = idsOn(any.text);
      for (const id of Object.values(ids)) assert.ok(all.includes(id));
      assert.match(any.text, /<option value="any" selected>/);

      const closed = idsOn((await b.agent.get("/queue?state=closed")).text);
      assert.deepEqual(closed, [ids.closed]);
    });
  });

  describe("bulk selection", () => {
    it("puts each row's checkbox, the action and the CSRF token in one form posting to /reports/bulk", async () => {
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        title: "Bulk candidate",
      });
      const b = await signedIn(ctx, triager);
      const html = (await b.agent.get("/queue")).text;
      const forms = [
        ...html.matchAll(
          /<form method="post" action="\/reports\/bulk"[^>]*>([\s\S]*?)<\/form>/g,
        ),
      ];
      assert.equal(forms.length, 1);
      const form = forms[0]![1]!;
      assert.match(form, /<input type="hidden" name="_csrf" value="[^"]+"/);
      assert.match(
        form,
        new RegExp(`<input type="checkbox" name="ids" value="${r.publicId}"`),
      );
      const options = [
        .../<select id="bulk-action" name="action">([\s\S]*?)<\/select>/
          .exec(form)![1]!
          .matchAll(/<option value="(\w+)"/g),
      ].map((m) => m[1]);
      assert.deepEqual(options, [
        "assign",
        "acknowledge",
        "severity",
        "duplicate",
      ]);
      assert.match(form, /<button type="submit"[^>]*>Review changes<\/button>/);
    });
  });
});

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
});

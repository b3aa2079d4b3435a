import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
} from "../support/harness.js";

describe("harness smoke", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("signs a researcher in and shows their name in the header", async () => {
    const researcher = await createUser(ctx, "researcher", {
      displayName: "Ada Finder",
    });
    const browser = await signedIn(ctx, researcher);
    const res = await browser.agent.get("/account");
    assert.equal(res.status, 200);
    assert.match(res.text, /Signed in as <strong>Ada Finder<\/strong>/);
  });
});

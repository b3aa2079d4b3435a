import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

describe("case facts and the SSVC triage decision", () => {
  let ctx: TestContext;
  let triager: Browser, researcher: Browser, contact: Browser;
  let id: string;
  const report = () =>
    ctx.db
      .selectFrom("reports")
      .selectAll()
      .where("public_id", "=", id)
      .executeTakeFirstOrThrow();

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx);
    const reporter = await createUser(ctx, "researcher");
    id = (
      await insertReport(ctx, {
        reporterId: reporter.user.id,
        organizationId: org.id,
        state: "vendor_notified",
      })
    ).publicId;
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    researcher = await signedIn(ctx, reporter);
    contact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [org.id] }),
    );
    for (const b of [triager, researcher, contact])
      await b.refreshCsrf(`/reports/${id}`);
  });
  after(() => ctx.close());

  it("records a fact once, with its time; the public being aware ends the embargo for everyone", async () => {
    const at = ctx.clock.now().getTime();
    const res = await triager.post(`/reports/${id}/facts`, {
      fact: "public_aware",
    });
    assert.equal(res.status, 303);
    assert.equal((await report()).public_aware_at, at);
    ctx.clock.advance(60_000);
    const again = await triager.post(`/reports/${id}/facts`, {
      fact: "public_aware",
    });
    assert.equal(again.status, 422);
    assert.match(again.text, /That fact is already recorded/);
    assert.equal((await report()).public_aware_at, at, "one-way: unchanged");
    for (const b of [researcher, contact]) {
      const page = await b.agent.get(`/reports/${id}`);
      assert.match(page.text, /Embargo ended:/);
      assert.match(
        page.text,
        /The public is aware of the vulnerability: <strong>yes, since/,
      );
      assert.doesNotMatch(page.text, /Mark as true/);
    }
    // The triager may now publish before the fix is verified.
    assert.match(
      (await triager.agent.get(`/reports/${id}`)).text,
      /Publish as advisory/,
    );
  });

  it("only staff record facts; a forged fact name is refused", async () => {
    for (const b of [researcher, contact]) {
      const res = await b.post(`/reports/${id}/facts`, {
        fact: "exploit_public",
      });
      assert.equal(res.status, 404);
    }
    const forged = await triager.post(`/reports/${id}/facts`, {
      fact: "state",
    });
    assert.equal(forged.status, 422);
    assert.equal((await report()).exploit_public_at, null);
  });

  it("saves the SSVC decision points and outcome, shown to staff only", async () => {
    const missing = await triager.post(`/reports/${id}/ssvc`, {
      reportPublic: "yes",
      outcome: "coordinate",
    });
    assert.equal(missing.status, 422);
    assert.match(missing.text, /Choose a value for supplier contacted/);
    assert.equal((await report()).ssvc, null);
    const decision = {
      reportPublic: "no",
      supplierContacted: "yes",
      reportCredibility: "credible",
      supplierCardinality: "one",
      supplierEngagement: "active",
      utility: "efficient",
      publicSafetyImpact: "significant",
      outcome: "coordinate",
    };
    const ok = await triager.post(`/reports/${id}/ssvc`, decision);
    assert.equal(ok.status, 303);
    assert.deepEqual(JSON.parse((await report()).ssvc!), decision);
    const page = await triager.agent.get(`/reports/${id}`);
    assert.match(page.text, /Decision: <strong>Coordinate<\/strong>/);
    assert.doesNotMatch(
      (await researcher.agent.get(`/reports/${id}`)).text,
      /SSVC/,
    );
    assert.equal(
      (await researcher.post(`/reports/${id}/ssvc`, decision)).status,
      404,
    );
  });
});

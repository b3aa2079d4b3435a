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
  type TestUser,
} from "../support/harness.js";

const SUMMARY =
  "Booking IDs could be changed to read other patients' appointments.";

describe("publication needs the organization told, then a verified fix, the deadline or a public case", () => {
  let ctx: TestContext;
  let triager: Browser;
  let triagerUser: TestUser;
  let researcher: TestUser;
  let orgId: number;
  /** Disclosed after its deadline, closed as won't fix. */
  let unfixed: string;

  before(async () => {
    ctx = await createTestContext();
    orgId = (await createOrg(ctx, "Example Hospital Portal")).id;
    researcher = await createUser(ctx, "researcher");
    triagerUser = await createUser(ctx, "triager");
    triager = await signedIn(ctx, triagerUser);
  });
  after(() => ctx.close());

  const state = async (publicId: string) =>
    (
      await ctx.db
        .selectFrom("reports")
        .select(["state", "resolution"])
        .where("public_id", "=", publicId)
        .executeTakeFirstOrThrow()
    ).state;

  const step = async (
    who: Browser,
    publicId: string,
    fields: Record<string, string>,
  ) => {
    await who.refreshCsrf(`/reports/${publicId}`);
    return who.post(`/reports/${publicId}/transition`, fields);
  };

  const saveAdvisory = async (publicId: string) => {
    await triager.refreshCsrf(`/reports/${publicId}`);
    const save = await triager.post(`/reports/${publicId}/advisory`, {
      title: "Appointments readable by changing an ID",
      summary: SUMMARY,
      cveId: "",
    });
    assert.equal(save.status, 303, save.text);
  };

  it("refuses to close a submitted report as resolved, saying why, and changes nothing", async () => {
    const { publicId } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
    });
    const res = await step(triager, publicId, {
      name: "close",
      resolution: "resolved",
    });
    assert.equal(res.status, 422);
    assert.match(shown(res.text), /Resolved means the fix was verified/);
    assert.equal(await state(publicId), "submitted");
  });

  it("does not publish a report closed as won't fix before the organization was notified", async () => {
    const { publicId } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
    });
    const close = await step(triager, publicId, {
      name: "close",
      resolution: "wont_fix",
    });
    assert.equal(close.status, 303, close.text);
    await saveAdvisory(publicId);
    const page = shown((await triager.agent.get(`/reports/${publicId}`)).text);
    assert.doesNotMatch(page, /value="publish"/, "no publish button");
    // No advisory can come of it, so the page offers no advisory panel.
    assert.doesNotMatch(page, /id="advisory-title"/);
    const publish = await step(triager, publicId, {
      name: "publish",
      confirm: "yes",
    });
    assert.equal(publish.status, 422);
    assert.match(shown(publish.text), /The organization was never notified/);
    assert.equal(await state(publicId), "closed");
    assert.equal(
      (await triager.agent.get(`/advisories/${publicId}`)).status,
      404,
    );
  });

  it("publishes a notified report closed as won't fix once the disclosure deadline passed", async () => {
    const { publicId } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
      state: "triaged",
    });
    assert.equal(
      (await step(triager, publicId, { name: "notify_vendor" })).status,
      303,
    );
    assert.equal(
      (await step(triager, publicId, { name: "close", resolution: "wont_fix" }))
        .status,
      303,
    );
    // Nobody is credited, so publication waits for nothing else.
    await ctx.db
      .updateTable("reports")
      .set({ credit_kind: "anonymous" })
      .where("public_id", "=", publicId)
      .execute();
    await saveAdvisory(publicId);
    const early = await step(triager, publicId, {
      name: "publish",
      confirm: "yes",
    });
    assert.equal(early.status, 422);
    assert.match(shown(early.text), /disclosure deadline has not passed/);
    assert.equal(await state(publicId), "closed");

    ctx.clock.advanceDays(ctx.config.clocks.disclosureDays + 1);
    // Sessions end when idle that long.
    triager = await signedIn(ctx, triagerUser);
    const publish = await step(triager, publicId, {
      name: "publish",
      confirm: "yes",
    });
    assert.equal(publish.status, 303, publish.text);
    assert.equal(await state(publicId), "disclosed");
    unfixed = publicId;
  });

  it("does not tell the researcher's letter that an unfixed report was fixed", async () => {
    const own = await signedIn(ctx, researcher);
    const letter = await own.agent.get(`/reports/${unfixed}/letter`);
    assert.equal(letter.status, 200);
    assert.doesNotMatch(letter.text, /fixed by the organization/);
    assert.match(
      shown(letter.text),
      /published an advisory without a verified fix/,
    );
  });

  it("does not let the researcher withdraw a report reopened after the organization was notified", async () => {
    const { publicId } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgId,
      state: "triaged",
    });
    const own = await signedIn(ctx, researcher);
    assert.match(
      (await own.agent.get(`/reports/${publicId}`)).text,
      /value="withdraw"/,
      "withdrawable before notification",
    );
    assert.equal(
      (await step(triager, publicId, { name: "notify_vendor" })).status,
      303,
    );
    assert.equal(
      (await step(triager, publicId, { name: "close", resolution: "wont_fix" }))
        .status,
      303,
    );
    assert.equal(
      (
        await step(triager, publicId, {
          name: "reopen",
          message: "The organization answered after all.",
        })
      ).status,
      303,
    );
    assert.equal(await state(publicId), "triaged");
    const page = await own.agent.get(`/reports/${publicId}`);
    assert.doesNotMatch(page.text, /value="withdraw"/);
    const res = await step(own, publicId, { name: "withdraw" });
    assert.equal(res.status, 422);
    assert.equal(await state(publicId), "triaged");
  });
});

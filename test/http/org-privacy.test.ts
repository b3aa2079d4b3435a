import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { createOrg, insertReport } from "../support/fixtures.js";

/**
 * An organization's contact learns only its own organization's facts, and
 * nothing the researcher and the CERT said to each other before the
 * organization was told, unless a triager shares it.
 */
describe("what an organization's contact reads", () => {
  let ctx: TestContext;
  let triager: Browser;
  let orgA: { id: number; publicId: string; name: string };
  let orgB: { id: number; publicId: string; name: string };
  let contactBUser: TestUser;
  let contactA: Browser;
  let contactB: Browser;

  const page = async (who: Browser, id: string) => {
    const res = await who.agent.get(`/reports/${id}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    return shown(res.text);
  };
  const post = async (
    who: Browser,
    url: string,
    fields: Record<string, string>,
  ) => {
    const res = await who.post(url, fields);
    assert.equal(res.status, 303, `${url}: ${res.text.slice(0, 600)}`);
  };
  const mailTo = async (userId: number) =>
    (
      await ctx.db
        .selectFrom("outbox")
        .select(["subject", "text_body", "html_body"])
        .where("to_user_id", "=", userId)
        .execute()
    )
      .map((m) => `${m.subject}\n${m.text_body}\n${m.html_body}`)
      .join("\n");

  before(async () => {
    ctx = await createTestContext();
    orgA = await createOrg(ctx, "Alpha Water Works");
    orgB = await createOrg(ctx, "Beta Power Grid");
    const contactAUser = await createUser(ctx, "org_contact", {
      orgIds: [orgA.id],
    });
    contactBUser = await createUser(ctx, "org_contact", { orgIds: [orgB.id] });
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    contactA = await signedIn(ctx, contactAUser);
    contactB = await signedIn(ctx, contactBUser);
  });
  after(() => ctx.close());

  describe("item 8: only its own organization's facts", () => {
    it("a duplicate of another organization's report names neither its ID nor its state to the contact", async () => {
      const researcherA = await createUser(ctx, "researcher");
      const researcherBUser = await createUser(ctx, "researcher");
      const original = await insertReport(ctx, {
        reporterId: researcherA.user.id,
        state: "fix_in_progress",
        organizationId: orgA.id,
      });
      const duplicate = await insertReport(ctx, {
        reporterId: researcherBUser.user.id,
        state: "vendor_notified",
        organizationId: orgB.id,
      });
      await post(triager, `/reports/${duplicate.publicId}/transition`, {
        name: "close",
        resolution: "duplicate",
        duplicateOf: original.publicId,
        message: "",
      });

      const contactPage = await page(contactB, duplicate.publicId);
      assert.match(contactPage, /Closed/);
      assert.doesNotMatch(contactPage, new RegExp(original.publicId));
      assert.doesNotMatch(contactPage, /This report duplicates/);
      assert.doesNotMatch(contactPage, /Fix in progress/);
      assert.doesNotMatch(
        await mailTo(contactBUser.user.id),
        new RegExp(original.publicId),
      );

      // The duplicate's researcher learns the original's ID and state (DESIGN.md).
      const researcherB = await signedIn(ctx, researcherBUser);
      const researcherPage = await page(researcherB, duplicate.publicId);
      assert.match(researcherPage, new RegExp(original.publicId));
      assert.match(
        researcherPage,
        /which is <strong>Fix in progress<\/strong>/,
      );
      // Staff see everything.
      assert.match(
        await page(triager, duplicate.publicId),
        new RegExp(`/reports/${original.publicId}`),
      );
      // A contact who may see the original too reads the link as before.
      const both = await signedIn(
        ctx,
        await createUser(ctx, "org_contact", { orgIds: [orgA.id, orgB.id] }),
      );
      assert.match(
        await page(both, duplicate.publicId),
        new RegExp(`/reports/${original.publicId}`),
      );
    });
  });
});

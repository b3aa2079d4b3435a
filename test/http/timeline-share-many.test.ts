import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import { setParticipation } from "../support/participations.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

describe("sharing a message on a case with many organizations", () => {
  let ctx: TestContext;
  let triager: Browser;
  let publicId: string;
  let eventIds: number[];
  let target: { id: number; publicId: string };
  let targetContact: Browser;

  before(async () => {
    ctx = await createTestContext();
    const researcher = await createUser(ctx, "researcher");
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const orgs = [];
    for (let i = 1; i <= 12; i++)
      orgs.push(await createOrg(ctx, `Portal ${String(i).padStart(2, "0")}`));
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgs[0]!.id,
      state: "vendor_notified",
    });
    publicId = report.publicId;
    for (const org of orgs.slice(1))
      await setParticipation(ctx, report.id, org.id, {});
    target = orgs[6]!;
    targetContact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [target.id] }),
    );
    eventIds = [];
    for (const body of ["SECRET-ONE for the CERT", "SECRET-TWO for the CERT"])
      eventIds.push(
        (
          await ctx.db
            .insertInto("report_events")
            .values({
              report_id: report.id,
              actor_id: researcher.user.id,
              kind: "comment",
              visibility: "public",
              audience: "researcher",
              body,
              created_at: ctx.clock.now().getTime(),
            })
            .returning("id")
            .executeTakeFirstOrThrow()
        ).id,
      );
  });
  after(() => ctx.close());

  it("lists the organizations once for the whole timeline, with a share button on each message", async () => {
    const html = (await triager.agent.get(`/reports/${publicId}`)).text;
    assert.equal(html.match(/id="share-form"/g)?.length, 1);
    // Every organization on the case in the one share choice.
    const form = html.slice(
      html.indexOf('id="share-form"'),
      html.indexOf("</form>", html.indexOf('id="share-form"')),
    );
    assert.equal(
      form.match(/<option value="[a-z0-9]+">Portal \d\d<\/option>/g)?.length,
      12,
    );
    for (const id of eventIds)
      assert.match(
        html,
        new RegExp(
          `<button type="submit" class="button-small" form="share-form" name="event" value="${id}"`,
        ),
      );
    assert.doesNotMatch(html, /id="f-share-\d+"/);
  });

  it("shares the message pressed with the organization chosen, and only that message", async () => {
    await triager.refreshCsrf(`/reports/${publicId}`);
    const res = await triager.post(`/reports/${publicId}/share`, {
      organization: target.publicId,
      event: String(eventIds[1]),
    });
    assert.equal(res.status, 303, res.text.slice(0, 400));
    const seen = (await targetContact.agent.get(`/reports/${publicId}`)).text;
    assert.match(seen, /SECRET-TWO/);
    assert.doesNotMatch(seen, /SECRET-ONE/);
  });
});

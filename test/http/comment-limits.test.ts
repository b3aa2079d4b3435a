// Comments and extension requests mail the triage team (the whole team
// while nobody is assigned): each is limited per person, and a refused one
// comes back on the form with what was typed, writing nothing.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

const MINUTE = 60_000;

describe("rate limits on comments and extension requests", () => {
  let ctx: TestContext;
  let researcher: Browser, contact: Browser, triager: Browser;
  let id: string;

  /** Everything a comment or a request would write: rows and mail. */
  const written = async () => ({
    events: (await ctx.db.selectFrom("report_events").select("id").execute())
      .length,
    outbox: (await ctx.db.selectFrom("outbox").select("id").execute()).length,
    fanouts: (await ctx.db.selectFrom("outbox_fanouts").select("id").execute())
      .length,
    report: await ctx.db
      .selectFrom("reports")
      .selectAll()
      .where("public_id", "=", id)
      .executeTakeFirstOrThrow(),
  });

  beforeEach(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx);
    const reporter = await createUser(ctx, "researcher");
    // Nobody is assigned: every comment goes to the whole team.
    const staff = await createUser(ctx, "triager");
    await createUser(ctx, "triager");
    id = (
      await insertReport(ctx, {
        reporterId: reporter.user.id,
        organizationId: org.id,
        state: "vendor_notified",
      })
    ).publicId;
    researcher = await signedIn(ctx, reporter);
    contact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [org.id] }),
    );
    triager = await signedIn(ctx, staff);
    for (const b of [researcher, contact, triager])
      await b.refreshCsrf(`/reports/${id}`);
  });
  afterEach(() => ctx.close());

  it("30 comments in 10 minutes go through; the 31st is refused with its text kept, nothing written; later it goes", async () => {
    for (let i = 0; i < 30; i++) {
      const res = await researcher.post(`/reports/${id}/comments`, {
        body: `Comment ${i}`,
      });
      assert.equal(res.status, 303, `comment ${i}`);
      ctx.clock.advance(10_000);
    }
    const before = await written();
    const typed = "A long comment <b>with</b> details I do not want to lose.";
    const refused = await researcher.post(`/reports/${id}/comments`, {
      body: typed,
    });
    assert.equal(refused.status, 429);
    const page = shown(refused.text);
    // The comment form again, filled in, with the reason next to the field.
    assert.match(
      page,
      /<textarea id="f-body" name="body"[^>]*aria-invalid="true"[^>]*>A long comment &lt;b&gt;with&lt;\/b&gt; details I do not want to lose.<\/textarea>/,
    );
    assert.match(
      page,
      /<p class="error" id="f-body-error">.*many comments.*<\/p>/,
    );
    assert.deepEqual(await written(), before, "no row and no mail");
    const entry = await ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "auth.rate_limited")
      .executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(entry.details), { limit: "comment" });

    // Another person is not held back by this one.
    assert.equal(
      (await contact.post(`/reports/${id}/comments`, { body: "We are on it." }))
        .status,
      303,
    );

    ctx.clock.advance(10 * MINUTE);
    await researcher.refreshCsrf(`/reports/${id}`);
    const later = await researcher.post(`/reports/${id}/comments`, {
      body: typed,
    });
    assert.equal(later.status, 303);
  });

  it("comments sent back for a typo do not count", async () => {
    for (let i = 0; i < 40; i++) {
      const res = await researcher.post(`/reports/${id}/comments`, {
        body: "",
      });
      assert.equal(res.status, 422, `empty comment ${i}`);
    }
    const res = await researcher.post(`/reports/${id}/comments`, {
      body: "Now with text.",
    });
    assert.equal(res.status, 303);
  });

  it("10 extension requests an hour go through; the 11th is refused with the date and reason kept, nothing written", async () => {
    const ask = (reason: string) =>
      contact.post(`/reports/${id}/extension`, {
        date: "2026-09-30",
        reason,
      });
    // The page offers the form again once the CERT has answered.
    const refuse = async () =>
      assert.equal(
        (
          await triager.post(`/reports/${id}/extension/decision`, {
            decision: "refuse",
            note: "Patients are exposed.",
          })
        ).status,
        303,
      );
    for (let i = 0; i < 10; i++) {
      assert.equal((await ask(`Patch testing ${i}.`)).status, 303, `ask ${i}`);
      await refuse();
      ctx.clock.advance(MINUTE);
    }
    const before = await written();
    const refused = await ask("The vendor of our vendor needs a month.");
    assert.equal(refused.status, 429);
    const page = shown(refused.text);
    assert.match(page, /value="2026-09-30"/);
    assert.match(page, /value="The vendor of our vendor needs a month."/);
    assert.match(page, /<p class="error" role="alert">.*many requests.*<\/p>/);
    assert.deepEqual(await written(), before, "no row and no mail");

    ctx.clock.advance(60 * MINUTE);
    await contact.refreshCsrf(`/reports/${id}`);
    assert.equal((await ask("The vendor of our vendor.")).status, 303);
  });
});

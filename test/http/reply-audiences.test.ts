import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import { ingestMail, type IngestDeps } from "../../src/inbound/ingest.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { composeMail, noDns } from "../support/inbound.js";

const DOMAIN = "desk.example.test";

/**
 * A reply by email has no form to choose who reads it: an organization's
 * contact's reply stays in its organization's thread with the CERT and the
 * researcher, never reaching the other organizations on the case.
 */
describe("replies by email: who reads them", () => {
  let ctx: TestContext;
  let deps: IngestDeps;
  let researcher: TestUser;
  let contactA: TestUser;
  let contactB: TestUser;
  let orgA: { id: number };
  let report: { id: number; publicId: string };

  beforeEach(async () => {
    ctx = await createTestContext({ env: { MAIL_DOMAIN: DOMAIN } });
    deps = { ...ctx.deps, dnsResolver: noDns };
    researcher = await createUser(ctx, "researcher");
    await createUser(ctx, "triager");
    orgA = await createOrg(ctx, "Alpha Water Works");
    const orgB = await createOrg(ctx, "Beta Power Grid");
    contactA = await createUser(ctx, "org_contact", { orgIds: [orgA.id] });
    contactB = await createUser(ctx, "org_contact", { orgIds: [orgB.id] });
    report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: orgA.id,
    });
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: report.id,
        organization_id: orgB.id,
        added_at: ctx.clock.now().getTime(),
        notified_at: ctx.clock.now().getTime(),
      })
      .execute();
  });
  afterEach(() => ctx.close());

  /** Replies by email as `who`, then returns the comment's audience and who was mailed. */
  async function reply(who: TestUser, text: string, messageId: string) {
    const { address } = await replyAddressing(
      ctx.db,
      ctx.config,
      who.user.id,
      report.id,
      ctx.clock.now(),
    );
    const raw = await composeMail({
      from: who.email,
      to: address,
      subject: "Re: [DD] New comment",
      text,
      messageId,
    });
    const { outcome } = await ingestMail(deps, raw, {
      from: who.email,
      recipients: [address],
    });
    assert.equal(outcome.kind, "posted");
    const entry = await ctx.db
      .selectFrom("report_events")
      .select(["audience", "audience_org_id"])
      .where("report_id", "=", report.id)
      .where("kind", "=", "comment")
      .executeTakeFirstOrThrow();
    const mailedTo = (
      await ctx.db
        .selectFrom("outbox")
        .select("to_user_id")
        .where("report_id", "=", report.id)
        .execute()
    ).map((m) => m.to_user_id);
    return { entry, mailedTo };
  }

  it("an organization's reply goes to the CERT, the researcher and its own organization only", async () => {
    const { entry, mailedTo } = await reply(
      contactA,
      "Alpha here: we run version 4.2 in production.",
      "<alpha-reply@mail.example.test>",
    );
    assert.equal(entry.audience, "org_researcher");
    assert.equal(entry.audience_org_id, orgA.id);
    assert.ok(mailedTo.includes(researcher.user.id), "the researcher hears");
    assert.ok(
      !mailedTo.includes(contactB.user.id),
      "the other organization never",
    );
  });

  it("a researcher's reply on a case with two organizations stays with the CERT, which shares it where it belongs", async () => {
    const { entry, mailedTo } = await reply(
      researcher,
      "The same request works against Beta's portal too.",
      "<researcher-reply@mail.example.test>",
    );
    assert.equal(entry.audience, "researcher");
    assert.equal(entry.audience_org_id, null);
    for (const contact of [contactA, contactB])
      assert.ok(!mailedTo.includes(contact.user.id), contact.email);
  });
});

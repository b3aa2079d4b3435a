import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import {
  isDeliveryReport,
  parseDeliveryStatus,
  recordBounce,
} from "../../src/inbound/bounces.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { verpAddress } from "../../src/mail/verp.js";
import { addMember, createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type TestContext,
} from "../support/harness.js";
import { deliveryReport, inboundMail } from "../support/inbound-mail.js";

const DOMAIN = "desk.example.test";

describe("bounces: delivery reports mark the outbox and flag addresses that keep bouncing", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext({ env: { MAIL_DOMAIN: DOMAIN } });
  });
  afterEach(() => ctx.close());

  async function sendTo(address: string, reportId: number | null = null) {
    const messageId = await enqueueMail(ctx.db, ctx.deps, {
      template: "set_password",
      to: { address },
      reportId,
      data: {
        displayName: "Someone",
        roleLabel: "Triager",
        link: "http://localhost:3000/x",
        expires: "soon",
      },
    });
    const row = await ctx.db
      .selectFrom("outbox")
      .select("id")
      .where("message_id", "=", messageId)
      .executeTakeFirstOrThrow();
    await ctx.db
      .updateTable("outbox")
      .set({ status: "sent", sent_at: ctx.clock.now().getTime() })
      .where("id", "=", row.id)
      .execute();
    return row.id;
  }

  const bounceOf = (id: number, address: string, status = "5.1.1") =>
    deliveryReport({
      to: verpAddress(ctx.config, id),
      finalRecipient: address,
      action: status.startsWith("5") ? "failed" : "delayed",
      status,
      diagnostic: `550 ${status} <${address}>: Recipient address rejected: User unknown`,
    });

  it("recognizes a DSN by its content type and by its VERP recipient, and reads its fields", async () => {
    const dsn = await bounceOf(1, "gone@example.test");
    assert.equal(isDeliveryReport(ctx.config, dsn), true);
    assert.equal(
      isDeliveryReport(ctx.config, {
        ...dsn,
        headers: { "content-type": "text/plain" },
      }),
      true,
      "a VERP recipient alone",
    );
    assert.equal(
      isDeliveryReport(
        ctx.config,
        inboundMail({ recipients: [`security@${DOMAIN}`] }),
      ),
      false,
    );
    assert.deepEqual(parseDeliveryStatus(dsn.raw), [
      {
        action: "failed",
        status: "5.1.1",
        finalRecipient: "gone@example.test",
        diagnostic:
          "550 5.1.1 <gone@example.test>: Recipient address rejected: User unknown",
      },
    ]);
  });

  it("marks the outbox message bounced, shown on the admin outbox page", async () => {
    const id = await sendTo("gone@example.test");
    const outcome = await recordBounce(
      ctx.deps,
      await bounceOf(id, "gone@example.test"),
    );
    assert.equal(outcome.kind, "posted");
    const row = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    assert.equal(row.bounced_at, ctx.clock.now().getTime());
    assert.equal(row.bounce_status, "5.1.1");
    assert.match(row.bounce_reason ?? "", /User unknown/);
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const page = shown((await admin.agent.get("/admin/outbox")).text);
    assert.match(
      page,
      /Bounced: 5\.1\.1 &lt;gone@example\.test&gt;: Recipient address rejected: User unknown/,
    );
  });

  it("ignores a forged bounce address and touches nothing", async () => {
    const id = await sendTo("someone@example.test");
    const forged = await deliveryReport({
      to: `bounce+${id}-0123456789abcdef@${DOMAIN}`,
      finalRecipient: "someone@example.test",
      action: "failed",
      status: "5.1.1",
    });
    const outcome = await recordBounce(ctx.deps, forged);
    assert.deepEqual(outcome, {
      kind: "ignored",
      reason: "forged bounce address (bad signature)",
    });
    const row = await ctx.db
      .selectFrom("outbox")
      .select(["bounced_at", "bounce_status"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { bounced_at: null, bounce_status: null });
  });

  it("a soft failure or a delay is recorded but flags nobody", async () => {
    const contact = await createUser(ctx, "org_contact");
    for (let i = 0; i < 4; i++) {
      const id = await sendTo(contact.email);
      await recordBounce(ctx.deps, await bounceOf(id, contact.email, "4.2.2"));
    }
    const user = await ctx.db
      .selectFrom("users")
      .select("mail_bouncing_since")
      .where("id", "=", contact.user.id)
      .executeTakeFirstOrThrow();
    assert.equal(user.mail_bouncing_since, null);
    const delayed = await ctx.db
      .selectFrom("outbox")
      .select(["bounced_at", "bounce_status"])
      .where("to_address", "=", contact.email)
      .execute();
    assert.ok(
      delayed.every(
        (r) => r.bounced_at === null && r.bounce_status === "4.2.2",
      ),
    );
  });

  it("the third hard bounce flags the contact, shown to the triager on the organization's report and on the account pages", async () => {
    const org = await createOrg(ctx, "Hospital Portal Authority");
    const contact = await createUser(ctx, "org_contact", {
      email: "webmaster@hospital.example.test",
      orgIds: [org.id],
    });
    const researcher = await createUser(ctx, "researcher");
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      state: "vendor_notified",
    });
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const flagOf = async () =>
      (
        await ctx.db
          .selectFrom("users")
          .select("mail_bouncing_since")
          .where("id", "=", contact.user.id)
          .executeTakeFirstOrThrow()
      ).mail_bouncing_since;

    for (let i = 1; i <= 2; i++) {
      const id = await sendTo(contact.email, report.id);
      await recordBounce(ctx.deps, await bounceOf(id, contact.email));
      assert.equal(await flagOf(), null, `not after bounce ${i}`);
      ctx.clock.advance(10 * 60_000);
    }
    let page = shown(
      (await triager.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.doesNotMatch(page, /is bouncing since/);

    const id = await sendTo(contact.email, report.id);
    const outcome = await recordBounce(
      ctx.deps,
      await bounceOf(id, contact.email),
    );
    assert.equal(outcome.kind, "posted");
    assert.equal(outcome.kind === "posted" && outcome.reportId, report.id);
    assert.equal(await flagOf(), ctx.clock.now().getTime());

    page = shown((await triager.agent.get(`/reports/${report.publicId}`)).text);
    assert.match(
      page,
      /Mail to webmaster@hospital\.example\.test is bouncing since \d/,
    );
    // The contact sees it on their own account page; the admin on the users list.
    const contactBrowser = await signedIn(ctx, contact);
    assert.match(
      shown((await contactBrowser.agent.get("/account")).text),
      /Mail to webmaster@hospital\.example\.test is bouncing since/,
    );
    const contactView = shown(
      (await contactBrowser.agent.get(`/reports/${report.publicId}`)).text,
    );
    assert.doesNotMatch(contactView, /is bouncing since/, "staff only");
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    assert.match(
      shown((await admin.agent.get("/admin/users")).text),
      /Mail bouncing since/,
    );
  });

  it("bounces older than the window do not count, and a positive report or a new address clears the flag", async () => {
    const contact = await createUser(ctx, "org_contact");
    const flagOf = async () =>
      (
        await ctx.db
          .selectFrom("users")
          .select("mail_bouncing_since")
          .where("id", "=", contact.user.id)
          .executeTakeFirstOrThrow()
      ).mail_bouncing_since;
    const bounce = async () => {
      const id = await sendTo(contact.email);
      await recordBounce(ctx.deps, await bounceOf(id, contact.email));
    };
    await bounce();
    await bounce();
    ctx.clock.advanceDays(31);
    await bounce();
    assert.equal(await flagOf(), null, "two of the three are too old");
    await bounce();
    await bounce();
    assert.notEqual(await flagOf(), null);

    const id = await sendTo(contact.email);
    await recordBounce(
      ctx.deps,
      await deliveryReport({
        to: verpAddress(ctx.config, id),
        finalRecipient: contact.email,
        action: "delivered",
        status: "2.0.0",
      }),
    );
    assert.equal(await flagOf(), null, "a delivery clears it");

    await bounce();
    assert.notEqual(await flagOf(), null);
    const { setUserEmail } = await import("../../src/users/repository.js");
    await setUserEmail(
      ctx.db,
      contact.user.id,
      "new@example.test",
      ctx.clock.now(),
    );
    assert.equal(await flagOf(), null, "a new address clears it");
  });
});

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import nodemailer from "nodemailer";
import {
  startInboundListener,
  type InboundListener,
} from "../../src/inbound/listener.js";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import { listInbound } from "../../src/inbound/repository.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { verpAddress } from "../../src/mail/verp.js";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { composeMail, noDns } from "../support/inbound.js";
import { deliveryReport } from "../support/inbound-mail.js";

/**
 * The parts of the hostile corpus that the other tests send through
 * the ingestion path directly, sent here as the issue asks: over real SMTP
 * into the app's listener, nodemailer as the sending client.
 */

const DOMAIN = "desk.example.test";

describe("inbound mail over real SMTP: DSNs, redeliveries and a burst", () => {
  let ctx: TestContext;
  let listener: InboundListener;
  let researcher: TestUser;
  let reportId: number;
  let address: string;

  beforeEach(async () => {
    ctx = await createTestContext({ env: { MAIL_DOMAIN: DOMAIN } });
    listener = await startInboundListener(
      { ...ctx.deps, dnsResolver: noDns },
      { port: 0, host: "127.0.0.1" },
    );
    researcher = await createUser(ctx, "researcher");
    ({ id: reportId } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    }));
    ({ address } = await replyAddressing(
      ctx.db,
      ctx.config,
      researcher.user.id,
      reportId,
      ctx.clock.now(),
    ));
  });
  afterEach(async () => {
    await listener.close();
    await ctx.close();
  });

  const client = (options: Record<string, unknown> = {}) =>
    nodemailer.createTransport({
      host: "127.0.0.1",
      port: listener.port,
      secure: false,
      ignoreTLS: true,
      ...options,
    } as nodemailer.TransportOptions);

  const comments = async (prefix: string) =>
    (
      await ctx.db
        .selectFrom("report_events")
        .select("body")
        .where("report_id", "=", reportId)
        .where("body", "like", `${prefix}%`)
        .execute()
    ).map((e) => e.body ?? "");

  it("a DSN from an empty envelope sender marks the outbox message bounced, and posts no comment", async () => {
    const messageId = await enqueueMail(ctx.db, ctx.deps, {
      template: "set_password",
      to: { address: "gone@example.test" },
      data: {
        displayName: "Gone",
        roleLabel: "Triager",
        link: "http://localhost:3000/x",
        expires: "soon",
      },
    });
    const { id } = await ctx.db
      .selectFrom("outbox")
      .select("id")
      .where("message_id", "=", messageId)
      .executeTakeFirstOrThrow();
    const to = verpAddress(ctx.config, id);
    const dsn = await deliveryReport({
      to,
      finalRecipient: "gone@example.test",
      action: "failed",
      status: "5.1.1",
      diagnostic: "550 5.1.1 user unknown",
    });
    const info = await client().sendMail({
      envelope: { from: "", to: [to] },
      raw: dsn.raw,
    });
    assert.match(info.response, /^250 OK posted/);
    const row = await ctx.db
      .selectFrom("outbox")
      .select(["bounce_status", "bounce_reason"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, {
      bounce_status: "5.1.1",
      bounce_reason: "user unknown",
    });
    const [stored] = await listInbound(ctx.db);
    assert.equal(stored!.envelopeFrom, "");
    assert.equal((await comments("This is the mail system")).length, 0);
  });

  it("the same message three times is posted once; the MTA hears 250 each time", async () => {
    const message = {
      from: researcher.email,
      to: address,
      subject: "Re: your report",
      text: "Three deliveries, one comment.",
      messageId: "<thrice-smtp@mail.example.test>",
    };
    const responses = [];
    for (let i = 0; i < 3; i++)
      responses.push((await client().sendMail(message)).response);
    assert.deepEqual(responses, [
      "250 OK posted",
      "250 OK already received",
      "250 OK already received",
    ]);
    assert.deepEqual(await comments("Three deliveries"), [
      "Three deliveries, one comment.",
    ]);
  });

  it("a thousand messages in a burst, each delivered twice over many connections, are each posted exactly once", async function () {
    this.timeout(180_000);
    const raws = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        composeMail({
          from: researcher.email,
          to: address,
          subject: "Re: report",
          text: `Burst over SMTP ${i}.`,
          messageId: `<smtp-burst${i}@mail.example.test>`,
        }),
      ),
    );
    const pool = client({ pool: true, maxConnections: 50, maxMessages: 100 });
    try {
      const infos = await Promise.all(
        [...raws, ...raws].map((raw) =>
          pool.sendMail({
            envelope: { from: researcher.email, to: [address] },
            raw,
          }),
        ),
      );
      assert.ok(infos.every((i) => /^250 /.test(i.response)));
      assert.equal(
        infos.filter((i) => i.response === "250 OK posted").length,
        1000,
      );
    } finally {
      pool.close();
    }
    const bodies = await comments("Burst over SMTP");
    assert.equal(bodies.length, 1000);
    assert.equal(new Set(bodies).size, 1000);
    const stored = await listInbound(ctx.db, { limit: 5000 });
    assert.equal(stored.length, 1000, "each message stored once");
    assert.ok(stored.every((m) => m.status === "posted"));
  });
});

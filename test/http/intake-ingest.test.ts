import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "mocha";
import { ingestMail, type IngestDeps } from "../../src/inbound/ingest.js";
import { enqueueMail } from "../../src/mail/outbox.js";
import { verpAddress } from "../../src/mail/verp.js";
import { createTestContext, type TestContext } from "../support/harness.js";
import { noDns } from "../support/inbound.js";
import { compose, deliveryReport } from "../support/inbound-mail.js";
import { SCREENSHOT } from "../support/reports.js";
import { TestSmtpServer } from "../support/smtp.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker } from "../../src/mail/worker.js";
import { handleIntakeMail } from "../../src/inbound/intake.js";
import { inboundMail } from "../support/inbound-mail.js";

const DOMAIN = "desk.example.test";

/** Bounces and reports by email through the one ingestion path, as real MIME. */
describe("the ingestion path takes delivery reports and mail to the intake address", () => {
  let ctx: TestContext;
  let deps: IngestDeps;
  beforeEach(async () => {
    ctx = await createTestContext({ env: { MAIL_DOMAIN: DOMAIN } });
    deps = { ...ctx.deps, dnsResolver: noDns };
  });
  afterEach(() => ctx.close());

  it("a DSN with an empty envelope sender marks the outbox message bounced (not dropped as automatic)", async () => {
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
    const result = await ingestMail(deps, dsn.raw, {
      from: "",
      recipients: [to],
    });
    assert.equal(result.outcome.kind, "posted", JSON.stringify(result.outcome));
    const row = await ctx.db
      .selectFrom("outbox")
      .select(["bounce_status", "bounce_reason"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, {
      bounce_status: "5.1.1",
      bounce_reason: "user unknown",
    });
  });

  it("a mail to the intake address, with an attachment, files one report however often it is delivered", async () => {
    const raw = await compose({
      from: "Finder <finder@researcher.example.test>",
      to: `security@${DOMAIN}`,
      subject: "Appointment IDOR =?utf-8?Q?=E2=80=94?= portal",
      messageId: "<report-1@researcher.example.test>",
      text: "Changing the booking ID shows another patient's appointment.",
      attachments: [{ filename: "proof.png", path: SCREENSHOT }],
    });
    const envelope = {
      from: "finder@researcher.example.test",
      recipients: [`security@${DOMAIN}`],
    };
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(await ingestMail(deps, raw, envelope));
    assert.equal(results[0]!.outcome.kind, "posted");
    assert.deepEqual(
      results.map((r) => r.duplicate),
      [false, true, true],
    );
    const reports = await ctx.db
      .selectFrom("reports")
      .select(["id", "title", "state"])
      .execute();
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.title, "Appointment IDOR \u2014 portal");
    assert.equal(reports[0]!.state, "submitted");
    const files = await ctx.db
      .selectFrom("attachments")
      .select(["media_type", "size"])
      .where("report_id", "=", reports[0]!.id)
      .execute();
    assert.equal(files.length, 1);
    assert.equal(files[0]!.media_type, "image/png");
    assert.ok(files[0]!.size <= readFileSync(SCREENSHOT).length + 64);
    const receipts = await ctx.db
      .selectFrom("outbox")
      .select("to_address")
      .where("template", "=", "report_received_by_email")
      .execute();
    assert.deepEqual(
      receipts.map((r) => r.to_address),
      ["finder@researcher.example.test"],
    );
  });

  it("an out-of-office to the intake address is ignored and never answered", async () => {
    const raw = await compose({
      from: "finder@researcher.example.test",
      to: `security@${DOMAIN}`,
      subject: "Out of office",
      headers: { "Auto-Submitted": "auto-replied" },
      text: "I am away until Monday.",
    });
    const result = await ingestMail(deps, raw, {
      from: "finder@researcher.example.test",
      recipients: [`security@${DOMAIN}`],
    });
    assert.equal(result.outcome.kind, "ignored");
    assert.equal(
      (await ctx.db.selectFrom("outbox").select("id").execute()).length,
      0,
    );
    assert.equal(
      (await ctx.db.selectFrom("reports").select("id").execute()).length,
      0,
    );
  });

  it("the receipt leaves by real SMTP with its VERP sender, the ID-only subject and the intake Reply-To", async () => {
    const smtp = await new TestSmtpServer().start();
    const sending = await createTestContext({
      env: { MAIL_DOMAIN: DOMAIN, SMTP_URL: smtp.url },
    });
    const worker = createMailWorker({
      ...sending.deps,
      transport: createTransport(sending.config, sending.deps.logger),
    });
    try {
      const outcome = await handleIntakeMail(
        sending.deps,
        inboundMail({
          recipients: [`security@${DOMAIN}`],
          from: "finder@researcher.example.test",
          envelopeFrom: "finder@researcher.example.test",
          subject: "Subject with\r\nBcc: someone@example.test",
          text: "A long enough description of the vulnerability.",
        }),
      );
      assert.equal(outcome?.kind, "posted");
      await worker.runOnce();
      const [mail] = smtp.to("finder@researcher.example.test");
      assert.ok(mail);
      assert.match(
        mail.subject ?? "",
        /^\[DD-[0-9A-Z]{4}-[0-9A-Z]{4}\] Received$/,
      );
      assert.equal(mail.bcc, undefined);
      assert.match(
        mail.replyTo?.value[0]?.address ?? "",
        /^security\+[a-z0-9]+@desk\.example\.test$/,
      );
      assert.match(
        smtp.envelopeOf(mail).mailFrom,
        /^bounce\+\d+-[0-9a-f]{16}@desk\.example\.test$/,
      );
      assert.match(mail.text ?? "", /\/claim\/[A-Za-z0-9_-]+/);
      // The token in References too, for servers that drop the +token.
      const token = /\+([a-z0-9]+)@/.exec(mail.replyTo!.value[0]!.address!)![1];
      assert.match(
        String(mail.headers.get("references") ?? ""),
        new RegExp(`<intake\\.${token}@desk\\.example\\.test>`),
      );
    } finally {
      await worker.stop();
      await sending.close();
      await smtp.stop();
    }
  });
});

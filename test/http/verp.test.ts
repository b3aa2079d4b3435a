import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "mocha";
import { enqueueMail } from "../../src/mail/outbox.js";
import { createTransport } from "../../src/mail/transport.js";
import { checkVerp, verpAddress } from "../../src/mail/verp.js";
import { createMailWorker, type MailWorker } from "../../src/mail/worker.js";
import { createTestContext, type TestContext } from "../support/harness.js";
import { TestSmtpServer } from "../support/smtp.js";

describe("VERP: each outgoing message has its own envelope sender", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;

  before(async () => {
    smtp = await new TestSmtpServer().start();
  });
  after(() => smtp.stop());
  afterEach(async () => {
    await worker.stop();
    await ctx.close();
  });

  it("sends MAIL FROM bounce+<outbox id>-<mac>@MAIL_DOMAIN, the From header unchanged", async () => {
    ctx = await createTestContext({
      env: {
        SMTP_URL: smtp.url,
        MAIL_DOMAIN: "desk.example.test",
        MAIL_FROM: "Desk <no-reply@desk.example.test>",
      },
    });
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    smtp.messages.length = 0;
    for (const address of ["a@example.test", "b@example.test"])
      await enqueueMail(ctx.db, ctx.deps, {
        template: "set_password",
        to: { address },
        data: {
          displayName: "Someone",
          roleLabel: "Triager",
          link: "http://localhost:3000/x",
          expires: "soon",
        },
      });
    await worker.runOnce();
    const rows = await ctx.db
      .selectFrom("outbox")
      .select(["id", "to_address"])
      .orderBy("id")
      .execute();
    assert.equal(smtp.messages.length, 2);
    for (const row of rows) {
      const mail = smtp.to(row.to_address)[0]!;
      const { mailFrom, rcptTo } = smtp.envelopeOf(mail);
      assert.match(
        mailFrom,
        new RegExp(`^bounce\\+${row.id}-[0-9a-f]{16}@desk\\.example\\.test$`),
      );
      assert.equal(mailFrom, verpAddress(ctx.config, row.id));
      assert.deepEqual(rcptTo, [row.to_address]);
      assert.equal(mail.from?.value[0]?.address, "no-reply@desk.example.test");
      assert.deepEqual(checkVerp(ctx.config, mailFrom), {
        ok: true,
        outboxId: row.id,
      });
    }
  });

  it("refuses a VERP address with a changed id or a guessed MAC", async () => {
    ctx = await createTestContext({
      env: { MAIL_DOMAIN: "desk.example.test" },
    });
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    const real = verpAddress(ctx.config, 7);
    const mac = /-([0-9a-f]+)@/.exec(real)![1]!;
    assert.equal(checkVerp(ctx.config, real.toUpperCase()).ok, true);
    for (const forged of [
      `bounce+8-${mac}@desk.example.test`,
      `bounce+7-0000000000000000@desk.example.test`,
      `bounce+7-${mac.slice(0, 8)}@desk.example.test`,
      `bounce+7-${mac}@elsewhere.example.test`,
      `someone@desk.example.test`,
    ]) {
      const check = checkVerp(ctx.config, forged);
      assert.equal(check.ok, false, forged);
    }
    const other = await createTestContext({
      env: {
        MAIL_DOMAIN: "desk.example.test",
        SESSION_SECRET: "another-secret-another-secret-another-1",
      },
    });
    assert.equal(checkVerp(other.config, real).ok, false, "another key");
    await other.close();
  });
});

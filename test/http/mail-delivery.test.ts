import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, it } from "mocha";
import { enqueueMail } from "../../src/mail/outbox.js";
import { createTransport } from "../../src/mail/transport.js";
import {
  createMailWorker,
  LEASE_MS,
  type MailWorker,
} from "../../src/mail/worker.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
} from "../support/harness.js";
import { TestSmtpServer } from "../support/smtp.js";

const HOUR = 3_600_000;

async function outbox(ctx: TestContext) {
  return ctx.db.selectFrom("outbox").selectAll().orderBy("id").execute();
}

function queueOne(ctx: TestContext, address = "someone@example.test") {
  return enqueueMail(ctx.db, ctx.deps, {
    template: "set_password",
    to: { address },
    data: {
      displayName: "Someone",
      roleLabel: "Triager",
      link: "http://localhost:3000/x",
      expires: "soon",
    },
  });
}

describe("mail delivery through a real SMTP server", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;

  before(async () => {
    smtp = await new TestSmtpServer().start();
  });
  after(() => smtp.stop());

  const setUp = async (env: Record<string, string> = {}) => {
    ctx = await createTestContext({
      env: { SMTP_URL: smtp.url, MAIL_MAX_ATTEMPTS: "3", ...env },
    });
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    smtp.messages.length = 0;
    smtp.mode = "accept";
  };
  afterEach(async () => {
    await worker.stop();
    await ctx.close();
    if (!smtpListening) await smtp.start(smtp.port);
  });
  let smtpListening = true;

  it("sends a queued message once, with the Message-ID fixed when it was written", async () => {
    await setUp();
    const messageId = await queueOne(ctx);
    assert.deepEqual(await worker.runOnce(), {
      sent: 1,
      failed: 0,
      retried: 0,
    });
    assert.deepEqual(await worker.runOnce(), {
      sent: 0,
      failed: 0,
      retried: 0,
    });
    assert.equal(smtp.messages.length, 1);
    assert.equal(smtp.messages[0]!.messageId, messageId);
    assert.equal(
      smtp.messages[0]!.subject,
      "Set your Disclosure Desk password",
    );
    const [row] = await outbox(ctx);
    assert.equal(row!.status, "sent");
    assert.match(row!.smtp_response ?? "", /^250/);
  });

  it("keeps a state change and its mail when the server is down, and delivers once when it is back", async () => {
    await setUp();
    await smtp.stop();
    smtpListening = false;
    // A real change through the app: an admin creates an account (mail in the same transaction).
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const created = await admin.post("/admin/users", {
      email: "new.triager@example.test",
      displayName: "New Triager",
      role: "triager",
    });
    assert.equal(created.status, 303);
    assert.deepEqual(await worker.runOnce(), {
      sent: 0,
      failed: 0,
      retried: 1,
    });
    let [row] = await outbox(ctx);
    assert.equal(row!.status, "queued");
    assert.equal(row!.attempts, 1);
    assert.ok(row!.last_error);
    const user = await ctx.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", "new.triager@example.test")
      .executeTakeFirst();
    assert.ok(user, "the account exists although the mail could not go out");

    await smtp.start(smtp.port);
    smtpListening = true;
    assert.deepEqual(
      await worker.runOnce(),
      { sent: 0, failed: 0, retried: 0 },
      "not before its retry time",
    );
    ctx.clock.advance(HOUR);
    assert.deepEqual(await worker.runOnce(), {
      sent: 1,
      failed: 0,
      retried: 0,
    });
    ctx.clock.advance(HOUR);
    await worker.runOnce();
    assert.equal(smtp.to("new.triager@example.test").length, 1);
    [row] = await outbox(ctx);
    assert.equal(row!.status, "sent");
  });

  it("retries after a 4xx answer and delivers exactly once", async () => {
    await setUp();
    await queueOne(ctx);
    smtp.mode = "tempfail";
    assert.equal((await worker.runOnce()).retried, 1);
    const [first] = await outbox(ctx);
    assert.match(first!.last_error ?? "", /451/);
    assert.ok(first!.next_attempt_at > ctx.clock.now().getTime(), "backs off");
    smtp.mode = "accept";
    ctx.clock.advance(HOUR);
    assert.equal((await worker.runOnce()).sent, 1);
    ctx.clock.advance(HOUR);
    await worker.runOnce();
    assert.equal(smtp.messages.length, 1);
  });

  it("marks a message failed after the configured attempts on 5xx, shows it to admins, and retries on request", async () => {
    await setUp();
    await queueOne(ctx, "nobody@example.test");
    smtp.mode = "permfail";
    for (let i = 0; i < 3; i++) {
      await worker.runOnce();
      ctx.clock.advance(2 * HOUR);
    }
    const [row] = await outbox(ctx);
    assert.equal(row!.status, "failed");
    assert.equal(row!.attempts, 3);
    assert.match(row!.last_error ?? "", /550/);

    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const page = await admin.agent.get("/admin/outbox");
    assert.equal(page.status, 200);
    assert.match(page.text, /nobody@example\.test/);
    assert.match(page.text, /550/);
    const action = /action="(\/admin\/outbox\/[^"]+\/retry)"/.exec(
      page.text,
    )?.[1];
    assert.ok(action);
    assert.equal((await admin.post(action)).status, 303);
    const [requeued] = await outbox(ctx);
    assert.equal(requeued!.status, "queued");
    smtp.mode = "accept";
    assert.equal((await worker.runOnce()).sent, 1);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "=", "outbox.retried")
      .execute();
    assert.equal(audit.length, 1);

    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    assert.equal((await triager.agent.get("/admin/outbox")).status, 404);
  });

  it("re-delivers a message whose worker died, after the lease, with the same Message-ID", async () => {
    await setUp();
    const messageId = await queueOne(ctx);
    // A worker claimed it and died before sending.
    await ctx.db
      .updateTable("outbox")
      .set({
        status: "sending",
        lease_until: ctx.clock.now().getTime() + LEASE_MS,
      })
      .execute();
    assert.equal((await worker.runOnce()).sent, 0, "not while the lease holds");
    ctx.clock.advance(LEASE_MS + 1000);
    assert.equal((await worker.runOnce()).sent, 1);
    assert.equal(smtp.messages.length, 1);
    assert.equal(smtp.messages[0]!.messageId, messageId);
  });

  it("writes no mail when the transaction that enqueued it fails", async () => {
    await setUp();
    await assert.rejects(
      ctx.db.transaction().execute(async (tx) => {
        await enqueueMail(tx, ctx.deps, {
          template: "setup",
          to: { address: "x@example.test" },
          data: { link: "http://localhost:3000/setup" },
        });
        throw new Error("the change failed after the outbox insert");
      }),
    );
    assert.equal((await outbox(ctx)).length, 0);
  });
});

describe("mail written to disk when no SMTP server is configured", () => {
  it("writes each message as a readable .eml file under DATA_DIR/mail", async () => {
    const ctx = await createTestContext();
    try {
      const worker = createMailWorker({
        ...ctx.deps,
        transport: createTransport(ctx.config, ctx.deps.logger),
      });
      const messageId = await queueOne(ctx, "reader@example.test");
      assert.equal((await worker.runOnce()).sent, 1);
      const dir = path.join(ctx.dataDir, "mail");
      const files = readdirSync(dir).filter((f) => f.endsWith(".eml"));
      assert.equal(files.length, 1);
      const eml = readFileSync(path.join(dir, files[0]!), "utf8");
      assert.match(eml, /^To: reader@example\.test$/m);
      assert.ok(eml.includes(`Message-ID: ${messageId}`));
      assert.match(eml, /Subject: Set your Disclosure Desk password/);
    } finally {
      await ctx.close();
    }
  });
});

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, afterEach, before, describe, it } from "mocha";
import ejs from "ejs";
import { CompiledQuery } from "kysely";
import { enqueueFanout, enqueueMail } from "../../src/mail/outbox.js";
import { claimDueMessages } from "../../src/mail/repository.js";
import { dialectOf } from "../../src/db/dialect.js";
import { postgresPlan, sqlitePlan } from "../support/query-plan.js";
import type { MailTemplate } from "../../src/mail/templates.js";
import { setUserDisabled, setUserEmail } from "../../src/users/repository.js";
import { createOrg } from "../support/fixtures.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";
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
  type TestUser,
} from "../support/harness.js";

const escapeXML = (s: string) => ejs.escapeXML(s);
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

  it("stores a new report's notice to the whole team once, then addresses it to each member as they are at delivery", async () => {
    await setUp();
    const researcher = await createUser(ctx, "researcher", {
      displayName: "Rhea Researcher",
    });
    const staff: TestUser[] = [];
    for (const displayName of ["Tess <One>", "Tom Two", "Tia Three"])
      staff.push(await createUser(ctx, "triager", { displayName }));
    const org = await createOrg(ctx, "Hospital Portal");
    const browser = await signedIn(ctx, researcher);
    const res = await submitReport(
      browser,
      reportFields({ organization: org.publicId, newOrganization: "" }),
    );
    const id = reportIdFrom(res.headers.location);

    // The submission's transaction wrote the receipt and one row for the team.
    const written = await outbox(ctx);
    assert.deepEqual(
      written.map((m) => m.to_address),
      [researcher.email],
    );
    const fanouts = await ctx.db
      .selectFrom("outbox_fanouts")
      .selectAll()
      .execute();
    assert.equal(fanouts.length, 1);
    assert.equal(fanouts[0]!.recipient_count, 3);
    assert.ok(!fanouts[0]!.data.includes("Tess"), "no name in the shared data");

    // Before delivery one member moves address and another is disabled.
    const [one, two, three] = staff as [TestUser, TestUser, TestUser];
    await setUserEmail(
      ctx.db,
      two.user.id,
      "tom.new@example.test",
      ctx.clock.now(),
    );
    await setUserDisabled(ctx.db, three.user.id, ctx.clock.now());

    assert.deepEqual(await worker.runOnce(), {
      sent: 3,
      failed: 0,
      retried: 0,
    });
    const to = smtp.messages.map((m) => {
      const address = Array.isArray(m.to) ? m.to[0] : m.to;
      return address!.value[0]!.address;
    });
    assert.deepEqual(to, [researcher.email, one.email, "tom.new@example.test"]);
    const [receipt, first, second] = smtp.messages;
    assert.equal(receipt!.subject, `[${id}] Received`);
    for (const [mail, name] of [
      [first!, "Tess <One>"],
      [second!, "Tom Two"],
    ] as const) {
      assert.equal(mail.subject, `[${id}] New report submitted`);
      assert.equal(mail.inReplyTo, `<report.${id}@localhost>`);
      assert.ok(mail.text?.includes(name), `addressed to ${name}`);
      assert.ok(mail.html && mail.html.includes(escapeXML(name)));
    }
    assert.notEqual(first!.messageId, second!.messageId);
    const rows = await outbox(ctx);
    assert.deepEqual(
      rows.map((r) => [r.to_user_id, r.status]),
      [
        [researcher.user.id, "sent"],
        [one.user.id, "sent"],
        [two.user.id, "sent"],
      ],
    );
    assert.ok(rows.every((r) => r.report_id === rows[0]!.report_id));
    assert.equal(
      (await ctx.db.selectFrom("outbox_fanouts").select("id").execute()).length,
      0,
      "addressed once",
    );
    assert.deepEqual(await worker.runOnce(), {
      sent: 0,
      failed: 0,
      retried: 0,
    });
  });

  it("shows admins the team notices not yet addressed", async () => {
    await setUp();
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    await createUser(ctx, "triager");
    await enqueueFanout(ctx.db, ctx.deps, {
      template: "report_event",
      userIds: [1, 2],
      data: {},
    });
    const page = await admin.agent.get("/admin/outbox");
    assert.equal(page.status, 200);
    assert.match(
      page.text,
      /1 notice to many people \(2 messages\) not yet addressed/,
    );
  });

  it("writes no team notice when the transaction that enqueued it fails", async () => {
    await setUp();
    const triager = await createUser(ctx, "triager");
    await assert.rejects(
      ctx.db.transaction().execute(async (tx) => {
        await enqueueFanout(tx, ctx.deps, {
          template: "report_event",
          userIds: [triager.user.id],
          data: {},
        });
        throw new Error("the change failed after the fanout insert");
      }),
    );
    assert.deepEqual(await worker.runOnce(), {
      sent: 0,
      failed: 0,
      retried: 0,
    });
    assert.equal(smtp.messages.length, 0);
  });

  it("still delivers everyone's mail when a notice to many cannot be addressed, and keeps that notice", async () => {
    await setUp();
    const triager = await createUser(ctx, "triager");
    // A template a later version no longer has.
    await enqueueFanout(ctx.db, ctx.deps, {
      template: "no_such_template" as MailTemplate,
      userIds: [triager.user.id],
      data: {},
    });
    const messageId = await queueOne(ctx);
    assert.deepEqual(await worker.runOnce(), {
      sent: 1,
      failed: 0,
      retried: 0,
    });
    assert.equal(smtp.messages[0]!.messageId, messageId);
    const kept = await ctx.db
      .selectFrom("outbox_fanouts")
      .select("template")
      .execute();
    assert.deepEqual(kept, [{ template: "no_such_template" }]);
  });

  it("claims the earliest due messages through the due index, without sorting the backlog", async () => {
    await setUp();
    const statements: CompiledQuery[] = [];
    const watched = ctx.db.withPlugin({
      transformQuery: (args) => {
        statements.push(
          ctx.db.getExecutor().compileQuery(args.node, args.queryId),
        );
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const at = ctx.clock.now();
    await claimDueMessages(watched, at, LEASE_MS, 20);
    assert.equal(statements.length, 1);
    if (dialectOf(ctx.db) === "postgres") {
      const p = await postgresPlan(ctx.db, statements[0]!, {
        orderFromIndex: true,
      });
      assert.ok(p.uses("outbox_due"), p.text);
      assert.deepEqual(p.seqScans(), [], p.text);
      assert.deepEqual(p.sorts(), [], `no sort of the backlog: ${p.text}`);
    } else {
      const details = await sqlitePlan(ctx.db, statements[0]!);
      assert.ok(
        details.some((d) =>
          /SEARCH outbox USING (COVERING )?INDEX outbox_due/.test(d),
        ),
        details.join("\n"),
      );
      assert.ok(
        !details.some((d) => /TEMP B-TREE/.test(d)),
        `no sort of the backlog: ${details.join("\n")}`,
      );
    }

    // Oldest due first; a message due later waits; an abandoned lease is taken back.
    const late = await queueOne(ctx, "late@example.test");
    await ctx.db
      .updateTable("outbox")
      .set({ next_attempt_at: at.getTime() + HOUR })
      .where("message_id", "=", late)
      .execute();
    ctx.clock.advance(1000);
    const early = await queueOne(ctx, "early@example.test");
    const abandoned = await queueOne(ctx, "abandoned@example.test");
    await ctx.db
      .updateTable("outbox")
      .set({ status: "sending", lease_until: at.getTime() })
      .where("message_id", "=", abandoned)
      .execute();
    ctx.clock.advance(1000);
    const claimed = await claimDueMessages(
      ctx.db,
      ctx.clock.now(),
      LEASE_MS,
      20,
    );
    assert.deepEqual(
      claimed.map((m) => m.messageId).sort(),
      [early, abandoned].sort(),
    );
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

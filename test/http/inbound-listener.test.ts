import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { afterEach, describe, it } from "mocha";
import nodemailer from "nodemailer";
import {
  startInboundListener,
  type InboundListener,
} from "../../src/inbound/listener.js";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import { listInbound } from "../../src/inbound/repository.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker } from "../../src/mail/worker.js";
import { addComment } from "../../src/reports/service.js";
import { findReportById } from "../../src/reports/repository.js";
import { toActor } from "../../src/users/service.js";
import { addMember, createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { holdWriteLock } from "../support/database.js";
import { noDns } from "../support/inbound.js";

const DOMAIN = "desk.example.test";

/** One SMTP conversation over a raw socket: each line sent, each reply read. */
async function converse(port: number, lines: string[]): Promise<string[]> {
  const socket = connect(port, "127.0.0.1");
  const replies: string[] = [];
  let buffer = "";
  const next = () =>
    new Promise<string>((resolve) => {
      const check = () => {
        const match = /^(\d{3}) .*\r\n/m.exec(buffer);
        if (!match) return false;
        const end = buffer.indexOf("\r\n", match.index) + 2;
        const reply = buffer.slice(0, end);
        buffer = buffer.slice(end);
        resolve(reply.trim().split("\r\n").at(-1)!);
        return true;
      };
      if (check()) return;
      const onData = (chunk: Buffer) => {
        buffer += chunk.toString();
        if (check()) socket.off("data", onData);
      };
      socket.on("data", onData);
    });
  replies.push(await next()); // greeting
  for (const line of lines) {
    socket.write(line + "\r\n");
    replies.push(await next());
  }
  socket.destroy();
  return replies;
}

describe("inbound mail: the SMTP/LMTP listener, with nodemailer as the sending client", () => {
  let ctx: TestContext;
  let listener: InboundListener;
  let researcher: TestUser;
  let reportId: number;
  let address: string;

  async function setUp(env: Record<string, string> = {}) {
    ctx = await createTestContext({ env: { MAIL_DOMAIN: DOMAIN, ...env } });
    listener = await startInboundListener(
      { ...ctx.deps, dnsResolver: noDns },
      { port: 0, host: "127.0.0.1" },
    );
    researcher = await createUser(ctx, "researcher");
    ({ id: reportId } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    }));
    address = (
      await replyAddressing(
        ctx.db,
        ctx.config,
        researcher.user.id,
        reportId,
        ctx.clock.now(),
      )
    ).address;
  }
  afterEach(async () => {
    await listener.close();
    await ctx.close();
  });

  const client = (lmtp = false) =>
    nodemailer.createTransport({
      host: "127.0.0.1",
      port: listener.port,
      secure: false,
      ignoreTLS: true,
      ...(lmtp && { lmtp: true }),
    } as nodemailer.TransportOptions);

  const bodies = async () =>
    (
      await ctx.db
        .selectFrom("report_events")
        .select("body")
        .where("report_id", "=", reportId)
        .orderBy("id")
        .execute()
    ).map((e) => e.body);

  it("a reply sent over SMTP becomes a comment; the same message again is posted once", async () => {
    await setUp();
    const message = {
      from: researcher.email,
      to: address,
      subject: "Re: your report",
      text: "Sent over SMTP.\n\n> quoted",
      messageId: "<smtp-once@mail.example.test>",
    };
    const info = await client().sendMail(message);
    assert.match(info.response, /^250 OK posted/);
    const again = await client().sendMail(message);
    assert.match(again.response, /^250 OK already received/);
    assert.deepEqual(
      (await bodies()).filter((b) => b === "Sent over SMTP."),
      ["Sent over SMTP."],
    );
  });

  it("speaks LMTP when INBOUND_LMTP is set", async () => {
    await setUp({ INBOUND_LMTP: "true" });
    const info = await client(true).sendMail({
      from: researcher.email,
      to: address,
      subject: "Re: your report",
      text: "Sent over LMTP.",
    });
    assert.match(info.response, /^250/);
    assert.ok((await bodies()).includes("Sent over LMTP."));
  });

  it("refuses oversized mail with 552: at MAIL FROM SIZE=, and after the data", async () => {
    await setUp({ INBOUND_MAX_BYTES: "4096" });
    const replies = await converse(listener.port, [
      "EHLO mta.example.test",
      `MAIL FROM:<${researcher.email}> SIZE=999999`,
    ]);
    assert.match(replies.at(-1)!, /^552 /);
    await assert.rejects(
      client().sendMail({
        from: researcher.email,
        to: address,
        subject: "Re: big",
        text: "x".repeat(10_000),
      }),
      (err: { responseCode?: number }) => err.responseCode === 552,
    );
    assert.equal((await listInbound(ctx.db)).length, 0);
  });

  it("refuses a recipient outside the mail domain with 550 at RCPT", async () => {
    await setUp();
    const replies = await converse(listener.port, [
      "EHLO mta.example.test",
      `MAIL FROM:<${researcher.email}>`,
      "RCPT TO:<someone@elsewhere.example.test>",
      `RCPT TO:<${address}>`,
    ]);
    assert.match(replies[3]!, /^550 /);
    assert.match(replies[4]!, /^250 /);
  });

  it("answers 451 when the database is busy, and takes the message when retried", async function () {
    this.timeout(30_000);
    // PostgreSQL: a write waiting on the lock fails after 2 s.
    await setUp({ DATABASE_STATEMENT_TIMEOUT_MS: "2000" });
    const release = await holdWriteLock(ctx, "inbound_messages");
    const message = {
      from: researcher.email,
      to: address,
      subject: "Re: busy",
      text: "While busy.",
      messageId: "<busy@mail.example.test>",
    };
    try {
      await assert.rejects(
        client().sendMail(message),
        (err: { responseCode?: number; response?: string }) =>
          err.responseCode === 451 &&
          /busy, try again later/.test(err.response ?? ""),
      );
    } finally {
      await release();
    }
    const info = await client().sendMail(message);
    assert.match(info.response, /^250 OK posted/);
  });

  describe("a hostile corpus", () => {
    it("forged From with someone else's token, and a token for a report the sender lost access to: held", async () => {
      await setUp();
      const mallory = await createUser(ctx, "researcher");
      const forged = await client().sendMail({
        from: mallory.email,
        to: address,
        subject: "Re: report",
        text: "Forged.",
      });
      assert.match(forged.response, /^250 OK held/);

      const org = await createOrg(ctx);
      const contact = await createUser(ctx, "org_contact");
      await addMember(ctx, org.id, contact.user.id);
      await ctx.db
        .updateTable("reports")
        .set({
          organization_id: org.id,
          state: "vendor_notified",
          vendor_notified_at: ctx.clock.now().getTime(),
        })
        .where("id", "=", reportId)
        .execute();
      const contactAddress = (
        await replyAddressing(
          ctx.db,
          ctx.config,
          contact.user.id,
          reportId,
          ctx.clock.now(),
        )
      ).address;
      await ctx.db
        .deleteFrom("org_members")
        .where("user_id", "=", contact.user.id)
        .execute();
      const lost = await client().sendMail({
        from: contact.email,
        to: contactAddress,
        subject: "Re: report",
        text: "After removal.",
      });
      assert.match(lost.response, /^250 OK held/);
      const held = await listInbound(ctx.db, { status: "held" });
      assert.deepEqual(
        held.map((m) => m.reason).sort(),
        [
          `the From address (${mallory.email}) is not the address of the user this reply address was sent to`,
          "the user can no longer comment on this report",
        ].sort(),
      );
      const text = await bodies();
      assert.ok(!text.includes("Forged.") && !text.includes("After removal."));
    });

    it("ten thousand quoted lines, HTML-only mail with scripts, header injection in the subject", async () => {
      await setUp();
      const quoted = Array.from({ length: 10_000 }, (_, i) => `> ${i}`).join(
        "\n",
      );
      await client().sendMail({
        from: researcher.email,
        to: address,
        subject: "Re: report",
        text: `On top.\n\nOn Mon, 2 Mar 2026, Desk wrote:\n${quoted}`,
      });
      await client().sendMail({
        from: researcher.email,
        to: address,
        subject: "Re: report",
        html: "<p>Only <i>HTML</i>.</p><script>document.cookie</script>",
      });
      // A subject whose decoded text carries a line break and a header.
      const injected = Buffer.from(
        "Re: hi\r\nBcc: victim@example.test",
      ).toString("base64");
      const raw = [
        `From: ${researcher.email}`,
        `To: ${address}`,
        `Subject: =?utf-8?B?${injected}?=`,
        "Message-ID: <inject@mail.example.test>",
        "Content-Type: text/plain",
        "",
        "Injected subject.",
        "",
      ].join("\r\n");
      await client().sendMail({
        envelope: { from: researcher.email, to: [address] },
        raw,
      });
      const text = await bodies();
      assert.ok(text.includes("On top."));
      assert.ok(text.includes("Only HTML."));
      assert.ok(text.includes("Injected subject."));
      assert.ok(!text.some((b) => b?.includes("document.cookie")));
      const stored = (await listInbound(ctx.db)).find(
        (m) => m.messageId === "inject@mail.example.test",
      )!;
      assert.equal(stored.subject, "Re: hi Bcc: victim@example.test");
      assert.equal(stored.status, "posted");
    });

    it("malformed MIME: 554 and kept, held", async () => {
      await setUp();
      await assert.rejects(
        client().sendMail({
          envelope: { from: researcher.email, to: [address] },
          raw: "this line is no header\r\nnor\x00this\r\n",
        }),
        (err: { responseCode?: number }) => err.responseCode === 554,
      );
      const [kept] = await listInbound(ctx.db);
      assert.equal(kept!.status, "held");
      assert.match(kept!.reason!, /^malformed/);
    });

    it("an out-of-office and the desk's own notification mailed back: ignored, never posted", async () => {
      await setUp();
      const away = await client().sendMail({
        from: researcher.email,
        to: address,
        subject: "Automatic reply: your report",
        text: "I am out of the office.",
        headers: { "Auto-Submitted": "auto-replied", "X-Autoreply": "yes" },
      });
      assert.match(away.response, /^250 OK ignored/);

      // A real notification, as the desk writes it (to DATA_DIR/mail/ here).
      const triager = await createUser(ctx, "triager");
      await addComment(
        ctx.deps,
        toActor(triager.user),
        (await findReportById(ctx.db, reportId))!,
        { body: "A question from the CERT." },
      );
      const worker = createMailWorker({
        ...ctx.deps,
        transport: createTransport(ctx.config, ctx.deps.logger),
      });
      await worker.runOnce();
      await worker.stop();
      const dir = path.join(ctx.dataDir, "mail");
      const files = readdirSync(dir);
      assert.ok(files.length > 0);
      const notification = readFileSync(path.join(dir, files[0]!));
      const back = await client().sendMail({
        envelope: { from: researcher.email, to: [address] },
        raw: notification,
      });
      assert.match(back.response, /^250 OK ignored/);
      const ignored = await listInbound(ctx.db, { status: "ignored" });
      assert.equal(ignored.length, 2);
      assert.ok(
        ignored.some((m) => m.reason === "the desk's own mail came back"),
      );
      assert.ok(!(await bodies()).includes("I am out of the office."));
    });
  });
});

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "mocha";
import { handleIntakeMail, titleFrom } from "../../src/inbound/intake.js";
import { listUsers } from "../../src/users/repository.js";
import {
  anonymous,
  createTestContext,
  createUser,
  shown,
  signedIn,
  TEST_PASSWORD,
  type TestContext,
} from "../support/harness.js";
import { inboundMail } from "../support/inbound-mail.js";
import { SCREENSHOT } from "../support/reports.js";

const DOMAIN = "desk.example.test";
const INTAKE = `security@${DOMAIN}`;
const SENDER = "finder@researcher.example.test";

describe("reports by email: filed, answered with a claim link, claimed", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext({
      env: {
        MAIL_DOMAIN: DOMAIN,
        INTAKE_LIMIT_PER_SENDER: "3",
        INTAKE_LIMIT_PER_HOUR: "5",
      },
    });
  });
  afterEach(() => ctx.close());

  const mailed = (fields: Parameters<typeof inboundMail>[0] = {}) =>
    handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [INTAKE],
        from: SENDER,
        envelopeFrom: SENDER,
        subject: "IDOR in the hospital appointment portal",
        text: "Changing the booking ID in the URL shows another patient's appointment.\n\n1. Sign in\n2. Change the id",
        ...fields,
      }),
    );

  const reportRow = (id: number) =>
    ctx.db
      .selectFrom("reports")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirstOrThrow();

  const receiptFor = async (reportId: number) => {
    const rows = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("report_id", "=", reportId)
      .where("to_address", "=", SENDER)
      .execute();
    assert.equal(rows.length, 1, "one receipt to the sender");
    return rows[0]!;
  };

  const claimLinkOf = (text: string) => {
    const m = /http:\/\/localhost:3000(\/claim\/[A-Za-z0-9_-]+)/.exec(text);
    assert.ok(m, "the receipt has a claim link");
    return m[1]!;
  };

  async function fileOne(fields: Parameters<typeof inboundMail>[0] = {}) {
    const outcome = await mailed(fields);
    assert.equal(outcome?.kind, "posted", JSON.stringify(outcome));
    const reportId = (outcome as { reportId: number }).reportId;
    const report = await reportRow(reportId);
    const receipt = await receiptFor(reportId);
    return { reportId, report, receipt, claim: claimLinkOf(receipt.text_body) };
  }

  it("files a report in submitted with a tracking ID, and mails a receipt with the ID and a claim link", async () => {
    await createUser(ctx, "triager");
    const { report, receipt } = await fileOne({
      attachments: [
        {
          filename: "proof.png",
          contentType: "image/png",
          content: readFileSync(SCREENSHOT),
        },
        {
          filename: "run-me.exe",
          contentType: "application/octet-stream",
          content: Buffer.from("MZ\x90\x00 not a picture"),
        },
      ],
    });
    assert.equal(report.state, "submitted");
    assert.match(report.public_id, /^DD-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    assert.equal(report.title, "IDOR in the hospital appointment portal");
    assert.match(report.description, /another patient's appointment/);
    assert.match(report.description, /Attachments not kept: Not accepted/);
    assert.ok(report.ack_due_at, "the acknowledgment clock runs");
    const files = await ctx.db
      .selectFrom("attachments")
      .select(["media_type", "file_name"])
      .where("report_id", "=", report.id)
      .execute();
    assert.deepEqual(
      files.map((f) => f.media_type),
      ["image/png"],
      "checked as web uploads are",
    );
    // The subject carries the ID only, never the sender's words.
    assert.equal(receipt.subject, `[${report.public_id}] Received`);
    assert.match(receipt.text_body, new RegExp(report.public_id));
    assert.match(
      receipt.reply_to ?? "",
      /^security\+[a-z0-9]{16,}@desk\.example\.test$/,
    );
    assert.equal(receipt.message_id, `<report.${report.public_id}@localhost>`);
    // Same workflow as the web form: the triage team hears of it, the audit has it.
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("target_id", "=", report.public_id)
      .execute();
    assert.ok(audit.some((a) => a.action === "report.filed"));
    const fanouts = await ctx.db
      .selectFrom("outbox_fanouts")
      .select("report_id")
      .execute();
    assert.deepEqual(
      fanouts.map((f) => f.report_id),
      [report.id],
    );
  });

  it("keeps a hostile subject on one line and within length", () => {
    assert.equal(
      titleFrom("Hello\r\nBcc: victim@example.test\r\n\tX"),
      "Hello Bcc: victim@example.test X",
    );
    assert.equal(titleFrom("x".repeat(500)).length, 200);
    assert.equal(titleFrom("  "), "Report received by email");
  });

  it("an unclaimed report is for staff only: the triager sees it marked filed by email, a researcher gets 404", async () => {
    const { report } = await fileOne();
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const page = await triager.agent.get(`/reports/${report.public_id}`);
    assert.equal(page.status, 200);
    assert.match(
      shown(page.text),
      new RegExp(
        `Filed by email from ${SENDER}; not claimed by an account yet`,
      ),
    );
    const stranger = await signedIn(ctx, await createUser(ctx, "researcher"));
    const refused = await stranger.agent.get(`/reports/${report.public_id}`);
    const missing = await stranger.agent.get(`/reports/DD-0000-0000`);
    assert.equal(refused.status, 404);
    assert.equal(refused.text, missing.text, "same 404 as a missing report");
    const visitor = await anonymous(ctx);
    assert.notEqual(
      (await visitor.agent.get(`/reports/${report.public_id}`)).status,
      200,
    );
  });

  it("the intake account never signs in and is not listed among users", async () => {
    await fileOne();
    const account = await ctx.db
      .selectFrom("users")
      .selectAll()
      .where("system_account", "=", 1)
      .executeTakeFirstOrThrow();
    assert.ok(account.disabled_at);
    assert.equal(account.password_hash, null);
    assert.ok(!(await listUsers(ctx.db)).some((u) => u.id === account.id));
    const visitor = await anonymous(ctx);
    const res = await visitor.post("/login", {
      email: account.email,
      password: TEST_PASSWORD,
    });
    assert.notEqual(res.headers.location, "/");
    assert.equal(res.status, 401);
  });

  it("claim as a new user: choose a password, the report is in the new account", async () => {
    const { report, claim } = await fileOne();
    const visitor = await anonymous(ctx);
    let page = await visitor.agent.get(claim);
    assert.equal(page.status, 200);
    assert.match(
      shown(page.text),
      /Choose a password for a new researcher account/,
    );
    await visitor.refreshCsrf(claim);
    const bad = await visitor.post(claim, {
      displayName: "Finder",
      password: "short",
      confirm: "short",
    });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /value="Finder"/, "what was typed is kept");
    assert.equal((await reportRow(report.id)).reporter_id, report.reporter_id);
    const done = await visitor.post(claim, {
      displayName: "Finder",
      password: TEST_PASSWORD,
      confirm: TEST_PASSWORD,
    });
    assert.equal(done.status, 303);
    assert.equal(done.headers.location, "/login");
    const user = await ctx.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", SENDER)
      .executeTakeFirstOrThrow();
    assert.ok(user.email_verified_at, "the link proved the mailbox");
    assert.equal((await reportRow(report.id)).reporter_id, user.id);
    const researcher = await signedIn(ctx, {
      user: { id: user.id } as never,
      email: SENDER,
      password: TEST_PASSWORD,
    });
    page = await researcher.agent.get(`/reports/${report.public_id}`);
    assert.equal(page.status, 200);
    assert.match(shown(page.text), /Filed by email/);
    // Used: the link answers so, and nothing changes.
    const again = await anonymous(ctx);
    const used = await again.agent.get(claim);
    assert.equal(used.status, 410);
    assert.match(used.text, /claimed already/);
  });

  it("claim as an existing user: sign in, confirm, the report joins that account", async () => {
    const existing = await createUser(ctx, "researcher", { email: SENDER });
    const { report, claim } = await fileOne();
    const visitor = await anonymous(ctx);
    const page = await visitor.agent.get(claim);
    assert.match(
      shown(page.text),
      /An account with <strong>finder@researcher\.example\.test<\/strong> exists/,
    );
    // A new account cannot be made for the address.
    await visitor.refreshCsrf("/login");
    const refused = await visitor.post(claim, {
      displayName: "Someone",
      password: TEST_PASSWORD,
      confirm: TEST_PASSWORD,
    });
    assert.equal(refused.status, 422);
    assert.match(shown(refused.text), /exists already: sign in with it/);
    assert.notEqual((await reportRow(report.id)).reporter_id, existing.user.id);

    const browser = await signedIn(ctx, existing);
    const confirm = await browser.agent.get(claim);
    assert.match(shown(confirm.text), /Attach this report to my account/);
    assert.notEqual(
      (await reportRow(report.id)).reporter_id,
      existing.user.id,
      "opening the page attaches nothing",
    );
    await browser.refreshCsrf(claim);
    const done = await browser.post(claim);
    assert.equal(done.status, 303);
    assert.equal(done.headers.location, `/reports/${report.public_id}`);
    assert.equal((await reportRow(report.id)).reporter_id, existing.user.id);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "=", "report.claimed")
      .execute();
    assert.equal(audit.length, 1);
    // Reused: refused.
    const reuse = await browser.post(claim);
    assert.equal(reuse.status, 410);
  });

  it("a forged or expired claim token is refused and attaches nothing", async () => {
    const { report, claim } = await fileOne();
    const visitor = await anonymous(ctx);
    const forged = await visitor.agent.get(
      "/claim/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    assert.equal(forged.status, 404);
    assert.match(forged.text, /not valid/);
    await visitor.refreshCsrf("/login");
    const forgedPost = await visitor.post(
      "/claim/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      { displayName: "X", password: TEST_PASSWORD, confirm: TEST_PASSWORD },
    );
    assert.equal(forgedPost.status, 404);
    ctx.clock.advanceDays(15);
    await visitor.refreshCsrf("/login");
    const expired = await visitor.agent.get(claim);
    assert.equal(expired.status, 410);
    assert.match(expired.text, /expired/);
    const expiredPost = await visitor.post(claim, {
      displayName: "X",
      password: TEST_PASSWORD,
      confirm: TEST_PASSWORD,
    });
    assert.equal(expiredPost.status, 410);
    assert.equal((await reportRow(report.id)).reporter_id, report.reporter_id);
    assert.equal(
      await ctx.db
        .selectFrom("users")
        .select("id")
        .where("email", "=", SENDER)
        .executeTakeFirst(),
      undefined,
    );
  });

  it("a reply to the receipt continues the thread as a comment until claimed; a forged From is held", async () => {
    const { report, receipt } = await fileOne();
    const replyTo = receipt.reply_to!;
    const reply = await handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [replyTo],
        from: SENDER,
        envelopeFrom: SENDER,
        subject: `Re: [${report.public_id}] Received`,
        text: "Also the cancel endpoint has the same bug.\n\nOn Mon, 2 Mar 2026 the desk wrote:\n> Your report was received",
      }),
    );
    assert.equal(reply?.kind, "posted");
    const comments = await ctx.db
      .selectFrom("report_events")
      .select(["body", "kind"])
      .where("report_id", "=", report.id)
      .where("kind", "=", "comment")
      .execute();
    assert.deepEqual(
      comments.map((c) => c.body),
      ["Also the cancel endpoint has the same bug."],
    );
    const reportsBefore = (
      await ctx.db.selectFrom("reports").select("id").execute()
    ).length;
    // A server that dropped the +token: the token in References still threads it.
    const token = /\+([a-z0-9]+)@/.exec(replyTo)![1]!;
    const viaReferences = await handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [INTAKE],
        from: SENDER,
        envelopeFrom: SENDER,
        headers: {
          references: `<report.${report.public_id}@localhost> <intake.${token}@${DOMAIN}>`,
        },
        text: "And the export endpoint too.",
      }),
    );
    assert.equal(viaReferences?.kind, "posted");
    assert.match((viaReferences as { note: string }).note, /^comment on/);
    assert.equal(
      (await ctx.db.selectFrom("reports").select("id").execute()).length,
      reportsBefore,
      "no second report",
    );
    const forged = await handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [replyTo],
        from: "mallory@example.test",
        envelopeFrom: "mallory@example.test",
        text: "Close this please",
      }),
    );
    assert.equal(forged?.kind, "held");
    const unknown = await handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [`security+${"z".repeat(32)}@${DOMAIN}`],
        from: SENDER,
        envelopeFrom: SENDER,
        text: "hello",
      }),
    );
    assert.deepEqual(unknown, {
      kind: "held",
      reason: "unknown intake reply token",
      unknownRecipient: true,
    });
  });

  it("rate limits per sender and overall: held with the reason, never answered", async () => {
    for (let i = 0; i < 3; i++) await fileOne();
    const over = await mailed();
    assert.equal(over?.kind, "held");
    assert.match((over as { reason: string }).reason, /^rate limit/);
    for (const other of ["a@example.test", "b@example.test"]) {
      const ok = await mailed({ from: other, envelopeFrom: other });
      assert.equal(ok?.kind, "posted");
    }
    const overall = await mailed({
      from: "c@example.test",
      envelopeFrom: "c@example.test",
    });
    assert.equal(overall?.kind, "held");
    assert.match(
      (overall as { reason: string }).reason,
      /^rate limit: 5 reports by email/,
    );
    const receipts = await ctx.db
      .selectFrom("outbox")
      .select("to_address")
      .where("template", "=", "report_received_by_email")
      .execute();
    assert.equal(receipts.length, 5, "nothing answered past the limits");
    ctx.clock.advance(61 * 60_000);
    assert.equal((await mailed())?.kind, "posted", "the hour passes");
  });

  it("never answers an automatic, empty or own sender, and leaves other mail to other handlers", async () => {
    const cases: Parameters<typeof inboundMail>[0][] = [
      { headers: { "auto-submitted": "auto-replied" } },
      { headers: { precedence: "bulk" } },
      { envelopeFrom: "" },
      { from: "", envelopeFrom: "x@example.test" },
      { from: `no-reply@${DOMAIN}`, envelopeFrom: `no-reply@${DOMAIN}` },
      { from: INTAKE, envelopeFrom: INTAKE },
    ];
    for (const fields of cases) {
      const outcome = await mailed(fields);
      assert.equal(outcome?.kind, "ignored", JSON.stringify(fields));
    }
    assert.equal(
      await handleIntakeMail(
        ctx.deps,
        inboundMail({ recipients: [`reply+abc@${DOMAIN}`] }),
      ),
      null,
    );
    const held = await mailed({ dmarc: "fail" });
    assert.equal(held?.kind, "held");
    const sent = await ctx.db.selectFrom("outbox").select("id").execute();
    assert.equal(sent.length, 0, "no receipt to any of them");
  });

  it("before the claim, the desk's mail about the report reaches the sender, and their reply answers a request for information", async () => {
    const { report, receipt } = await fileOne();
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    await triager.refreshCsrf(`/reports/${report.public_id}`);
    const transition = (name: string, fields: Record<string, string> = {}) =>
      triager.post(`/reports/${report.public_id}/transition`, {
        name,
        ...fields,
      });
    assert.equal(
      (await transition("request_info", { message: "Which page?" })).status,
      303,
    );
    assert.equal((await reportRow(report.id)).state, "needs_info");
    const notices = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("report_id", "=", report.id)
      .where("to_address", "=", SENDER)
      .where("template", "=", "report_event")
      .execute();
    assert.equal(notices.length, 1, "the sender hears of the question");
    assert.equal(
      notices[0]!.reply_to,
      receipt.reply_to,
      "with the same Reply-To",
    );
    assert.match(notices[0]!.text_body, /claim it with the link/);
    const answer = await handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [notices[0]!.reply_to!],
        from: SENDER,
        envelopeFrom: SENDER,
        subject: `Re: [${report.public_id}] More information needed`,
        text: "The booking page, /booking?id=.\n\n> Which page?",
      }),
    );
    assert.equal(answer?.kind, "posted");
    assert.match((answer as { note: string }).note, /^answer to the request/);
    assert.equal(
      (await reportRow(report.id)).state,
      "submitted",
      "back to the state before",
    );
    // Claimed: the sender's address hears no more through the intake.
    const existing = await createUser(ctx, "researcher", { email: SENDER });
    const { claimForAccount } = await import("../../src/inbound/intake.js");
    const { toActor } = await import("../../src/users/service.js");
    const token = /\/claim\/([A-Za-z0-9_-]+)/.exec(receipt.text_body)![1]!;
    const claimed = await claimForAccount(
      ctx.deps,
      token,
      toActor(existing.user),
      null,
    );
    assert.equal(claimed.ok, true);
    const late = await handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [receipt.reply_to!],
        from: SENDER,
        envelopeFrom: SENDER,
        text: "One more thing.",
      }),
    );
    assert.equal(late?.kind, "held");
  });
});

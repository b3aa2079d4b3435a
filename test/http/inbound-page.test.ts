import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  findInboundById,
  insertReceived,
  recordDecision,
  type InboundStatus,
} from "../../src/inbound/repository.js";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

let counter = 0;

/** A plain mail as received, CRLF lines. */
function rawMail(subject: string, body: string, extra: string[] = []): Buffer {
  counter++;
  return Buffer.from(
    [
      "From: Rita <rita@example.org>",
      "To: desk+token@localhost",
      `Subject: ${subject}`,
      `Message-ID: <page-${counter}@example.org>`,
      "Date: Sun, 06 Dec 2026 23:00:00 +0000",
      "MIME-Version: 1.0",
      ...extra,
      ...(extra.some((h) => /^content-type/i.test(h))
        ? []
        : ["Content-Type: text/plain; charset=utf-8"]),
      "",
      body,
      "",
    ].join("\r\n"),
  );
}

const auditOf = (ctx: TestContext, action: string) =>
  ctx.db
    .selectFrom("audit_log")
    .selectAll()
    .where("action", "=", action)
    .execute();

describe("the staff Inbound mail page", () => {
  let ctx: TestContext;
  let triager: TestUser;
  let staff: Browser;
  let reportPublicId: string;
  const ids: Record<string, number> = {};

  /** Stores a message as ingestion would, with what it decided. */
  async function store(
    raw: Buffer,
    status: Exclude<InboundStatus, "received">,
    reason: string | null,
    reportId: number | null = null,
  ): Promise<number> {
    const messageId = /Message-ID: <([^>]+)>/.exec(raw.toString())![1]!;
    const subject = /Subject: (.*)\r\n/.exec(raw.toString())![1]!;
    const id = (await insertReceived(ctx.db, {
      messageId,
      receivedAt: ctx.clock.now(),
      envelopeFrom: "rita@example.org",
      recipients: ["desk+token@localhost"],
      fromAddress: "rita@example.org",
      subject,
      raw,
      encrypted: false,
      signedBy: null,
      dmarc: "none",
    }))!;
    await recordDecision(ctx.db, id, {
      status,
      reason,
      reportId,
      decidedAt: ctx.clock.now(),
    });
    return id;
  }

  before(async () => {
    ctx = await createTestContext();
    triager = await createUser(ctx, "triager");
    staff = await signedIn(ctx, triager);
    const researcher = await createUser(ctx, "researcher");
    const report = await insertReport(ctx, { reporterId: researcher.user.id });
    reportPublicId = report.publicId;
    ids.posted = await store(
      rawMail("Re: the fix", "Thanks, retested."),
      "posted",
      "comment",
      report.id,
    );
    ids.ignored = await store(
      rawMail("Out of office", "Back on Monday.", [
        "Auto-Submitted: auto-replied",
      ]),
      "ignored",
      "auto-reply",
    );
    ids.html = await store(
      rawMail(
        "Hostile <b>subject</b>",
        '<p>Hello</p><script>alert("x")</script><img src=x onerror=alert(1)>',
        ["Content-Type: text/html; charset=utf-8"],
      ),
      "held",
      "From address does not match the token's user",
    );
    ids.discard = await store(
      rawMail("Unknown token", "Who am I writing to?"),
      "held",
      "unknown token",
    );
  });
  after(() => ctx.close());

  it("is in the staff menu", async () => {
    const page = await staff.agent.get("/queue");
    assert.match(
      page.text,
      /<a href="\/admin\/inbound"[^>]*>Inbound mail<\/a>/,
    );
  });

  it("lists held mail by default, with sender, subject, status and reason", async () => {
    const res = await staff.agent.get("/admin/inbound");
    assert.equal(res.status, 200);
    const text = shown(res.text);
    assert.ok(text.includes("Unknown token"));
    assert.ok(text.includes("unknown token"));
    assert.ok(text.includes("rita@example.org"));
    assert.ok(text.includes(`href="/admin/inbound/${ids.discard}"`));
    // Subjects are escaped text, never markup.
    assert.ok(res.text.includes("Hostile &lt;b&gt;subject&lt;/b&gt;"));
    assert.ok(!res.text.includes("<b>subject</b>"));
    assert.ok(!text.includes("Re: the fix"), "posted mail is not held");
    assert.ok(!text.includes("Out of office"));
  });

  it("filters by status, linking the report a message was posted to", async () => {
    const posted = shown(
      (await staff.agent.get("/admin/inbound?status=posted")).text,
    );
    assert.ok(posted.includes("Re: the fix"));
    assert.ok(posted.includes(`href="/reports/${reportPublicId}"`));
    assert.ok(!posted.includes("Unknown token"));
    const all = shown(
      (await staff.agent.get("/admin/inbound?status=all")).text,
    );
    for (const s of ["Re: the fix", "Out of office", "Unknown token"])
      assert.ok(all.includes(s), s);
  });

  it("refuses an unknown status next to the field, showing held mail", async () => {
    const res = await staff.agent.get("/admin/inbound?status=<script>");
    assert.equal(res.status, 422);
    assert.match(shown(res.text), /Choose a status\./);
    assert.ok(shown(res.text).includes("Unknown token"));
    assert.ok(!res.text.includes("<script>"));
  });

  it("pages through many messages, newest first", async () => {
    const first = await store(rawMail("Bulk 0", "x"), "ignored", "bulk");
    for (let i = 1; i < 55; i++)
      await store(rawMail(`Bulk ${i}`, "x"), "ignored", "bulk");
    const page1 = (await staff.agent.get("/admin/inbound?status=ignored")).text;
    assert.ok(page1.includes("Bulk 54"));
    assert.ok(!page1.includes("Bulk 0<"));
    const next = /href="([^"]+)" rel="next"/.exec(page1)?.[1];
    assert.ok(next, "a link to older messages");
    const page2 = (await staff.agent.get(next!.replace(/&amp;/g, "&"))).text;
    assert.ok(page2.includes("Bulk 0<"));
    assert.ok(page2.includes(`/admin/inbound/${first}"`));
    assert.ok(!page2.includes("Bulk 54"));
    assert.ok(!/rel="next"/.test(page2));
  });

  it("shows a message's headers and text, never its HTML", async () => {
    const res = await staff.agent.get(`/admin/inbound/${ids.html}`);
    assert.equal(res.status, 200);
    const text = shown(res.text);
    assert.ok(text.includes("From address does not match the token"));
    assert.ok(text.includes("Message-ID"));
    assert.ok(text.includes(`page-`));
    assert.ok(text.includes("Hello"));
    assert.ok(!res.text.includes('<script>alert("x")</script>'));
    assert.ok(!res.text.includes("onerror=alert"));
    assert.ok(!res.text.includes("<img src=x"));
    assert.ok(res.text.includes(`href="/admin/inbound/${ids.html}/raw"`));
  });

  it("downloads the message as received: message/rfc822, an attachment, inert", async () => {
    const res = await staff.agent
      .get(`/admin/inbound/${ids.html}/raw`)
      .buffer(true)
      .parse((r, done) => {
        const chunks: Buffer[] = [];
        r.on("data", (c: Buffer) => chunks.push(c));
        r.on("end", () => done(null, Buffer.concat(chunks)));
      });
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"]!, /^message\/rfc822/);
    assert.match(
      res.headers["content-disposition"]!,
      new RegExp(`^attachment; filename="?inbound-${ids.html}\\.eml"?$`),
    );
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.match(res.headers["content-security-policy"]!, /sandbox/);
    const stored = await findInboundById(ctx.db, ids.html!);
    assert.ok((res.body as Buffer).equals(stored!.raw));
  });

  it("answers 404 for a forged or missing ID, on every route", async () => {
    for (const id of ["999999", "0", "abc", "1.5", "-1", `${ids.html}x`]) {
      for (const path of [`/admin/inbound/${id}`, `/admin/inbound/${id}/raw`])
        assert.equal((await staff.agent.get(path)).status, 404, path);
      for (const action of ["release", "discard"])
        assert.equal(
          (await staff.post(`/admin/inbound/${id}/${action}`)).status,
          404,
          `${id} ${action}`,
        );
    }
    assert.equal(
      (await staff.agent.get("/admin/inbound/message/nobody%40nowhere")).status,
      404,
    );
  });

  it("shows the message by its Message-ID (a timeline entry's link)", async () => {
    const stored = await findInboundById(ctx.db, ids.posted!);
    const res = await staff.agent.get(
      `/admin/inbound/message/${encodeURIComponent(stored!.messageId)}`,
    );
    assert.equal(res.status, 200);
    assert.ok(shown(res.text).includes("Thanks, retested."));
    assert.ok(res.text.includes(`href="/admin/inbound/${ids.posted}/raw"`));
  });

  it("refuses a release or discard without the CSRF token, changing nothing", async () => {
    for (const action of ["release", "discard"]) {
      const res = await staff.agent
        .post(`/admin/inbound/${ids.discard}/${action}`)
        .type("form")
        .send({});
      assert.equal(res.status, 403);
    }
    const stored = await findInboundById(ctx.db, ids.discard!);
    assert.equal(stored!.status, "held");
    assert.equal(stored!.decidedBy, null);
  });

  it("discards a held message once, audited, and keeps it listed with its reason", async () => {
    const res = await staff.post(`/admin/inbound/${ids.discard}/discard`);
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/admin/inbound/${ids.discard}`);
    const stored = await findInboundById(ctx.db, ids.discard!);
    assert.equal(stored!.status, "discarded");
    assert.equal(stored!.reason, "unknown token");
    assert.equal(stored!.decidedBy, triager.user.id);
    assert.equal(stored!.decidedAt?.getTime(), ctx.clock.now().getTime());
    const audit = await auditOf(ctx, "inbound.discarded");
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor_id, triager.user.id);
    assert.equal(audit[0]!.target_type, "inbound");
    assert.equal(audit[0]!.target_id, String(ids.discard));
    const page = shown(
      (await staff.agent.get(`/admin/inbound/${ids.discard}`)).text,
    );
    assert.ok(page.includes("Discarded"));
    assert.ok(page.includes(triager.user.displayName));
    assert.ok(
      !page.includes('action="/admin/inbound/' + ids.discard + '/discard"'),
    );
    // Twice: nothing more happens.
    await staff.post(`/admin/inbound/${ids.discard}/discard`);
    assert.equal((await auditOf(ctx, "inbound.discarded")).length, 1);
    const listed = shown(
      (await staff.agent.get("/admin/inbound?status=discarded")).text,
    );
    assert.ok(listed.includes("Unknown token"));
  });

  it("releases a held message through the same checks, audited as the triager's decision", async () => {
    const id = await store(
      rawMail("Held again", "No token here."),
      "held",
      "From address does not match the token's user",
    );
    const page = shown((await staff.agent.get(`/admin/inbound/${id}`)).text);
    assert.ok(
      page.includes(
        "I checked that this message really comes from the account holder",
      ),
    );
    const res = await staff.post(`/admin/inbound/${id}/release`, {
      confirmSender: "yes",
    });
    assert.equal(res.status, 303);
    const stored = await findInboundById(ctx.db, id);
    // Still nothing to post it to: held again, with the new reason, decided by the triager.
    assert.equal(stored!.status, "held");
    assert.notEqual(
      stored!.reason,
      "From address does not match the token's user",
    );
    assert.equal(stored!.decidedBy, triager.user.id);
    const [entry] = await auditOf(ctx, "inbound.released");
    assert.equal(entry!.target_id, String(id));
    const details = JSON.parse(entry!.details) as Record<string, unknown>;
    assert.equal(details.trustedSender, true);
    assert.equal(details.outcome, "held");
    const after = await staff.agent.get(`/admin/inbound/${id}`);
    assert.match(shown(after.text), /Still held: /);
  });

  it("never overrules other holds, whatever the box says", async () => {
    const id = await store(rawMail("No token", "x"), "held", "unknown token");
    const page = shown((await staff.agent.get(`/admin/inbound/${id}`)).text);
    assert.ok(!page.includes("I checked that this message really comes"));
    await staff.post(`/admin/inbound/${id}/release`, { confirmSender: "yes" });
    const entries = await auditOf(ctx, "inbound.released");
    const details = JSON.parse(entries.at(-1)!.details) as Record<
      string,
      unknown
    >;
    assert.equal(details.trustedSender, false);
  });

  it("refuses a malformed confirmation and releases nothing", async () => {
    const id = await store(
      rawMail("Odd box", "x"),
      "held",
      "DMARC check failed",
    );
    const res = await staff.post(`/admin/inbound/${id}/release`, {
      confirmSender: "<script>",
    });
    assert.equal(res.status, 422);
    assert.equal((await findInboundById(ctx.db, id))!.status, "held");
    assert.equal((await findInboundById(ctx.db, id))!.decidedBy, null);
  });

  it("will not release or discard what was posted", async () => {
    const before = (await auditOf(ctx, "inbound.released")).length;
    await staff.post(`/admin/inbound/${ids.posted}/release`);
    assert.equal((await auditOf(ctx, "inbound.released")).length, before);
    assert.equal(
      (await findInboundById(ctx.db, ids.posted!))!.status,
      "posted",
    );
  });

  it("will not discard what was posted", async () => {
    await staff.post(`/admin/inbound/${ids.posted}/discard`);
    assert.equal(
      (await findInboundById(ctx.db, ids.posted!))!.status,
      "posted",
    );
  });
});

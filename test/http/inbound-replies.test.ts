import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, afterEach, before, beforeEach, describe, it } from "mocha";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import {
  beforeAutomaticFilter,
  ingestMail,
  type IngestDeps,
} from "../../src/inbound/ingest.js";
import {
  findInboundById,
  insertReceived,
} from "../../src/inbound/repository.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker } from "../../src/mail/worker.js";
import { addComment } from "../../src/reports/service.js";
import { findReportById } from "../../src/reports/repository.js";
import { setUserDisabled } from "../../src/users/repository.js";
import { toActor } from "../../src/users/service.js";
import { addMember, createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  composeMail,
  noDns,
  rawMail,
  rejectingDmarc,
} from "../support/inbound.js";
import { SCREENSHOT } from "../support/reports.js";
import { TestSmtpServer } from "../support/smtp.js";

const DOMAIN = "desk.example.test";

describe("inbound mail: replies become comments", () => {
  let ctx: TestContext;
  let deps: IngestDeps;
  let researcher: TestUser;
  let triager: TestUser;
  let reportId: number;
  let counter = 0;

  beforeEach(async () => {
    ctx = await createTestContext({ env: { MAIL_DOMAIN: DOMAIN } });
    deps = { ...ctx.deps, dnsResolver: noDns };
    researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager");
    ({ id: reportId } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    }));
  });
  afterEach(() => ctx.close());

  const replyTo = (user: TestUser, id = reportId) =>
    replyAddressing(ctx.db, ctx.config, user.user.id, id, ctx.clock.now());

  async function reply(
    from: string,
    to: string,
    text: string,
    extra: Record<string, unknown> = {},
  ) {
    counter += 1;
    const raw = await composeMail({
      from,
      to,
      subject: "Re: [DD] Your report",
      text,
      messageId: `<reply${counter}@mail.example.test>`,
      ...extra,
    });
    return {
      raw,
      result: await ingestMail(deps, raw, { from, recipients: [to] }),
    };
  }

  const timeline = () =>
    ctx.db
      .selectFrom("report_events")
      .select(["id", "kind", "action", "body", "actor_id"])
      .where("report_id", "=", reportId)
      .orderBy("id")
      .execute();

  it("a researcher's reply during a request for information answers it and the report moves back", async () => {
    await ctx.db
      .updateTable("reports")
      .set({
        state: "needs_info",
        state_before_info: "acknowledged",
        info_requested_at: ctx.clock.now().getTime(),
      })
      .where("id", "=", reportId)
      .execute();
    const { address } = await replyTo(researcher);
    const { result, raw } = await reply(
      researcher.email,
      address,
      "The portal is at version 4.2.\n\nOn Mon, 2 Mar 2026 at 09:00, Disclosure Desk <reply@desk> wrote:\n> We need the version.\n> Thanks",
    );
    assert.equal(result.outcome.kind, "posted");
    const report = await findReportById(ctx.db, reportId);
    assert.equal(report!.state, "acknowledged");
    const events = await timeline();
    const answer = events.at(-1)!;
    assert.equal(answer.action, "provide_info");
    assert.equal(answer.body, "The portal is at version 4.2.");
    assert.equal(answer.actor_id, researcher.user.id);
    const stored = await findInboundById(ctx.db, result.inboundId!);
    assert.equal(stored!.status, "posted");
    assert.equal(stored!.eventId, answer.id);
    assert.equal(stored!.reportId, reportId);
    assert.deepEqual(stored!.raw, raw);
    // The timeline says the answer came by email; the triager reads it too.
    const page = await (
      await signedIn(ctx, triager)
    ).agent.get(`/reports/${report!.publicId}`);
    assert.equal(page.status, 200);
    const entry = shown(page.text)
      .split("<li")
      .find((li) => li.includes("The portal is at version 4.2."));
    assert.ok(entry, "the answer is on the timeline");
    assert.match(entry, /By email/);
    assert.equal(shown(page.text).match(/By email/g)?.length, 1);
  });

  it("the same reply delivered three times is posted once", async () => {
    const { address } = await replyTo(researcher);
    const raw = await composeMail({
      from: researcher.email,
      to: address,
      subject: "Re: report",
      text: "Once only.",
      messageId: "<thrice@mail.example.test>",
    });
    const envelope = { from: researcher.email, recipients: [address] };
    const results = [];
    for (let i = 0; i < 3; i++)
      results.push(await ingestMail(deps, raw, envelope));
    assert.deepEqual(
      results.map((r) => r.duplicate),
      [false, true, true],
    );
    assert.ok(results.every((r) => r.outcome.kind === "posted"));
    const comments = (await timeline()).filter((e) => e.body === "Once only.");
    assert.equal(comments.length, 1);
  });

  it("a forged message that takes a genuine reply's Message-ID first does not get the genuine one dropped", async () => {
    const { address } = await replyTo(researcher);
    const envelope = { from: researcher.email, recipients: [address] };
    const messageId = "<known-in-advance@mail.example.test>";
    const forged = await composeMail({
      from: "mallory@attacker.example.test",
      to: address,
      subject: "Re: report",
      text: "Forged first.",
      messageId,
    });
    const genuine = await composeMail({
      from: researcher.email,
      to: address,
      subject: "Re: report",
      text: "The genuine answer.",
      messageId,
    });
    const first = await ingestMail(deps, forged, envelope);
    assert.equal(first.outcome.kind, "held");
    const second = await ingestMail(deps, genuine, envelope);
    assert.equal(second.duplicate, false);
    assert.equal(second.outcome.kind, "posted");
    const posted = (await timeline()).filter(
      (e) => e.body === "The genuine answer.",
    );
    assert.equal(posted.length, 1);
    // The genuine one delivered again is still a duplicate.
    const again = await ingestMail(deps, genuine, envelope);
    assert.equal(again.duplicate, true);
    assert.equal(
      (await timeline()).filter((e) => e.body === "The genuine answer.").length,
      1,
    );
  });

  it("a redelivery of a message whose first delivery stopped before deciding puts it before a triager, held", async () => {
    const { address } = await replyTo(researcher);
    const envelope = { from: researcher.email, recipients: [address] };
    const raw = await composeMail({
      from: researcher.email,
      to: address,
      subject: "Re: report",
      text: "Stored, then the process died.",
      messageId: "<died-mid-way@mail.example.test>",
    });
    // What a crash between storing and deciding leaves: a "received" row.
    const storedId = await insertReceived(ctx.db, {
      messageId: "died-mid-way@mail.example.test",
      receivedAt: ctx.clock.now(),
      envelopeFrom: researcher.email,
      recipients: [address],
      fromAddress: researcher.email,
      subject: "Re: report",
      raw,
      encrypted: false,
      signedBy: null,
      dmarc: "none",
    });
    // A redelivery while the first may still be deciding is only a duplicate.
    const soon = await ingestMail(deps, raw, envelope);
    assert.equal(soon.duplicate, true);
    assert.equal(
      (await findInboundById(ctx.db, storedId!))!.status,
      "received",
    );
    ctx.clock.advance(11 * 60_000);
    const later = await ingestMail(deps, raw, envelope);
    assert.equal(later.duplicate, true);
    assert.equal(later.outcome.kind, "held");
    const row = await findInboundById(ctx.db, storedId!);
    assert.equal(row!.status, "held");
    assert.match(row!.reason ?? "", /stopped before it was decided/);
    // Nothing was posted behind the triager's back.
    assert.equal(
      (await timeline()).filter(
        (e) => e.body === "Stored, then the process died.",
      ).length,
      0,
    );
  });

  it("a thousand replies in a burst, each delivered twice, are each posted exactly once", async function () {
    this.timeout(120_000);
    const { address } = await replyTo(researcher);
    const envelope = { from: researcher.email, recipients: [address] };
    const raws = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        composeMail({
          from: researcher.email,
          to: address,
          subject: "Re: report",
          text: `Burst reply ${i}.`,
          messageId: `<burst${i}@mail.example.test>`,
        }),
      ),
    );
    const results = await Promise.all(
      [...raws, ...raws].map((raw) => ingestMail(deps, raw, envelope)),
    );
    assert.equal(results.filter((r) => !r.duplicate).length, 1000);
    const bodies = (await timeline())
      .map((e) => e.body ?? "")
      .filter((b) => b.startsWith("Burst reply"));
    assert.equal(bodies.length, 1000);
    assert.equal(new Set(bodies).size, 1000);
    const posted = await ctx.db
      .selectFrom("inbound_messages")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "=", "posted")
      .executeTakeFirstOrThrow();
    assert.equal(Number(posted.n), 1000);
  });

  it("holds a reply whose From is not the token's user (someone else's token)", async () => {
    const other = await createUser(ctx, "researcher");
    const { address } = await replyTo(researcher);
    const { result } = await reply(other.email, address, "I am not them.");
    assert.equal(result.outcome.kind, "held");
    assert.match((result.outcome as { reason: string }).reason, /From address/);
    assert.equal(
      (await timeline()).some((e) => e.body === "I am not them."),
      false,
    );
  });

  it("holds a reply that fails DMARC, and does not hold one whose domain has no policy", async () => {
    const { address } = await replyTo(researcher);
    deps = { ...ctx.deps, dnsResolver: rejectingDmarc("example.test") };
    const failed = await reply(researcher.email, address, "Forged, perhaps.");
    assert.equal(failed.result.outcome.kind, "held");
    assert.match((failed.result.outcome as { reason: string }).reason, /DMARC/);
    assert.equal(
      (await findInboundById(ctx.db, failed.result.inboundId!))!.dmarc,
      "fail",
    );
    deps = { ...ctx.deps, dnsResolver: noDns };
    const fine = await reply(researcher.email, address, "No policy here.");
    assert.equal(fine.result.outcome.kind, "posted");
  });

  it("holds a reply from a user who can no longer see the report: removed from the organization, or disabled", async () => {
    const org = await createOrg(ctx);
    const contact = await createUser(ctx, "org_contact", { orgIds: [org.id] });
    await ctx.db
      .updateTable("reports")
      .set({
        organization_id: org.id,
        state: "vendor_notified",
        vendor_notified_at: ctx.clock.now().getTime(),
      })
      .where("id", "=", reportId)
      .execute();
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: reportId,
        organization_id: org.id,
        added_at: ctx.clock.now().getTime(),
        notified_at: ctx.clock.now().getTime(),
      })
      .execute();
    const { address } = await replyTo(contact);
    const first = await reply(contact.email, address, "We are on it.");
    assert.equal(first.result.outcome.kind, "posted");
    await ctx.db
      .deleteFrom("org_members")
      .where("user_id", "=", contact.user.id)
      .execute();
    const removed = await reply(contact.email, address, "Still here?");
    assert.equal(removed.result.outcome.kind, "held");
    assert.match(
      (removed.result.outcome as { reason: string }).reason,
      /can no longer comment/,
    );
    const researcherAddress = (await replyTo(researcher)).address;
    await setUserDisabled(ctx.db, researcher.user.id, ctx.clock.now());
    const disabled = await reply(
      researcher.email,
      researcherAddress,
      "From a disabled account.",
    );
    assert.equal(disabled.result.outcome.kind, "held");
    assert.match(
      (disabled.result.outcome as { reason: string }).reason,
      /disabled/,
    );
  });

  it("holds an unknown token, and says the recipient is unknown", async () => {
    const { result } = await reply(
      researcher.email,
      `reply+${"a".repeat(26)}@${DOMAIN}`,
      "Guessing.",
    );
    assert.equal(result.outcome.kind, "held");
    assert.equal(result.unknownRecipient, true);
  });

  it("finds the token in References when the server dropped the sub-address", async () => {
    const { reference } = await replyTo(researcher);
    const { result } = await reply(
      researcher.email,
      `reply@${DOMAIN}`,
      "Routed by References.",
      {
        references: `<thread@localhost> ${reference}`,
        inReplyTo: "<thread@localhost>",
      },
    );
    assert.equal(result.outcome.kind, "posted");
  });

  it("holds a reply that is only quoted text as an empty reply", async () => {
    const { address } = await replyTo(researcher);
    const lines = Array.from({ length: 10_000 }, (_, i) => `> line ${i}`);
    const { result } = await reply(
      researcher.email,
      address,
      "\n" + lines.join("\n"),
    );
    assert.deepEqual(result.outcome, { kind: "held", reason: "empty reply" });
  });

  it("posts ten thousand quoted lines as the one new line above them", async () => {
    const { address } = await replyTo(researcher);
    const lines = Array.from({ length: 10_000 }, (_, i) => `> line ${i}`);
    const { result } = await reply(
      researcher.email,
      address,
      "Short answer.\n\n" + lines.join("\n"),
    );
    assert.equal(result.outcome.kind, "posted");
    assert.equal((await timeline()).at(-1)!.body, "Short answer.");
  });

  it("takes HTML-only mail as its text, scripts dropped", async () => {
    const { address } = await replyTo(researcher);
    const { result } = await reply(researcher.email, address, "", {
      text: undefined,
      html: '<p>Patched <b>today</b>.</p><script>alert("x")</script><img src=x onerror=alert(1)>',
    });
    assert.equal(result.outcome.kind, "posted");
    const body = (await timeline()).at(-1)!.body!;
    assert.match(body, /Patched today\./);
    assert.doesNotMatch(body, /alert|script|onerror/);
  });

  it("attaches the reply's files through the upload checks", async () => {
    const { address } = await replyTo(researcher);
    const { result } = await reply(
      researcher.email,
      address,
      "Screenshot attached.",
      {
        attachments: [
          { filename: "shot.png", content: readFileSync(SCREENSHOT) },
          {
            filename: "evil.png",
            content: Buffer.concat([
              Buffer.from("MZ\x90\x00\x03\x00\x00\x00", "latin1"),
              Buffer.alloc(200, 0),
            ]),
          },
        ],
      },
    );
    assert.equal(result.outcome.kind, "posted");
    const note = (result.outcome as { note: string }).note;
    assert.match(note, /1 file\(s\) attached/);
    assert.match(note, /evil\.png not attached: Not accepted/);
    const files = await ctx.db
      .selectFrom("attachments")
      .select(["media_type"])
      .where("report_id", "=", reportId)
      .execute();
    assert.deepEqual(files, [{ media_type: "image/png" }]);
  });

  it("ignores out-of-office replies and the desk's own mail coming back", async () => {
    const { address } = await replyTo(researcher);
    const away = await reply(researcher.email, address, "I am away.", {
      headers: { "Auto-Submitted": "auto-replied" },
    });
    assert.equal(away.result.outcome.kind, "ignored");
    const loop = await reply(researcher.email, address, "A notification.", {
      headers: { "X-Disclosure-Desk-Loop": DOMAIN },
    });
    assert.equal(loop.result.outcome.kind, "ignored");
    const bulk = await reply(researcher.email, address, "Newsletter.", {
      headers: { Precedence: "bulk" },
    });
    assert.equal(bulk.result.outcome.kind, "ignored");
    const human = await reply(researcher.email, address, "Not automatic.", {
      headers: { "Auto-Submitted": "no" },
    });
    assert.equal(human.result.outcome.kind, "posted");
  });

  it("keeps a message held with the reason when posting throws", async () => {
    const failing = async () => {
      throw new Error("disk on fire");
    };
    beforeAutomaticFilter.push(failing);
    try {
      const { address } = await replyTo(researcher);
      const { result } = await reply(researcher.email, address, "Boom.");
      assert.equal(result.outcome.kind, "held");
      const stored = await findInboundById(ctx.db, result.inboundId!);
      assert.equal(stored!.status, "held");
      assert.match(stored!.reason!, /disk on fire/);
    } finally {
      beforeAutomaticFilter.splice(beforeAutomaticFilter.indexOf(failing), 1);
    }
  });
});

describe("inbound mail: notifications carry the reply address", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;

  before(async () => {
    smtp = await new TestSmtpServer().start();
  });
  after(() => smtp.stop());
  afterEach(() => ctx.close());

  it("Reply-To, References and the loop header; replying to it posts a comment", async () => {
    ctx = await createTestContext({
      env: { MAIL_DOMAIN: DOMAIN, SMTP_URL: smtp.url },
    });
    const researcher = await createUser(ctx, "researcher");
    const triager = await createUser(ctx, "triager");
    const { id } = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    });
    const report = (await findReportById(ctx.db, id))!;
    await addComment(ctx.deps, toActor(triager.user), report, {
      body: "Which version?",
    });
    const worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    smtp.messages.length = 0;
    await worker.runOnce();
    await worker.stop();
    const mail = smtp.messages.find(
      (m) => m.to && JSON.stringify(m.to).includes(researcher.email),
    );
    assert.ok(mail, "the researcher was notified");
    const replyTo = mail.replyTo!.value[0]!.address!;
    assert.match(replyTo, new RegExp(`^reply\\+[a-z2-7]{26}@${DOMAIN}$`));
    const token = replyTo.slice(6, 32);
    const references = String(mail.headers.get("references") ?? "");
    assert.ok(references.includes(`reply-${token}@${DOMAIN}`));
    assert.equal(mail.headers.get("x-disclosure-desk-loop"), DOMAIN);
    // The token is stored hashed only.
    const stored = await ctx.db
      .selectFrom("reply_tokens")
      .selectAll()
      .execute();
    assert.equal(stored.length >= 1, true);
    assert.ok(stored.every((t) => !t.token_hash.includes(token)));

    // The researcher answers from their mail client.
    const raw = await composeMail({
      from: researcher.email,
      to: replyTo,
      subject: `Re: ${mail.subject}`,
      inReplyTo: mail.messageId,
      references: `${references} ${mail.messageId}`,
      text: `Version 4.2.\n\nOn Mon, 2 Mar 2026, Disclosure Desk wrote:\n> ${mail.text?.split("\n").join("\n> ")}`,
    });
    const result = await ingestMail({ ...ctx.deps, dnsResolver: noDns }, raw, {
      from: researcher.email,
      recipients: [replyTo],
    });
    assert.equal(result.outcome.kind, "posted");
    const last = await ctx.db
      .selectFrom("report_events")
      .select(["body", "actor_id"])
      .where("report_id", "=", id)
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    assert.deepEqual(last, {
      body: "Version 4.2.",
      actor_id: researcher.user.id,
    });
  });
});

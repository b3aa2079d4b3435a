import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { ingestMail, type IngestDeps } from "../../src/inbound/ingest.js";
import { findInboundById } from "../../src/inbound/repository.js";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import { deskKey } from "../../src/mail/desk-key.js";
import { savePgpKey } from "../../src/users/pgp-key-repository.js";
import { insertReport } from "../support/fixtures.js";
import { Gpg } from "../support/gpg.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  TestClock,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { noDns, rejectingDmarc } from "../support/inbound.js";

const DOMAIN = "desk.example.test";
const SECRET = "Retested: /appointments/4712 still shows another patient.";

describe("an encrypted, signed reply by mail, end to end, and a triager's release", () => {
  let ctx: TestContext;
  let deps: IngestDeps;
  let researcher: TestUser;
  let triager: TestUser;
  let researcherBrowser: Browser, staff: Browser;
  let gpg: Gpg;
  let senderKey: string;
  let deskFpr: string;
  let report: { id: number; publicId: string };
  let address: string;
  let counter = 0;

  before(async () => {
    // gpg makes its keys now: the app's clock must not be before them.
    ctx = await createTestContext({
      env: { MAIL_DOMAIN: DOMAIN },
      clock: new TestClock(Date.now()),
    });
    deps = { ...ctx.deps, dnsResolver: noDns };
    researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager");
    researcherBrowser = await signedIn(ctx, researcher);
    staff = await signedIn(ctx, triager);
    report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    });
    address = (
      await replyAddressing(
        ctx.db,
        ctx.config,
        researcher.user.id,
        report.id,
        ctx.clock.now(),
      )
    ).address;
    gpg = new Gpg();
    senderKey = gpg.generate(`Rita <${researcher.email}>`);
    await savePgpKey(
      ctx.db,
      researcher.user.id,
      {
        armored: gpg.exportPublic(senderKey),
        fingerprint: senderKey,
        expiresAt: null,
      },
      ctx.clock.now(),
    );
    const desk = await deskKey(ctx.config);
    gpg.ok(["--import"], desk.publicArmored);
    deskFpr = desk.fingerprint;
  });
  after(async () => {
    await ctx.close();
    gpg.remove();
  });

  /** PGP/MIME as a mail client sends it: signed by the sender, encrypted to the desk. */
  function encryptedReply(from: string, text: string): Buffer {
    counter++;
    const armored = gpg
      .ok(
        [
          "--armor",
          "--trust-model",
          "always",
          "--sign",
          "--local-user",
          senderKey,
          "--encrypt",
          "--recipient",
          deskFpr,
        ],
        `Content-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n`,
      )
      .toString();
    const b = "enc-b";
    return Buffer.from(
      [
        `From: <${from}>`,
        `To: <${address}>`,
        "Subject: Re: [DD] Your report",
        `Message-ID: <enc-${counter}@mail.example.test>`,
        "MIME-Version: 1.0",
        `Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="${b}"`,
        "",
        `--${b}`,
        "Content-Type: application/pgp-encrypted",
        "",
        "Version: 1",
        `--${b}`,
        'Content-Type: application/octet-stream; name="encrypted.asc"',
        "",
        armored,
        `--${b}--`,
        "",
      ].join("\r\n"),
    );
  }

  const plainReply = (from: string, text: string) => {
    counter++;
    return Buffer.from(
      [
        `From: <${from}>`,
        `To: <${address}>`,
        "Subject: Re: [DD] Your report",
        `Message-ID: <plain-${counter}@mail.example.test>`,
        "Content-Type: text/plain; charset=utf-8",
        "",
        text,
        "",
      ].join("\r\n"),
    );
  };

  const lastEvent = () =>
    ctx.db
      .selectFrom("report_events")
      .selectAll()
      .where("report_id", "=", report.id)
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();

  it("posts the decrypted text as the researcher's comment, marked encrypted and signed by their key", async () => {
    const raw = encryptedReply(researcher.email, SECRET);
    const { outcome, inboundId } = await ingestMail(deps, raw, {
      from: researcher.email,
      recipients: [address],
    });
    assert.equal(outcome.kind, "posted", JSON.stringify(outcome));
    const event = await lastEvent();
    assert.equal(event.body, SECRET);
    assert.equal(event.actor_id, researcher.user.id);
    assert.equal(event.mail_encrypted, 1);
    assert.equal(event.mail_signed_by, senderKey);
    const stored = await findInboundById(ctx.db, inboundId!);
    assert.equal(stored!.encrypted, true);
    assert.equal(stored!.signedBy, senderKey);
    assert.ok(stored!.raw.equals(raw), "kept as received");

    const grouped = senderKey.match(/.{4}/g)!.join(" ");
    const page = (
      await researcherBrowser.agent.get(`/reports/${report.publicId}`)
    ).text;
    assert.ok(shown(page).includes(SECRET));
    assert.match(
      page,
      /By email · <strong>encrypted<\/strong> · signed by <code>/,
    );
    assert.ok(page.includes(grouped));
    assert.ok(!page.includes("/admin/inbound/"));
    const staffPage = (await staff.agent.get(`/reports/${report.publicId}`))
      .text;
    const link = /href="(\/admin\/inbound\/message\/[^"]+)"/.exec(
      staffPage,
    )?.[1];
    assert.ok(link, "staff see a link to the message as received");
    const message = await staff.agent.get(link!);
    assert.equal(message.status, 200);
    assert.ok(shown(message.text).includes(SECRET), "decrypted for staff");
  });

  it("holds a reply from another address; a triager who checked the sender releases it as the user's comment", async () => {
    const { outcome, inboundId } = await ingestMail(
      deps,
      plainReply("rita.private@example.org", "From my other address."),
      { from: "rita.private@example.org", recipients: [address] },
    );
    assert.equal(outcome.kind, "held");
    const id = inboundId!;
    // Without the box ticked, a release runs the same checks: still held.
    await staff.post(`/admin/inbound/${id}/release`);
    assert.equal((await findInboundById(ctx.db, id))!.status, "held");
    const res = await staff.post(`/admin/inbound/${id}/release`, {
      confirmSender: "yes",
    });
    assert.equal(res.status, 303);
    const stored = await findInboundById(ctx.db, id);
    assert.equal(stored!.status, "posted");
    assert.equal(stored!.decidedBy, triager.user.id);
    assert.equal(stored!.reportId, report.id);
    const event = await lastEvent();
    assert.equal(event.body, "From my other address.");
    assert.equal(
      event.actor_id,
      researcher.user.id,
      "posted as the token's user",
    );
    assert.equal(event.mail_message_id, stored!.messageId);
    const audits = await ctx.db
      .selectFrom("audit_log")
      .select("details")
      .where("action", "=", "inbound.released")
      .where("target_id", "=", String(id))
      .execute();
    assert.deepEqual(
      audits
        .map(
          (a) =>
            JSON.parse(a.details) as {
              outcome: string;
              trustedSender: boolean;
            },
        )
        .map((d) => [d.outcome, d.trustedSender]),
      [
        ["held", false],
        ["posted", true],
      ],
    );
  });

  it("holds a reply whose domain fails DMARC, and releases it only on the triager's word", async () => {
    const dmarcDeps = { ...deps, dnsResolver: rejectingDmarc("example.test") };
    // The researcher's own address is on example.test, as createUser makes it.
    assert.match(researcher.email, /@example\.test$/);
    const { outcome, inboundId } = await ingestMail(
      dmarcDeps,
      plainReply(researcher.email, "Spoofable?"),
      { from: researcher.email, recipients: [address] },
    );
    assert.equal(outcome.kind, "held");
    assert.match((outcome as { reason: string }).reason, /DMARC/);
    const page = shown(
      (await staff.agent.get(`/admin/inbound/${inboundId}`)).text,
    );
    assert.ok(page.includes("I checked that this message really comes"));
    await staff.post(`/admin/inbound/${inboundId}/release`, {
      confirmSender: "yes",
    });
    assert.equal((await findInboundById(ctx.db, inboundId!))!.status, "posted");
  });

  it("holds, never drops, an encrypted reply the desk cannot decrypt; a release keeps it held", async () => {
    const other = new Gpg();
    try {
      const otherKey = other.generate("Else <else@example.org>");
      gpg.ok(["--import"], other.exportPublic(otherKey));
      const armored = gpg
        .ok(
          ["--armor", "--trust-model", "always", "--encrypt", "-r", otherKey],
          SECRET,
        )
        .toString();
      const raw = Buffer.from(
        [
          `From: <${researcher.email}>`,
          `To: <${address}>`,
          "Subject: Re: [DD] Your report",
          "Message-ID: <wrong-key@mail.example.test>",
          "Content-Type: text/plain",
          "",
          armored,
        ].join("\r\n"),
      );
      const { outcome, inboundId } = await ingestMail(deps, raw, {
        from: researcher.email,
        recipients: [address],
      });
      assert.equal(outcome.kind, "held");
      assert.match(
        (outcome as { reason: string }).reason,
        /^could not decrypt: /,
      );
      await staff.post(`/admin/inbound/${inboundId}/release`);
      const stored = await findInboundById(ctx.db, inboundId!);
      assert.equal(stored!.status, "held");
      assert.match(stored!.reason!, /^could not decrypt: /);
    } finally {
      other.remove();
    }
  });
});

import assert from "node:assert/strict";
import { simpleParser } from "mailparser";
import { after, before, describe, it } from "mocha";
import { openPgpMail } from "../../src/inbound/pgp.js";
import { deskKey } from "../../src/mail/desk-key.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker, type MailWorker } from "../../src/mail/worker.js";
import { Gpg } from "../support/gpg.js";
import {
  anonymous,
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";
import { TestSmtpServer } from "../support/smtp.js";

const COMMENT = "The fix is in build 4711.";

/**
 * A key made on a machine whose clock runs ahead of the desk's (here: gpg
 * makes it now, and the desk's clock is the harness's, months earlier) is a
 * good key: it is not refused with a misleading "no valid user ID", and mail
 * to it is encrypted and signed so that gpg reads it.
 */
describe("OpenPGP keys made ahead of the desk's clock", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;
  let researcher: TestUser;
  let browsers: Record<"researcher" | "triager", Browser>;
  let gpg: Gpg;
  let fingerprint: string;

  before(async () => {
    smtp = await new TestSmtpServer().start();
    ctx = await createTestContext({ env: { SMTP_URL: smtp.url } });
    assert.ok(ctx.clock.now().getTime() < Date.now() - 86_400_000);
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    researcher = await createUser(ctx, "researcher");
    browsers = {
      researcher: await signedIn(ctx, researcher),
      triager: await signedIn(ctx, await createUser(ctx, "triager")),
    };
    gpg = new Gpg();
    fingerprint = gpg.generate(`Rita Researcher <${researcher.email}>`);
  });
  after(async () => {
    await worker.stop();
    await ctx.close();
    await smtp.stop();
    gpg.remove();
  });

  it("is accepted on the account page, with its fingerprint", async () => {
    const res = await browsers.researcher.post("/account/pgp-key", {
      pgp_public_key: gpg.exportPublic(fingerprint),
    });
    assert.equal(
      res.status,
      303,
      shown(res.text).match(/Error:<\/span>[^<]*/)?.[0],
    );
    const page = shown((await browsers.researcher.agent.get("/account")).text);
    assert.ok(page.includes(fingerprint.match(/.{4}/g)!.join(" ")));
    assert.doesNotMatch(page, /Mail is not encrypted to this key now/);
  });

  it("gets its mail encrypted and signed by the desk, and gpg reads it", async () => {
    const key = await (
      await anonymous(ctx)
    ).agent.get("/.well-known/openpgpkey.asc");
    gpg.ok(["--import"], key.text);
    const desk = /^fpr:+([0-9A-F]{40}):/m.exec(
      gpg.ok(["--with-colons", "--list-keys", "Disclosure Desk"]).toString(),
    )![1]!;
    const filed = await submitReport(browsers.researcher, reportFields());
    const id = reportIdFrom(filed.headers.location);
    await worker.runOnce();
    smtp.messages.length = 0;
    await browsers.triager.post(`/reports/${id}/comments`, { body: COMMENT });
    await worker.runOnce();
    const [mail] = smtp.to(researcher.email);
    assert.ok(mail);
    const type = mail.headers.get("content-type") as { value: string };
    assert.equal(type.value, "multipart/encrypted");
    const armored = mail.attachments
      .map((a) => a.content.toString())
      .find((t) => t.startsWith("-----BEGIN PGP MESSAGE-----"))!;
    const { ok, plain, status } = gpg.decrypt(armored);
    assert.ok(ok, status);
    assert.match(status, new RegExp(`VALIDSIG ${desk}`));
    assert.ok(((await simpleParser(plain)).text ?? "").includes(COMMENT));
  });

  it("what gpg signs with it and encrypts to the desk is decrypted and names it as the signer", async () => {
    const desk = await deskKey(ctx.config);
    const inner =
      "Content-Type: text/plain; charset=utf-8\r\n\r\nSigned today.\r\n";
    const armored = gpg
      .ok(
        [
          "--armor",
          "--trust-model",
          "always",
          "--sign",
          "--local-user",
          fingerprint,
          "--encrypt",
          "--recipient",
          desk.fingerprint,
        ],
        inner,
      )
      .toString();
    const raw = Buffer.from(
      [
        `From: <${researcher.email}>`,
        "To: <desk@localhost>",
        "Subject: Re: report",
        "Message-ID: <skew-1@example.org>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b42"',
        "",
        "--b42",
        "Content-Type: application/pgp-encrypted",
        "",
        "Version: 1",
        "",
        "--b42",
        "Content-Type: application/octet-stream",
        "",
        armored.replace(/\r?\n/g, "\r\n"),
        "--b42--",
        "",
      ].join("\r\n"),
    );
    const opened = await openPgpMail(ctx.deps, raw);
    assert.ok(!("held" in opened), JSON.stringify(opened));
    assert.equal(opened.encrypted, true);
    assert.equal(opened.signedBy, fingerprint, String(opened.note));
  });
});

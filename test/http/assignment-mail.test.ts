// The "assigned to you" mail, delivered through a real SMTP server: a link
// only in plain mail, and the assignment's words only in mail encrypted to
// the assignee's own key (GnuPG on the other side).
import assert from "node:assert/strict";
import { simpleParser, type ParsedMail } from "mailparser";
import { after, before, describe, it } from "mocha";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker, type MailWorker } from "../../src/mail/worker.js";
import { insertReport } from "../support/fixtures.js";
import { Gpg } from "../support/gpg.js";
import {
  anonymous,
  createTestContext,
  createUser,
  shown,
  signedIn,
  TestClock,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { TestSmtpServer } from "../support/smtp.js";

describe("the assignee's mail", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;
  let triager: Browser;
  let withKey: TestUser, withoutKey: TestUser;
  let gpg: Gpg;
  let ids: string[];

  async function deliver(): Promise<ParsedMail[]> {
    smtp.messages.length = 0;
    await worker.runOnce();
    return [...smtp.messages];
  }

  before(async () => {
    smtp = await new TestSmtpServer().start();
    // Keys are made now by gpg: the app's clock must not be before them.
    ctx = await createTestContext({
      env: { SMTP_URL: smtp.url },
      clock: new TestClock(Date.now()),
    });
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    const researcher = await createUser(ctx, "researcher");
    withKey = await createUser(ctx, "triager", {
      displayName: "Kim Keyholder",
    });
    withoutKey = await createUser(ctx, "triager", { displayName: "Pat Plain" });
    ids = [];
    for (let i = 0; i < 2; i++)
      ids.push(
        (
          await insertReport(ctx, {
            reporterId: researcher.user.id,
            state: "acknowledged",
          })
        ).publicId,
      );
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    gpg = new Gpg();
    const fingerprint = gpg.generate(`Kim Keyholder <${withKey.email}>`);
    // The key was made after the app's clock was set: move it past the key.
    ctx.clock.advance(60_000);
    const kim = await signedIn(ctx, withKey);
    const res = await kim.post("/account/pgp-key", {
      pgp_public_key: gpg.exportPublic(fingerprint),
    });
    assert.equal(res.status, 303, shown(res.text));
    // Kim's gpg knows the desk's key, to check its signature.
    const visitor = await anonymous(ctx);
    const deskKey = await visitor.agent.get("/.well-known/openpgpkey.asc");
    gpg.ok(["--import"], deskKey.text);
    await triager.refreshCsrf(`/reports/${ids[0]}`);
  });
  after(async () => {
    await worker.stop();
    await ctx.close();
    await smtp.stop();
    gpg.remove();
  });

  it("is plain and link-only without a key", async () => {
    const res = await triager.post(`/reports/${ids[0]}/assign`, {
      assignee_id: withoutKey.user.publicId,
    });
    assert.equal(res.status, 303);
    const [mail, ...others] = await deliver();
    assert.equal(others.length, 0);
    assert.equal(mail!.subject, `[${ids[0]}] Assigned to you`);
    assert.ok(mail!.text?.includes(`/reports/${ids[0]}`));
    assert.ok(!mail!.text?.includes("Assigned to Pat Plain"));
    assert.equal(mail!.attachments.length, 0);
  });

  it("is encrypted to the assignee's key, with the assignment's words, when they have one", async () => {
    const res = await triager.post(`/reports/${ids[1]}/assign`, {
      assignee_id: withKey.user.publicId,
    });
    assert.equal(res.status, 303);
    const [mail, ...others] = await deliver();
    assert.equal(others.length, 0);
    assert.equal(mail!.subject, `[${ids[1]}] Assigned to you`);
    const type = mail!.headers.get("content-type") as { value: string };
    assert.equal(type.value, "multipart/encrypted");
    const armored = mail!.attachments[1]!.content.toString();
    const { ok, plain, status } = gpg.decrypt(armored);
    assert.ok(ok, status);
    assert.match(status, /VALIDSIG/);
    const text = (await simpleParser(plain)).text ?? "";
    assert.ok(text.includes("Assigned to Kim Keyholder"), text);
    assert.ok(text.includes(`/reports/${ids[1]}`));
  });
});

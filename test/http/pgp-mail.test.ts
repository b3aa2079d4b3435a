import assert from "node:assert/strict";
import { simpleParser, type ParsedMail } from "mailparser";
import { after, before, describe, it } from "mocha";
import { enqueueMail } from "../../src/mail/outbox.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker, type MailWorker } from "../../src/mail/worker.js";
import { setUserEmail } from "../../src/users/repository.js";
import { addMember, createOrg } from "../support/fixtures.js";
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
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";
import { TestSmtpServer } from "../support/smtp.js";

const COMMENT = "The patch is in build 4711; the token check was missing.";
const QUESTION = "Which endpoint did the session cookie leak from?";
const BEFORE_NOTICE = "Said to the CERT before the organization was told.";

/** The armored OpenPGP message inside a PGP/MIME mail, after checking its shape. */
function encryptedPart(mail: ParsedMail): string {
  const type = mail.headers.get("content-type") as {
    value: string;
    params: Record<string, string>;
  };
  assert.equal(type.value, "multipart/encrypted");
  assert.equal(type.params.protocol, "application/pgp-encrypted");
  const [version, body] = mail.attachments;
  assert.equal(mail.attachments.length, 2);
  assert.equal(version!.contentType, "application/pgp-encrypted");
  assert.match(version!.content.toString(), /^Version: 1/);
  assert.equal(body!.contentType, "application/octet-stream");
  const armored = body!.content.toString();
  assert.match(armored, /^-----BEGIN PGP MESSAGE-----/);
  return armored;
}

describe("encrypted mail (OpenPGP), with GnuPG on the other side", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;
  let researcher: TestUser, triager: TestUser, contact: TestUser;
  let browsers: Record<"researcher" | "triager" | "contact", Browser>;
  let gpg: Gpg, contactGpg: Gpg;
  let researcherKey: string;
  let deskFingerprint: string;
  let id: string;

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
    const org = await createOrg(ctx, "Water Board");
    researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager");
    contact = await createUser(ctx, "org_contact");
    await addMember(ctx, org.id, contact.user.id);
    browsers = {
      researcher: await signedIn(ctx, researcher),
      triager: await signedIn(ctx, triager),
      contact: await signedIn(ctx, contact),
    };
    gpg = new Gpg();
    researcherKey = gpg.generate(`Rita Researcher <${researcher.email}>`);
    contactGpg = new Gpg();
    contactGpg.generate(`Carl Contact <${contact.email}>`);
    const res = await submitReport(
      browsers.researcher,
      reportFields({ organization: org.publicId, newOrganization: "" }),
    );
    id = reportIdFrom(res.headers.location);
  });
  after(async () => {
    await worker.stop();
    await ctx.close();
    await smtp.stop();
    gpg.remove();
    contactGpg.remove();
  });

  async function deliver(): Promise<Map<string, ParsedMail>> {
    smtp.messages.length = 0;
    await worker.runOnce();
    const byAddress = new Map<string, ParsedMail>();
    for (const m of smtp.messages) {
      const to = Array.isArray(m.to) ? m.to[0] : m.to;
      byAddress.set(to!.value[0]!.address!, m);
    }
    return byAddress;
  }

  /** gpg decrypts it, checks the desk's signature, and shows the text inside. */
  async function openWith(who: Gpg, mail: ParsedMail): Promise<string> {
    const { ok, plain, status } = who.decrypt(encryptedPart(mail));
    assert.ok(ok, status);
    assert.match(status, new RegExp(`VALIDSIG ${deskFingerprint}`));
    return (await simpleParser(plain)).text ?? "";
  }

  it("serves the desk's public key, named in security.txt and on the report form", async () => {
    const visitor = await anonymous(ctx);
    const key = await visitor.agent.get("/.well-known/openpgpkey.asc");
    assert.equal(key.status, 200);
    assert.match(key.headers["content-type"]!, /^application\/pgp-keys/);
    assert.match(key.text, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
    const alias = await visitor.agent.get("/pgp-key.asc");
    assert.equal(alias.text, key.text);
    for (const who of [gpg, contactGpg]) who.ok(["--import"], key.text);
    const listing = gpg.ok(["--with-colons", "--list-keys", "Disclosure Desk"]);
    deskFingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing.toString())![1]!;

    const txt = await visitor.agent.get("/.well-known/security.txt");
    assert.match(
      txt.text,
      /^Encryption: http:\/\/localhost:3000\/\.well-known\/openpgpkey\.asc$/m,
    );
    const form = await browsers.researcher.agent.get("/reports/new");
    const grouped = deskFingerprint.match(/.{4}/g)!.join(" ");
    assert.ok(shown(form.text).includes(grouped), "fingerprint on the form");
  });

  it("refuses what is not a usable public key for the account, keeping the text", async () => {
    const other = new Gpg();
    try {
      const expired = other.generate(`Old <${researcher.email}>`, {
        fakedTime: "20200101T000000",
        expire: "1d",
      });
      const revoked = other.generate(`Gone <${researcher.email}>`);
      other.revoke(revoked);
      const signOnly = other.generate(`Signer <${researcher.email}>`, {
        algo: "ed25519",
        usage: "sign",
      });
      const elsewhere = other.generate("Someone <someone@elsewhere.test>");
      ctx.clock.ms = Date.now(); // the keys above are not from the future
      const cases: [string, string, RegExp][] = [
        ["garbage", "hello, this is my key", /not an OpenPGP public key/],
        ["a private key", gpg.exportSecret(researcherKey), /private key/],
        ["an expired key", other.exportPublic(expired), /expired/],
        ["a revoked key", other.exportPublic(revoked), /revoked/],
        [
          "a key that cannot encrypt",
          other.exportPublic(signOnly),
          /no valid encryption subkey/,
        ],
        [
          "a key for another address",
          other.exportPublic(elsewhere),
          /no valid user ID for your address/,
        ],
      ];
      for (const [what, text, error] of cases) {
        const res = await browsers.researcher.post("/account/pgp-key", {
          pgp_public_key: text,
        });
        assert.equal(res.status, 422, what);
        const page = shown(res.text);
        assert.match(page, error, what);
        assert.ok(page.includes(text.split("\n")[0]!), `${what}: text kept`);
      }
    } finally {
      other.remove();
    }
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "=", "user.pgp_key_set")
      .execute();
    assert.equal(audit.length, 0);
  });

  it("accepts a gpg key and shows its fingerprint and expiry", async () => {
    for (const [who, key] of [
      ["researcher", gpg.exportPublic(researcherKey)],
      ["contact", contactGpg.exportPublic(contact.email)],
    ] as const) {
      const res = await browsers[who].post("/account/pgp-key", {
        pgp_public_key: key,
      });
      assert.equal(res.status, 303, shown(res.text));
    }
    const page = shown((await browsers.researcher.agent.get("/account")).text);
    assert.ok(page.includes(researcherKey.match(/.{4}/g)!.join(" ")));
    assert.match(page, /<dt>Expires<\/dt><dd>never<\/dd>/);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "=", "user.pgp_key_set")
      .execute();
    assert.equal(audit.length, 2);
  });

  it("a comment reaches the researcher encrypted and signed with its text; plain mail stays link-only", async () => {
    await deliver(); // the receipt and the team's notice
    await browsers.triager.post(`/reports/${id}/assign`, { assignee: "me" });
    await browsers.triager.post(`/reports/${id}/comments`, { body: COMMENT });
    let mails = await deliver();
    const mail = mails.get(researcher.email)!;
    assert.equal(mail.subject, `[${id}] New comment`);
    assert.ok(!(mail.text ?? "").includes(COMMENT));
    const text = await openWith(gpg, mail);
    assert.ok(text.includes(COMMENT), text);
    assert.ok(text.includes(`/reports/${id}`));
    assert.match(text, /Acknowledgment due in/);

    // The triager has no key: the researcher's comment reaches them plain, without its text.
    await browsers.researcher.post(`/reports/${id}/comments`, {
      body: BEFORE_NOTICE,
    });
    mails = await deliver();
    const plain = mails.get(triager.email)!;
    assert.ok(plain.text?.includes(`/reports/${id}`));
    assert.ok(!plain.text?.includes(BEFORE_NOTICE));
    assert.ok(!plain.html || !plain.html.includes(BEFORE_NOTICE));
    assert.equal(plain.attachments.length, 0);
  });

  it("a question asked carries its words and the state change", async () => {
    await browsers.triager.post(`/reports/${id}/transition`, {
      name: "acknowledge",
    });
    await deliver();
    await browsers.triager.post(`/reports/${id}/transition`, {
      name: "request_info",
      message: QUESTION,
    });
    const mail = (await deliver()).get(researcher.email)!;
    const text = await openWith(gpg, mail);
    assert.match(text, /State: Acknowledged -> /);
    assert.ok(text.includes(QUESTION));
  });

  it("what the organization may not read never reaches its contact, whatever the outbox row names", async () => {
    // The researcher's comment from before the notice, and an internal note.
    await browsers.triager.post(`/reports/${id}/notes`, {
      body: "internal: do not tell the vendor",
    });
    const events = await ctx.db
      .selectFrom("report_events")
      .select(["id", "audience", "body"])
      .where("body", "in", [BEFORE_NOTICE, "internal: do not tell the vendor"])
      .execute();
    assert.equal(events.length, 2);
    await browsers.researcher.post(`/reports/${id}/transition`, {
      name: "provide_info",
      message: "See the HAR file.",
    });
    for (const name of ["triage", "notify_vendor"])
      await browsers.triager.post(`/reports/${id}/transition`, { name });
    await deliver();
    const report = await ctx.db
      .selectFrom("reports")
      .select("id")
      .where("public_id", "=", id)
      .executeTakeFirstOrThrow();
    for (const event of events)
      await enqueueMail(ctx.db, ctx.deps, {
        template: "report_event",
        to: { address: contact.email, userId: contact.user.id },
        reportId: report.id,
        eventId: event.id,
        data: {
          displayName: "Carl",
          publicId: id,
          subjectText: "New comment",
          happened: "There is a new comment on the report.",
          stateLabel: "Organization notified",
          next: null,
          link: `http://localhost:3000/reports/${id}`,
        },
      });
    const mails = smtp.to.bind(smtp);
    await deliver();
    const received = mails(contact.email);
    assert.equal(received.length, 2);
    for (const mail of received) {
      const text = await openWith(contactGpg, mail);
      assert.ok(!text.includes(BEFORE_NOTICE), text);
      assert.ok(!text.includes("do not tell the vendor"), text);
      assert.match(text, /Disclosure due in/);
    }
  });

  it("a key whose user ID no longer matches the account's address stops being used, and the page says so", async () => {
    const moved = `moved-${researcher.email}`;
    await setUserEmail(ctx.db, researcher.user.id, moved, ctx.clock.now());
    // The address change signs the other sessions out: sign in again.
    browsers.researcher = await signedIn(ctx, { ...researcher, email: moved });
    const page = shown((await browsers.researcher.agent.get("/account")).text);
    assert.match(page, /Mail is not encrypted to this key now/);
    await browsers.triager.post(`/reports/${id}/comments`, { body: COMMENT });
    const mail = (await deliver()).get(moved)!;
    assert.equal(mail.attachments.length, 0);
    assert.ok(!mail.text?.includes(COMMENT));
  });

  it("the key can be removed, audited", async () => {
    const res = await browsers.researcher.post("/account/pgp-key/remove");
    assert.equal(res.status, 303);
    const page = shown((await browsers.researcher.agent.get("/account")).text);
    assert.ok(!page.includes("Fingerprint"));
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "=", "user.pgp_key_removed")
      .execute();
    assert.equal(audit.length, 1);
  });
});

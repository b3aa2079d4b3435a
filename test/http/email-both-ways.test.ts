import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { simpleParser, type ParsedMail } from "mailparser";
import { after, before, describe, it } from "mocha";
import nodemailer from "nodemailer";
import {
  startInboundListener,
  type InboundListener,
} from "../../src/inbound/listener.js";
import { listInbound } from "../../src/inbound/repository.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker, type MailWorker } from "../../src/mail/worker.js";
import { projectRoot } from "../../src/paths.js";
import { addMember, createOrg } from "../support/fixtures.js";
import { Gpg } from "../support/gpg.js";
import {
  anonymous,
  createTestContext,
  createUser,
  shown,
  signedIn,
  cliEnv,
  TEST_PASSWORD,
  TestClock,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { composeMail, noDns } from "../support/inbound.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";
import { TestSmtpServer } from "../support/smtp.js";

/**
 * Issue 22's "Done when", end to end with real parts: the app's own SMTP
 * listener on an ephemeral port, nodemailer as the people's mail clients,
 * the outgoing mail read from a real SMTP server, GnuPG on the other side,
 * and `npm run cli -- mail:receive` as an MTA's pipe runs it.
 */

const DOMAIN = "desk.example.test";
const REPLY_TO = new RegExp(`^reply\\+([a-z2-7]{26})@desk\\.example\\.test$`);
const QUESTION = "Which build of the portal did you test against?";
const ANSWER = "Build 2026.02.3, on the public site, with a fresh account.";
const VENDOR_REPLY = "Thanks, we have reproduced it and are writing a fix.";
const SECRET_COMMENT = "The fix ships in 2026.03.1; the ID is now checked.";

describe("email both ways (issue 22, end to end over real SMTP)", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;
  let listener: InboundListener;
  let researcher: TestUser, triager: TestUser, contact: TestUser;
  let browsers: Record<"researcher" | "triager", Browser>;
  let id: string;
  /** The researcher's reply address for the report, from (a). */
  let researcherReplyAddress: string;

  before(async () => {
    smtp = await new TestSmtpServer().start();
    // gpg makes its keys now: the app's clock must not be before them.
    ctx = await createTestContext({
      env: { SMTP_URL: smtp.url, MAIL_DOMAIN: DOMAIN },
      clock: new TestClock(Date.now()),
    });
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    listener = await startInboundListener(
      { ...ctx.deps, dnsResolver: noDns },
      { port: 0, host: "127.0.0.1" },
    );
    const org = await createOrg(ctx, "Water Board");
    researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager");
    contact = await createUser(ctx, "org_contact");
    await addMember(ctx, org.id, contact.user.id);
    browsers = {
      researcher: await signedIn(ctx, researcher),
      triager: await signedIn(ctx, triager),
    };
    const res = await submitReport(
      browsers.researcher,
      reportFields({ organization: org.publicId, newOrganization: "" }),
    );
    id = reportIdFrom(res.headers.location);
    await deliver();
    await browsers.triager.post(`/reports/${id}/assign`, { assignee: "me" });
    await browsers.triager.post(`/reports/${id}/transition`, {
      name: "acknowledge",
    });
    await deliver();
  });
  after(async () => {
    await listener?.close();
    await worker?.stop();
    await ctx?.close();
    await smtp?.stop();
  });

  /** Runs the mail worker; answers the messages it sent, by recipient. */
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

  /** A person's mail client, sending to the desk's MX (the listener). */
  const mailClient = () =>
    nodemailer.createTransport({
      host: "127.0.0.1",
      port: listener.port,
      secure: false,
      ignoreTLS: true,
    } as nodemailer.TransportOptions);

  /** What a mail client's "Reply" writes: the answer on top, the original quoted below. */
  function replyTo(mail: ParsedMail, from: string, answer: string) {
    const quoted = (mail.text ?? "")
      .split("\n")
      .map((line) => `> ${line}`)
      .join("\n");
    return {
      from,
      to: mail.replyTo!.value[0]!.address!,
      subject: `Re: ${mail.subject}`,
      inReplyTo: mail.messageId,
      references: String(mail.headers.get("references") ?? ""),
      text: `${answer}\n\nOn ${mail.date!.toUTCString()}, Disclosure Desk <${mail.from!.value[0]!.address}> wrote:\n${quoted}\n`,
    };
  }

  const reportRow = () =>
    ctx.db
      .selectFrom("reports")
      .select(["id", "state"])
      .where("public_id", "=", id)
      .executeTakeFirstOrThrow();

  it("(a) a researcher answers a request for information from their mail client, and the report moves back", async () => {
    await browsers.triager.post(`/reports/${id}/transition`, {
      name: "request_info",
      message: QUESTION,
    });
    assert.equal((await reportRow()).state, "needs_info");
    const mail = (await deliver()).get(researcher.email);
    assert.ok(mail, "the researcher is told");
    // Reply-To carries the researcher's token for this report, and so does References.
    const address = mail.replyTo?.value[0]?.address ?? "";
    const token = REPLY_TO.exec(address)?.[1];
    assert.ok(token, `Reply-To ${address}`);
    researcherReplyAddress = address;
    assert.ok(
      String(mail.headers.get("references") ?? "").includes(
        `<reply-${token}@${DOMAIN}>`,
      ),
      "the token rides in References",
    );

    const sent = await mailClient().sendMail(
      replyTo(mail, researcher.email, ANSWER),
    );
    assert.match(sent.response, /^250 OK posted/);

    assert.equal((await reportRow()).state, "acknowledged");
    const page = shown(
      (await browsers.researcher.agent.get(`/reports/${id}`)).text,
    );
    assert.ok(page.includes(ANSWER), "the answer is on the timeline");
    const events = await ctx.db
      .selectFrom("report_events")
      .select("body")
      .where("report_id", "=", (await reportRow()).id)
      .where("body", "like", `%${ANSWER}%`)
      .execute();
    assert.deepEqual(
      events.map((e) => e.body),
      [ANSWER],
      "posted once, the quote and the attribution line stripped",
    );
  });

  it("(b) the organization's contact replies to their notification, and the researcher sees the comment", async () => {
    for (const name of ["triage", "notify_vendor"]) {
      const res = await browsers.triager.post(`/reports/${id}/transition`, {
        name,
      });
      assert.equal(res.status, 303, `${name}: ${res.text}`);
    }
    const mail = (await deliver()).get(contact.email);
    assert.ok(mail, "the contact is notified");
    assert.match(mail.replyTo?.value[0]?.address ?? "", REPLY_TO);
    const sent = await mailClient().sendMail(
      replyTo(mail, contact.email, VENDOR_REPLY),
    );
    assert.match(sent.response, /^250 OK posted/);

    const page = shown(
      (await browsers.researcher.agent.get(`/reports/${id}`)).text,
    );
    assert.ok(page.includes(VENDOR_REPLY), "the researcher sees it");
    assert.ok(!page.includes(`&gt; ${QUESTION}`), "no quoted text");
    // And is told of it by mail, as of a web comment.
    const told = (await deliver()).get(researcher.email);
    assert.ok(told, "the researcher is notified of the contact's reply");
  });

  it("(c) a report mailed to the intake address gets a tracking ID and a receipt whose claim link works", async () => {
    const finder = "finder@researcher.example.test";
    const sent = await mailClient().sendMail({
      from: `Finder <${finder}>`,
      to: ctx.config.reportAddress,
      subject: "Open redirect on the water board's login page",
      text: "The next= parameter accepts any URL; log in and you land on it.",
    });
    assert.match(sent.response, /^250 OK posted/);
    const receipt = (await deliver()).get(finder);
    assert.ok(receipt, "a receipt to the sender");
    const tracking = /^\[(DD-[0-9A-Z]{4}-[0-9A-Z]{4})\] Received$/.exec(
      receipt.subject ?? "",
    )?.[1];
    assert.ok(tracking, `subject ${receipt.subject}`);
    assert.ok(receipt.text?.includes(tracking), "the ID in the text");
    const filed = await ctx.db
      .selectFrom("reports")
      .select(["state", "title"])
      .where("public_id", "=", tracking)
      .executeTakeFirstOrThrow();
    assert.deepEqual(filed, {
      state: "submitted",
      title: "Open redirect on the water board's login page",
    });

    // A reply to the receipt, before it is claimed, continues the thread.
    const more = "Also: the logout page has the same next= parameter.";
    const followUp = await mailClient().sendMail(
      replyTo(receipt, finder, more),
    );
    assert.match(followUp.response, /^250 OK posted/);

    const claim = /http:\/\/localhost:3000(\/claim\/[A-Za-z0-9_-]+)/.exec(
      receipt.text ?? "",
    )?.[1];
    assert.ok(claim, "a claim link");
    const visitor = await anonymous(ctx);
    await visitor.refreshCsrf(claim);
    const done = await visitor.post(claim, {
      displayName: "Finder",
      password: TEST_PASSWORD,
      confirm: TEST_PASSWORD,
    });
    assert.equal(done.status, 303, done.text);
    const account = await ctx.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", finder)
      .executeTakeFirstOrThrow();
    const owner = await signedIn(ctx, {
      user: { id: account.id } as never,
      email: finder,
      password: TEST_PASSWORD,
    });
    const page = await owner.agent.get(`/reports/${tracking}`);
    assert.equal(page.status, 200);
    assert.ok(shown(page.text).includes(tracking));
    assert.ok(shown(page.text).includes(more), "the follow-up is on it");
  });

  it("(d) a researcher with a key receives the comment encrypted and signed, and gpg reads it", async () => {
    const gpg = new Gpg();
    try {
      const fingerprint = gpg.generate(`Rita Researcher <${researcher.email}>`);
      ctx.clock.ms = Date.now(); // the key is not from the future
      const saved = await browsers.researcher.post("/account/pgp-key", {
        pgp_public_key: gpg.exportPublic(fingerprint),
      });
      assert.equal(saved.status, 303, shown(saved.text));
      const deskKey = await (
        await anonymous(ctx)
      ).agent.get("/.well-known/openpgpkey.asc");
      gpg.ok(["--import"], deskKey.text);
      const listing = gpg.ok([
        "--with-colons",
        "--list-keys",
        "Disclosure Desk",
      ]);
      const desk = /^fpr:+([0-9A-F]{40}):/m.exec(listing.toString())![1]!;

      await deliver();
      await browsers.triager.post(`/reports/${id}/comments`, {
        body: SECRET_COMMENT,
      });
      const mail = (await deliver()).get(researcher.email);
      assert.ok(mail, "the researcher is notified");
      const type = mail.headers.get("content-type") as {
        value: string;
        params: Record<string, string>;
      };
      assert.equal(type.value, "multipart/encrypted");
      assert.equal(type.params.protocol, "application/pgp-encrypted");
      assert.ok(!(mail.text ?? "").includes(SECRET_COMMENT));
      const armored = mail.attachments
        .map((a) => a.content.toString())
        .find((t) => t.startsWith("-----BEGIN PGP MESSAGE-----"));
      assert.ok(armored, "an OpenPGP message inside");
      const { ok, plain, status } = gpg.decrypt(armored);
      assert.ok(ok, status);
      assert.match(
        status,
        new RegExp(`VALIDSIG ${desk}`),
        "signed by the desk",
      );
      const inside = (await simpleParser(plain)).text ?? "";
      assert.ok(inside.includes(SECRET_COMMENT), inside);
      // The encrypted mail keeps its Reply-To: it can be answered too.
      assert.match(mail.replyTo?.value[0]?.address ?? "", REPLY_TO);
    } finally {
      gpg.remove();
    }
  });

  describe("(e) npm run cli -- mail:receive, as an MTA's pipe runs it", () => {
    /** One real `npm run cli -- mail:receive` process; answers its exit code. */
    async function pipe(raw: Buffer, recipient: string) {
      const child = spawn(
        "npm",
        [
          "run",
          "--silent",
          "cli",
          "--",
          "mail:receive",
          "--sender",
          researcher.email,
          "--recipient",
          recipient,
        ],
        {
          cwd: projectRoot,
          env: {
            ...process.env,
            ...cliEnv(ctx),
            MAIL_DOMAIN: DOMAIN,
          },
        },
      );
      let output = "";
      child.stdout.on("data", (c) => (output += c));
      child.stderr.on("data", (c) => (output += c));
      child.stdin.end(raw);
      const code = await new Promise<number | null>((resolve) =>
        child.on("close", resolve),
      );
      return { code, output };
    }

    it("exits 0 for a reply it posts, 67 for an unknown token, 65 for malformed mail", async function () {
      this.timeout(90_000);
      const address = researcherReplyAddress;
      const piped = "Piped through the MTA: one more detail.";
      const accepted = await pipe(
        await composeMail({
          from: researcher.email,
          to: address,
          subject: "Re: report",
          text: piped,
          messageId: "<e2e-piped@researcher.example.test>",
        }),
        address,
      );
      assert.equal(accepted.code, 0, accepted.output);
      const page = shown(
        (await browsers.researcher.agent.get(`/reports/${id}`)).text,
      );
      assert.ok(page.includes(piped), "the piped reply is on the timeline");

      const unknownAddress = `reply+${"a".repeat(26)}@${DOMAIN}`;
      const unknown = await pipe(
        await composeMail({
          from: researcher.email,
          to: unknownAddress,
          subject: "Re: report",
          text: "A guessed token.",
        }),
        unknownAddress,
      );
      assert.equal(unknown.code, 67, unknown.output);

      const malformed = await pipe(
        Buffer.from("\x00\x01 this is not mail at all"),
        address,
      );
      assert.equal(malformed.code, 65, malformed.output);
      const kept = await listInbound(ctx.db, { status: "held" });
      assert.ok(
        kept.some((m) => m.reason === "unknown reply token"),
        "the unknown token is kept, held",
      );
      assert.ok(
        kept.some((m) => m.reason?.startsWith("malformed")),
        "the malformed message is kept, held",
      );
    });
  });
});

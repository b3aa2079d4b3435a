import assert from "node:assert/strict";
import type { ParsedMail } from "mailparser";
import { after, before, describe, it } from "mocha";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker, type MailWorker } from "../../src/mail/worker.js";
import { addMember, createOrg } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
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

const SECRET_WORDS = [
  "appointment",
  "booking",
  "Firefox",
  "Which browser",
  "We are on it",
  "finder42",
];

/**
 * Every step of the story mails the right people, and only them, through a
 * real SMTP server; no mail carries the report's text.
 */
describe("notifications for each step of the story", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;
  let people: Record<
    "researcher" | "triager" | "triager2" | "contact" | "otherContact",
    TestUser
  >;
  let browsers: Record<"researcher" | "triager" | "contact", Browser>;
  let id: string;
  let orgPublicId: string;

  before(async () => {
    smtp = await new TestSmtpServer().start();
    ctx = await createTestContext({ env: { SMTP_URL: smtp.url } });
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    const org = await createOrg(ctx, "Hospital Portal");
    const other = await createOrg(ctx, "Somebody Else");
    orgPublicId = org.publicId;
    people = {
      researcher: await createUser(ctx, "researcher"),
      triager: await createUser(ctx, "triager"),
      triager2: await createUser(ctx, "triager"),
      contact: await createUser(ctx, "org_contact"),
      otherContact: await createUser(ctx, "org_contact"),
    };
    await addMember(ctx, org.id, people.contact.user.id);
    await addMember(ctx, other.id, people.otherContact.user.id);
    browsers = {
      researcher: await signedIn(ctx, people.researcher),
      triager: await signedIn(ctx, people.triager),
      contact: await signedIn(ctx, people.contact),
    };
  });
  after(async () => {
    await worker.stop();
    await ctx.close();
    await smtp.stop();
  });

  /** Runs a step, delivers the outbox, and returns who got which subject. */
  async function step(
    run: () => Promise<unknown>,
  ): Promise<Map<string, ParsedMail>> {
    smtp.messages.length = 0;
    await run();
    await worker.runOnce();
    const byAddress = new Map<string, ParsedMail>();
    for (const m of smtp.messages) {
      const to = Array.isArray(m.to) ? m.to[0] : m.to;
      byAddress.set(to!.value[0]!.address!, m);
    }
    return byAddress;
  }
  const recipients = (mails: Map<string, ParsedMail>) =>
    [...mails.keys()].sort();
  const emails = (...who: (keyof typeof people)[]) =>
    who.map((w) => people[w].email).sort();
  const act =
    (
      who: keyof typeof browsers,
      name: string,
      fields: Record<string, string> = {},
    ) =>
    async () => {
      const res = await browsers[who].post(`/reports/${id}/transition`, {
        name,
        ...fields,
      });
      assert.equal(res.status, 303, `${name}: ${res.status}`);
    };

  function assertSafe(mail: ParsedMail) {
    const whole = `${mail.subject}\n${mail.text}\n${mail.html || ""}`;
    for (const word of SECRET_WORDS)
      assert.ok(!whole.includes(word), `"${word}" leaked into a mail`);
    assert.match(mail.subject ?? "", new RegExp(`^\\[${id}\\] `));
    assert.ok(
      mail.text?.includes(`http://localhost:3000/reports/${id}`),
      "links to the report",
    );
    assert.equal(mail.attachments.length, 0);
  }

  it("submission: a receipt to the researcher that opens the thread, and the whole team while unassigned", async () => {
    const mails = await step(async () => {
      const res = await submitReport(
        browsers.researcher,
        reportFields({ organization: orgPublicId, newOrganization: "" }),
      );
      id = reportIdFrom(res.headers.location);
    });
    assert.deepEqual(
      recipients(mails),
      emails("researcher", "triager", "triager2"),
    );
    const receipt = mails.get(people.researcher.email)!;
    assert.equal(receipt.subject, `[${id}] Received`);
    assert.equal(receipt.messageId, `<report.${id}@localhost>`);
    const team = mails.get(people.triager.email)!;
    assert.equal(team.subject, `[${id}] New report submitted`);
    assert.equal(team.inReplyTo, `<report.${id}@localhost>`);
    for (const m of mails.values()) assertSafe(m);
  });

  it("the link in a mail leads to the report through sign-in", async () => {
    const res = await browsers.researcher.agent.get(`/reports/${id}`);
    assert.equal(res.status, 200);
  });

  it("acknowledgment: only the researcher, threaded", async () => {
    await browsers.triager.post(`/reports/${id}/assign`, { assignee: "me" });
    const mails = await step(act("triager", "acknowledge"));
    assert.deepEqual(recipients(mails), emails("researcher"));
    const m = mails.get(people.researcher.email)!;
    assert.equal(m.subject, `[${id}] Acknowledged by CERT`);
    assert.equal(m.inReplyTo, `<report.${id}@localhost>`);
    assert.match(String(m.references), new RegExp(`report\\.${id}`));
    assertSafe(m);
  });

  it("request for information and the answer: researcher, then the assigned triager only", async () => {
    let mails = await step(
      act("triager", "request_info", { message: "Which browser did you use?" }),
    );
    assert.deepEqual(recipients(mails), emails("researcher"));
    assert.equal(
      mails.get(people.researcher.email)!.subject,
      `[${id}] More information needed`,
    );
    mails.forEach(assertSafe);
    mails = await step(
      act("researcher", "provide_info", { message: "Firefox 130" }),
    );
    assert.deepEqual(
      recipients(mails),
      emails("triager"),
      "the assignee, not the whole team",
    );
    mails.forEach(assertSafe);
  });

  it("triage and notification: the organization hears only once it is notified, other organizations never", async () => {
    let mails = await step(act("triager", "triage"));
    assert.deepEqual(recipients(mails), emails("researcher"));
    mails = await step(act("triager", "notify_vendor"));
    assert.deepEqual(recipients(mails), emails("contact", "researcher"));
    assert.equal(
      mails.get(people.contact.email)!.subject,
      `[${id}] New vulnerability report for your organization`,
    );
    mails.forEach(assertSafe);
  });

  it("the organization's steps reach the researcher and the triager, not the contact who acted", async () => {
    let mails = await step(
      act("contact", "vendor_acknowledge", { message: "We are on it." }),
    );
    assert.deepEqual(recipients(mails), emails("researcher", "triager"));
    mails.forEach(assertSafe);
    mails = await step(act("contact", "mark_fixed"));
    assert.deepEqual(recipients(mails), emails("researcher", "triager"));
    assert.equal(
      mails.get(people.researcher.email)!.subject,
      `[${id}] Fix deployed, please retest`,
    );
    mails.forEach(assertSafe);
  });

  it("the researcher's verification and the triager's close", async () => {
    let mails = await step(act("researcher", "verify_fix"));
    assert.deepEqual(recipients(mails), emails("contact", "triager"));
    mails = await step(act("triager", "close", { resolution: "resolved" }));
    assert.deepEqual(recipients(mails), emails("contact", "researcher"));
    assert.equal(mails.get(people.researcher.email)!.subject, `[${id}] Closed`);
    mails.forEach(assertSafe);
  });

  it("comments reach the others; internal notes reach nobody", async () => {
    let mails = await step(() =>
      browsers.contact.post(`/reports/${id}/comments`, {
        body: "We are on it, thanks",
      }),
    );
    assert.deepEqual(recipients(mails), emails("researcher", "triager"));
    assert.equal(
      mails.get(people.researcher.email)!.subject,
      `[${id}] New comment`,
    );
    mails.forEach(assertSafe);
    mails = await step(() =>
      browsers.triager.post(`/reports/${id}/notes`, {
        body: "internal: Which browser",
      }),
    );
    assert.equal(mails.size, 0);
  });

  it("respects each person's preference: 'state' skips comments, 'none' skips all report mail", async () => {
    const setPref = async (who: keyof typeof browsers, notify: string) =>
      assert.equal(
        (await browsers[who].post("/account/notifications", { notify })).status,
        303,
      );
    await setPref("researcher", "state");
    await setPref("contact", "none");
    let mails = await step(() =>
      browsers.triager.post(`/reports/${id}/comments`, { body: "a comment" }),
    );
    assert.deepEqual(
      recipients(mails),
      [],
      "the researcher wants state changes only; the contact nothing",
    );
    mails = await step(act("triager", "reopen", { message: "regression" }));
    assert.deepEqual(recipients(mails), emails("researcher"));
  });
});

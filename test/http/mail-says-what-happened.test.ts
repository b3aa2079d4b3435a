import assert from "node:assert/strict";
import type { ParsedMail } from "mailparser";
import { after, before, describe, it } from "mocha";
import { formatDateTime } from "../../src/format.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker, type MailWorker } from "../../src/mail/worker.js";
import { dueAt } from "../../src/reports/clocks.js";
import { SEVERITY_LABELS } from "../../src/reports/cvss.js";
import { findReportByPublicId } from "../../src/reports/repository.js";
import {
  insertPublishableReport,
  publishAdvisory,
} from "../support/advisories.js";
import { addMember, createOrg } from "../support/fixtures.js";
import {
  anonymous,
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

const QUESTION = "Which quokka did you use to reproduce it?";

/**
 * Each mail says what happened in our own words and with the facts the
 * recipient needs (dates with their time zone, severity, links), delivered
 * through a real SMTP server, and goes to the right people.
 */
describe("mail that says what happened", () => {
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let worker: MailWorker;
  let people: Record<
    "researcher" | "triager" | "triager2" | "admin" | "contact",
    TestUser
  >;
  let browsers: Record<"researcher" | "triager" | "admin" | "contact", Browser>;
  let orgPublicId: string;
  let orgId: number;
  let id: string;

  before(async () => {
    smtp = await new TestSmtpServer().start();
    ctx = await createTestContext({ env: { SMTP_URL: smtp.url } });
    worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    const org = await createOrg(ctx, "Clinic Portal");
    orgPublicId = org.publicId;
    orgId = org.id;
    people = {
      researcher: await createUser(ctx, "researcher"),
      triager: await createUser(ctx, "triager"),
      triager2: await createUser(ctx, "triager"),
      admin: await createUser(ctx, "admin"),
      contact: await createUser(ctx, "org_contact"),
    };
    await addMember(ctx, org.id, people.contact.user.id);
    browsers = {
      researcher: await signedIn(ctx, people.researcher),
      triager: await signedIn(ctx, people.triager),
      admin: await signedIn(ctx, people.admin),
      contact: await signedIn(ctx, people.contact),
    };
  });
  after(async () => {
    await worker.stop();
    await ctx.close();
    await smtp.stop();
  });

  /** Runs a step, delivers the outbox, and returns each address's mail. */
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
  const submit = async () => {
    const res = await submitReport(
      browsers.researcher,
      reportFields({ organization: orgPublicId, newOrganization: "" }),
    );
    return reportIdFrom(res.headers.location);
  };
  const report = async () => (await findReportByPublicId(ctx.db, id))!;
  /** Both bodies of a mail, the way a person reads them. */
  const read = (m: ParsedMail) => `${m.text}\n${m.html || ""}`;

  it("the receipt gives the acknowledgment due date with its time zone; the new report reaches the triagers, not every admin", async () => {
    const mails = await step(async () => (id = await submit()));
    assert.deepEqual(
      recipients(mails),
      emails("researcher", "triager", "triager2"),
      "nobody assigned and nobody chosen: every active triager",
    );
    const due = formatDateTime((await report()).ackDueAt!);
    assert.match(due, / UTC$/);
    const receipt = mails.get(people.researcher.email)!;
    assert.equal(receipt.subject, `[${id}] Received`);
    assert.ok(
      receipt.text!.includes(`Acknowledgment due: ${due}.`),
      receipt.text,
    );
  });

  it("an admin chooses who hears of new reports; the choice is kept on the settings page", async () => {
    const page = await browsers.admin.agent.get("/admin/settings");
    assert.equal(page.status, 200);
    assert.match(page.text, /New reports are mailed to/);
    const save = await browsers.admin.post("/admin/settings/triage-mail", {
      staff: [people.triager2.user.publicId, people.admin.user.publicId],
    });
    assert.equal(save.status, 303);
    const again = await browsers.admin.agent.get("/admin/settings");
    assert.match(
      again.text,
      new RegExp(
        `name="staff" value="${people.triager2.user.publicId}" checked`,
      ),
    );
    assert.doesNotMatch(
      again.text,
      new RegExp(
        `name="staff" value="${people.triager.user.publicId}" checked`,
      ),
    );
    const mails = await step(submit);
    assert.deepEqual(
      recipients(mails),
      emails("researcher", "triager2", "admin"),
    );
    // A forged entry is refused, nothing changed.
    const forged = await browsers.admin.post("/admin/settings/triage-mail", {
      staff: [people.researcher.user.publicId],
    });
    assert.equal(forged.status, 422);
    assert.match(forged.text, /not an active triager or admin/);
    const still = await step(submit);
    assert.deepEqual(
      recipients(still),
      emails("researcher", "triager2", "admin"),
    );
    // Nobody ticked: back to every active triager.
    assert.equal(
      (await browsers.admin.post("/admin/settings/triage-mail", {})).status,
      303,
    );
    const back = await step(submit);
    assert.deepEqual(
      recipients(back),
      emails("researcher", "triager", "triager2"),
    );
  });

  it("a settings change needs the admin, and the CSRF token", async () => {
    const triagerTry = await browsers.triager.post(
      "/admin/settings/triage-mail",
      { staff: [people.triager.user.publicId] },
    );
    assert.equal(triagerTry.status, 404);
    const noToken = await browsers.admin.agent
      .post("/admin/settings/triage-mail")
      .type("form")
      .send({ staff: people.triager.user.publicId });
    assert.equal(noToken.status, 403);
  });

  it("'more information needed' tells the researcher a question waits, without the question", async () => {
    await browsers.triager.post(`/reports/${id}/assign`, { assignee: "me" });
    await step(act("triager", "acknowledge"));
    const mails = await step(
      act("triager", "request_info", { message: QUESTION }),
    );
    const m = mails.get(people.researcher.email)!;
    assert.equal(m.subject, `[${id}] More information needed`);
    assert.match(
      read(m),
      /The CERT asked you a question about this report; it waits for your answer on the report page\./,
    );
    assert.ok(
      !read(m).includes("quokka"),
      "the question stays out of plain mail",
    );
    await step(act("researcher", "provide_info", { message: "A red one" }));
  });

  it("the organization's first notice gives the severity, the fix target and the disclosure deadline", async () => {
    await step(act("triager", "triage"));
    const mails = await step(act("triager", "notify_vendor"));
    const r = await report();
    assert.ok(r.severity && r.severity !== "none", "the fixture is rated");
    const fix = dueAt("fix", r, ctx.deps.settings.clocks())!;
    const m = mails.get(people.contact.email)!;
    assert.equal(
      m.subject,
      `[${id}] New vulnerability report for your organization`,
    );
    const text = m.text!;
    assert.ok(
      text.includes(
        `Severity: ${SEVERITY_LABELS[r.severity]} (CVSS ${r.cvssScore!.toFixed(1)}).`,
      ),
      text,
    );
    assert.ok(text.includes(`Fix target: ${formatDateTime(fix)}.`), text);
    assert.ok(
      text.includes(
        `Disclosure deadline: ${formatDateTime(r.disclosureDueAt!)}.`,
      ),
      text,
    );
    assert.ok(read(m).includes(`Fix target: ${formatDateTime(fix)}.`));
  });

  it("an extension request gives the date asked for", async () => {
    const mails = await step(async () => {
      await browsers.contact.refreshCsrf(`/reports/${id}`);
      const res = await browsers.contact.post(`/reports/${id}/extension`, {
        date: "2027-09-30",
        reason: "The vendor of our booking system ships in September.",
      });
      assert.equal(res.status, 303, res.text);
    });
    const m = mails.get(people.triager.email)!;
    assert.equal(m.subject, `[${id}] Extension requested`);
    assert.ok(
      m.text!.includes(
        `Date asked for: ${formatDateTime(new Date("2027-09-30T23:59:00Z"))}.`,
      ),
      m.text,
    );
    assert.ok(!read(m).includes("booking system"));
  });

  it("'fixed' asks the researcher to retest, not the triager", async () => {
    const mails = await step(act("contact", "mark_fixed"));
    assert.deepEqual(recipients(mails), emails("researcher", "triager"));
    const researcher = mails.get(people.researcher.email)!;
    assert.equal(researcher.subject, `[${id}] Fix deployed, please retest`);
    assert.match(read(researcher), /Please retest it/);
    const triager = mails.get(people.triager.email)!;
    assert.equal(triager.subject, `[${id}] Fix deployed`);
    // Not asked, nor told what to do, in the word meant for the researcher.
    assert.doesNotMatch(`${triager.subject}\n${read(triager)}`, /retest/i);
  });

  it("'published' links to the public advisory", async () => {
    const published = await insertPublishableReport(ctx, {
      reporterId: people.researcher.user.id,
      organizationId: orgId,
    });
    const mails = await step(() =>
      publishAdvisory(browsers.triager, published.publicId, {
        summary: "Appointments could be read by changing a number.",
      }),
    );
    const m = mails.get(people.researcher.email)!;
    assert.equal(m.subject, `[${published.publicId}] Published as advisory`);
    assert.ok(
      m.text!.includes(
        `Public advisory: http://localhost:3000/advisories/${published.publicId}`,
      ),
      m.text,
    );
    const page = await (
      await anonymous(ctx)
    ).agent.get(`/advisories/${published.publicId}`);
    assert.equal(page.status, 200, "the link leads to the advisory");
  });

  it("a password reset is followed by 'your password was changed'", async () => {
    const browser = await anonymous(ctx);
    await browser.refreshCsrf("/password/forgot");
    const asked = await step(() =>
      browser.post("/password/forgot", { email: people.researcher.email }),
    );
    const link = /(http:\/\/localhost:3000\/password\/set\?token=\S+)/.exec(
      asked.get(people.researcher.email)!.text!,
    )![1]!;
    const path = link.replace("http://localhost:3000", "");
    const token = new URL(link).searchParams.get("token")!;
    const form = await browser.agent.get(path);
    assert.equal(form.status, 200);
    await browser.refreshCsrf(path);
    const mails = await step(async () => {
      const set = await browser.post("/password/set", {
        token,
        password: "a fresh and long passphrase 7",
        confirm: "a fresh and long passphrase 7",
      });
      assert.equal(set.status, 303);
    });
    const m = mails.get(people.researcher.email);
    assert.ok(m, "a mail about the change");
    assert.equal(m.subject, "Your Disclosure Desk password was changed");
    assert.match(m.text!, /If this was not you, reset your password now/);
  });
});

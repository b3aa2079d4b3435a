/**
 * Inside an organization: its administrator invites and removes colleagues,
 * chooses whether every member sees every case or only the cases they are
 * given, and gives and takes back cases. Everything a member does not see
 * answers the same 404 as what does not exist.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { tableRows } from "../support/database.js";
import { createTransport } from "../../src/mail/transport.js";
import { createMailWorker } from "../../src/mail/worker.js";
import { runDueReminders } from "../../src/reports/reminders.js";
import { addressFanouts } from "../support/harness.js";
import { createOrg, insertReport } from "../support/fixtures.js";
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
  SCREENSHOT,
  submitReport,
} from "../support/reports.js";
import { TestSmtpServer } from "../support/smtp.js";
import type { Organization } from "../../src/orgs/types.js";

describe("inside an organization: its administrator, colleagues and who sees which case", function () {
  this.timeout(120_000);
  let smtp: TestSmtpServer;
  let ctx: TestContext;
  let orgA: Organization, orgB: Organization;
  let researcher: Browser, triager: Browser;
  let adminA: TestUser, memberA: TestUser, adminB: TestUser;
  let asAdminA: Browser, asMemberA: Browser, asAdminB: Browser;
  /** Two cases of organization A, one of B; each with a screenshot. */
  let given = "",
    notGiven = "",
    ofB = "";
  const attachmentOf: Record<string, string> = {};

  /** Files a report about an organization through the form and notifies it. */
  async function fileAndNotify(org: Organization, title: string) {
    const res = await submitReport(
      researcher,
      reportFields({
        organization: org.publicId,
        newOrganization: "",
        title,
      }),
      [{ path: SCREENSHOT, name: "poc.png" }],
    );
    assert.equal(res.status, 303, res.text.slice(0, 2000));
    const id = reportIdFrom(res.headers.location);
    await triager.refreshCsrf(`/reports/${id}`);
    for (const name of ["acknowledge", "triage", "notify_vendor"]) {
      const step = await triager.post(`/reports/${id}/transition`, { name });
      assert.equal(step.status, 303, `${name}: ${step.status}`);
    }
    const page = await triager.agent.get(`/reports/${id}`);
    const link = /href="(\/reports\/[^"]+\/attachments\/[^"]+)"/.exec(
      page.text,
    );
    assert.ok(link, "the attachment is linked on the report page");
    attachmentOf[id] = link[1]!;
    return id;
  }

  const makeAdmin = (user: TestUser, org: Organization) =>
    ctx.db
      .updateTable("org_members")
      .set({ is_admin: 1 })
      .where("org_id", "=", org.id)
      .where("user_id", "=", user.user.id)
      .execute();

  async function snapshot() {
    const rows = (table: string) => tableRows(ctx.db, table);
    return {
      members: await rows("org_members"),
      grants: await rows("org_case_grants"),
      orgs: await rows("organizations"),
      users: await rows("users"),
    };
  }

  before(async () => {
    smtp = await new TestSmtpServer().start();
    ctx = await createTestContext({
      env: { SMTP_URL: smtp.url, RATE_LIMITS: "false" },
    });
    orgA = await createOrg(ctx, "Hospital Portal Vendor");
    orgB = await createOrg(ctx, "Regional Hosting");
    researcher = await signedIn(ctx, await createUser(ctx, "researcher"));
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    adminA = await createUser(ctx, "org_contact", {
      displayName: "Ines Admin",
      orgIds: [orgA.id],
    });
    memberA = await createUser(ctx, "org_contact", {
      displayName: "Mo Member",
      orgIds: [orgA.id],
    });
    adminB = await createUser(ctx, "org_contact", {
      displayName: "Bea Admin",
      orgIds: [orgB.id],
    });
    await makeAdmin(adminA, orgA);
    await makeAdmin(adminB, orgB);
    given = await fileAndNotify(orgA, "Appointments readable zebrafinch");
    notGiven = await fileAndNotify(orgA, "Prescriptions readable quokka");
    ofB = await fileAndNotify(orgB, "Hosting panel readable wombat");
    asAdminA = await signedIn(ctx, adminA);
    asMemberA = await signedIn(ctx, memberA);
    asAdminB = await signedIn(ctx, adminB);
  });
  after(async () => {
    await ctx.close();
    await smtp.stop();
  });

  it("staff make a contact the organization's administrator and back, audited, on the organization's page", async () => {
    const other = await createUser(ctx, "org_contact", { orgIds: [orgA.id] });
    await triager.refreshCsrf(`/orgs/${orgA.publicId}`);
    const made = await triager.post(
      `/orgs/${orgA.publicId}/contacts/${other.user.publicId}/admin`,
    );
    assert.equal(made.status, 303);
    assert.equal(made.headers.location, `/orgs/${orgA.publicId}`);
    const page = await triager.agent.get(`/orgs/${orgA.publicId}`);
    assert.match(shown(page.text), /now administers Hospital Portal Vendor/);
    assert.match(page.text, /Make a plain member/);
    // The new administrator finds the page in the menu.
    const asOther = await signedIn(ctx, other);
    const home = await asOther.agent.get("/account");
    assert.match(home.text, /href="\/org\/members"/);
    const back = await triager.post(
      `/orgs/${orgA.publicId}/contacts/${other.user.publicId}/admin/remove`,
    );
    assert.equal(back.status, 303);
    const again = await asOther.agent.get("/account");
    assert.doesNotMatch(again.text, /href="\/org\/members"/);
    assert.equal(
      (await asOther.agent.get(`/org/${orgA.publicId}/members`)).status,
      404,
    );
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["action", "target_id"])
      .where("action", "in", ["org.admin_granted", "org.admin_revoked"])
      .orderBy("id")
      .execute();
    assert.deepEqual(audit, [
      { action: "org.admin_granted", target_id: orgA.publicId },
      { action: "org.admin_revoked", target_id: orgA.publicId },
    ]);
    // Staff who are not in the organization still remove them (no page of theirs).
    await ctx.db
      .deleteFrom("org_members")
      .where("user_id", "=", other.user.id)
      .execute();
  });

  it("a plain member cannot use the administrator's page: the 404 of a missing one", async () => {
    const missing = await asMemberA.agent.get("/no-such-page");
    for (const url of ["/org/members", `/org/${orgA.publicId}/members`]) {
      const res = await asMemberA.agent.get(url);
      assert.equal(res.status, 404, url);
      assert.equal(res.text, missing.text, url);
    }
    const before = await snapshot();
    await asMemberA.refreshCsrf("/org/reports");
    for (const [url, fields] of [
      [`/org/${orgA.publicId}/visibility`, { visibility: "given" }],
      [
        `/org/${orgA.publicId}/cases`,
        { member: memberA.user.publicId, reportId: notGiven },
      ],
      [
        `/org/${orgA.publicId}/members`,
        { email: "friend@example.test", displayName: "Friend" },
      ],
      [`/org/${orgA.publicId}/members/${adminA.user.publicId}/remove`, {}],
    ] as const) {
      const res = await asMemberA.post(url, fields);
      assert.equal(res.status, 404, url);
      assert.equal(res.text, missing.text, url);
    }
    assert.deepEqual(await snapshot(), before);
    // No menu entry either.
    const home = await asMemberA.agent.get("/account");
    assert.doesNotMatch(home.text, /href="\/org\/members"/);
  });

  it("the administrator's menu leads to their organization's page", async () => {
    const home = await asAdminA.agent.get("/account");
    assert.match(home.text, /href="\/org\/members">Colleagues</);
    const own = await asAdminA.agent.get("/org/members");
    assert.equal(own.status, 303);
    assert.equal(own.headers.location, `/org/${orgA.publicId}/members`);
    const page = await asAdminA.agent.get(own.headers.location!);
    assert.equal(page.status, 200);
    assert.match(page.text, /Mo Member/);
    assert.match(page.text, /Ines Admin \(you\)/);
  });

  it("a member of an organization that shows only given cases sees only those: list, report page, attachment, search; the others answer the identical 404", async () => {
    await asAdminA.refreshCsrf(`/org/${orgA.publicId}/members`);
    const set = await asAdminA.post(`/org/${orgA.publicId}/visibility`, {
      visibility: "given",
    });
    assert.equal(set.status, 303);
    // Nothing given yet: nothing seen.
    const none = await asMemberA.agent.get("/org/reports");
    assert.doesNotMatch(none.text, new RegExp(given));
    assert.doesNotMatch(none.text, new RegExp(notGiven));

    const give = await asAdminA.post(`/org/${orgA.publicId}/cases`, {
      member: memberA.user.publicId,
      reportId: given.toLowerCase(), // typed as people type it
    });
    assert.equal(give.status, 303, give.text.slice(0, 2000));
    const page = await asAdminA.agent.get(`/org/${orgA.publicId}/members`);
    assert.match(shown(page.text), new RegExp(`now sees ${given}`));

    const list = await asMemberA.agent.get("/org/reports");
    assert.match(list.text, new RegExp(given));
    assert.doesNotMatch(list.text, new RegExp(notGiven));
    assert.doesNotMatch(list.text, new RegExp(ofB));

    assert.equal((await asMemberA.agent.get(`/reports/${given}`)).status, 200);
    const file = await asMemberA.agent.get(attachmentOf[given]!);
    assert.equal(file.status, 200);

    const missingReport = await asMemberA.agent.get("/reports/DD-0000-0000");
    assert.equal(missingReport.status, 404);
    for (const id of [notGiven, ofB]) {
      const res = await asMemberA.agent.get(`/reports/${id}`);
      assert.equal(res.status, 404, id);
      assert.equal(res.text, missingReport.text, id);
      const att = await asMemberA.agent.get(attachmentOf[id]!);
      const missingAtt = await asMemberA.agent.get(
        `/reports/${id}/attachments/0000000000000000`,
      );
      assert.equal(att.status, 404, id);
      assert.equal(att.text, missingAtt.text, id);
      assert.equal(att.text, missingReport.text, id);
    }

    const search = async (q: string) =>
      asMemberA.agent.get(`/search?q=${encodeURIComponent(q)}`);
    const found = await search("readable");
    assert.equal(found.status, 200);
    assert.match(found.text, new RegExp(given));
    assert.doesNotMatch(found.text, new RegExp(notGiven));
    assert.doesNotMatch(found.text, /quokka|wombat/);
    // An exact ID opens a report only when it is one's own to see.
    const byId = await search(notGiven);
    assert.equal(byId.status, 200);
    assert.doesNotMatch(byId.text, /quokka/);
    assert.equal((await search(given)).status, 303);

    // The administrator sees every case of the organization all the same.
    assert.equal(
      (await asAdminA.agent.get(`/reports/${notGiven}`)).status,
      200,
    );
  });

  it("taking the case back ends the member's access at once, in the same session", async () => {
    const res = await asAdminA.post(
      `/org/${orgA.publicId}/members/${memberA.user.publicId}/cases/${given}/remove`,
    );
    assert.equal(res.status, 303);
    const missing = await asMemberA.agent.get("/reports/DD-0000-0000");
    const page = await asMemberA.agent.get(`/reports/${given}`);
    assert.equal(page.status, 404);
    assert.equal(page.text, missing.text);
    assert.equal((await asMemberA.agent.get(attachmentOf[given]!)).status, 404);
    const list = await asMemberA.agent.get("/org/reports");
    assert.doesNotMatch(list.text, new RegExp(given));
    const found = await asMemberA.agent.get("/search?q=zebrafinch");
    assert.doesNotMatch(found.text, new RegExp(given));
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["action", "details"])
      .where("action", "in", [
        "org.visibility_changed",
        "org.case_given",
        "org.case_taken",
      ])
      .orderBy("id")
      .execute();
    assert.deepEqual(
      audit.map((a) => a.action),
      ["org.visibility_changed", "org.case_given", "org.case_taken"],
    );
    assert.match(audit[1]!.details!, new RegExp(given));
    // Every member sees every case again once the administrator says so.
    await asAdminA.post(`/org/${orgA.publicId}/visibility`, {
      visibility: "all",
    });
    assert.equal(
      (await asMemberA.agent.get(`/reports/${notGiven}`)).status,
      200,
    );
    await asAdminA.post(`/org/${orgA.publicId}/visibility`, {
      visibility: "given",
    });
  });

  it("gives only the organization's own cases: any other report ID gets one message next to the field, what was typed kept", async () => {
    const before = await snapshot();
    const answers: string[] = [];
    for (const reportId of [ofB, "DD-0000-0000", "not an id"]) {
      const res = await asAdminA.post(`/org/${orgA.publicId}/cases`, {
        member: memberA.user.publicId,
        reportId,
      });
      assert.equal(res.status, 422, reportId);
      const error = /id="f-reportId-error"[^>]*>(.*?)<\/p>/s.exec(res.text);
      assert.ok(error, `an error next to the field for ${reportId}`);
      answers.push(error[1]!);
      assert.match(res.text, new RegExp(`value="${reportId}"`));
    }
    assert.equal(new Set(answers).size, 1, "one message, whatever the ID");
    const empty = await asAdminA.post(`/org/${orgA.publicId}/cases`, {
      member: "",
      reportId: "",
    });
    assert.equal(empty.status, 422);
    assert.match(empty.text, /id="f-member-error"/);
    assert.match(empty.text, /id="f-reportId-error"/);
    assert.deepEqual(await snapshot(), before);
  });

  it("an administrator of organization A cannot touch organization B's members or cases: forged IDs answer 404", async () => {
    const missing = await asAdminA.agent.get("/no-such-page");
    const before = await snapshot();
    // B's administrator gives their member... B's own page is theirs, not A's.
    const tries: [string, Record<string, string>][] = [
      [`/org/${orgB.publicId}/visibility`, { visibility: "given" }],
      [
        `/org/${orgB.publicId}/members`,
        { email: "spy@example.test", displayName: "Spy" },
      ],
      [`/org/${orgB.publicId}/members/${adminB.user.publicId}/remove`, {}],
      [
        `/org/${orgB.publicId}/cases`,
        { member: adminB.user.publicId, reportId: ofB },
      ],
      // A's own organization with B's member: removing, giving, taking back.
      [`/org/${orgA.publicId}/members/${adminB.user.publicId}/remove`, {}],
      [
        `/org/${orgA.publicId}/cases`,
        { member: adminB.user.publicId, reportId: given },
      ],
      [
        `/org/${orgA.publicId}/members/${adminB.user.publicId}/cases/${ofB}/remove`,
        {},
      ],
      [
        `/org/${orgA.publicId}/members/${memberA.user.publicId}/cases/${ofB}/remove`,
        {},
      ],
    ];
    for (const [url, fields] of tries) {
      const res = await asAdminA.post(url, fields);
      assert.equal(res.status, 404, url);
      assert.equal(res.text, missing.text, url);
    }
    const page = await asAdminA.agent.get(`/org/${orgB.publicId}/members`);
    assert.equal(page.status, 404);
    assert.equal(page.text, missing.text);
    assert.deepEqual(await snapshot(), before);
    // B's administrator manages B, and only B.
    assert.equal(
      (await asAdminB.agent.get(`/org/${orgB.publicId}/members`)).status,
      200,
    );
    assert.equal(
      (await asAdminB.agent.get(`/org/${orgA.publicId}/members`)).status,
      404,
    );
  });

  it("the last administrator cannot remove themselves", async () => {
    const res = await asAdminA.post(
      `/org/${orgA.publicId}/members/${adminA.user.publicId}/remove`,
    );
    assert.equal(res.status, 409);
    assert.match(shown(res.text), /last administrator/);
    const still = await ctx.db
      .selectFrom("org_members")
      .select("is_admin")
      .where("org_id", "=", orgA.id)
      .where("user_id", "=", adminA.user.id)
      .executeTakeFirst();
    assert.deepEqual(still, { is_admin: 1 });
    // The page offers no such button to begin with.
    const page = await asAdminA.agent.get(`/org/${orgA.publicId}/members`);
    assert.doesNotMatch(
      page.text,
      new RegExp(`members/${adminA.user.publicId}/remove`),
    );
  });

  it("removes a colleague: the membership and the cases given go, audited, and the colleague sees nothing of the organization any more", async () => {
    const leaving = await createUser(ctx, "org_contact", { orgIds: [orgA.id] });
    const give = await asAdminA.post(`/org/${orgA.publicId}/cases`, {
      member: leaving.user.publicId,
      reportId: notGiven,
    });
    assert.equal(give.status, 303);
    const asLeaving = await signedIn(ctx, leaving);
    assert.equal(
      (await asLeaving.agent.get(`/reports/${notGiven}`)).status,
      200,
    );
    const res = await asAdminA.post(
      `/org/${orgA.publicId}/members/${leaving.user.publicId}/remove`,
    );
    assert.equal(res.status, 303);
    assert.equal(
      (await asLeaving.agent.get(`/reports/${notGiven}`)).status,
      404,
    );
    const grants = await ctx.db
      .selectFrom("org_case_grants")
      .select("report_id")
      .where("user_id", "=", leaving.user.id)
      .execute();
    assert.deepEqual(grants, []);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["actor_id", "target_id", "details"])
      .where("action", "=", "org.member_removed")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    assert.equal(audit.actor_id, adminA.user.id);
    assert.equal(audit.target_id, orgA.publicId);
    assert.match(audit.details!, new RegExp(leaving.user.publicId));
  });

  it("invites a colleague with the staff's invitation: account, membership, the mail with its one-time link, delivered", async () => {
    const res = await asAdminA.post(`/org/${orgA.publicId}/members`, {
      email: "New.Colleague@Vendor.example",
      displayName: "New Colleague",
    });
    assert.equal(res.status, 303, res.text.slice(0, 2000));
    const user = await ctx.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", "new.colleague@vendor.example")
      .executeTakeFirstOrThrow();
    assert.equal(user.role, "org_contact");
    assert.equal(user.password_hash, null);
    const member = await ctx.db
      .selectFrom("org_members")
      .select(["org_id", "is_admin"])
      .where("user_id", "=", user.id)
      .execute();
    assert.deepEqual(member, [{ org_id: orgA.id, is_admin: 0 }]);

    smtp.messages.length = 0;
    const worker = createMailWorker({
      ...ctx.deps,
      transport: createTransport(ctx.config, ctx.deps.logger),
    });
    try {
      while ((await worker.runOnce()).sent > 0);
    } finally {
      await worker.stop();
    }
    const [mail, ...more] = smtp.to("new.colleague@vendor.example");
    assert.ok(mail, "the invitation was delivered");
    assert.equal(more.length, 0);
    assert.equal(mail.subject, "You have been invited to Disclosure Desk");
    assert.match(mail.text ?? "", /Hospital Portal Vendor/);
    const link = /\/password\/set\?token=([\w-]+)/.exec(mail.text ?? "");
    assert.ok(link, "the mail carries the one-time link");
    // The link works once, as the staff's invitation does.
    const visitor = await anonymous(ctx);
    const form = await visitor.agent.get(`/password/set?token=${link[1]}`);
    assert.equal(form.status, 200);

    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["action", "actor_id"])
      .where("action", "in", ["user.created", "org.member_added"])
      .orderBy("id", "desc")
      .limit(2)
      .execute();
    assert.deepEqual(audit.map((a) => [a.action, a.actor_id]).sort(), [
      ["org.member_added", adminA.user.id],
      ["user.created", adminA.user.id],
    ]);
  });

  it("an invitation the administrator may not send is refused next to the field, without naming another account's role", async () => {
    const someone = await createUser(ctx, "researcher", {
      email: "someone@researcher.example",
    });
    void someone;
    const res = await asAdminA.post(`/org/${orgA.publicId}/members`, {
      email: "someone@researcher.example",
      displayName: "Someone",
    });
    assert.equal(res.status, 422);
    assert.match(res.text, /id="f-email-error"/);
    assert.doesNotMatch(res.text, /Researcher/);
    assert.match(res.text, /value="someone@researcher.example"/);
    const bad = await asAdminA.post(`/org/${orgA.publicId}/members`, {
      email: "not an address",
      displayName: "",
    });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /id="f-email-error"/);
    assert.match(bad.text, /id="f-displayName-error"/);
  });

  it("the last administrator cannot step down; they make a colleague administrator too, audited", async () => {
    const refused = await asAdminA.post(
      `/org/${orgA.publicId}/members/${adminA.user.publicId}/admin/remove`,
    );
    assert.equal(refused.status, 409);
    assert.match(shown(refused.text), /last administrator/);
    const made = await asAdminA.post(
      `/org/${orgA.publicId}/members/${memberA.user.publicId}/admin`,
    );
    assert.equal(made.status, 303);
    const row = await ctx.db
      .selectFrom("org_members")
      .select("is_admin")
      .where("org_id", "=", orgA.id)
      .where("user_id", "=", memberA.user.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.is_admin, 1);
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["actor_id", "details"])
      .where("action", "=", "org.admin_granted")
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    assert.equal(audit.actor_id, adminA.user.id);
    assert.match(audit.details!, new RegExp(memberA.user.publicId));
    // As an administrator Mo sees every case, given or not.
    assert.equal(
      (await asMemberA.agent.get(`/reports/${notGiven}`)).status,
      200,
    );
  });

  it("with a second administrator, an administrator may leave the organization", async () => {
    const res = await asAdminA.post(
      `/org/${orgA.publicId}/members/${adminA.user.publicId}/remove`,
    );
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/org/reports");
    assert.equal(
      (await asAdminA.agent.get(`/org/${orgA.publicId}/members`)).status,
      404,
    );
    assert.equal(
      (await asMemberA.agent.get(`/org/${orgA.publicId}/members`)).status,
      200,
    );
  });
});

describe("mail follows who sees which case inside an organization", () => {
  let ctx: TestContext;
  after(() => ctx?.close());

  it("a reminder about a case reaches the administrator and the members given it, not the members who do not see it", async () => {
    ctx = await createTestContext();
    const researcher = await createUser(ctx, "researcher");
    const org = await createOrg(ctx, "Limited Vendor");
    const admin = await createUser(ctx, "org_contact", {
      email: "admin@limited.example",
      orgIds: [org.id],
    });
    const givenIt = await createUser(ctx, "org_contact", {
      email: "given@limited.example",
      orgIds: [org.id],
    });
    await createUser(ctx, "org_contact", {
      email: "not-given@limited.example",
      orgIds: [org.id],
    });
    await ctx.db
      .updateTable("org_members")
      .set({ is_admin: 1 })
      .where("user_id", "=", admin.user.id)
      .execute();
    await ctx.db
      .updateTable("organizations")
      .set({ members_see_all: 0 })
      .where("id", "=", org.id)
      .execute();
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      state: "fix_in_progress",
    });
    await ctx.db
      .insertInto("org_case_grants")
      .values({
        org_id: org.id,
        user_id: givenIt.user.id,
        report_id: report.id,
        granted_at: ctx.clock.now().getTime(),
        granted_by: admin.user.id,
      })
      .execute();
    ctx.clock.advanceDays(60);
    ctx.clock.advance(1000);
    assert.equal(await runDueReminders(ctx.deps), 1);
    await addressFanouts(ctx);
    const to = (
      await ctx.db
        .selectFrom("outbox")
        .select("to_address")
        .where("to_address", "like", "%@limited.example")
        .orderBy("to_address")
        .execute()
    ).map((r) => r.to_address);
    assert.deepEqual(to, ["admin@limited.example", "given@limited.example"]);
  });
});

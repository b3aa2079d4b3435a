import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import * as eventAudience from "../../db/migrations/2026-12-02-05-event-audience.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

/**
 * An organization's contact learns only its own organization's facts, and
 * nothing the researcher and the CERT said to each other before the
 * organization was told, unless a triager shares it.
 */
describe("what an organization's contact reads", () => {
  let ctx: TestContext;
  let triager: Browser;
  let orgA: { id: number; publicId: string; name: string };
  let orgB: { id: number; publicId: string; name: string };
  let contactAUser: TestUser;
  let contactBUser: TestUser;
  let contactA: Browser;
  let contactB: Browser;

  const page = async (who: Browser, id: string) => {
    const res = await who.agent.get(`/reports/${id}`);
    assert.equal(res.status, 200, res.text.slice(0, 300));
    return shown(res.text);
  };
  const post = async (
    who: Browser,
    url: string,
    fields: Record<string, string>,
  ) => {
    const res = await who.post(url, fields);
    assert.equal(res.status, 303, `${url}: ${res.text.slice(0, 600)}`);
  };
  const mailTo = async (userId: number) =>
    (
      await ctx.db
        .selectFrom("outbox")
        .select(["subject", "text_body", "html_body"])
        .where("to_user_id", "=", userId)
        .execute()
    )
      .map((m) => `${m.subject}\n${m.text_body}\n${m.html_body}`)
      .join("\n");

  before(async () => {
    ctx = await createTestContext();
    orgA = await createOrg(ctx, "Alpha Water Works");
    orgB = await createOrg(ctx, "Beta Power Grid");
    contactAUser = await createUser(ctx, "org_contact", { orgIds: [orgA.id] });
    contactBUser = await createUser(ctx, "org_contact", { orgIds: [orgB.id] });
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    contactA = await signedIn(ctx, contactAUser);
    contactB = await signedIn(ctx, contactBUser);
  });
  after(() => ctx.close());

  describe("item 8: only its own organization's facts", () => {
    it("a duplicate of another organization's report names neither its ID nor its state to the contact", async () => {
      const researcherA = await createUser(ctx, "researcher");
      const researcherBUser = await createUser(ctx, "researcher");
      const original = await insertReport(ctx, {
        reporterId: researcherA.user.id,
        state: "fix_in_progress",
        organizationId: orgA.id,
      });
      const duplicate = await insertReport(ctx, {
        reporterId: researcherBUser.user.id,
        state: "vendor_notified",
        organizationId: orgB.id,
      });
      await post(triager, `/reports/${duplicate.publicId}/transition`, {
        name: "close",
        resolution: "duplicate",
        duplicateOf: original.publicId,
        message: "",
      });

      const contactPage = await page(contactB, duplicate.publicId);
      assert.match(contactPage, /Closed/);
      assert.doesNotMatch(contactPage, new RegExp(original.publicId));
      assert.doesNotMatch(contactPage, /This report duplicates/);
      assert.doesNotMatch(contactPage, /Fix in progress/);
      assert.doesNotMatch(
        await mailTo(contactBUser.user.id),
        new RegExp(original.publicId),
      );

      // The duplicate's researcher learns the original's ID and state (DESIGN.md).
      const researcherB = await signedIn(ctx, researcherBUser);
      const researcherPage = await page(researcherB, duplicate.publicId);
      assert.match(researcherPage, new RegExp(original.publicId));
      assert.match(
        researcherPage,
        /which is <strong>Fix in progress<\/strong>/,
      );
      // Staff see everything.
      assert.match(
        await page(triager, duplicate.publicId),
        new RegExp(`/reports/${original.publicId}`),
      );
      // A contact who may see the original too reads the link as before.
      const both = await signedIn(
        ctx,
        await createUser(ctx, "org_contact", { orgIds: [orgA.id, orgB.id] }),
      );
      assert.match(
        await page(both, duplicate.publicId),
        new RegExp(`/reports/${original.publicId}`),
      );
    });

    it("a report moved from one organization to another before the notice never names the first to the second", async () => {
      const researcher = await signedIn(
        ctx,
        await createUser(ctx, "researcher"),
      );
      const res = await submitReport(
        researcher,
        reportFields({ organization: orgA.publicId, newOrganization: "" }),
      );
      assert.equal(res.status, 303);
      const id = reportIdFrom(res.headers.location);
      const triage = (organization: string) =>
        post(triager, `/reports/${id}/triage`, {
          cwe: "CWE-639",
          cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
          organization,
        });
      await triage(orgB.publicId);
      await triage(orgA.publicId);
      await post(triager, `/reports/${id}/transition`, {
        name: "triage",
        message: "",
      });
      await triage(orgB.publicId);
      await post(triager, `/reports/${id}/transition`, {
        name: "notify_vendor",
        message: "",
      });

      const contactPage = await page(contactB, id);
      assert.match(contactPage, /Beta Power Grid/);
      assert.doesNotMatch(contactPage, /Alpha Water Works/);
      const mail = await mailTo(contactBUser.user.id);
      assert.match(mail, new RegExp(id));
      assert.doesNotMatch(mail, /Alpha Water Works/);
      // A never sees the report at all.
      assert.equal((await contactA.agent.get(`/reports/${id}`)).status, 404);
      // Staff keep the whole history.
      assert.match(
        await page(triager, id),
        /Organization: Alpha Water Works → Beta Power Grid/,
      );
    });
  });
  describe("item 11: what the researcher told the CERT stays between them", () => {
    const NAME = "Rhea Quietname";
    let id: string;
    let researcher: Browser;
    let reportDbId: number;

    const ackEventId = async () =>
      (
        await ctx.db
          .selectFrom("report_events")
          .select("id")
          .where("report_id", "=", reportDbId)
          .where("action", "=", "acknowledge")
          .executeTakeFirstOrThrow()
      ).id;

    before(async () => {
      researcher = await signedIn(
        ctx,
        await createUser(ctx, "researcher", { displayName: NAME }),
      );
      const { revealIdentity: _hidden, ...fields } = reportFields({
        organization: orgB.publicId,
        newOrganization: "",
        creditKind: "name",
      });
      const res = await submitReport(researcher, fields);
      assert.equal(res.status, 303);
      id = reportIdFrom(res.headers.location);
      reportDbId = (
        await ctx.db
          .selectFrom("reports")
          .select("id")
          .where("public_id", "=", id)
          .executeTakeFirstOrThrow()
      ).id;
    });

    it("every message box says who will read it, before and after the notice", async () => {
      const before = await page(researcher, id);
      assert.match(before, /Read by the researcher and the CERT team\./);
      assert.doesNotMatch(before, /contacts of Beta Power Grid/);
      const staffBefore = await page(triager, id);
      assert.match(staffBefore, /Internal: CERT staff only\./);
      assert.match(staffBefore, /Read by the researcher and the CERT team\./);
    });

    it("the acknowledgment that names the researcher is not on the contact's page after the notice", async () => {
      await post(triager, `/reports/${id}/transition`, {
        name: "acknowledge",
        message: `Thank you, ${NAME}, for this careful report.`,
      });
      await post(triager, `/reports/${id}/comments`, {
        body: `${NAME}, which build did you test?`,
      });
      await post(researcher, `/reports/${id}/comments`, {
        body: "Build 4.2, signed in as myself.",
      });
      await post(triager, `/reports/${id}/transition`, {
        name: "triage",
        message: "",
      });
      // The notice's own message is the first one the organization reads.
      const notifyBox =
        /<label for="m-notify_vendor">[^<]*<\/label>\s*<p class="hint"[^>]*>Read by the researcher, the CERT team and the contacts of Beta Power Grid\.<\/p>/;
      assert.match(await page(triager, id), notifyBox);
      await post(triager, `/reports/${id}/transition`, {
        name: "notify_vendor",
        message: "Please look at this report.",
      });
      await post(triager, `/reports/${id}/comments`, {
        body: "Org: please confirm receipt.",
      });

      const contactPage = await page(contactB, id);
      assert.match(contactPage, /Not disclosed to your organization/);
      assert.match(contactPage, /Please look at this report\./);
      assert.match(contactPage, /Org: please confirm receipt\./);
      // The description is what the organization needs, and it reads it.
      assert.match(contactPage, /Changing the booking ID in the URL/);
      assert.doesNotMatch(contactPage, new RegExp(NAME));
      assert.doesNotMatch(contactPage, /Build 4\.2/);
      assert.match(
        contactPage,
        /Read by the researcher, the CERT team and the contacts of Beta Power Grid\./,
      );
      assert.doesNotMatch(await mailTo(contactBUser.user.id), new RegExp(NAME));

      // The researcher and the CERT still read all of it.
      const researcherPage = await page(researcher, id);
      assert.match(researcherPage, new RegExp(`Thank you, ${NAME}`));
      assert.match(researcherPage, /Build 4\.2/);
      const staffPage = await page(triager, id);
      assert.match(staffPage, /Build 4\.2/);
      assert.match(staffPage, /Share with the organization/);
    });

    it("only staff may share a message, and only one of this report's researcher-and-CERT messages", async () => {
      const event = String(await ackEventId());
      for (const who of [researcher, contactB])
        assert.equal(
          (await who.post(`/reports/${id}/share`, { event })).status,
          404,
        );
      const note = await ctx.db
        .insertInto("report_events")
        .values({
          report_id: reportDbId,
          actor_id: null,
          kind: "note",
          visibility: "internal",
          audience: "internal",
          body: "internal",
          created_at: ctx.clock.now().getTime(),
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      for (const bad of [String(note.id), "999999", "x", ""]) {
        const res = await triager.post(`/reports/${id}/share`, { event: bad });
        assert.equal(res.status, 422, bad);
        assert.match(
          res.text,
          /Choose a message between the researcher and the CERT/,
        );
      }
      assert.doesNotMatch(await page(contactB, id), new RegExp(NAME));
    });

    it("after a triager shares the acknowledgment, the contact reads it, marked as shared", async () => {
      await post(triager, `/reports/${id}/share`, {
        event: String(await ackEventId()),
      });
      const contactPage = await page(contactB, id);
      assert.match(contactPage, new RegExp(`Thank you, ${NAME}`));
      assert.match(contactPage, /shared with the organization/);
      // Only that message: the rest stays between the researcher and the CERT.
      assert.doesNotMatch(contactPage, /Build 4\.2/);
      const audit = await ctx.db
        .selectFrom("audit_log")
        .select("action")
        .where("action", "=", "report.message_shared")
        .where("target_id", "=", id)
        .execute();
      assert.equal(audit.length, 1);
      // Sharing twice changes nothing.
      const again = await triager.post(`/reports/${id}/share`, {
        event: String(await ackEventId()),
      });
      assert.equal(again.status, 422);
    });
  });

  describe("the migration", () => {
    it("makes what was written before the notice researcher-and-CERT only", async () => {
      const db = await createTestContext();
      try {
        const researcher = await createUser(db, "researcher");
        const org = await createOrg(db);
        const notified = await insertReport(db, {
          reporterId: researcher.user.id,
          state: "fix_in_progress",
          organizationId: org.id,
        });
        const withoutStep = await insertReport(db, {
          reporterId: researcher.user.id,
          state: "vendor_notified",
          organizationId: org.id,
          vendorNotifiedAt: new Date(db.clock.ms + 5),
        });
        const notYet = await insertReport(db, {
          reporterId: researcher.user.id,
          state: "triaged",
          organizationId: org.id,
        });
        await eventAudience.down(db.db);
        const event = async (
          reportId: number,
          body: string,
          at: number,
          kind = "comment",
          action: string | null = null,
          visibility = "public",
        ) =>
          db.db
            .insertInto("report_events")
            .values({
              report_id: reportId,
              actor_id: null,
              kind,
              action,
              visibility,
              body,
              created_at: db.clock.ms + at,
            } as never)
            .execute();
        await event(notified.id, "before", 0);
        await event(notified.id, "note", 0, "note", null, "internal");
        await event(notified.id, "notice", 0, "transition", "notify_vendor");
        await event(notified.id, "after", 0);
        await event(withoutStep.id, "early", 0);
        await event(withoutStep.id, "late", 10);
        await event(notYet.id, "waiting", 0);
        await eventAudience.up(db.db);
        const rows = await db.db
          .selectFrom("report_events")
          .select(["body", "audience"])
          .orderBy("id")
          .execute();
        assert.deepEqual(
          Object.fromEntries(rows.map((r) => [r.body, r.audience])),
          {
            before: "researcher",
            note: "internal",
            notice: "everyone",
            after: "everyone",
            early: "researcher",
            late: "everyone",
            waiting: "researcher",
          },
        );
      } finally {
        await db.close();
      }
    });
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

/**
 * A case with many organizations (issue 23): above ten, the CERT's panel
 * lists each on one line with a link to its own page, which holds its
 * forms; the report page no longer grows by six forms per organization.
 */
describe("a case with many organizations", () => {
  let ctx: TestContext;
  let triager: Browser;
  let contact: Browser;
  let id: string;
  let reportId: number;
  const orgs: { id: number; publicId: string; name: string }[] = [];

  /** The participants panel's HTML on the report page. */
  const panel = async () => {
    const res = await triager.agent.get(`/reports/${id}`);
    assert.equal(res.status, 200);
    const start = res.text.indexOf('id="participants"');
    assert.ok(start > 0, "the page has a participants panel");
    return res.text.slice(start, res.text.indexOf("</section>", start));
  };
  const count = (html: string, pattern: RegExp) =>
    (html.match(pattern) ?? []).length;
  const participantUrl = (org: { publicId: string }) =>
    `/reports/${id}/participants/${org.publicId}`;

  before(async () => {
    ctx = await createTestContext();
    for (let i = 1; i <= 12; i++)
      orgs.push(await createOrg(ctx, `Vendor ${String(i).padStart(3, "0")}`));
    const researcher = await createUser(ctx, "researcher");
    const staff = await createUser(ctx, "triager");
    const member = await createUser(ctx, "org_contact", {
      orgIds: [orgs[0]!.id],
    });
    triager = await signedIn(ctx, staff);
    contact = await signedIn(ctx, member);
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: orgs[0]!.id,
    });
    id = report.publicId;
    reportId = report.id;
  });
  after(() => ctx.close());

  it("up to ten organizations, the panel holds each one's forms as before", async () => {
    for (const org of orgs.slice(1, 10)) {
      const res = await triager.post(`/reports/${id}/participants`, {
        organization: org.publicId,
      });
      assert.equal(res.status, 303, shown(res.text).slice(0, 500));
    }
    const html = await panel();
    assert.equal(count(html, /class="participant"/g), 10);
    assert.equal(count(html, /\/participants\/[^"/]+\/status"/g), 10);
    assert.doesNotMatch(html, /participant-lines/);
  });

  it("with twelve, the panel shows twelve lines with a Manage link and no organization's forms", async () => {
    for (const org of orgs.slice(10)) {
      const res = await triager.post(`/reports/${id}/participants`, {
        organization: org.publicId,
      });
      assert.equal(res.status, 303, shown(res.text).slice(0, 500));
    }
    const html = await panel();
    const lines = html.slice(
      html.indexOf('class="participant-lines"'),
      html.indexOf("</ul>", html.indexOf('class="participant-lines"')),
    );
    assert.equal(count(lines, /<li>/g), 12);
    for (const org of orgs) {
      assert.ok(lines.includes(`href="${participantUrl(org)}"`), org.name);
      assert.ok(lines.includes(org.name), org.name);
    }
    assert.match(lines, /Not answered yet: due in/);
    assert.match(lines, /tracking ID: None/);
    assert.equal(count(html, /class="participant"/g), 0);
    assert.equal(count(html, /\/participants\/[^"/]+\/(status|remove)"/g), 0);
    // What stays: adding an organization and opening the case.
    assert.equal(count(html, /<form /g), 2);
  });

  it("an organization's page shows its forms; a status set there returns there", async () => {
    const org = orgs[5]!;
    const res = await triager.agent.get(participantUrl(org));
    assert.equal(res.status, 200);
    const text = shown(res.text);
    assert.match(text, new RegExp(`${org.name} on the case`));
    for (const form of ["status", "statement", "details", "remove"])
      assert.ok(
        res.text.includes(
          `action="/reports/${id}/participants/${org.publicId}/${form}"`,
        ),
        form,
      );
    assert.ok(
      count(res.text, /name="from" value="participant"/g) >= 4,
      "each form says it came from this page",
    );

    const set = await triager.post(
      `/reports/${id}/participants/${org.publicId}/status`,
      {
        status: "investigating",
        reason: "",
        from: "participant",
      },
    );
    assert.equal(set.status, 303);
    assert.equal(set.headers.location, participantUrl(org));
    const after = await triager.agent.get(participantUrl(org));
    assert.match(shown(after.text), /The status is saved/);
    assert.match(shown(after.text), /participant-status">Investigating</);
    const row = await ctx.db
      .selectFrom("participations")
      .select("status")
      .where("report_id", "=", reportId)
      .where("organization_id", "=", org.id)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, "investigating");
  });

  it("bad input on that page is shown on that page, with what was typed", async () => {
    const org = orgs[6]!;
    const res = await triager.post(
      `/reports/${id}/participants/${org.publicId}/status`,
      {
        status: "disputed",
        reason: "",
        from: "participant",
      },
    );
    assert.equal(res.status, 422);
    const text = shown(res.text);
    assert.match(text, new RegExp(`${org.name} on the case`));
    assert.match(text, /class="error"/);
    assert.match(text, /value="disputed" selected/);
  });

  it("without the field, or with another value, a post returns to the report page as before", async () => {
    const cases = [undefined, "elsewhere", "https://evil.example"];
    for (const [i, from] of cases.entries()) {
      const res = await triager.post(
        `/reports/${id}/participants/${orgs[7 + i]!.publicId}/status`,
        { status: "investigating", reason: "", ...(from ? { from } : {}) },
      );
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, `/reports/${id}#participants`);
    }
  });

  it("removing an organization from its page returns to the report", async () => {
    const org = orgs[11]!;
    const res = await triager.post(
      `/reports/${id}/participants/${org.publicId}/remove`,
      {
        reason: "Not affected: does not ship the library.",
        from: "participant",
      },
    );
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/reports/${id}#participants`);
    assert.equal((await triager.agent.get(participantUrl(org))).status, 404);
  });

  it("the page is the 404 of a missing report for an org contact, and for an organization not on the case", async () => {
    const missing = await triager.agent.get(
      `/reports/XXXX-0000/participants/${orgs[0]!.publicId}`,
    );
    assert.equal(missing.status, 404);
    const asContact = await contact.agent.get(participantUrl(orgs[0]!));
    assert.equal(asContact.status, 404);
    const other = await createOrg(ctx, "Not On The Case");
    const notOn = await triager.agent.get(participantUrl(other));
    assert.equal(notOn.status, 404);
    assert.equal(shown(notOn.text), shown(missing.text));
  });

  it("at 150 organizations the panel's forms do not grow with them", async () => {
    const now = ctx.clock.now().getTime();
    for (let i = 13; i <= 150; i++) {
      const org = await createOrg(ctx, `Vendor ${String(i).padStart(3, "0")}`);
      await ctx.db
        .insertInto("participations")
        .values({
          report_id: reportId,
          organization_id: org.id,
          added_at: now,
          notified_at: now,
        })
        .execute();
    }
    const html = await panel();
    const lines = html.slice(
      html.indexOf('class="participant-lines"'),
      html.indexOf("</ul>", html.indexOf('class="participant-lines"')),
    );
    // 149 on the case (one was removed above).
    assert.equal(count(lines, /<li>/g), 149);
    assert.equal(count(html, /<form /g), 2);
  });
});

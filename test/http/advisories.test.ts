import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

describe("public advisories, their feed and the acknowledgments", () => {
  let ctx: TestContext;
  let triager: Browser;
  let researcher: TestUser;
  let orgPublicId: string;
  let publicId: string;
  let anonymousReport: string;

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Hospital & Clinics <North>");
    orgPublicId = org.publicId;
    researcher = await createUser(ctx, "researcher", {
      displayName: "Rhea Real-Name",
    });
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      state: "fix_verified",
      title: "The researcher's own title",
      severity: "high",
      cvssScore: 7.7,
    });
    publicId = report.publicId;
    await ctx.db
      .updateTable("reports")
      .set({
        cvss_vector: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N",
        credit_kind: "handle",
        credit_handle: "rhea",
      })
      .where("id", "=", report.id)
      .execute();
    anonymousReport = (
      await insertReport(ctx, {
        reporterId: researcher.user.id,
        organizationId: org.id,
        state: "closed",
        title: "Second finding",
      })
    ).publicId;
    await ctx.db
      .updateTable("reports")
      .set({ credit_kind: "anonymous" })
      .where("public_id", "=", anonymousReport)
      .execute();
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    await triager.refreshCsrf(`/reports/${publicId}`);
  });
  after(() => ctx.close());

  const publicAgent = () => supertest(ctx.app);

  it("does not exist before publication, for anyone", async () => {
    assert.equal(
      (await publicAgent().get(`/advisories/${publicId}`)).status,
      404,
    );
    assert.equal(
      (await triager.agent.get(`/advisories/${publicId}`)).status,
      404,
    );
    assert.doesNotMatch(
      (await publicAgent().get("/advisories")).text,
      new RegExp(publicId),
    );
  });

  it("cannot be published without a triager-written summary; bad input is explained", async () => {
    const early = await triager.post(`/reports/${publicId}/transition`, {
      name: "publish",
      confirm: "yes",
    });
    assert.equal(early.status, 422);
    assert.match(
      early.text,
      /Write and save the advisory title and summary first/,
    );
    const bad = await triager.post(`/reports/${publicId}/advisory`, {
      summary: "too short",
      cveId: "CVE-26-1",
    });
    assert.equal(bad.status, 422);
    assert.match(bad.text, /Advisory summary needs at least 20 characters/);
    assert.match(bad.text, /A CVE ID looks like CVE-2026-12345/);
    assert.match(bad.text, /value="CVE-26-1"/, "what was typed is kept");
    assert.equal(
      (await ctx.db.selectFrom("advisories").select("report_id").execute())
        .length,
      0,
    );
  });

  it("publishes the summary, never the researcher's text, with the credit they chose", async () => {
    const form = (await triager.agent.get(`/reports/${publicId}`)).text;
    // The researcher's choice at filing is the credit proposed.
    assert.match(form, /name="creditName0"[^>]*value="rhea"/);
    const save = await triager.post(`/reports/${publicId}/advisory`, {
      // The CERT's title; escaped wherever it is shown.
      title: "Booking IDs <readable> & guessable",
      summary:
        "Booking IDs could be changed to read other patients' bookings. <script>alert(1)</script> [x](javascript:alert(1))",
      cveId: "cve-2026-12345",
      creditName0: "rhea",
      creditType0: "finder",
    });
    assert.equal(save.status, 303);
    const own = await signedIn(ctx, researcher);
    await own.refreshCsrf(`/reports/${publicId}`);
    const accept = await own.post(`/reports/${publicId}/credit`, {
      answer: "accept",
    });
    assert.equal(accept.status, 303);
    const publish = await triager.post(`/reports/${publicId}/transition`, {
      name: "publish",
      confirm: "yes",
    });
    assert.equal(publish.status, 303);

    const page = await publicAgent().get(`/advisories/${publicId}`);
    assert.equal(page.status, 200);
    assert.match(page.text, /Booking IDs &lt;readable&gt; &amp; guessable/);
    assert.match(page.text, /Hospital &amp; Clinics &lt;North&gt;/);
    assert.match(page.text, /CVE-2026-12345/);
    assert.match(page.text, /CWE-639/);
    assert.match(page.text, /High 7.7/);
    assert.match(
      page.text,
      /<dt>Credit<\/dt><dd><ul class="credits"><li>rhea \(Finder\)<\/li><\/ul><\/dd>/,
    );
    assert.doesNotMatch(page.text, /Rhea Real-Name/);
    assert.doesNotMatch(page.text, /<script>alert/);
    assert.doesNotMatch(page.text, /href="javascript:/);
    // The researcher's own description is never published.
    assert.doesNotMatch(page.text, /An ID in the URL shows another patient/);
    for (const milestone of ["Reported", "Organization notified", "Disclosed"])
      assert.match(page.text, new RegExp(`<strong>${milestone}:</strong>`));
  });

  it("lists advisories newest first, filtered by organization and CWE", async () => {
    const all = await publicAgent().get("/advisories");
    assert.match(all.text, new RegExp(`href="/advisories/${publicId}"`));
    const byOrg = await publicAgent().get(`/advisories?org=${orgPublicId}`);
    assert.match(byOrg.text, new RegExp(publicId));
    const otherCwe = await publicAgent().get("/advisories?cwe=CWE-79");
    assert.doesNotMatch(otherCwe.text, new RegExp(`/advisories/${publicId}`));
    assert.match(
      otherCwe.text,
      /No advisory has been published for these filters/,
    );
  });

  it("offers an Atom feed with escaped entries", async () => {
    const res = await publicAgent().get("/advisories.atom");
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"]!, /^application\/atom\+xml/);
    assert.match(res.text, /^<\?xml version="1.0" encoding="utf-8"\?>/);
    const entries = [...res.text.matchAll(/<entry>([\s\S]*?)<\/entry>/g)];
    assert.equal(entries.length, 1);
    assert.match(
      entries[0]![1]!,
      new RegExp(
        `<id>http://localhost:3000/advisories/${publicId}</id>[\\s\\S]*<title>${publicId}: Booking IDs &lt;readable&gt; &amp; guessable</title>`,
      ),
    );
    assert.match(
      entries[0]![1]!,
      /<updated>\d{4}-\d{2}-\d{2}T[\d:.]+Z<\/updated>/,
    );
    assert.doesNotMatch(res.text, /<readable>/);
  });

  it("gives the researcher a letter of acknowledgment for a resolved report, and nobody else", async () => {
    const own = await signedIn(ctx, researcher);
    const page = await own.agent.get(`/reports/${publicId}`);
    assert.match(page.text, /Your letter of acknowledgment/);
    const letter = await own.agent.get(`/reports/${publicId}/letter`);
    assert.equal(letter.status, 200);
    assert.match(
      letter.text,
      /<strong>Rhea Real-Name<\/strong> responsibly reported/,
    );
    assert.match(letter.text, /Hospital &amp; Clinics &lt;North&gt;/);
    assert.match(letter.text, new RegExp(`/advisories/${publicId}`));
    // Staff and other researchers: not found, like any page not theirs.
    assert.equal(
      (await triager.agent.get(`/reports/${publicId}/letter`)).status,
      404,
    );
    const other = await signedIn(ctx, await createUser(ctx, "researcher"));
    assert.equal(
      (await other.agent.get(`/reports/${publicId}/letter`)).status,
      404,
    );
    // A report that is not resolved has no letter yet.
    const open = await insertReport(ctx, { reporterId: researcher.user.id });
    assert.equal(
      (await own.agent.get(`/reports/${open.publicId}/letter`)).status,
      404,
    );
  });

  it("thanks credited researchers as they chose to be named, and security.txt points there", async () => {
    const res = await publicAgent().get("/acknowledgments");
    assert.match(res.text, /<strong>rhea<\/strong>/);
    assert.doesNotMatch(res.text, /Rhea Real-Name/);
    assert.doesNotMatch(res.text, new RegExp(anonymousReport));
    const txt = await publicAgent().get("/.well-known/security.txt");
    assert.match(
      txt.text,
      /^Acknowledgments: http:\/\/localhost:3000\/acknowledgments$/m,
    );
  });
});

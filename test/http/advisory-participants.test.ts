import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  insertPublishableReport,
  publishAdvisory,
} from "../support/advisories.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import { setParticipation } from "../support/participations.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  TestClock,
  type Browser,
  type TestContext,
} from "../support/harness.js";

const DAY = 86_400_000;

/** The draft advisory's panel (readers) or the advisory form's panel (staff) of a report page. */
function panel(html: string, id: "draft-advisory" | "advisory"): string {
  const page = shown(html);
  const start = page.indexOf(`id="${id}-title"`);
  return start < 0 ? "" : page.slice(start, page.indexOf("</section>", start));
}

/** The participants list within a panel. */
function participantsOf(html: string): string {
  const start = html.indexOf('class="advisory-participants"');
  return start < 0
    ? ""
    : html.slice(start, html.indexOf("</ul>\n  \n</div>", start));
}

/** Each organization listed in a participants list: its name and status label. */
function listed(html: string): string[] {
  return [
    ...html.matchAll(
      /<h[34]>([^<]+) <span class="badge participation-[a-z_]+">([^<]+)<\/span>/g,
    ),
  ].map((m) => `${m[1]}: ${m[2]}`);
}

describe("an advisory with several organizations: each one's status, and its statement once approved", () => {
  let ctx: TestContext;
  let triager: Browser;
  let researcher: Browser;
  let alphaContact: Browser;
  let betaContact: Browser;
  let publicId: string;
  let reportId: number;

  before(async () => {
    ctx = await createTestContext();
    const alpha = await createOrg(ctx, "Alpha Hospital");
    const beta = await createOrg(ctx, "Beta Clinics");
    const gamma = await createOrg(ctx, "Gamma Health");
    const delta = await createOrg(ctx, "Delta Removed");
    const rhea = await createUser(ctx, "researcher");
    researcher = await signedIn(ctx, rhea);
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    alphaContact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [alpha.id] }),
    );
    betaContact = await signedIn(
      ctx,
      await createUser(ctx, "org_contact", { orgIds: [beta.id] }),
    );
    const report = await insertPublishableReport(ctx, {
      reporterId: rhea.user.id,
      organizationId: alpha.id,
      creditKind: "anonymous",
    });
    publicId = report.publicId;
    reportId = report.id;
    const answered = ctx.clock.now().getTime() - 5 * DAY;
    // Fixed, statement approved (not shared with the other organizations).
    await setParticipation(ctx, reportId, alpha.id, {
      status: "fixed",
      answeredAt: answered,
      statement: "Alpha deployed **release 4.2** on every portal.",
      references: "https://alpha.example/advisories/42\nTicket ALPHA-42",
      approvedAfter: 1,
    });
    // Not affected, statement approved and shared.
    await setParticipation(ctx, reportId, beta.id, {
      status: "not_affected",
      answeredAt: answered,
      statement: "BETA-STATEMENT: our portal never used the booking API.",
      approvedAfter: 0,
      shared: true,
    });
    // Investigating; its statement was edited after it was approved.
    await setParticipation(ctx, reportId, gamma.id, {
      status: "investigating",
      answeredAt: answered,
      statement: "GAMMA-EDITED statement, approved before this edit.",
      approvedAfter: -1,
      shared: true,
    });
    // Removed from the case: in no advisory.
    await setParticipation(ctx, reportId, delta.id, {
      status: "affected",
      statement: "DELTA-STATEMENT",
      approvedAfter: 1,
      shared: true,
      removed: true,
    });
    await triager.refreshCsrf(`/reports/${publicId}`);
    const save = await triager.post(`/reports/${publicId}/advisory`, {
      title: "Booking IDs readable in the appointment product",
      summary: "Booking IDs could be changed to read other patients' data.",
      cveId: "",
    });
    assert.equal(save.status, 303);
  });
  after(() => ctx.close());

  const page = async (who: Browser) =>
    (await who.agent.get(`/reports/${publicId}`)).text;

  it("staff see every organization on the case with its statement, approved or not, marked", async () => {
    const html = panel(await page(triager), "advisory");
    assert.deepEqual(listed(html), [
      "Alpha Hospital: Fixed",
      "Beta Clinics: Not affected",
      "Gamma Health: Under investigation",
    ]);
    assert.doesNotMatch(html, /Delta|DELTA/);
    assert.match(html, /GAMMA-EDITED/);
    assert.equal(
      html.match(/Statement approved: published with the advisory\./g)?.length,
      2,
    );
    assert.match(
      html,
      /Gamma Health[\s\S]*Statement not approved: not published unless a triager approves it\./,
    );
  });

  it("an organization reads only its own participation while the case is closed", async () => {
    const alphaView = panel(await page(alphaContact), "draft-advisory");
    assert.deepEqual(listed(alphaView), ["Alpha Hospital: Fixed"]);
    assert.match(alphaView, /<strong>release 4\.2<\/strong>/);
    assert.doesNotMatch(alphaView, /Beta|Gamma|BETA|GAMMA|approved/);
    const betaView = panel(await page(betaContact), "draft-advisory");
    assert.deepEqual(listed(betaView), ["Beta Clinics: Not affected"]);
    assert.match(betaView, /BETA-STATEMENT/);
    assert.doesNotMatch(betaView, /release 4\.2|Gamma/);
    assert.doesNotMatch(participantsOf(betaView), /Alpha/);
  });

  it("once the case is opened, others' names and statuses, and a statement only where its organization shares it", async () => {
    await ctx.db
      .updateTable("reports")
      .set({ case_open: 1 })
      .where("id", "=", reportId)
      .execute();
    try {
      const betaView = panel(await page(betaContact), "draft-advisory");
      assert.deepEqual(listed(betaView), [
        "Alpha Hospital: Fixed",
        "Beta Clinics: Not affected",
        "Gamma Health: Under investigation",
      ]);
      // Alpha does not share its statement; Gamma's is not approved as it stands.
      assert.doesNotMatch(betaView, /release 4\.2|GAMMA-EDITED|approved/);
      const alphaView = panel(await page(alphaContact), "draft-advisory");
      assert.match(alphaView, /BETA-STATEMENT/);
    } finally {
      await ctx.db
        .updateTable("reports")
        .set({ case_open: 0 })
        .where("id", "=", reportId)
        .execute();
    }
  });

  it("the researcher reads every organization's status, and no statement before publication", async () => {
    const html = panel(await page(researcher), "draft-advisory");
    assert.deepEqual(listed(html), [
      "Alpha Hospital: Fixed",
      "Beta Clinics: Not affected",
      "Gamma Health: Under investigation",
    ]);
    assert.doesNotMatch(
      html,
      /BETA-STATEMENT|release 4\.2|GAMMA-EDITED|DELTA|approved/,
    );
  });

  it("publishes each organization with its status, and only the statements approved as they stand", async () => {
    await publishAdvisory(triager, publicId, {
      title: "Booking IDs readable in the appointment product",
      summary: "Booking IDs could be changed to read other patients' data.",
    });
    const res = await triager.agent.get(`/advisories/${publicId}`);
    assert.equal(res.status, 200);
    const html = shown(res.text);
    assert.deepEqual(listed(html), [
      "Alpha Hospital: Fixed",
      "Beta Clinics: Not affected",
      "Gamma Health: Under investigation",
    ]);
    assert.match(html, /<dt>Organizations<\/dt><dd>3, with their status below/);
    assert.match(html, /<strong>release 4\.2<\/strong>/);
    assert.match(html, /BETA-STATEMENT/);
    assert.match(
      html,
      /<a href="https:\/\/alpha\.example\/advisories\/42" rel="nofollow noopener">/,
    );
    assert.match(html, /<li>Ticket ALPHA-42<\/li>/);
    assert.doesNotMatch(html, /GAMMA-EDITED|DELTA|Delta Removed|approved/);
    assert.match(html, /Gamma Health[\s\S]*No statement\./);

    const csaf = JSON.parse(
      (await triager.agent.get(`/advisories/${publicId}/csaf.json`)).text,
    );
    assert.deepEqual(
      csaf.product_tree.branches.map((b: { name: string }) => b.name),
      ["Alpha Hospital", "Beta Clinics", "Gamma Health"],
    );
    assert.deepEqual(csaf.vulnerabilities[0].product_status, {
      fixed: ["CSAFPID-0001"],
      known_not_affected: ["CSAFPID-0002"],
      under_investigation: ["CSAFPID-0003"],
    });
    const notes = csaf.vulnerabilities[0].notes.map(
      (n: { title: string }) => n.title,
    );
    assert.deepEqual(notes, [
      "Description",
      "Statement by Alpha Hospital",
      "Statement by Beta Clinics",
    ]);
    assert.ok(
      csaf.document.references.some(
        (r: { url: string }) => r.url === "https://alpha.example/advisories/42",
      ),
    );
    assert.doesNotMatch(JSON.stringify(csaf), /GAMMA-EDITED|DELTA/);
  });

  it("lists the advisory under each organization taking part, not only the lead, and never a removed one", async () => {
    const orgs = await ctx.db
      .selectFrom("organizations")
      .select(["name", "public_id"])
      .execute();
    const idOf = (name: string) => orgs.find((o) => o.name === name)!.public_id;
    for (const name of ["Alpha Hospital", "Gamma Health"])
      assert.match(
        (await triager.agent.get(`/advisories?org=${idOf(name)}`)).text,
        new RegExp(`href="/advisories/${publicId}"`),
        name,
      );
    assert.doesNotMatch(
      (await triager.agent.get(`/advisories?org=${idOf("Delta Removed")}`))
        .text,
      new RegExp(`href="/advisories/${publicId}"`),
    );
  });
});

describe("statistics and the queue's CSV with several organizations on a case", () => {
  const NOW = Date.parse("2026-03-02T09:00:00Z");
  let ctx: TestContext;
  let triager: Browser;

  before(async () => {
    ctx = await createTestContext({ clock: new TestClock(NOW) });
    const researcher = await createUser(ctx, "researcher");
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const orgs = await Promise.all(
      ["Stat One", "Stat Two", "Stat Three", "Stat Removed"].map((n) =>
        createOrg(ctx, n),
      ),
    );
    const notified = NOW - 20 * DAY;
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgs[0]!.id,
      state: "fix_in_progress",
      title: "Three organizations",
      createdAt: new Date(NOW - 30 * DAY),
      vendorNotifiedAt: new Date(notified),
    });
    // One: answered after 1 day, fixed after 4. Two: answered after 3
    // days, affected. Three: silent. Removed: counts nowhere.
    await setParticipation(ctx, report.id, orgs[0]!.id, {
      status: "fixed",
      notifiedAt: notified,
      answeredAt: notified + DAY,
      statusChangedAt: notified + 4 * DAY,
    });
    await setParticipation(ctx, report.id, orgs[1]!.id, {
      status: "affected",
      notifiedAt: notified,
      answeredAt: notified + 3 * DAY,
    });
    await setParticipation(ctx, report.id, orgs[2]!.id, {
      notifiedAt: notified,
    });
    await setParticipation(ctx, report.id, orgs[3]!.id, {
      status: "fixed",
      notifiedAt: notified,
      answeredAt: notified + DAY,
      removed: true,
    });
  });
  after(() => ctx.close());

  function row(html: string, label: string): string[] {
    const table = html.slice(html.indexOf('<table id="organization-timings">'));
    const tr = [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)]
      .map((m) =>
        [...m[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) =>
          c[1]!.trim(),
        ),
      )
      .find((cells) => cells[0] === label);
    assert.ok(tr, `no row ${label}`);
    return tr.slice(1);
  }

  it("counts the report once in totals and once for each organization taking part", async () => {
    const html = shown((await triager.agent.get("/stats/staff")).text);
    assert.match(html, /Reports received: <strong>1<\/strong>/);
    assert.match(html, /counts a report <strong>once<\/strong>/);
    assert.match(html, /<strong>once for each organization<\/strong>/);
    // Reports, fixed, then time to answer (median, 90th percentile) and fix
    // (the fourth timing pair).
    const one = row(html, "Stat One");
    assert.deepEqual(one.slice(0, 4), ["1", "1", "1 day", "1 day"]);
    assert.deepEqual(one.slice(8, 10), ["4 days", "4 days"]);
    const two = row(html, "Stat Two");
    assert.deepEqual(two.slice(0, 4), ["1", "0", "3 days", "3 days"]);
    assert.deepEqual(two.slice(8, 10), ["none yet", "none yet"]);
    assert.deepEqual(row(html, "Stat Three").slice(0, 4), [
      "1",
      "0",
      "none yet",
      "none yet",
    ]);
    assert.doesNotMatch(html, /Stat Removed/);
  });

  it("lists every organization with its status in one CSV column", async () => {
    const csv = (await triager.agent.get("/queue/export.csv")).text;
    const [header, line] = csv.trim().split("\r\n");
    assert.match(header!, /"Lead organization"/);
    assert.match(header!, /"Organizations \(status\)"$/);
    assert.match(
      line!,
      /"Stat One \(Fixed\); Stat Two \(Affected\); Stat Three \(Not yet answered\)"$/,
    );
    assert.doesNotMatch(csv, /Stat Removed/);
  });
});

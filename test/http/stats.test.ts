import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import fc from "fast-check";
import supertest from "supertest";
import { createApp } from "../../src/app.js";
import { openConfiguredDatabase } from "../../src/db/index.js";
import { CWE_OTHER } from "../../src/reports/cwe.js";
import { STATES, type State } from "../../src/reports/workflow.js";
import { computeStats } from "../../src/stats/service.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  TestClock,
  type TestContext,
  type TestUser,
  shown,
} from "../support/harness.js";

const DAY = 86_400_000;
/** All the recent reports are filed at the start of February 2026. */
const T0 = Date.parse("2026-02-01T00:00:00Z");
const NOW = Date.parse("2026-03-02T09:00:00Z");

/** The rows of the table that follows `marker`, each as its cells' plain text. */
function tableRows(html: string, marker: string): string[][] {
  const start = html.indexOf(marker);
  assert.ok(start >= 0, `no table after ${marker}`);
  const table = shown(html.slice(start, html.indexOf("</table>", start)));
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((row) =>
    [...row[1]!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((cell) =>
      cell[1]!
        .replace(/<br \/>[\s\S]*$/, "")
        .replace(/<[^>]+>/g, " ")
        .replace(/\s+/g, " ")
        .trim(),
    ),
  );
}

function row(html: string, marker: string, label: string): string[] {
  const found = tableRows(html, marker).find((r) => r[0] === label);
  assert.ok(found, `no row ${label} after ${marker}`);
  return found.slice(1);
}

describe("statistics", () => {
  let ctx: TestContext;
  let researcher: TestUser;
  let contact: TestUser;
  let triager: TestUser;
  let admin: TestUser;
  const secrets: string[] = [];

  const at = (days: number) => new Date(T0 + days * DAY);
  async function event(reportId: number, to: State, ms: number) {
    await ctx.db
      .insertInto("report_events")
      .values({
        report_id: reportId,
        actor_id: null,
        kind: "transition",
        action: null,
        from_state: null,
        to_state: to,
        visibility: "public",
        body: null,
        created_at: ms,
      })
      .execute();
  }
  /** A report filed at `created` (days after T0) that reached each state after so many days. */
  async function report(
    fields: {
      state: State;
      organizationId?: number | null;
      severity?: string | null;
      cwe?: string;
      created?: number;
      notified?: number;
    },
    milestones: [State, number][],
  ) {
    const created = fields.created ?? 0;
    const r = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: fields.state,
      organizationId: fields.organizationId ?? null,
      severity: fields.severity ?? null,
      cwe: fields.cwe ?? "CWE-639",
      createdAt: at(created),
      vendorNotifiedAt:
        fields.notified === undefined ? null : at(created + fields.notified),
    });
    secrets.push(r.publicId, `Report ${r.publicId}`);
    for (const [state, days] of milestones)
      await event(r.id, state, T0 + (created + days) * DAY);
    return r;
  }
  async function publish(reportId: number, ms: number) {
    await ctx.db
      .insertInto("advisories")
      .values({
        report_id: reportId,
        summary: "Fixed.",
        updated_at: ms,
        published_at: ms,
      })
      .execute();
  }

  before(async () => {
    ctx = await createTestContext({ clock: new TestClock(NOW) });
    const alpha = await createOrg(ctx, "Hospital Alpha Trust");
    const beta = await createOrg(ctx, "Beta Water Works");
    secrets.push(alpha.name, beta.name, alpha.publicId, beta.publicId);
    researcher = await createUser(ctx, "researcher", {
      displayName: "Rita Quietfinder",
    });
    secrets.push("Rita Quietfinder", researcher.email);
    contact = await createUser(ctx, "org_contact", { orgIds: [alpha.id] });
    triager = await createUser(ctx, "triager");
    admin = await createUser(ctx, "admin");

    // R1: acknowledged after 1 day, triaged 2, notified 3, fixed 13,
    // published 20: the only public advisory.
    const r1 = await report(
      {
        state: "disclosed",
        organizationId: alpha.id,
        severity: "high",
        notified: 3,
      },
      [
        ["acknowledged", 1],
        ["triaged", 2],
        ["vendor_notified", 3],
        ["fixed", 13],
        ["closed", 15],
        ["disclosed", 20],
      ],
    );
    await publish(r1.id, T0 + 20 * DAY);
    // R2: 2, 4, notified 5, fixed 25.
    await report(
      {
        state: "fixed",
        organizationId: alpha.id,
        severity: "high",
        notified: 5,
      },
      [
        ["acknowledged", 2],
        ["triaged", 4],
        ["vendor_notified", 5],
        ["fixed", 25],
      ],
    );
    // R3: acknowledged on its due date (3), triaged late (12), notified 13.
    await report(
      {
        state: "vendor_notified",
        organizationId: alpha.id,
        severity: "high",
        notified: 13,
      },
      [
        ["acknowledged", 3],
        ["triaged", 12],
        ["vendor_notified", 13],
      ],
    );
    // R4: acknowledged late (5), closed as invalid at 6.
    await report(
      { state: "closed", organizationId: alpha.id, severity: "high" },
      [
        ["acknowledged", 5],
        ["closed", 6],
      ],
    );
    // R5, R6: never answered, both deadlines long passed.
    await report({ state: "submitted", organizationId: alpha.id }, []);
    await report(
      {
        state: "submitted",
        organizationId: beta.id,
        cwe: "CWE-79",
        created: 10,
      },
      [],
    );
    // R7: from 2023, outside the months shown; answered and closed the next day.
    await report(
      {
        state: "closed",
        created: (Date.parse("2023-06-01T00:00:00Z") - T0) / DAY,
      },
      [
        ["needs_info", 1],
        ["closed", 1],
      ],
    );
  });

  after(async () => {
    await ctx?.close();
  });

  it("the public page counts only the published advisory: no report still handled or closed", async () => {
    const res = await (await anonymous(ctx)).agent.get("/stats");
    assert.equal(res.status, 200);
    const html = res.text;
    assert.match(html, /Advisories published: <strong>1<\/strong>/);
    assert.deepEqual(
      tableRows(html, "Advisories published per year</caption>").slice(1),
      [["2026", "1"]],
    );
    const severities = "Advisories by severity</caption>";
    assert.deepEqual(tableRows(html, severities).slice(1), [
      ["Critical", "0"],
      ["High", "1"],
      ["Medium", "0"],
      ["Low", "0"],
      ["None", "0"],
      ["Not scored", "0"],
    ]);
    const cwes = tableRows(html, "Weaknesses in advisories (top 10)</caption>");
    assert.equal(cwes.length, 2);
    assert.match(cwes[1]![0]!, /^CWE-639: /);
    assert.equal(cwes[1]![1], "1");
    // Only the unpublished R6 has CWE-79: its weakness is nowhere on the page.
    assert.doesNotMatch(html, /CWE-79/);

    const timings = '<table id="timings">';
    assert.deepEqual(row(html, timings, "Time to acknowledge"), [
      "1",
      "1 day",
      "1 day",
    ]);
    assert.deepEqual(row(html, timings, "Time to fix"), [
      "1",
      "10 days",
      "10 days",
    ]);
    assert.deepEqual(row(html, timings, "Time to publish"), [
      "1",
      "20 days",
      "20 days",
    ]);
    // Nothing computed over every report: totals, states, months, deadlines.
    assert.doesNotMatch(
      html,
      /Reports received|fewer than|chart-months|chart-states|id="deadlines"/,
    );
  });

  it("the public page identifies nothing: no organization, title, ID or researcher", async () => {
    const res = await (await anonymous(ctx)).agent.get("/stats");
    for (const secret of secrets)
      assert.ok(!res.text.includes(secret), `public page shows ${secret}`);
    assert.doesNotMatch(res.text, /chart-organizations|organization-timings/);
  });

  it("draws each chart as an accessible SVG with a title, a description and text labels", async () => {
    const res = await (await anonymous(ctx)).agent.get("/stats");
    const svgs = [...res.text.matchAll(/<svg ([^>]*)>([\s\S]*?)<\/svg>/g)];
    assert.equal(svgs.length, 3);
    for (const [, attrs, body] of svgs) {
      assert.match(attrs!, /role="img"/);
      const id = /aria-labelledby="([\w-]+)-title \1-desc"/.exec(attrs!)?.[1];
      assert.ok(id, "labelled by its title and description");
      assert.match(body!, new RegExp(`<title id="${id}-title">[^<]+</title>`));
      assert.match(body!, new RegExp(`<desc id="${id}-desc">[^<]+</desc>`));
      assert.match(body!, /<text [^>]*>[^<]+<\/text>/);
    }
    assert.match(
      res.text,
      /<desc id="chart-severities-desc">Bar chart of advisories: Critical, 0; High, 1; [^<]*Not scored, 0\.<\/desc>/,
    );
    // No inline style anywhere (strict CSP).
    assert.doesNotMatch(res.text, /style=/);
  });

  it("the staff page has exact numbers and timings by organization", async () => {
    const browser = await signedIn(ctx, triager);
    const res = await browser.agent.get("/stats/staff");
    assert.equal(res.status, 200);
    const html = res.text;
    assert.match(html, /href="\/stats\/staff" aria-current="page">Statistics</);
    assert.deepEqual(row(html, "Reports by state</caption>", "Submitted"), [
      "2",
    ]);
    assert.deepEqual(row(html, '<table id="timings">', "Time to fix"), [
      "2",
      "15 days",
      "19 days",
    ]);
    assert.deepEqual(row(html, '<table id="timings">', "Time to disclose"), [
      "1",
      "20 days",
      "20 days",
    ]);
    assert.deepEqual(
      row(html, '<table id="deadlines">', "Disclosure deadline"),
      ["2", "2", "100%"],
    );
    const orgs =
      "Organizations taking part in the most reports (top 20)</caption>";
    assert.deepEqual(tableRows(html, orgs).slice(1), [
      ["Hospital Alpha Trust", "5"],
      ["Beta Water Works", "1"],
    ]);
    const byOrg = '<table id="organization-timings">';
    // Reports, fixed (R1 and R2, by the report's own steps: one
    // organization that never answered for itself), time to answer (it
    // never did), then the CERT's steps and the fix.
    assert.deepEqual(row(html, byOrg, "Hospital Alpha Trust"), [
      "5",
      "2",
      "none yet",
      "none yet",
      "2.5 days",
      "4.4 days",
      "4 days",
      "10.4 days",
      "15 days",
      "19 days",
      "20 days",
      "20 days",
    ]);
    assert.deepEqual(row(html, byOrg, "Beta Water Works"), [
      "1",
      "0",
      ...Array(10).fill("none yet"),
    ]);
    const adminPage = await (
      await signedIn(ctx, admin)
    ).agent.get("/stats/staff");
    assert.equal(adminPage.status, 200);
  });

  it("the staff page is not found for researchers and organization contacts; signed-out visitors sign in", async () => {
    for (const who of [researcher, contact]) {
      const browser = await signedIn(ctx, who);
      assert.equal((await browser.agent.get("/stats/staff")).status, 404);
      const page = await browser.agent.get("/stats");
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.text, /href="\/stats\/staff"/);
    }
    const res = await (await anonymous(ctx)).agent.get("/stats/staff");
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/login");
  });

  it("is computed at most once a minute by the app's clock, without making a visitor wait", async () => {
    const visitor = await anonymous(ctx);
    const total = async () =>
      /Advisories published: <strong>(\d+)<\/strong>/.exec(
        (await visitor.agent.get("/stats")).text,
      )?.[1];
    assert.equal(await total(), "1");
    const r = await report({ state: "disclosed", created: 20 }, []);
    await publish(r.id, T0 + 25 * DAY);
    assert.equal(await total(), "1", "still the cached numbers");
    ctx.clock.advance(59_000);
    assert.equal(await total(), "1");
    ctx.clock.advance(2_000);
    // The first visit after a minute still gets the old numbers (nobody
    // waits for a computation once there are numbers) and starts a new one.
    assert.equal(await total(), "1", "served while new numbers are computed");
    // Waits as long as the computation takes (bounded by mocha's timeout).
    let latest = "1";
    while (latest === "1") {
      await new Promise((resolve) => setTimeout(resolve, 10));
      latest = (await total()) ?? "";
    }
    assert.equal(latest, "2", "recomputed after a minute");
  });
});

/**
 * The public page may show only what the published advisories show, so that
 * nothing about a report still being handled can be read from it, not even
 * by comparing the page before and after one report changes. Each step below
 * changes unpublished reports (or what a published one does not make public)
 * and the page, computed afresh at the same instant, must be the same bytes.
 */
describe("public statistics and reports not published", () => {
  const SEED = Number(process.env.PROPERTY_SEED ?? 1919);
  const NOT_PUBLISHED = STATES.filter((s) => s !== "disclosed");
  const SEVERITIES = [null, "critical", "high", "medium", "low", "none"];
  const CWES = ["CWE-639", "CWE-79", "CWE-89", "CWE-22", CWE_OTHER];
  let ctx: TestContext;
  let researcherId: number;
  let orgIds: (number | null)[];
  const unpublished: number[] = [];
  const published: number[] = [];
  let baseline: string;

  async function event(reportId: number, to: State, ms: number) {
    await ctx.db
      .insertInto("report_events")
      .values({
        report_id: reportId,
        actor_id: null,
        kind: "transition",
        action: null,
        from_state: null,
        to_state: to,
        visibility: "public",
        body: null,
        created_at: ms,
      })
      .execute();
  }

  /** The public page as a first visitor sees it now: a fresh database handle has no cached numbers. */
  function firstDifference(a: string, b: string): string {
    const [as, bs] = [a.split("\n"), b.split("\n")];
    const i = as.findIndex((line, n) => line !== bs[n]);
    return `line ${i + 1}: ${as[i]?.trim()} → ${bs[i]?.trim()}`;
  }

  async function publicPage(): Promise<string> {
    const { db } = openConfiguredDatabase(ctx.config);
    try {
      const res = await supertest(createApp({ ...ctx.deps, db })).get("/stats");
      assert.equal(res.status, 200);
      return res.text;
    } finally {
      await db.destroy();
    }
  }

  interface NewReport {
    state: State;
    severity: string | null;
    cwe: string;
    org: number;
    createdDaysAgo: number;
    milestones: [State, number][];
    advisory: "none" | "draft" | "published_but_not_disclosed";
  }

  async function addReport(r: NewReport): Promise<number> {
    const created = NOW - r.createdDaysAgo * DAY;
    const { id } = await insertReport(ctx, {
      reporterId: researcherId,
      state: r.state,
      severity: r.severity,
      cwe: r.cwe,
      organizationId: orgIds[r.org % orgIds.length],
      createdAt: new Date(created),
    });
    for (const [state, days] of r.milestones)
      await event(id, state, created + days * DAY);
    if (r.advisory !== "none")
      await ctx.db
        .insertInto("advisories")
        .values({
          report_id: id,
          summary: "Draft summary",
          updated_at: created,
          published_at: r.advisory === "draft" ? null : created + 30 * DAY,
        })
        .execute();
    return id;
  }

  async function removeReport(id: number) {
    await ctx.db
      .deleteFrom("report_events")
      .where("report_id", "=", id)
      .execute();
    await ctx.db.deleteFrom("advisories").where("report_id", "=", id).execute();
    await ctx.db.deleteFrom("reports").where("id", "=", id).execute();
  }

  const milestonesArb = fc.array(
    fc.tuple(fc.constantFrom(...STATES), fc.integer({ min: 0, max: 200 })),
    { maxLength: 5 },
  );
  const newReportArb: fc.Arbitrary<NewReport> = fc.record({
    state: fc.constantFrom(...NOT_PUBLISHED),
    severity: fc.constantFrom(...SEVERITIES),
    cwe: fc.constantFrom(...CWES),
    org: fc.nat(),
    createdDaysAgo: fc.integer({ min: 0, max: 1500 }),
    milestones: milestonesArb,
    advisory: fc.constantFrom("none", "draft", "published_but_not_disclosed"),
  });
  type Step =
    | { kind: "add"; report: NewReport }
    | { kind: "remove"; pick: number }
    | {
        kind: "change";
        pick: number;
        state: State;
        severity: string | null;
        cwe: string;
        org: number;
        shiftDays: number;
      }
    | { kind: "internal"; pick: number; to: State; days: number };
  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ kind: fc.constant("add" as const), report: newReportArb }),
    fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
    fc.record({
      kind: fc.constant("change" as const),
      pick: fc.nat(),
      state: fc.constantFrom(...NOT_PUBLISHED),
      severity: fc.constantFrom(...SEVERITIES),
      cwe: fc.constantFrom(...CWES),
      org: fc.nat(),
      shiftDays: fc.integer({ min: -400, max: 400 }),
    }),
    // What a published advisory does not show: triage, questions, due dates.
    fc.record({
      kind: fc.constant("internal" as const),
      pick: fc.nat(),
      to: fc.constantFrom("triaged", "needs_info", "closed" as State),
      days: fc.integer({ min: 0, max: 100 }),
    }),
  );

  async function apply(step: Step): Promise<string> {
    if (step.kind === "add") {
      unpublished.push(await addReport(step.report));
      return `add ${JSON.stringify(step.report)}`;
    }
    if (step.kind === "internal") {
      const id = published[step.pick % published.length]!;
      const r = await ctx.db
        .selectFrom("reports")
        .select("created_at")
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
      await event(id, step.to, r.created_at + step.days * DAY);
      await ctx.db
        .updateTable("reports")
        .set({
          ack_due_at: r.created_at + step.days * DAY,
          triage_due_at: r.created_at + step.days * DAY,
          disclosure_due_at: r.created_at + step.days * DAY,
        })
        .where("id", "=", id)
        .execute();
      return `internal ${JSON.stringify(step)} on published report ${id}`;
    }
    if (unpublished.length === 0) return "nothing to change";
    const index = step.pick % unpublished.length;
    const id = unpublished[index]!;
    if (step.kind === "remove") {
      unpublished.splice(index, 1);
      await removeReport(id);
      return `remove report ${id}`;
    }
    const shift = step.shiftDays * DAY;
    await ctx.db
      .updateTable("reports")
      .set((eb) => ({
        state: step.state,
        severity: step.severity,
        cwe: step.cwe,
        organization_id: orgIds[step.org % orgIds.length],
        created_at: eb("created_at", "+", shift),
        ack_due_at: eb("ack_due_at", "+", shift),
        triage_due_at: eb("triage_due_at", "+", shift),
        vendor_notified_at: NOW - 3 * DAY,
        disclosure_due_at: NOW + 87 * DAY,
      }))
      .where("id", "=", id)
      .execute();
    await ctx.db
      .updateTable("report_events")
      .set((eb) => ({ created_at: eb("created_at", "+", shift) }))
      .where("report_id", "=", id)
      .execute();
    return `change report ${id}: ${JSON.stringify(step)}`;
  }

  before(async () => {
    ctx = await createTestContext({ clock: new TestClock(NOW) });
    researcherId = (await createUser(ctx, "researcher")).user.id;
    const alpha = await createOrg(ctx, "Hospital Alpha Trust");
    const beta = await createOrg(ctx, "Beta Water Works");
    orgIds = [alpha.id, beta.id, null];
    // Published advisories, so the page has numbers that unpublished
    // reports could move: severity, CWE, filed so many days ago, organization,
    // then acknowledged, fixed and published so many days after filing (the
    // organization is notified after 4).
    const advisories: [
      string | null,
      string,
      number,
      number,
      number,
      number,
      number,
    ][] = [
      ["high", "CWE-639", 400, alpha.id, 1, 20, 30],
      ["critical", "CWE-639", 200, alpha.id, 2, 44, 60],
      ["medium", "CWE-79", 90, beta.id, 3, 14, 20],
      [null, "CWE-89", 60, alpha.id, 1, 10, 15],
    ];
    for (const [
      severity,
      cwe,
      daysAgo,
      org,
      acked,
      fixed,
      publishedAfter,
    ] of advisories) {
      const created = NOW - daysAgo * DAY;
      const { id } = await insertReport(ctx, {
        reporterId: researcherId,
        state: "disclosed",
        severity,
        cwe,
        organizationId: org,
        createdAt: new Date(created),
        vendorNotifiedAt: new Date(created + 4 * DAY),
      });
      await event(id, "acknowledged", created + acked * DAY);
      await event(id, "vendor_notified", created + 4 * DAY);
      await event(id, "fixed", created + fixed * DAY);
      await event(id, "disclosed", created + publishedAfter * DAY);
      await ctx.db
        .insertInto("advisories")
        .values({
          report_id: id,
          summary: "Fixed.",
          updated_at: created + publishedAfter * DAY,
          published_at: created + publishedAfter * DAY,
        })
        .execute();
      published.push(id);
    }
    // Reports in every state not published, as any desk has.
    for (const [i, state] of NOT_PUBLISHED.entries())
      unpublished.push(
        await addReport({
          state,
          severity: SEVERITIES[i % SEVERITIES.length]!,
          cwe: CWES[i % CWES.length]!,
          org: i,
          createdDaysAgo: 10 + i * 37,
          milestones: [
            ["acknowledged", 1],
            ["fixed", 5],
          ],
          advisory: i % 3 === 0 ? "draft" : "none",
        }),
      );
    baseline = await publicPage();
  });

  after(async () => {
    await ctx?.close();
  });

  it("shows the published advisories per year, severity and weakness, and their timings", () => {
    // Published 2025-02-25, 2025-10-13, 2025-12-22 and 2026-01-16.
    assert.deepEqual(
      tableRows(baseline, "Advisories published per year</caption>").slice(1),
      [
        ["2025", "3"],
        ["2026", "1"],
      ],
    );
    assert.match(baseline, /Advisories published: <strong>4<\/strong>/);
    assert.deepEqual(
      tableRows(baseline, "Advisories by severity</caption>")
        .slice(1)
        .map((r) => r[1]),
      ["1", "1", "1", "0", "0", "1"],
    );
    assert.deepEqual(
      tableRows(baseline, "Weaknesses in advisories (top 10)</caption>")
        .slice(1)
        .map((r) => [r[0]!.split(":")[0], r[1]]),
      [
        ["CWE-639", "2"],
        ["CWE-79", "1"],
        ["CWE-89", "1"],
      ],
    );
    const timings = '<table id="timings">';
    // Acknowledged after 1, 1, 2, 3 days: median 1.5, p90 2 + 0.7 × 1.
    assert.deepEqual(row(baseline, timings, "Time to acknowledge"), [
      "4",
      "1.5 days",
      "2.7 days",
    ]);
    // Fixed 6, 10, 16, 40 days after notification: p90 16 + 0.7 × 24.
    assert.deepEqual(row(baseline, timings, "Time to fix"), [
      "4",
      "13 days",
      "32.8 days",
    ]);
    // Published after 15, 20, 30, 60 days: p90 30 + 0.7 × 30.
    assert.deepEqual(row(baseline, timings, "Time to publish"), [
      "4",
      "25 days",
      "51 days",
    ]);
  });

  it("adding, removing or changing one report not published never changes the public page", async () => {
    // Each state and kind of advisory once, before the random sequences.
    const everyKindOnce: Step[] = NOT_PUBLISHED.flatMap((state, i) =>
      (["none", "draft", "published_but_not_disclosed"] as const).map(
        (advisory): Step => ({
          kind: "add",
          report: {
            state,
            severity: SEVERITIES[i % SEVERITIES.length]!,
            cwe: CWES[i % CWES.length]!,
            org: i,
            createdDaysAgo: i * 50,
            milestones: [
              ["acknowledged", 1],
              ["vendor_notified", 2],
              ["fixed", 3],
              ["disclosed", 4],
            ],
            advisory,
          },
        }),
      ),
    );
    everyKindOnce.push(
      { kind: "remove", pick: 0 },
      {
        kind: "change",
        pick: 1,
        state: "fix_verified",
        severity: "critical",
        cwe: "CWE-22",
        org: 1,
        shiftDays: -100,
      },
      { kind: "internal", pick: 0, to: "triaged", days: 2 },
    );
    const staffTotal = async () =>
      (await computeStats(ctx, ctx.clock.now())).total;
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { minLength: 1, maxLength: 4 }),
        async (steps) => {
          for (const step of steps) {
            const before = await staffTotal();
            const what = await apply(step);
            // The step did reach the numbers staff see (the test would prove nothing otherwise).
            if (step.kind === "add")
              assert.equal(await staffTotal(), before + 1);
            const page = await publicPage();
            assert.ok(
              page === baseline,
              `the public page changed after: ${what}\n${firstDifference(baseline, page)}`,
            );
          }
        },
      ),
      { seed: SEED, numRuns: 40, examples: [[everyKindOnce]] },
    );
  });
});

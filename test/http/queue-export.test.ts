import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { csvCell } from "../../src/reports/csv.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
} from "../support/harness.js";

/** A minimal RFC 4180 reader: quoted cells, doubled quotes, CRLF rows. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split("\r\n").filter(Boolean)) {
    const cells = [...line.matchAll(/"((?:[^"]|"")*)"(?:,|$)/g)].map((m) =>
      m[1]!.replace(/""/g, '"'),
    );
    rows.push(cells);
  }
  return rows;
}

describe("CSV export of the queue", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "City Hospital");
    const researcher = await createUser(ctx, "researcher", {
      displayName: "Rhea",
    });
    await insertReport(ctx, {
      reporterId: researcher.user.id,
      title: '=HYPERLINK("http://evil.example","click") "quoted", comma',
      organizationId: org.id,
      state: "triaged",
      severity: "high",
      cvssScore: 8.1,
    });
    for (let i = 0; i < 4; i++)
      await insertReport(ctx, {
        reporterId: researcher.user.id,
        title: `Plain ${i}`,
        createdAt: new Date(ctx.clock.now().getTime() + i * 1000),
      });
  });
  after(() => ctx.close());

  it("downloads the filtered queue as CSV, formulas defused, and audits it", async () => {
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const page = await triager.agent.get("/queue?state=triaged");
    assert.match(
      page.text,
      /href="\/queue\/export\.csv\?state=triaged" download>/,
    );
    const res = await triager.agent.get("/queue/export.csv?state=triaged");
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"]!, /^text\/csv/);
    assert.match(
      res.headers["content-disposition"]!,
      /^attachment; filename="queue-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    const rows = parseCsv(res.text);
    assert.equal(rows[0]![0], "ID");
    assert.equal(rows.length, 2, "the header and the one triaged report");
    const [row] = rows.slice(1);
    assert.equal(
      row![1],
      `'=HYPERLINK("http://evil.example","click") "quoted", comma`,
    );
    assert.equal(row![2], "Triaged");
    assert.equal(row![3], "High");
    assert.equal(row![4], "8.1");
    assert.equal(row![6], "City Hospital");
    assert.equal(row![8], "Rhea");
    const audit = await ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "export.csv")
      .execute();
    assert.equal(audit.length, 1);
    assert.deepEqual(JSON.parse(audit[0]!.details), { state: "triaged" });

    const all = parseCsv((await triager.agent.get("/queue/export.csv")).text);
    assert.equal(all.length, 6);
  });

  it("is not found for researchers and org contacts", async () => {
    for (const role of ["researcher", "org_contact"] as const) {
      const browser = await signedIn(ctx, await createUser(ctx, role));
      const res = await browser.agent.get("/queue/export.csv");
      assert.equal(res.status, 404, role);
      assert.doesNotMatch(res.text, /Plain 0/);
    }
  });

  it("quotes every cell and defuses every formula prefix", () => {
    assert.equal(csvCell("plain"), '"plain"');
    assert.equal(csvCell('say "hi"'), '"say ""hi"""');
    assert.equal(csvCell(null), '""');
    assert.equal(csvCell(7.5), '"7.5"');
    for (const start of ["=", "+", "-", "@", "\t", "\r"])
      assert.equal(csvCell(`${start}1+1`), `"'${start}1+1"`);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { reportListQuery } from "../../src/reports/list-repository.js";
import { dialectOf } from "../../src/db/dialect.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import { postgresPlan, sqlitePlan } from "../support/query-plan.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/** The report IDs listed on a results page, in order. */
const idsOn = (html: string) =>
  [...html.matchAll(/<td[^>]*><a href="\/reports\/(DD-[0-9A-Z-]+)">/g)].map(
    (m) => m[1]!,
  );

/** What differs between two renderings of one page: per-request tokens. */
const withoutTokens = (html: string) =>
  html
    .replace(/nonce="[^"]*"/g, 'nonce=""')
    .replace(/(name="_csrf"[^>]*value=")[^"]*"/g, '$1"')
    .replace(/(value="[^"]*"[^>]*name="_csrf")/g, "")
    .replace(/(<meta name="csrf-token" content=")[^"]*"/g, '$1"');

describe("search by report ID, CWE and CVE, with excerpts of the match", () => {
  let ctx: TestContext;
  let alice: TestUser, bob: TestUser, triager: TestUser;
  let contact: TestUser;
  const ids: Record<string, string> = {};
  const browsers = new Map<TestUser, Browser>();

  before(async () => {
    ctx = await createTestContext();
    const hospital = await createOrg(ctx, "Clinic Portal");
    alice = await createUser(ctx, "researcher");
    bob = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager");
    contact = await createUser(ctx, "org_contact", { orgIds: [hospital.id] });
    const insert = async (
      key: string,
      fixture: Parameters<typeof insertReport>[1],
      text: { description?: string; steps?: string; impact?: string } = {},
    ) => {
      const r = await insertReport(ctx, fixture);
      ids[key] = r.publicId;
      if (Object.keys(text).length > 0)
        await ctx.db
          .updateTable("reports")
          .set(text)
          .where("id", "=", r.id)
          .execute();
      return r;
    };
    await insert(
      "idor",
      {
        reporterId: alice.user.id,
        title: "Patient records by ID",
        organizationId: hospital.id,
        state: "vendor_notified",
        cwe: "CWE-639",
      },
      {
        steps:
          "Sign in as any patient, open the calendar and change the number in the address bar: the quokka record of another patient opens.",
      },
    );
    await insert(
      "xssMentions",
      {
        reporterId: alice.user.id,
        title: "Script in the search page",
        organizationId: hospital.id,
        state: "triaged",
        cwe: "CWE-79",
      },
      {
        description:
          'Reflected <script>alert("quokka")</script> in the search page; like CWE-639 it needs no privilege.',
      },
    );
    await insert("xss", {
      reporterId: bob.user.id,
      title: "Another script injection",
      state: "submitted",
      cwe: "CWE-79",
    });
    await insert("near", {
      reporterId: bob.user.id,
      title: "A weakness numbered close to it",
      state: "submitted",
      cwe: "CWE-6390",
    });
    const published = await insert("published", {
      reporterId: alice.user.id,
      title: "Published one",
      organizationId: hospital.id,
      state: "disclosed",
      cwe: "CWE-862",
    });
    const draft = await insert("draft", {
      reporterId: alice.user.id,
      title: "Advisory being written",
      organizationId: hospital.id,
      state: "fix_verified",
      cwe: "CWE-862",
    });
    const now = ctx.clock.now().getTime();
    await ctx.db
      .insertInto("advisories")
      .values([
        {
          report_id: published.id,
          title: "Published advisory",
          summary: "A summary of twenty characters or more.",
          cve_id: "CVE-2026-10001",
          updated_at: now,
          published_at: now,
        },
        {
          report_id: draft.id,
          title: "Draft advisory",
          summary: "A summary of twenty characters or more.",
          cve_id: "CVE-2026-10002",
          updated_at: now,
          published_at: null,
        },
      ])
      .execute();
  });
  after(() => ctx.close());

  async function search(who: TestUser, q: string) {
    let browser = browsers.get(who);
    if (!browser) browsers.set(who, (browser = await signedIn(ctx, who)));
    return browser.agent.get(`/search?q=${encodeURIComponent(q)}`);
  }
  async function found(who: TestUser, q: string) {
    const res = await search(who, q);
    assert.equal(res.status, 200, q);
    return idsOn(res.text);
  }

  it("an exact report ID, in any case and with spaces around it, opens the report", async () => {
    for (const who of [alice, triager, contact]) {
      const res = await search(who, `  ${ids.idor!.toLowerCase()} `);
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, `/reports/${ids.idor}`);
    }
  });

  it("another person's report ID finds nothing, exactly like an ID that does not exist", async () => {
    const unknown = "DD-0000-0000";
    assert.ok(!Object.values(ids).includes(unknown));
    for (const [who, id] of [
      [bob, ids.idor!],
      // Before its notice, the organization may not know the report exists.
      [contact, ids.xssMentions!],
    ] as const) {
      const theirs = await search(who, id);
      const none = await search(who, unknown);
      assert.equal(theirs.status, 200);
      assert.equal(none.status, 200);
      assert.deepEqual(idsOn(theirs.text), []);
      assert.match(theirs.text, /No report you can see matches/);
      assert.equal(
        withoutTokens(theirs.text.replaceAll(id, "THE-ID")),
        withoutTokens(none.text.replaceAll(unknown, "THE-ID")),
      );
    }
  });

  it("CWE-639 finds the reports with that weakness and the text that names it, not CWE-6390", async () => {
    for (const q of ["CWE-639", "cwe 639", " Cwe-639 "])
      assert.deepEqual(
        new Set(await found(triager, q)),
        new Set([ids.idor, ids.xssMentions]),
        q,
      );
    assert.deepEqual(
      new Set(await found(triager, "CWE-79")),
      new Set([ids.xssMentions, ids.xss]),
    );
    // Each sees only their own, as in any search.
    assert.deepEqual(await found(bob, "CWE-639"), []);
    assert.deepEqual(await found(contact, "CWE-639"), [ids.idor]);
  });

  it("a changed CWE is found under the new one", async () => {
    await ctx.db
      .updateTable("reports")
      .set({ cwe: "CWE-1021" })
      .where("public_id", "=", ids.near!)
      .execute();
    assert.deepEqual(await found(triager, "CWE-1021"), [ids.near]);
    assert.deepEqual(await found(triager, "CWE-6390"), []);
  });

  it("a CVE ID finds the report its advisory names; a draft's only for staff", async () => {
    assert.deepEqual(await found(triager, "cve-2026-10001"), [ids.published]);
    assert.deepEqual(await found(triager, "CVE-2026-10002"), [ids.draft]);
    assert.deepEqual(await found(alice, "CVE-2026-10001"), [ids.published]);
    assert.deepEqual(
      await found(alice, "CVE-2026-10002"),
      [],
      "the draft's CVE ID is the CERT's until it is published",
    );
    assert.deepEqual(await found(contact, "CVE-2026-10002"), []);
    assert.deepEqual(await found(bob, "CVE-2026-10001"), []);
    assert.deepEqual(await found(triager, "CVE-2026-99999"), []);
  });

  it("shows where the match is, the matching words marked and the rest escaped", async () => {
    const res = await search(triager, "quokk");
    assert.deepEqual(
      new Set(idsOn(res.text)),
      new Set([ids.idor, ids.xssMentions]),
    );
    assert.match(
      res.text,
      /<span class="snippet-label">Steps to reproduce:<\/span> …?[^<]*change the number in the address bar: the <mark>quokka<\/mark> record of another patient opens\./,
    );
    assert.match(
      res.text,
      /<span class="snippet-label">Description:<\/span> Reflected &lt;script&gt;alert\(&#34;<mark>quokka<\/mark>&#34;\)&lt;\/script&gt;/,
    );
    assert.doesNotMatch(res.text, /<script>alert/);
    const cwe = await search(triager, "CWE-639");
    assert.match(
      cwe.text,
      /<span class="snippet-label">Description:<\/span> [^<]*like <mark>CWE<\/mark>-<mark>639<\/mark> it needs/,
    );
    assert.match(
      cwe.text,
      /<span class="snippet-label">Weakness:<\/span> <mark>CWE<\/mark>-<mark>639<\/mark>/,
    );
  });

  it("excerpts come only from reports the searcher may read", async () => {
    // Bob's search for Alice's words finds nothing and shows nothing of them.
    const bobs = await search(bob, "quokka");
    assert.deepEqual(idsOn(bobs.text), []);
    assert.doesNotMatch(bobs.text, /<mark>/);
    assert.doesNotMatch(bobs.text, /record of another patient/);
    // The organization reads the notified report's text, not the one it was
    // not yet told about, which mentions the same word.
    const contacts = await search(contact, "quokka");
    assert.deepEqual(idsOn(contacts.text), [ids.idor]);
    assert.doesNotMatch(contacts.text, /Reflected/);
  });

  it("refuses search syntax and hostile input without an error", async () => {
    for (const q of [
      '"CWE-639',
      "CWE-639 NEAR(",
      "cwe-639*",
      'CVE-2026-10001" OR *',
      "<script>alert(1)</script>",
      '"',
      "NEAR(",
      "*",
      "DD-0000-0000<script>",
    ]) {
      const res = await search(triager, q);
      assert.equal(res.status, 200, q);
      assert.doesNotMatch(res.text, /<script>alert/);
    }
  });

  it("a CVE search reads its report through the advisories' CVE index", async () => {
    for (const scope of [
      { kind: "all" as const },
      { kind: "reporter" as const, reporterId: 1 },
    ]) {
      const compiled = reportListQuery(ctx.db, {
        scope,
        filters: { cveId: "CVE-2026-10001" },
        sort: "filing",
        direction: "desc",
        limit: 25,
      }).compile();
      if (dialectOf(ctx.db) === "postgres") {
        const p = await postgresPlan(ctx.db, compiled);
        assert.ok(p.uses("advisories_cve_id"), p.text);
        assert.deepEqual(p.seqScans(), [], p.text);
        continue;
      }
      const details = (await sqlitePlan(ctx.db, compiled)).join("\n");
      assert.match(
        details,
        /advisories USING (COVERING )?INDEX advisories_cve_id/,
      );
      assert.doesNotMatch(details, /^SCAN (r|advisories)$/m);
    }
  });
});

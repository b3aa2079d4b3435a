import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import * as mandatoryTests from "@secvisogram/csaf-validator-lib/mandatoryTests.js";
import { csaf_2_0_strict } from "@secvisogram/csaf-validator-lib/schemaTests.js";
import validateStrict from "@secvisogram/csaf-validator-lib/validateStrict.js";
import { weaknesses as cweCatalog } from "@secvisogram/csaf-validator-lib/cwe.js";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { CREDIT_TYPES } from "../../src/advisories/credits.js";
import { buildCsafDocument } from "../../src/advisories/csaf.js";
import { buildCveRecord } from "../../src/advisories/cve-record.js";
import { CWE_CATALOG_NAMES } from "../../src/advisories/cwe-names.js";
import { PUBLISHER_NAME } from "../../src/advisories/exports.js";
import { findPublishedAdvisory } from "../../src/advisories/repository.js";
import { markdownToPlainText } from "../../src/advisories/plain-text.js";
import { projectRoot } from "../../src/paths.js";
import { WEAKNESSES } from "../../src/reports/cwe.js";
import {
  insertPublishableReport,
  publishAdvisory,
} from "../support/advisories.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import { setParticipation } from "../support/participations.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

// ajv-formats is CommonJS: its function sits on the default export.
const addFormats =
  addFormatsModule as unknown as typeof addFormatsModule.default;

/** The CVE Program's official schema, vendored for offline validation. */
const CVE_SCHEMA_FILE = path.join(
  projectRoot,
  "test/fixtures/cve-schema/CVE_JSON_5.0_bundled_5.0.0.json",
);

function cveValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(CVE_SCHEMA_FILE, "utf8")));
}

/** Errors from schema validation and every mandatory test of CSAF 2.0. */
async function csafErrors(doc: unknown): Promise<string[]> {
  const result = await validateStrict(
    [
      csaf_2_0_strict,
      ...(Object.values(mandatoryTests) as ((doc: unknown) => unknown)[]),
    ],
    doc,
  );
  // Every mandatory test ran (the schema test plus the 6.1.x tests).
  assert.ok(result.tests.length > 40);
  const errors = result.tests.flatMap((t) =>
    t.errors.map((e) => `${t.name} ${e.instancePath}: ${e.message}`),
  );
  assert.equal(result.isValid, errors.length === 0);
  return errors;
}

async function assertValidCsaf(doc: unknown, label: string) {
  const errors = await csafErrors(doc);
  if (errors.length)
    console.error(`CSAF errors (${label}):\n${errors.join("\n")}`);
  assert.deepEqual(errors, [], `${label}: CSAF validation errors`);
}

const VECTOR = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N";
const MARKER = "RAW-RESEARCHER-TEXT-7f3a9c";
const SUMMARY = [
  "Booking IDs in the **appointment portal** could be changed to read other",
  "patients' bookings. See [the policy](https://example.test/policy).",
  "",
  "- Affected: the booking page",
  "- Fixed by checking ownership <script>alert(1)</script>",
].join("\n");

describe("advisory downloads: CSAF 2.0 and CVE JSON 5", () => {
  let ctx: TestContext;
  let triager: Browser;
  let validateCve: ReturnType<typeof cveValidator>;
  let orgName: string;
  /** Disclosed, with organization, CVSS and CVE; never marked fixed. */
  let full: string;
  /** Disclosed without organization, CVSS or CVE. */
  let bare: string;
  /** Marked fixed, verified, then disclosed. */
  let fixed: string;

  before(async () => {
    validateCve = cveValidator();
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Hospital & Clinics <North>");
    orgName = org.name;
    const researcher = await createUser(ctx, "researcher", {
      displayName: "Rhea Real-Name",
    });
    triager = await signedIn(ctx, await createUser(ctx, "triager"));

    full = (
      await insertPublishableReport(ctx, {
        reporterId: researcher.user.id,
        organizationId: org.id,
        title: `The researcher's own title ${MARKER}`,
        severity: "high",
        cvssScore: 7.7,
        cvssVector: VECTOR,
        creditKind: "handle",
        creditHandle: "rhea",
        description: `The booking ID is sequential. ${MARKER}`,
      })
    ).publicId;
    await publishAdvisory(triager, full, {
      title: "Booking IDs <readable> & guessable",
      summary: SUMMARY,
      cveId: "CVE-2026-12345",
    });

    bare = (
      await insertPublishableReport(ctx, {
        reporterId: researcher.user.id,
        organizationId: null,
        state: "closed",
        // Told and fixed; the organization is not named in public.
        vendorNotifiedAt: ctx.clock.now(),
        cwe: "other",
        creditKind: "anonymous",
        description: `Another finding. ${MARKER}`,
      })
    ).publicId;
    await publishAdvisory(triager, bare, {
      summary: "A weakness in a service whose owner is not named here.",
    });

    fixed = (
      await insertPublishableReport(ctx, {
        reporterId: researcher.user.id,
        organizationId: org.id,
        state: "fix_in_progress",
        cwe: "CWE-79",
        cvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N",
        description: `Reflected script. ${MARKER}`,
      })
    ).publicId;
    await triager.refreshCsrf(`/reports/${fixed}`);
    for (const name of ["mark_fixed", "verify_fix"]) {
      const res = await triager.post(`/reports/${fixed}/transition`, { name });
      assert.equal(res.status, 303, `${name}: ${res.text}`);
    }
    await publishAdvisory(triager, fixed, {
      summary: "A search parameter was reflected into the page unescaped.",
      cveId: "CVE-2026-20001",
    });
  });
  after(() => ctx.close());

  const anon = () => supertest(ctx.app);

  async function getJson(url: string) {
    const res = await anon().get(url);
    assert.equal(res.status, 200, `${url}: ${res.status}`);
    assert.equal(
      res.headers["content-type"],
      "application/json; charset=utf-8",
    );
    assert.match(res.text, /^\{\n {2}"/, "pretty-printed");
    assert.doesNotMatch(res.text, new RegExp(MARKER), "no researcher text");
    assert.doesNotMatch(res.text, /Rhea Real-Name/, "credited as chosen");
    return { res, body: JSON.parse(res.text) as Record<string, any> };
  }

  it("serves a valid CSAF 2.0 advisory with the advisory's facts", async () => {
    const { res, body } = await getJson(`/advisories/${full}/csaf.json`);
    assert.equal(
      res.headers["content-disposition"],
      `attachment; filename="${full.toLowerCase()}.json"`,
    );
    await assertValidCsaf(body, "with CVE, CVSS and organization");

    const base = ctx.config.baseUrl;
    const d = body.document;
    assert.equal(d.category, "csaf_security_advisory");
    assert.equal(d.csaf_version, "2.0");
    assert.equal(d.title, "Booking IDs <readable> & guessable");
    assert.deepEqual(d.publisher, {
      category: "coordinator",
      name: PUBLISHER_NAME,
      namespace: base,
    });
    assert.equal(d.tracking.id, full);
    assert.equal(d.tracking.status, "final");
    assert.equal(d.tracking.version, "1");
    const published = ctx.clock.now().toISOString();
    assert.equal(d.tracking.initial_release_date, published);
    assert.equal(d.tracking.current_release_date, published);
    assert.deepEqual(
      d.tracking.revision_history.map((r: { date: string; number: string }) => [
        r.date,
        r.number,
      ]),
      [[published, "1"]],
    );
    assert.equal(d.tracking.generator.engine.name, "Disclosure Desk");
    assert.deepEqual(d.references, [
      {
        category: "self",
        summary: `Advisory ${full} on ${PUBLISHER_NAME}`,
        url: `${base}/advisories/${full}`,
      },
    ]);
    // The summary as plain text: no Markdown, no HTML built, link kept.
    const summary = d.notes[0];
    assert.equal(summary.category, "summary");
    assert.equal(summary.text, markdownToPlainText(SUMMARY));
    assert.match(summary.text, /^Booking IDs in the appointment portal could/);
    assert.match(
      summary.text,
      /the policy \(https:\/\/example\.test\/policy\)/,
    );
    assert.match(summary.text, /\n- Affected: the booking page/);

    const vendor = body.product_tree.branches[0];
    assert.equal(vendor.category, "vendor");
    assert.equal(vendor.name, orgName);
    const product = vendor.branches[0].product;
    assert.equal(product.name, "https://portal.example.test/appointments");
    const pid = product.product_id;

    const v = body.vulnerabilities[0];
    assert.equal(body.vulnerabilities.length, 1);
    assert.equal(v.cve, "CVE-2026-12345");
    assert.equal(v.ids, undefined);
    assert.deepEqual(v.cwe, {
      id: "CWE-639",
      name: "Authorization Bypass Through User-Controlled Key",
    });
    assert.deepEqual(v.product_status, { known_affected: [pid] });
    assert.equal(v.remediations[0].category, "none_available");
    assert.deepEqual(v.remediations[0].product_ids, [pid]);
    assert.deepEqual(v.scores, [
      {
        products: [pid],
        cvss_v3: {
          version: "3.1",
          vectorString: VECTOR,
          attackVector: "NETWORK",
          attackComplexity: "LOW",
          privilegesRequired: "LOW",
          userInteraction: "NONE",
          scope: "CHANGED",
          confidentialityImpact: "HIGH",
          integrityImpact: "NONE",
          availabilityImpact: "NONE",
          baseScore: 7.7,
          baseSeverity: "HIGH",
        },
      },
    ]);
    // Whatever the advisory credits as published (the filing's choice, or
    // the credits the researcher accepted): here a handle, as finder.
    const credited = (await findPublishedAdvisory(ctx.db, full))!.credits;
    assert.deepEqual(
      v.acknowledgments,
      credited.length
        ? [{ names: credited.map((c) => c.name), summary: "Finder" }]
        : undefined,
    );
    assert.equal(v.release_date, published);
    assert.ok(v.discovery_date <= published);
  });

  it("stays valid without a CVE ID, a CVSS vector, an organization or credits", async () => {
    const { res, body } = await getJson(`/advisories/${bare}/csaf.json`);
    assert.equal(
      res.headers["content-disposition"],
      `attachment; filename="${bare.toLowerCase()}.json"`,
    );
    await assertValidCsaf(body, "bare");
    const v = body.vulnerabilities[0];
    assert.equal(v.cve, undefined);
    assert.deepEqual(v.ids, [{ system_name: PUBLISHER_NAME, text: bare }]);
    assert.equal(v.cwe, undefined, "no CWE for 'other'");
    assert.equal(v.scores, undefined);
    assert.equal(v.acknowledgments, undefined);
    assert.equal(body.product_tree.branches, undefined);
    assert.deepEqual(body.product_tree.full_product_names, [
      {
        name: "https://portal.example.test/appointments",
        product_id: v.product_status.known_affected[0],
      },
    ]);
  });

  it("says fixed, with the vendor fix, once the organization marked it fixed", async () => {
    const { body } = await getJson(`/advisories/${fixed}/csaf.json`);
    await assertValidCsaf(body, "fixed");
    const v = body.vulnerabilities[0];
    const pid = body.product_tree.branches[0].branches[0].product.product_id;
    assert.deepEqual(v.product_status, { fixed: [pid] });
    assert.equal(v.remediations[0].category, "vendor_fix");
    assert.deepEqual(v.remediations[0].product_ids, [pid]);
    assert.equal(v.remediations[0].date, ctx.clock.now().toISOString());
    assert.equal(
      v.cwe.name,
      "Improper Neutralization of Input During Web Page Generation ('Cross-site Scripting')",
    );
    assert.equal(v.scores[0].cvss_v3.baseScore, 6.1);
    assert.equal(v.scores[0].cvss_v3.baseSeverity, "MEDIUM");
  });

  it("serves a CVE JSON 5 record that the official schema accepts", async () => {
    const { res, body } = await getJson(`/advisories/${full}/cve.json`);
    assert.equal(
      res.headers["content-disposition"],
      'attachment; filename="CVE-2026-12345.json"',
    );
    assert.ok(validateCve(body), JSON.stringify(validateCve.errors, null, 2));
    assert.equal(body.dataType, "CVE_RECORD");
    assert.equal(body.dataVersion, "5.0");
    assert.equal(body.cveMetadata.cveId, "CVE-2026-12345");
    assert.equal(body.cveMetadata.state, "PUBLISHED");
    assert.match(body.cveMetadata.assignerOrgId, /^[0-9a-f-]{36}$/);
    const published = ctx.clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z");
    assert.equal(body.cveMetadata.datePublished, published);
    const cna = body.containers.cna;
    assert.equal(cna.title, "Booking IDs <readable> & guessable");
    assert.deepEqual(
      cna.descriptions.map((d: { lang: string; value: string }) => [
        d.lang,
        d.value,
      ]),
      [["en", markdownToPlainText(SUMMARY)]],
    );
    assert.equal(cna.descriptions[0].supportingMedia[0].value, SUMMARY);
    assert.deepEqual(cna.affected, [
      {
        vendor: orgName,
        product: "https://portal.example.test/appointments",
        defaultStatus: "unknown",
        versions: [{ version: "unspecified", status: "affected" }],
      },
    ]);
    assert.deepEqual(cna.problemTypes[0].descriptions[0], {
      lang: "en",
      cweId: "CWE-639",
      type: "CWE",
      description: "CWE-639 Authorization Bypass Through User-Controlled Key",
    });
    assert.equal(cna.metrics[0].cvssV3_1.vectorString, VECTOR);
    assert.equal(cna.metrics[0].cvssV3_1.baseScore, 7.7);
    assert.deepEqual(
      cna.references[0].url,
      `${ctx.config.baseUrl}/advisories/${full}`,
    );
    const credited = (await findPublishedAdvisory(ctx.db, full))!.credits;
    assert.deepEqual(
      cna.credits,
      credited.length
        ? credited.map((c) => ({ lang: "en", value: c.name, type: "finder" }))
        : undefined,
    );
    assert.deepEqual(
      cna.timeline.map((t: { value: string }) => t.value),
      [
        `Reported to ${PUBLISHER_NAME}`,
        "Organization notified",
        "Advisory published",
      ],
    );
    assert.equal(cna.solutions, undefined, "not fixed");

    const fixedRecord = (await getJson(`/advisories/${fixed}/cve.json`)).body;
    assert.ok(validateCve(fixedRecord), JSON.stringify(validateCve.errors));
    assert.equal(fixedRecord.containers.cna.solutions.length, 1);
    assert.ok(
      fixedRecord.containers.cna.timeline.some(
        (t: { value: string }) =>
          t.value === "Fix deployed by the organization",
      ),
    );
  });

  it("with three organizations: a vendor branch and a product status each in CSAF, an affected entry each in the CVE record, both valid", async () => {
    const researcher = await createUser(ctx, "researcher");
    const orgs = await Promise.all(
      ["Vendor Affected", "Vendor Fixed", "Vendor Disputing"].map((n) =>
        createOrg(ctx, n),
      ),
    );
    const notNamed = await createOrg(ctx, "Vendor Removed");
    const report = await insertPublishableReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: orgs[0]!.id,
      cvssVector: VECTOR,
      creditKind: "anonymous",
    });
    const at = ctx.clock.now().getTime() - 86_400_000;
    await setParticipation(ctx, report.id, orgs[0]!.id, {
      status: "affected",
      answeredAt: at,
    });
    await setParticipation(ctx, report.id, orgs[1]!.id, {
      status: "fixed",
      answeredAt: at,
      statement: "Fixed in **2.0**.",
      references: "https://fixed.example/notes\nnot a link",
      approvedAfter: 0,
    });
    await setParticipation(ctx, report.id, orgs[2]!.id, {
      status: "disputed",
      answeredAt: at,
    });
    await setParticipation(ctx, report.id, notNamed.id, {
      status: "not_affected",
      removed: true,
    });
    await publishAdvisory(triager, report.publicId, {
      summary: "One flaw in a product three vendors ship.",
      cveId: "CVE-2026-40004",
    });

    const csaf = (await getJson(`/advisories/${report.publicId}/csaf.json`))
      .body;
    await assertValidCsaf(csaf, "three organizations");
    assert.doesNotMatch(JSON.stringify(csaf), /Vendor Removed/);
    const branches = csaf.product_tree.branches as {
      category: string;
      name: string;
      branches: { product: { product_id: string; name: string } }[];
    }[];
    assert.deepEqual(
      branches.map((b) => [
        b.category,
        b.name,
        b.branches[0]!.product.product_id,
      ]),
      [
        ["vendor", "Vendor Affected", "CSAFPID-0001"],
        ["vendor", "Vendor Fixed", "CSAFPID-0002"],
        ["vendor", "Vendor Disputing", "CSAFPID-0003"],
      ],
    );
    const v = csaf.vulnerabilities[0];
    // Disputed is under investigation, with a note saying who disputes it.
    assert.deepEqual(v.product_status, {
      known_affected: ["CSAFPID-0001"],
      fixed: ["CSAFPID-0002"],
      under_investigation: ["CSAFPID-0003"],
    });
    assert.deepEqual(
      v.notes.map((n: { category: string; title: string }) => [
        n.category,
        n.title,
      ]),
      [
        ["description", "Description"],
        ["other", "Statement by Vendor Fixed"],
        ["other", "Disputed by Vendor Disputing"],
      ],
    );
    assert.deepEqual(
      v.remediations.map((r: { category: string; product_ids: string[] }) => [
        r.category,
        r.product_ids,
      ]),
      [
        ["vendor_fix", ["CSAFPID-0002"]],
        ["none_available", ["CSAFPID-0001"]],
      ],
    );
    assert.deepEqual(v.scores[0].products, [
      "CSAFPID-0001",
      "CSAFPID-0002",
      "CSAFPID-0003",
    ]);
    assert.deepEqual(
      csaf.document.references.map((r: { url: string }) => r.url),
      [
        `${ctx.config.baseUrl}/advisories/${report.publicId}`,
        "https://fixed.example/notes",
      ],
    );

    const cve = (await getJson(`/advisories/${report.publicId}/cve.json`)).body;
    assert.ok(validateCve(cve), JSON.stringify(validateCve.errors, null, 2));
    assert.deepEqual(
      cve.containers.cna.affected.map(
        (a: { vendor: string; versions: { status: string }[] }) => [
          a.vendor,
          a.versions[0]!.status,
        ],
      ),
      [
        ["Vendor Affected", "affected"],
        ["Vendor Fixed", "affected"],
        ["Vendor Disputing", "unknown"],
      ],
    );
    assert.deepEqual(
      cve.containers.cna.solutions.map((s: { value: string }) => s.value),
      [
        "Vendor Fixed reported the fix deployed; no action is needed from users of the affected service.",
      ],
    );
  });

  it("maps every participation status to CSAF and CVE, and stays valid with an organization not affected", async () => {
    const advisory = await findPublishedAdvisory(ctx.db, full);
    assert.ok(advisory);
    const statuses = [
      "not_answered",
      "investigating",
      "affected",
      "not_affected",
      "fixed",
      "disputed",
    ] as const;
    const ctxWith = {
      baseUrl: ctx.config.baseUrl,
      publisherName: PUBLISHER_NAME,
      reached: new Map<string, Date>(),
      participants: statuses.map((status, i) => ({
        organizationId: i + 1,
        name: `Org ${status}`,
        status,
        statusLabel: status,
        fixedAt: null,
        statement: null,
        references: [],
      })),
    };
    const doc = buildCsafDocument(advisory, ctxWith);
    await assertValidCsaf(doc, "every status");
    assert.deepEqual(doc.vulnerabilities[0]!.product_status, {
      under_investigation: ["CSAFPID-0001", "CSAFPID-0002", "CSAFPID-0006"],
      known_affected: ["CSAFPID-0003"],
      known_not_affected: ["CSAFPID-0004"],
      fixed: ["CSAFPID-0005"],
    });
    const record = buildCveRecord(advisory, ctxWith);
    assert.ok(record);
    assert.ok(validateCve(record), JSON.stringify(validateCve.errors, null, 2));
    assert.deepEqual(
      record.containers.cna.affected.map((a) => a.versions[0]!.status),
      ["unknown", "unknown", "affected", "unaffected", "affected", "unknown"],
    );
  });

  it("carries credits of every type, spelled as CVE JSON spells them", async () => {
    const advisory = await findPublishedAdvisory(ctx.db, full);
    assert.ok(advisory);
    const credits = CREDIT_TYPES.map((type, i) => ({
      name: `Person ${i}`,
      type,
    }));
    const record = buildCveRecord(
      { ...advisory, credits: [...credits, credits[0]!] },
      {
        baseUrl: ctx.config.baseUrl,
        publisherName: PUBLISHER_NAME,
        reached: new Map(),
      },
    );
    assert.ok(record);
    assert.ok(validateCve(record), JSON.stringify(validateCve.errors, null, 2));
    assert.deepEqual(
      record.containers.cna.credits,
      credits.map((c) => ({
        lang: "en",
        value: c.name,
        type: c.type.replaceAll("_", " "),
      })),
      "one entry per credit, duplicates dropped",
    );
    assert.ok(
      record.containers.cna.credits!.some(
        (c) => c.type === "remediation developer",
      ),
    );
  });

  it("acknowledges credits of every type in CSAF, grouped by role", async () => {
    const advisory = await findPublishedAdvisory(ctx.db, full);
    assert.ok(advisory);
    const credits = [
      { name: "Rhea", type: "finder" as const },
      { name: "Sam", type: "reporter" as const },
      { name: "Ana", type: "finder" as const },
      { name: "Scan-o-matic", type: "tool" as const },
      { name: "Ops team", type: "remediation_developer" as const },
    ];
    const doc = buildCsafDocument(
      { ...advisory, credits },
      {
        baseUrl: ctx.config.baseUrl,
        publisherName: PUBLISHER_NAME,
        reached: new Map(),
      },
    );
    await assertValidCsaf(doc, "several credits");
    assert.deepEqual(doc.vulnerabilities[0]!.acknowledgments, [
      { names: ["Rhea", "Ana"], summary: "Finder" },
      { names: ["Sam"], summary: "Reporter" },
      { names: ["Scan-o-matic"], summary: "Tool" },
      { names: ["Ops team"], summary: "Remediation developer" },
    ]);
  });

  it("has no CVE record without a CVE ID, and the page says so", async () => {
    assert.equal(
      (await anon().get(`/advisories/${bare}/cve.json`)).status,
      404,
    );
    const page = await anon().get(`/advisories/${bare}`);
    assert.match(
      page.text,
      /CVE JSON 5 record: available once a CVE ID is assigned/,
    );
    assert.match(page.text, new RegExp(`href="/advisories/${bare}/csaf.json"`));
    assert.doesNotMatch(page.text, /cve\.json/);

    const withCve = await anon().get(`/advisories/${full}`);
    assert.match(
      withCve.text,
      new RegExp(`href="/advisories/${full}/csaf.json"`),
    );
    assert.match(
      withCve.text,
      new RegExp(`href="/advisories/${full}/cve.json"`),
    );
    assert.doesNotMatch(withCve.text, /available once a CVE ID is assigned/);
  });

  it("answers 404 for a report not disclosed, whoever asks", async () => {
    const researcher = await createUser(ctx, "researcher");
    const org = await createOrg(ctx);
    const contact = await createUser(ctx, "org_contact", { orgIds: [org.id] });
    const drafted = await insertPublishableReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      cvssVector: VECTOR,
      description: MARKER,
    });
    // A saved summary and CVE ID, but never published.
    await triager.refreshCsrf(`/reports/${drafted.publicId}`);
    const save = await triager.post(`/reports/${drafted.publicId}/advisory`, {
      title: "A title written but not yet published",
      summary: "A summary written but not yet published.",
      cveId: "CVE-2026-30003",
    });
    assert.equal(save.status, 303);
    await triager.agent.get(`/reports/${drafted.publicId}`); // shows the flash
    const closed = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      state: "closed",
    });

    const viewers = [
      { who: "anonymous", agent: anon() },
      { who: "owner", agent: (await signedIn(ctx, researcher)).agent },
      {
        who: "other researcher",
        agent: (await signedIn(ctx, await createUser(ctx, "researcher"))).agent,
      },
      { who: "org contact", agent: (await signedIn(ctx, contact)).agent },
      { who: "triager", agent: triager.agent },
      {
        who: "admin",
        agent: (await signedIn(ctx, await createUser(ctx, "admin"))).agent,
      },
    ];
    for (const { who, agent } of viewers) {
      const missing = await agent.get("/advisories/DD-0000-0000/csaf.json");
      assert.equal(missing.status, 404);
      for (const id of [drafted.publicId, closed.publicId])
        for (const file of ["csaf.json", "cve.json"]) {
          const res = await agent.get(`/advisories/${id}/${file}`);
          assert.equal(res.status, 404, `${who} ${file}`);
          assert.equal(
            res.text.replace(/name="_csrf" value="[^"]*"/g, ""),
            missing.text.replace(/name="_csrf" value="[^"]*"/g, ""),
            `${who}: same page as a missing ID`,
          );
          assert.equal(res.headers["content-disposition"], undefined);
          assert.doesNotMatch(res.text, new RegExp(MARKER));
        }
    }
  });

  it("answers 404 for bogus IDs and path tricks", async () => {
    for (const url of [
      "/advisories/DD-0000-0000/csaf.json",
      "/advisories/nope/csaf.json",
      `/advisories/${full}x/csaf.json`,
      `/advisories/..%2F${full}/csaf.json`,
      `/advisories/${full}%2F..%2F..%2Fetc%2Fpasswd/cve.json`,
      `/advisories/${full}%00/csaf.json`,
      `/advisories/%20${full}%2F/csaf.json`,
      `/advisories/${full}/csaf.json/..%2Fcve.json`,
      `/advisories/${full}/CSAF.JSON.bak`,
      "/advisories/csaf.json",
    ]) {
      const res = await anon().get(url);
      assert.equal(res.status, 404, url);
      assert.equal(res.headers["content-disposition"], undefined, url);
    }
  });

  it("would catch a broken export (the validators are not vacuous)", async () => {
    const csaf = (await getJson(`/advisories/${full}/csaf.json`)).body;
    delete csaf.vulnerabilities[0].product_status;
    csaf.vulnerabilities[0].cwe.name = "IDOR";
    const errors = await csafErrors(csaf);
    assert.ok(errors.some((e) => e.startsWith("mandatoryTest_6_1_11 ")));
    assert.ok(errors.some((e) => e.startsWith("mandatoryTest_6_1_27_6 ")));

    const cve = (await getJson(`/advisories/${full}/cve.json`)).body;
    cve.cveMetadata.cveId = "CVE-26-1";
    cve.containers.cna.affected = [];
    assert.equal(validateCve(cve), false);
    const paths = validateCve.errors!.map((e) => e.instancePath);
    assert.ok(paths.includes("/cveMetadata/cveId"), paths.join(" "));
    assert.ok(paths.includes("/containers/cna/affected"), paths.join(" "));
  });

  it("names every weakness with the CWE catalog's own name", () => {
    const catalog = new Map(cweCatalog.map((w) => [w.id, w.name]));
    for (const w of WEAKNESSES)
      assert.equal(CWE_CATALOG_NAMES[w.id], catalog.get(w.id), w.id);
  });
});

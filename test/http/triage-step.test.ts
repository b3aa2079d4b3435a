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
import type { State } from "../../src/reports/workflow.js";

const VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N";

/**
 * The triager's action area over HTTP: "Mark as triaged" takes the triage
 * fields with it or refuses them, keeping what was typed and changing nothing.
 */
describe("the triage step: no silent loss", () => {
  let ctx: TestContext;
  let triager: Browser;
  let researcherId: number;
  let orgId: number;
  let orgPublicId: string;

  before(async () => {
    ctx = await createTestContext();
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    researcherId = (await createUser(ctx, "researcher")).user.id;
    const org = await createOrg(ctx, "Harbour Hospital");
    orgId = org.id;
    orgPublicId = org.publicId;
  });
  after(() => ctx.close());

  const newReport = async (
    state: State,
    fields: { organizationId?: number | null; suggested?: string } = {},
  ) => {
    const r = await insertReport(ctx, {
      reporterId: researcherId,
      state,
      organizationId:
        fields.organizationId === undefined ? orgId : fields.organizationId,
    });
    if (fields.suggested)
      await ctx.db
        .updateTable("reports")
        .set({ suggested_org_name: fields.suggested })
        .where("id", "=", r.id)
        .execute();
    return r.publicId;
  };
  const row = (publicId: string) =>
    ctx.db
      .selectFrom("reports")
      .select(["state", "cvss_vector", "severity", "organization_id", "cwe"])
      .where("public_id", "=", publicId)
      .executeTakeFirstOrThrow();
  const eventCount = async (publicId: string) =>
    Number(
      (
        await ctx.db
          .selectFrom("report_events")
          .innerJoin("reports", "reports.id", "report_events.report_id")
          .select((eb) => eb.fn.countAll().as("n"))
          .where("reports.public_id", "=", publicId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  const orgNamed = (name: string) =>
    ctx.db
      .selectFrom("organizations")
      .select(["id", "public_id"])
      .where("name", "=", name)
      .executeTakeFirst();
  const triage = (publicId: string, fields: Record<string, string>) =>
    triager.post(`/reports/${publicId}/transition`, {
      name: "triage",
      ...fields,
    });

  /** A refusal: 422, the message next to the field, what was typed kept, nothing changed. */
  async function refused(
    publicId: string,
    fields: Record<string, string>,
    error: RegExp,
  ) {
    const before = await row(publicId);
    const events = await eventCount(publicId);
    const res = await triage(publicId, fields);
    assert.equal(res.status, 422, res.text.slice(0, 300));
    assert.match(shown(res.text), error);
    if (fields.message)
      assert.ok(shown(res.text).includes(fields.message), "message kept");
    if (fields.cvss)
      assert.ok(res.text.includes(`value="${fields.cvss}"`), "vector kept");
    assert.deepEqual(await row(publicId), before, "the report is unchanged");
    assert.equal(await eventCount(publicId), events, "no event written");
    return res.text;
  }

  it("refuses 'Mark as triaged' without a severity, naming it, like the organization", async () => {
    const id = await newReport("acknowledged");
    const page = await refused(
      id,
      { message: "Confirmed on the test portal." },
      /Set the severity \(a complete CVSS vector\) before this step/,
    );
    assert.match(page, /<details class="step"[^>]* open>/, "the step is open");
    const noOrg = await newReport("acknowledged", { organizationId: null });
    await refused(
      noOrg,
      { message: "x", cvss: VECTOR, organization: "" },
      /Set the affected organization before this step/,
    );
  });

  it("refuses a CVSS vector typed in part, naming the missing metrics (3.1 and 4.0)", async () => {
    const id = await newReport("acknowledged");
    await refused(
      id,
      {
        message: "Valid.",
        cwe: "CWE-639",
        cvss: "CVSS:3.1/AV:N/AC:L",
        organization: orgPublicId,
      },
      /incomplete, missing: PR, UI, S, C, I, A\./,
    );
    await refused(
      id,
      {
        cvss: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H",
        organization: orgPublicId,
      },
      /CVSS 4\.0 vector is incomplete, missing: VI, VA, SC, SI, SA\./,
    );
  });

  it("refuses metrics chosen in part in the calculator, on the step and on the details form", async () => {
    const id = await newReport("acknowledged");
    await refused(
      id,
      { message: "Valid.", cvss: "", cvssPicked: "CVSS:3.1/AV:N/PR:L" },
      /missing: AC, UI, S, C, I, A\./,
    );
    const triaged = await newReport("triaged");
    const before = await row(triaged);
    const res = await triager.post(`/reports/${triaged}/triage`, {
      cwe: "CWE-639",
      cvss: "",
      cvssPicked: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N",
      organization: orgPublicId,
    });
    assert.equal(res.status, 422);
    assert.match(shown(res.text), /missing: A\./);
    assert.deepEqual(await row(triaged), before);
  });

  it("takes the vector typed on the step, with the step, in one go", async () => {
    const id = await newReport("acknowledged");
    const events = await eventCount(id);
    const res = await triage(id, {
      message: "Valid.",
      cwe: "CWE-639",
      cvss: VECTOR,
      organization: orgPublicId,
    });
    assert.equal(res.status, 303, res.text.slice(0, 300));
    const after = await row(id);
    assert.equal(after.state, "triaged");
    assert.equal(after.cvss_vector, VECTOR);
    assert.equal(after.severity, "high");
    assert.equal(
      await eventCount(id),
      events + 2,
      "the field change and the step",
    );
  });

  it("creates the organization the researcher suggested and sets it, staying on the report", async () => {
    const id = await newReport("submitted", {
      organizationId: null,
      suggested: "Lighthouse Clinic",
    });
    const page = await triager.agent.get(`/reports/${id}`);
    assert.match(
      shown(page.text),
      /Create “Lighthouse Clinic” \(suggested by the researcher\) and set it/,
    );
    // Refused for the missing severity: the organization is not created either.
    await refused(
      id,
      { message: "Valid.", cvss: "", createSuggested: "yes" },
      /Set the severity/,
    );
    assert.equal(await orgNamed("Lighthouse Clinic"), undefined);
    await refused(
      id,
      { cvss: VECTOR, organization: orgPublicId, createSuggested: "yes" },
      /not both/,
    );

    const res = await triage(id, {
      message: "Valid.",
      cwe: "CWE-639",
      cvss: VECTOR,
      organization: "",
      createSuggested: "yes",
    });
    assert.equal(res.status, 303, res.text.slice(0, 300));
    assert.equal(res.headers.location, `/reports/${id}`);
    const created = await orgNamed("Lighthouse Clinic");
    assert.ok(created, "the organization exists");
    const after = await row(id);
    assert.equal(after.organization_id, created.id);
    assert.equal(after.state, "triaged");
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "=", "org.created")
      .where("target_id", "=", created.public_id)
      .execute();
    assert.equal(audit.length, 1, "the creation is audited");
  });

  it("publishes only with the confirmation box ticked", async () => {
    const id = await newReport("fix_verified");
    const before = await row(id);
    const res = await triager.post(`/reports/${id}/transition`, {
      name: "publish",
      message: "Out now.",
    });
    assert.equal(res.status, 422);
    assert.match(shown(res.text), /Tick the box to confirm/);
    assert.ok(shown(res.text).includes("Out now."));
    assert.deepEqual(await row(id), before);
  });

  it("shows no form that makes no sense yet: no advisory before triage, no deadline before the notice", async () => {
    const submitted = await newReport("submitted");
    let page = shown((await triager.agent.get(`/reports/${submitted}`)).text);
    assert.doesNotMatch(page, /Advisory title/);
    assert.doesNotMatch(page, /Move the deadline/);
    assert.doesNotMatch(
      page,
      /Save triage details/,
      "the fields are on the step",
    );
    assert.match(page, /Mark as triaged/);
    const triaged = await newReport("triaged");
    page = shown((await triager.agent.get(`/reports/${triaged}`)).text);
    assert.match(page, /Advisory title/);
    assert.match(page, /Save triage details/);
    assert.doesNotMatch(page, /Move the deadline/);
    const notified = await newReport("vendor_notified");
    page = shown((await triager.agent.get(`/reports/${notified}`)).text);
    assert.match(page, /Move the deadline/);
  });
});

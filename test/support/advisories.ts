import assert from "node:assert/strict";
import { insertReport, type ReportFixture } from "./fixtures.js";
import type { Browser, TestContext } from "./harness.js";

type Ctx = Pick<TestContext, "db" | "config" | "clock">;

/** The CERT's title for a fixture advisory (the report's own title is never published). */
export const ADVISORY_TITLE = "Appointments readable by changing an ID";

/** The researcher's own text in every fixture report (never published). */
export const RESEARCHER_DESCRIPTION =
  "An ID in the URL shows another patient's appointment.";

/**
 * A report ready for publication: inserted in a state "publish" leaves from,
 * with the CVSS vector and the researcher's credit choice set.
 */
export async function insertPublishableReport(
  ctx: Ctx,
  fixture: ReportFixture & {
    cvssVector?: string | null;
    creditKind?: "name" | "handle" | "anonymous";
    creditHandle?: string | null;
    description?: string;
  },
) {
  const {
    cvssVector = null,
    creditKind = "name",
    creditHandle = null,
    description,
    ...rest
  } = fixture;
  const report = await insertReport(ctx, {
    state: "fix_verified",
    ...rest,
  });
  await ctx.db
    .updateTable("reports")
    .set({
      cvss_vector: cvssVector,
      credit_kind: creditKind,
      credit_handle: creditHandle,
      ...(description !== undefined && { description }),
    })
    .where("id", "=", report.id)
    .execute();
  return report;
}

/**
 * Publishes through the real forms, as a triager does: saves the advisory
 * summary (and CVE ID), then takes the "publish" transition.
 */
export async function publishAdvisory(
  triager: Browser,
  publicId: string,
  advisory: { summary: string; cveId?: string; title?: string },
) {
  await triager.refreshCsrf(`/reports/${publicId}`);
  const save = await triager.post(`/reports/${publicId}/advisory`, {
    title: advisory.title ?? ADVISORY_TITLE,
    summary: advisory.summary,
    cveId: advisory.cveId ?? "",
  });
  assert.equal(save.status, 303, `saving the advisory: ${save.text}`);
  const publish = await triager.post(`/reports/${publicId}/transition`, {
    name: "publish",
    confirm: "yes",
  });
  assert.equal(publish.status, 303, `publishing: ${publish.text}`);
}

import path from "node:path";
import type { Browser } from "./harness.js";
import { projectRoot } from "../../src/paths.js";

export const SCREENSHOT = path.join(
  projectRoot,
  "test/fixtures/screenshot.png",
);

/** A complete, valid report form; override any field. */
export function reportFields(
  overrides: Record<string, string | string[]> = {},
) {
  return {
    title: "Any patient's appointment readable by changing the ID",
    organization: "new",
    newOrganization: "National Hospital Portal",
    asset: "https://appointments.example.test/booking?id=1234",
    cwe: "CWE-639",
    cvss: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
    description:
      "Changing the booking ID in the URL shows another patient's appointment.",
    steps: "1. Sign in\n2. Open a booking\n3. Change the id parameter",
    impact: "About two million patients' appointments are exposed.",
    dataExposed: ["personal", "health"],
    recordsAffected: "2000000",
    creditKind: "handle",
    creditHandle: "finder42",
    revealIdentity: "yes",
    ...overrides,
  };
}

/** Files a report through the real multipart form; returns the response. */
export function submitReport(
  browser: Browser,
  fields: Record<string, string | string[]>,
  files: { path: string; name?: string }[] = [],
) {
  let req = browser.agent.post("/reports/new").field("_csrf", browser.csrf);
  for (const [key, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value])
      req = req.field(key, v);
  }
  for (const file of files)
    req = req.attach(
      "attachments",
      file.path,
      file.name ? { filename: file.name } : undefined,
    );
  return req;
}

/** The report ID in a "/reports/DD-XXXX-XXXX" redirect. */
export function reportIdFrom(location: string | undefined): string {
  const match = /\/reports\/(DD-[0-9A-Z]{4}-[0-9A-Z]{4})$/.exec(location ?? "");
  if (!match?.[1]) throw new Error(`not a report URL: ${location}`);
  return match[1];
}

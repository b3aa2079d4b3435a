import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { renderMail } from "../../src/mail/templates.js";
import { detailsSchema } from "../../src/reports/participations-service.js";
import {
  isValidTrackingId,
  TRACKING_ID_MAX,
} from "../../src/reports/tracking-id.js";

const data = (trackingId: unknown) => ({
  publicId: "DD-ABCD-EFGH",
  subjectText: "Organization notified",
  trackingId,
  happened: "It happened.",
  details: [],
  stateLabel: "Organization notified",
  next: null,
  link: "https://desk.example.test/reports/DD-ABCD-EFGH",
  displayName: "Contact",
  baseUrl: "https://desk.example.test",
});

describe("an organization's tracking ID in its mail subjects", () => {
  it("stands beside the report ID", () => {
    assert.equal(
      renderMail("report_event", data("ACME-123")).subject,
      "[DD-ABCD-EFGH] [ACME-123] Organization notified",
    );
    assert.equal(
      renderMail("report_event", data(null)).subject,
      "[DD-ABCD-EFGH] Organization notified",
    );
  });

  it("is left out of the subject unless printable, on one line, without brackets and at most 64 characters", () => {
    for (const bad of [
      "ACME-1\r\nBcc: victim@example.test",
      "ACME\n1",
      "ACME\t1",
      "] Urgent: wire money [",
      "x".repeat(TRACKING_ID_MAX + 1),
      " ACME-1",
      "ACME-1 ",
      "",
      "ACME\u202e1",
      "ÄCME-1",
      42,
    ]) {
      assert.equal(isValidTrackingId(bad), false, JSON.stringify(bad));
      assert.equal(
        renderMail("report_event", data(bad)).subject,
        "[DD-ABCD-EFGH] Organization notified",
        JSON.stringify(bad),
      );
    }
    for (const good of ["ACME-123", "INC 2026/0042", "x".repeat(64), "a"])
      assert.equal(isValidTrackingId(good), true, good);
  });

  it("the organization's form accepts exactly what a subject may carry", () => {
    const accepts = (trackingId: string) =>
      detailsSchema.safeParse({ trackingId, fixTarget: "" }).success;
    for (const good of ["ACME-123", "INC 2026/0042", "  PSIRT-7  ", ""])
      assert.equal(accepts(good), true, good);
    for (const bad of ["[ACME-1]", "ACME\r\nBcc: x", "x".repeat(65), "ÄCME"])
      assert.equal(accepts(bad), false, bad);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  formState,
  panelsInPlay,
  viewerLabel,
} from "../../src/reports/page.js";
import {
  availableTransitions,
  type State,
  type WorkflowReport,
} from "../../src/reports/workflow.js";

const at = new Date("2026-03-02T09:00:00Z");

describe("the report page's view model", () => {
  describe("who viewed the report, as its researcher sees it: role and organization, never a name", () => {
    const cases: [string, string | null, string][] = [
      ["admin", null, "CERT administrator"],
      ["triager", null, "CERT triager"],
      [
        "org_contact",
        "National Hospital Portal",
        "A contact at National Hospital Portal",
      ],
    ];
    for (const [role, organizationName, expected] of cases)
      it(`${role} of ${organizationName ?? "the CERT"}: "${expected}"`, () =>
        assert.equal(viewerLabel({ role, organizationName, at }), expected));
  });

  describe("one form's values and errors", () => {
    const sent = {
      form: "triage",
      errors: { cvss: "Not a CVSS vector." },
      values: { cvss: "bogus" },
    };
    const defaults = { cvss: "CVSS:3.1/AV:N" };
    const cases: [
      string,
      Parameters<typeof formState>,
      ReturnType<typeof formState>,
    ][] = [
      [
        "nothing sent: the defaults",
        [null, "triage", defaults],
        { values: defaults, errors: {} },
      ],
      ["no defaults: empty", [null, "comment"], { values: {}, errors: {} }],
      [
        "this form sent back: what was typed, with its errors",
        [sent, "triage", defaults],
        { values: sent.values, errors: sent.errors },
      ],
      [
        "another form sent back: the defaults, no errors",
        [sent, "advisory", defaults],
        { values: defaults, errors: {} },
      ],
    ];
    for (const [what, args, expected] of cases)
      it(what, () => assert.deepEqual(formState(...args), expected));
  });

  describe("panels shown only when they make sense (workflow and clock tables)", () => {
    const notified = new Date("2026-03-01T09:00:00Z");
    const report = (
      state: State,
      overrides: Partial<WorkflowReport> = {},
    ): WorkflowReport => {
      const told = ![
        "submitted",
        "acknowledged",
        "needs_info",
        "triaged",
      ].includes(state);
      return {
        state,
        stateBeforeInfo: null,
        organizationId: 1,
        severity: "high",
        resolution: state === "closed" ? "resolved" : null,
        vendorNotifiedAt: told ? notified : null,
        disclosureDueAt: told ? new Date("2026-06-01T09:00:00Z") : null,
        fixVerifiedAt: null,
        publicAwareAt: null,
        ...overrides,
      };
    };
    // state → [advisory, deadline, triage details form on its own], for staff.
    const cases: [State, Partial<WorkflowReport>, boolean, boolean, boolean][] =
      [
        ["submitted", {}, false, false, false],
        ["acknowledged", {}, false, false, false],
        ["needs_info", {}, false, false, true],
        ["triaged", {}, true, false, true],
        ["vendor_notified", {}, true, true, true],
        ["fix_in_progress", {}, true, true, true],
        ["fix_verified", {}, true, false, true],
        ["closed", { resolution: "invalid" }, false, false, true],
        ["closed", { resolution: "wont_fix" }, true, false, true],
        ["disclosed", {}, true, false, true],
      ];
    for (const [state, overrides, advisory, deadline, triageDetails] of cases)
      it(`${state}${overrides.resolution ? ` (${overrides.resolution})` : ""}: advisory ${advisory}, deadline ${deadline}, triage details ${triageDetails}`, () => {
        const r = report(state, overrides);
        const offered = availableTransitions(r, "staff", at).map((t) => t.name);
        assert.deepEqual(panelsInPlay(r, offered), {
          advisory,
          deadline,
          triageDetails,
        });
      });
  });
});

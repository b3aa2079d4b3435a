import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { formState, viewerLabel } from "../../src/reports/page.js";

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
});

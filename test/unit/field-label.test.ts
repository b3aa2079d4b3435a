import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { fieldLabel } from "../../src/app.js";

// The "try again" page (database unreachable) shows a form it cannot know
// the labels of: each field is named from its name, as a person reads it.
describe("fieldLabel", () => {
  it("reads camelCase, snake_case and list names as words", () => {
    assert.equal(fieldLabel("newOrganization"), "New organization");
    assert.equal(fieldLabel("cvss_vector"), "Cvss vector");
    assert.equal(fieldLabel("references[]"), "References");
    assert.equal(fieldLabel("title"), "Title");
  });
});

import assert from "node:assert/strict";
import ejs from "ejs";
import { describe, it } from "mocha";
import { escapeHtml } from "../../src/http/html.js";
import {
  keptOptions,
  optionTags,
  type SelectOption,
} from "../../src/http/option-tags.js";

/** What field.ejs rendered before optionTags, tag by tag. */
const TAG_BY_TAG = `<% for (const o of options) { %>
<option value="<%= o.value %>"<% if (String(locals.value ?? "") === String(o.value)) { %> selected<% } %>><%= o.label %></option>
<% } %>`;

const tags = (html: string) => html.replace(/>\s+</g, "><").trim();

const HOSTILE: SelectOption[] = [
  { value: "", label: "Any organization" },
  { value: "a1", label: "Acme & Sons <Ltd>" },
  { value: '"><script>alert(1)</script>', label: 'O\'Brien "quoted"' },
  { value: "a1", label: "Acme again (same value)" },
  { value: "42", label: "Numbered" },
  { value: "Łódź", label: "Miasto Łódź → 🔍" },
];

describe("select options (optionTags)", () => {
  it("renders exactly the tags field.ejs built one by one: escaping, selected, duplicates", () => {
    const frozen = Object.freeze(HOSTILE.map((o) => Object.freeze({ ...o })));
    for (const list of [HOSTILE, frozen]) {
      for (const value of [
        undefined,
        null,
        "",
        "a1",
        '"><script>alert(1)</script>',
        42,
        "missing",
      ]) {
        const expected = ejs.render(
          TAG_BY_TAG,
          { options: list, value },
          { escape: escapeHtml },
        );
        assert.equal(
          tags(optionTags(list, value)),
          tags(expected),
          `value ${String(value)}`,
        );
      }
    }
    const html = optionTags(frozen, "a1");
    assert.equal(html.match(/ selected/g)?.length, 2);
    assert.ok(!html.includes("<script>"));
    assert.match(
      optionTags(frozen, "Łódź"),
      /value="&#x141;ód&#x17a;" selected>Miasto &#x141;ód&#x17a; &#x2192; &#x1f50d;</,
    );
  });

  it("keeps a frozen list's tags, and rebuilds a list that may change", () => {
    const open: SelectOption[] = [{ value: "x", label: "Before" }];
    assert.match(optionTags(open, "x"), /Before/);
    (open[0] as { label: string }).label = "After";
    assert.match(optionTags(open, "x"), /After/);

    const frozen = Object.freeze([
      Object.freeze({ value: "x", label: "Once" }),
    ]);
    const first = optionTags(frozen, "");
    assert.equal(optionTags(frozen, ""), first);
    assert.match(optionTags(frozen, "x"), /value="x" selected>Once/);
    assert.equal(
      optionTags(frozen, ""),
      first,
      "selecting left the kept tags alone",
    );
  });
});

describe("options derived from a kept list (keptOptions)", () => {
  it("makes them once per frozen list and variant, frozen", () => {
    const orgs = Object.freeze([{ publicId: "p1", name: "Acme" }]);
    let made = 0;
    const make = (first: string) => () => {
      made++;
      return [
        { value: "", label: first },
        ...orgs.map((o) => ({ value: o.publicId, label: o.name })),
      ];
    };
    const filter = keptOptions(orgs, "filter", make("Any"));
    assert.equal(keptOptions(orgs, "filter", make("Any")), filter);
    assert.equal(made, 1);
    assert.ok(Object.isFrozen(filter) && Object.isFrozen(filter[1]));
    const form = keptOptions(orgs, "form", make("Choose…"));
    assert.notEqual(form, filter);
    assert.equal(form[0]!.label, "Choose…");
    assert.equal(made, 2);

    // A new list (the organizations changed) gets options of its own.
    const changed = Object.freeze([...orgs, { publicId: "p2", name: "Beta" }]);
    const after = keptOptions(changed, "filter", () => [
      ...changed.map((o) => ({ value: o.publicId, label: o.name })),
    ]);
    assert.deepEqual(
      after.map((o) => o.label),
      ["Acme", "Beta"],
    );
  });

  it("does not keep what it derives from a list that may change", () => {
    const orgs = [{ name: "Acme" }];
    const make = () => orgs.map((o) => ({ value: o.name, label: o.name }));
    const first = keptOptions(orgs, "filter", make);
    orgs.push({ name: "Beta" });
    assert.notEqual(keptOptions(orgs, "filter", make), first);
    assert.equal(keptOptions(orgs, "filter", make).length, 2);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { searchTarget } from "../../src/reports/search-query.js";
import { snippetOf } from "../../src/reports/search-snippet.js";

const words = (...w: string[]) => w.map((word) => ({ word, prefix: true }));
const marked = (s: ReturnType<typeof snippetOf>) =>
  s?.segments.map((p) => (p.match ? `[${p.text}]` : p.text)).join("");

describe("search excerpts", () => {
  it("marks the matching words of the first field that has one, as the index compares them", () => {
    const s = snippetOf(words("hopital", "GEN"), [
      { label: "Title", text: "Nothing here" },
      { label: "Description", text: "The Hôpital Général portal\nleaks." },
    ]);
    assert.equal(s?.label, "Description");
    assert.equal(marked(s), "The [Hôpital] [Général] portal leaks.");
  });

  it("cuts a long field around the first match, saying so", () => {
    const long = `${"lorem ipsum ".repeat(30)}needle ${"dolor sit ".repeat(40)}`;
    const text = marked(
      snippetOf(words("needle"), [{ label: "X", text: long }]),
    )!;
    assert.ok(text.startsWith("…") && text.endsWith("…"), text);
    assert.ok(text.includes("[needle]"));
    assert.ok(text.length < 260, String(text.length));
  });

  it("matches whole words where asked (a CWE's number), and nothing when nothing matches", () => {
    const cwe = searchTarget("CWE-639");
    assert.equal(cwe.kind, "cwe");
    const terms = cwe.kind === "cwe" ? cwe.terms : [];
    assert.equal(
      marked(snippetOf(terms, [{ label: "W", text: "CWE-6390 and CWE-639" }])),
      "[CWE]-6390 and [CWE]-[639]",
    );
    assert.equal(
      snippetOf(words("zebra"), [{ label: "W", text: "none" }]),
      null,
    );
    assert.equal(snippetOf([], [{ label: "W", text: "none" }]), null);
  });

  it("finds a word only at a word's start, in plain ASCII as in accented text, and the first match of any term", () => {
    const fields = (text: string) => [{ label: "D", text }];
    // "reset" inside "preset" and "Passwords" past the term are no whole word.
    const whole = [
      { word: "reset", prefix: false },
      { word: "password", prefix: false },
    ];
    assert.equal(
      marked(
        snippetOf(whole, fields("A preset Passwords RESET, then password.")),
      ),
      "A preset Passwords [RESET], then [password].",
    );
    assert.equal(
      marked(snippetOf(words("pass"), fields("bypass PASSWORDS"))),
      "bypass [PASSWORDS]",
    );
    // The same in a text with an accent, read word by word.
    assert.equal(
      marked(snippetOf(whole, fields("Café: preset Passwords reset"))),
      "Café: preset Passwords [reset]",
    );
    // A term of other characters than letters and digits matches no word.
    assert.equal(snippetOf(words("c++"), fields("c++ code")), null);
  });

  it("reads the search box: an ID, a CWE, a CVE ID or words", () => {
    assert.deepEqual(searchTarget(" dd-7k2q-9m4d "), {
      kind: "report",
      publicId: "DD-7K2Q-9M4D",
    });
    assert.deepEqual(searchTarget("cve-2026-12345"), {
      kind: "cve",
      cveId: "CVE-2026-12345",
    });
    assert.equal(searchTarget("cwe:0639").kind, "cwe");
    assert.equal(searchTarget('"NEAR(').kind, "words");
    assert.equal(searchTarget('" * (').kind, "nothing");
  });
});

import assert from "node:assert/strict";
import v8 from "node:v8";
import { describe, it } from "mocha";
import { escapeHtml, latin1Html } from "../../src/http/html.js";

/** How V8 stores a string: '"' one byte a character, "c" two. */
const storage = (s: string) => String.fromCharCode(v8.serialize(s)[2]!);

/** What a browser shows for numeric references. */
const decoded = (html: string) =>
  html.replace(/&#x([0-9a-f]+);/g, (_, hex: string) =>
    String.fromCodePoint(parseInt(hex, 16)),
  );

describe("HTML kept to Latin-1 (latin1Html, escapeHtml)", () => {
  it("writes each character past Latin-1 as one reference, and leaves the rest alone", () => {
    const html = '<p title="Łódź">Zürich … “quoted” → 🔍 漢字</p>';
    const out = latin1Html(html);
    assert.doesNotMatch(out, /[^\u0000-\u00ff]/u);
    assert.equal(decoded(out), html);
    // An emoji is one code point, so one reference, not two halves.
    assert.ok(out.includes("&#x1f50d;"), out);
    assert.ok(out.includes("Zürich"), "Latin-1 stays as it is");
    // Stored one byte a character, as joining it into a page needs.
    assert.equal(storage(html), "c");
    assert.equal(storage(out), '"');
    assert.equal(storage(escapeHtml("Choose…")), '"');
    const ascii = "<p>plain &amp; simple</p>";
    assert.equal(latin1Html(ascii), ascii);
  });

  it("escapes like EJS first, so markup typed in is shown, never run", () => {
    assert.equal(
      escapeHtml(`<script>alert("Łukasz's")</script>`),
      "&lt;script&gt;alert(&#34;&#x141;ukasz&#39;s&#34;)&lt;/script&gt;",
    );
    assert.equal(escapeHtml(undefined), "");
    assert.equal(escapeHtml(42), "42");
  });
});

import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { keptMarkdownChars, renderMarkdown } from "../../src/markdown.js";
import { scoreCvss } from "../../src/reports/cvss.js";
import { isKnownCwe, WEAKNESSES } from "../../src/reports/cwe.js";

describe("markdown", () => {
  it("shows raw HTML as text", () => {
    const html = renderMarkdown(
      '<script>alert(1)</script><img src=x onerror="alert(2)">',
    );
    assert.doesNotMatch(html, /<script|<img/);
    assert.match(html, /&lt;script&gt;/);
  });

  it("refuses javascript:, data: and vbscript: links", () => {
    for (const url of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "data:text/html,<b>x</b>",
      "vbscript:x",
    ]) {
      const html = renderMarkdown(`[click](${url})`);
      assert.doesNotMatch(html, /<a /, url);
    }
  });

  it("makes links safe and does not load images", () => {
    const html = renderMarkdown(
      "[docs](https://example.org) ![pixel](https://tracker.example/p.gif)",
    );
    assert.match(
      html,
      /<a href="https:\/\/example.org" rel="noopener noreferrer nofollow">docs<\/a>/,
    );
    assert.doesNotMatch(html, /<img/);
    assert.match(html, /\[image: pixel\]/);
  });

  it("gives the same HTML from its kept renderings, within a bounded size", () => {
    const hostile =
      "# Steps\n<script>alert(1)</script> [x](javascript:alert(1)) https://example.org\n";
    const first = renderMarkdown(hostile);
    assert.equal(renderMarkdown(hostile), first);
    assert.doesNotMatch(first, /<script|href="javascript/);
    // Texts that differ by one character are kept apart.
    assert.notEqual(renderMarkdown(hostile + "*b*"), first);
    // Far more text than is kept: the oldest renderings go, the bound holds.
    const block = "word ".repeat(10_000);
    for (let i = 0; i < 200; i++) renderMarkdown(`${i} ${block}`);
    assert.ok(keptMarkdownChars() <= 2_000_000, String(keptMarkdownChars()));
    assert.ok(keptMarkdownChars() > 1_500_000, String(keptMarkdownChars()));
    assert.equal(renderMarkdown(hostile), first);
  });
});

describe("CVSS", () => {
  it("scores 3.1 and 4.0 vectors server-side with their rating", () => {
    assert.deepEqual(
      scoreCvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
      {
        vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        version: "3.1",
        score: 9.8,
        severity: "critical",
      },
    );
    const v4 = scoreCvss(
      "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N",
    );
    assert.equal(v4?.score, 9.3);
    assert.equal(v4?.severity, "critical");
    assert.equal(
      scoreCvss("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N")?.severity,
      "medium",
    );
  });

  it("refuses partial, malformed and hostile vectors", () => {
    for (const bad of [
      "",
      "CVSS:3.1/AV:X",
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
      "CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P",
      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H<script>",
      "x".repeat(400),
    ]) {
      assert.equal(scoreCvss(bad), null, bad.slice(0, 40));
    }
  });
});

describe("CWE list", () => {
  it("ships the Top 25, CWE-639 and other", () => {
    assert.ok(WEAKNESSES.length >= 25);
    for (const id of ["CWE-79", "CWE-89", "CWE-639", "CWE-862", "other"])
      assert.ok(isKnownCwe(id), id);
    assert.equal(isKnownCwe("CWE-99999"), false);
  });
});

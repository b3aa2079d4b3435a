import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "mocha";
import { viewsDir } from "../../src/paths.js";

describe("views", () => {
  it("name every include from the views folder, and each one exists", () => {
    // A relative include makes EJS check the file system on every render
    // (src/app.ts sets the root these paths start from).
    const files = readdirSync(viewsDir, {
      recursive: true,
      encoding: "utf8",
    }).filter((f) => f.endsWith(".ejs"));
    let includes = 0;
    for (const file of files) {
      const text = readFileSync(path.join(viewsDir, file), "utf8");
      for (const [, name] of text.matchAll(/include\(\s*["'`]([^"'`]+)/g)) {
        includes++;
        assert.match(name!, /^\//, `${file}: include("${name}")`);
        readFileSync(path.join(viewsDir, `${name}.ejs`));
      }
    }
    assert.ok(includes > 100, String(includes));
  });

  it("write their text in Latin-1, so pages stay one-byte strings (src/http/html.ts)", () => {
    const pages = readdirSync(viewsDir, { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ejs"))
      // Mail is not a page, and its text parts must not hold references.
      .filter((f) => !f.startsWith("mail"));
    assert.ok(pages.length > 30, String(pages.length));
    for (const file of pages) {
      // What is inside <% %> is code: what it prints is escaped to Latin-1.
      const text = readFileSync(path.join(viewsDir, file), "utf8").replace(
        /<%[\s\S]*?%>/g,
        "",
      );
      const beyond = text.match(/[^\u0000-\u00ff]/gu);
      assert.equal(beyond, null, `${file}: ${beyond?.join(" ")}`);
    }
  });
});

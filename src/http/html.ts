import ejs from "ejs";

const BEYOND_LATIN1 = /[^\u0000-\u00ff]/u;
const EACH_BEYOND_LATIN1 = /[^\u0000-\u00ff]/gu;

/**
 * HTML with every character past Latin-1 written as a numeric reference
 * (a browser shows the same text).
 *
 * Why: one such character anywhere in a page ("…", "→", a name in Polish),
 * or one string V8 stores two bytes a character, made V8 build the whole
 * page as a two-byte string, and joining the thousands of one-byte pieces
 * EJS appends into that cost about 0.6 ms more a page (a fifth of a report
 * page; bench/README.md, "App changes").
 * Templates keep their text in Latin-1 (test/unit/views.test.ts); what
 * they print goes through escapeHtml, and HTML made elsewhere (Markdown)
 * through this.
 */
export function latin1Html(html: string): string {
  if (!BEYOND_LATIN1.test(html)) return html;
  const referenced = html.replace(
    EACH_BEYOND_LATIN1,
    (c) => `&#x${c.codePointAt(0)!.toString(16)};`,
  );
  // What replace returns is still stored two bytes a character, as its
  // input was; a copy through Latin-1 is stored one byte a character.
  return Buffer.from(referenced, "latin1").toString("latin1");
}

/** EJS's escaping for `<%= %>`, then latin1Html. */
export function escapeHtml(value: unknown): string {
  return latin1Html(ejs.escapeXML(value));
}

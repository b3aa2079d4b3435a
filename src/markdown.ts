import MarkdownIt from "markdown-it";
import { latin1Html } from "./http/html.js";

/**
 * The one place HTML is built from user text. Raw HTML is off, so a script in
 * a report is shown as text; links are limited to http(s) and mailto and open
 * with rel="noopener noreferrer nofollow"; images are not loaded (a remote
 * image in a report would be a tracking pixel on the triager's browser), they
 * become plain links instead.
 */
const md = new MarkdownIt({
  html: false,
  linkify: true,
  typographer: false,
  breaks: false,
});

const SAFE_LINK = /^(https?:|mailto:)/i;
md.validateLink = (url) => SAFE_LINK.test(url.trim());

md.renderer.rules.link_open = (tokens, idx, options, _env, self) => {
  const token = tokens[idx]!;
  token.attrSet("rel", "noopener noreferrer nofollow");
  return self.renderToken(tokens, idx, options);
};

md.renderer.rules.image = (tokens, idx) => {
  const token = tokens[idx]!;
  const src = token.attrGet("src") ?? "";
  const alt = md.utils.escapeHtml(token.content || "image");
  if (!SAFE_LINK.test(src)) return `[image: ${alt}]`;
  return `<a href="${md.utils.escapeHtml(src)}" rel="noopener noreferrer nofollow">[image: ${alt}]</a>`;
};

// Long code scrolls sideways inside its own box (CSS); a box that scrolls
// must be reachable by keyboard to be scrolled (axe: scrollable-region-focusable).
for (const rule of ["fence", "code_block"] as const) {
  const render = md.renderer.rules[rule]!;
  md.renderer.rules[rule] = (tokens, idx, options, env, self) =>
    render(tokens, idx, options, env, self).replace(
      /^<pre/,
      '<pre tabindex="0"',
    );
}

/**
 * Rendered HTML kept by source text, least recently used first out, up to
 * about this many characters of source and HTML together (a few hundred
 * reports; every one filed lands here through its receipt page). Rendering is a
 * pure function of the text (no per-viewer state), so a kept result is
 * exactly what rendering again would give; a report page renders three
 * fields and every comment on each view.
 */
const RENDERED_CHARS_KEPT = 2_000_000;
/** Longer texts are rendered every time rather than crowding out the rest. */
const LONGEST_KEPT = 64_000;
const rendered = new Map<string, string>();
let renderedChars = 0;

export function renderMarkdown(text: string): string {
  const kept = rendered.get(text);
  if (kept !== undefined) {
    // Most recently used goes last: Map keeps insertion order.
    rendered.delete(text);
    rendered.set(text, kept);
    return kept;
  }
  const html = latin1Html(md.render(text));
  if (text.length <= LONGEST_KEPT) {
    rendered.set(text, html);
    renderedChars += text.length + html.length;
    for (const [oldText, oldHtml] of rendered) {
      if (renderedChars <= RENDERED_CHARS_KEPT) break;
      rendered.delete(oldText);
      renderedChars -= oldText.length + oldHtml.length;
    }
  }
  return html;
}

/** Characters held by the kept renderings (for the test of the bound). */
export function keptMarkdownChars(): number {
  return renderedChars;
}

import MarkdownIt from "markdown-it";

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

export function renderMarkdown(text: string): string {
  return md.render(text);
}

import MarkdownIt from "markdown-it";

type Token = ReturnType<MarkdownIt["parse"]>[number];

// Only parsed, never rendered: raw HTML stays literal text, as on the page.
const md = new MarkdownIt({ html: false, linkify: false });

function inlineText(children: Token[] | null): string {
  let out = "";
  let href: string | null = null;
  let linkText = "";
  for (const t of children ?? []) {
    if (t.type === "link_open") {
      href = t.attrGet("href");
      linkText = "";
      continue;
    }
    if (t.type === "link_close") {
      // Keep the address: a plain-text reader cannot follow hidden links.
      out +=
        href && href !== linkText && `mailto:${linkText}` !== href
          ? `${linkText} (${href})`
          : linkText;
      href = null;
      continue;
    }
    let piece = "";
    if (t.type === "text" || t.type === "code_inline") piece = t.content;
    else if (t.type === "softbreak") piece = " ";
    else if (t.type === "hardbreak") piece = "\n";
    else if (t.type === "image") piece = `[image: ${t.content || "image"}]`;
    if (href !== null) linkText += piece;
    else out += piece;
  }
  return out;
}

/**
 * The triager's Markdown as plain text, for formats whose text fields are
 * plain (CSAF notes, CVE descriptions): paragraphs separated by a blank line,
 * list items as "- ", code kept verbatim, link targets written out.
 */
export function markdownToPlainText(markdown: string): string {
  const blocks: { text: string; item: boolean }[] = [];
  const listStack: { ordered: boolean; n: number }[] = [];
  let pendingPrefix = "";
  for (const t of md.parse(markdown, {})) {
    switch (t.type) {
      case "bullet_list_open":
        listStack.push({ ordered: false, n: 0 });
        break;
      case "ordered_list_open":
        listStack.push({ ordered: true, n: Number(t.attrGet("start") ?? 1) });
        break;
      case "bullet_list_close":
      case "ordered_list_close":
        listStack.pop();
        break;
      case "list_item_open": {
        const list = listStack.at(-1);
        const indent = "  ".repeat(Math.max(0, listStack.length - 1));
        pendingPrefix = indent + (list?.ordered ? `${list.n++}. ` : "- ");
        break;
      }
      case "inline": {
        const text = inlineText(t.children).trim();
        if (text)
          blocks.push({
            text: pendingPrefix + text,
            item: listStack.length > 0,
          });
        pendingPrefix = "";
        break;
      }
      case "fence":
      case "code_block":
        blocks.push({ text: t.content.replace(/\n$/, ""), item: false });
        break;
      case "hr":
        blocks.push({ text: "---", item: false });
        break;
    }
  }
  // List items stay on consecutive lines; other blocks get a blank line.
  return blocks
    .map((b, i) =>
      i === 0
        ? b.text
        : (b.item && blocks[i - 1]!.item ? "\n" : "\n\n") + b.text,
    )
    .join("")
    .trim();
}

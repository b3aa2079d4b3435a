import EmailReplyParser from "email-reply-parser";

/**
 * The new text of a reply: quoted text (`>` lines, everything from an
 * "On … wrote:" or "Original Message" header on) and the signature dropped.
 * One linear pass over the lines first, so ten thousand quoted lines cost
 * nothing; then email-reply-parser, on what is left (at most a comment's
 * length), for the signatures and locales it knows.
 */

const MAX_KEPT_CHARS = 40_000;

const QUOTE_HEADER = [
  /^On\b.{0,300}\bwrote:\s*$/i,
  /^Le\b.{0,300}\ba écrit\s*:\s*$/i,
  /^Am\b.{0,300}\bschrieb.{0,100}:\s*$/i,
  /^El\b.{0,300}\bescribió:\s*$/i,
  /^-{2,}\s*Original Message\s*-{2,}\s*$/i,
  /^-{2,}\s*Forwarded message\s*-{2,}\s*$/i,
  /^_{20,}\s*$/,
];
/** "On Mon, 2 Mar 2026 at 09:00, The Desk <" … wrapped onto a second line. */
const QUOTE_HEADER_START = /^On\b.{0,300}$/i;
const QUOTE_HEADER_END = /^.{0,300}\bwrote:\s*$/i;
/** Outlook's block: From: … then Sent:/Date: … */
const OUTLOOK_FROM = /^\*?From:\*?\s/i;
const OUTLOOK_NEXT = /^\*?(Sent|Date|To|Subject):\*?\s/i;

export function stripReply(text: string): string {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const kept: string[] = [];
  let size = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const trimmed = line.trim();
    if (trimmed.startsWith(">")) continue;
    if (QUOTE_HEADER.some((re) => re.test(trimmed))) break;
    if (
      QUOTE_HEADER_START.test(trimmed) &&
      i + 1 < lines.length &&
      QUOTE_HEADER_END.test(lines[i + 1]!.trim()) &&
      (lines[i + 2] === undefined ||
        lines[i + 2]!.trim() === "" ||
        lines[i + 2]!.trim().startsWith(">"))
    )
      break;
    if (
      OUTLOOK_FROM.test(trimmed) &&
      i + 1 < lines.length &&
      OUTLOOK_NEXT.test(lines[i + 1]!.trim())
    )
      break;
    // The conventional signature separator: "-- " alone on a line.
    if (line === "-- " || line === "--") break;
    kept.push(line);
    size += line.length + 1;
    if (size > MAX_KEPT_CHARS) break;
  }
  const own = kept.join("\n").trim();
  if (!own) return "";
  let visible: string;
  try {
    visible = new EmailReplyParser().read(own).getVisibleText();
  } catch {
    visible = own;
  }
  // The parser keeps nothing of a message it reads as all signature; a
  // person's short "Thanks" is still their reply.
  return (visible.trim() || own).trim();
}

import type { SearchTerm } from "./search-query.js";

/*
 * Where a search matched, as a short excerpt of one field with the matching
 * words marked. Pure: it gets the fields the searcher may read (the service
 * asks the policy) and returns plain text pieces; the view marks the matches
 * (`<mark>`) and escapes every piece. No HTML is built here.
 */

/** A piece of an excerpt: plain text, or a word that matched. */
export interface SnippetSegment {
  text: string;
  match: boolean;
}

export interface Snippet {
  /** Which field it comes from ("Description"). */
  label: string;
  segments: SnippetSegment[];
}

export interface SnippetField {
  label: string;
  text: string;
}

/** About this many characters before the first match and in all. */
const LEAD = 60;
const LENGTH = 220;

/** As the index compares words: without accents, lower case. */
function fold(word: string): string {
  return word.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

function matcher(terms: readonly SearchTerm[]) {
  const folded = terms.map((t) => ({ ...t, word: fold(t.word) }));
  return (token: string) => {
    const f = fold(token);
    return folded.some((t) => (t.prefix ? f.startsWith(t.word) : f === t.word));
  };
}

/** Moves `at` back (or forward) to the nearest space, within a few characters. */
function atSpace(text: string, at: number, forward: boolean): number {
  if (at <= 0 || at >= text.length)
    return Math.max(0, Math.min(at, text.length));
  const found = forward ? text.indexOf(" ", at) : text.lastIndexOf(" ", at);
  return found === -1 || Math.abs(found - at) > 20
    ? at
    : forward
      ? found
      : found + 1;
}

/**
 * The excerpt of the first field (in the order given) holding a matching
 * word, or null when none does.
 */
export function snippetOf(
  terms: readonly SearchTerm[],
  fields: readonly SnippetField[],
): Snippet | null {
  if (terms.length === 0) return null;
  const matches = matcher(terms);
  for (const field of fields) {
    const text = field.text.replace(/\s+/g, " ").trim();
    const tokens = [...text.matchAll(/[\p{L}\p{N}]+/gu)].map((m) => ({
      start: m.index,
      end: m.index + m[0].length,
      match: matches(m[0]),
    }));
    const first = tokens.find((t) => t.match);
    if (!first) continue;
    const start = atSpace(text, first.start - LEAD, true);
    const end = atSpace(text, start + LENGTH, false);
    const segments: SnippetSegment[] = [];
    const push = (piece: string, match: boolean) => {
      if (piece === "") return;
      const last = segments[segments.length - 1];
      if (last && !last.match && !match) last.text += piece;
      else segments.push({ text: piece, match });
    };
    if (start > 0) push("…", false);
    let at = start;
    for (const t of tokens) {
      if (!t.match || t.start < start || t.end > end) continue;
      push(text.slice(at, t.start), false);
      push(text.slice(t.start, t.end), true);
      at = t.end;
    }
    push(text.slice(at, end), false);
    if (end < text.length) push("…", false);
    return { label: field.label, segments };
  }
  return null;
}

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

const ASCII = /^[\x00-\x7f]*$/;
/**
 * White space to write as one space: runs, and any other white space than
 * a space. A single space, most of them, is left as it is (as /\s+/ →
 * " " would write it, without a new string for each).
 */
const SPACES = /\s{2,}|[^\S ]/g;
/** A word as the excerpt splits the text (and as ASCII has it). */
const WORDS = /[\p{L}\p{N}]+/gu;
const ASCII_WORD = /^[a-z0-9]+$/;
const isAsciiWordChar = (c: number) =>
  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** As the index compares words: without accents, lower case. */
function fold(word: string): string {
  // ASCII has nothing to decompose or strip (most words: normalize() is
  // the dearest step of a search page's excerpts).
  if (ASCII.test(word)) return word.toLowerCase();
  return word.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase();
}

function matcher(terms: readonly SearchTerm[]) {
  const folded = terms.map((t) => ({ ...t, word: fold(t.word) }));
  const matches = (token: string) => {
    const f = fold(token);
    return folded.some((t) => (t.prefix ? f.startsWith(t.word) : f === t.word));
  };
  /** Word by word: any text. */
  const firstWord = (text: string) => {
    const words = new RegExp(WORDS);
    for (let word = words.exec(text); word; word = words.exec(text))
      if (matches(word[0])) return word.index;
    return -1;
  };
  // An ASCII text folds to its lower case and its words are [A-Za-z0-9]
  // runs, so a matching word is where a term's letters stand at a word's
  // start (and, for a whole word, at its end); a term with any other
  // character matches no word of it. Most texts are ASCII: this finds the
  // first match without reading a description word by word.
  const asciiTerms = folded.filter((t) => ASCII_WORD.test(t.word));
  const allTermsPlain = folded.every(
    (t) => t.word !== "" && (ASCII_WORD.test(t.word) || !ASCII.test(t.word)),
  );
  const firstAsciiWord = (text: string) => {
    const lower = text.toLowerCase();
    let first = -1;
    for (const t of asciiTerms) {
      for (
        let at = lower.indexOf(t.word);
        at !== -1 && (first === -1 || at < first);
        at = lower.indexOf(t.word, at + 1)
      ) {
        if (at > 0 && isAsciiWordChar(lower.charCodeAt(at - 1))) continue;
        const after = at + t.word.length;
        if (!t.prefix && isAsciiWordChar(lower.charCodeAt(after))) continue;
        first = at;
      }
    }
    return first;
  };
  return {
    matches,
    /** Where the first matching word of the text starts, or -1. */
    firstMatch: (text: string) =>
      allTermsPlain && ASCII.test(text)
        ? firstAsciiWord(text)
        : firstWord(text),
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
  const { matches, firstMatch } = matcher(terms);
  for (const field of fields) {
    const text = field.text.replace(SPACES, " ").trim();
    const firstAt = firstMatch(text);
    if (firstAt === -1) continue;
    const start = atSpace(text, firstAt - LEAD, true);
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
    // Words from the first match on (start is never after it), in order:
    // the first that ends past the excerpt ends the loop. A description is
    // kilobytes, its excerpt 220 characters.
    const words = new RegExp(WORDS);
    words.lastIndex = firstAt;
    for (let word = words.exec(text); word; word = words.exec(text)) {
      const wordEnd = word.index + word[0].length;
      if (wordEnd > end) break;
      if (!matches(word[0])) continue;
      push(text.slice(at, word.index), false);
      push(text.slice(word.index, wordEnd), true);
      at = wordEnd;
    }
    push(text.slice(at, end), false);
    if (end < text.length) push("…", false);
    return { label: field.label, segments };
  }
  return null;
}

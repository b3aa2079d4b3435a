/*
 * What a person types into the search box, made safe for the full-text index
 * (FTS5): only words, never its query syntax.
 */

/** At most this many words of a search are used; more only slows it down. */
const SEARCH_TERMS = 12;

/**
 * Turns what a person typed into a safe FTS5 query: words only (letters and
 * digits), each quoted and matched as a prefix, all of them required. FTS5
 * syntax typed by the user (NEAR, column filters, quotes) is thus plain text.
 * Returns null when nothing searchable is left.
 */
export function toSearchQuery(input: string): string | null {
  const words = searchWords(input);
  if (words.length === 0) return null;
  return words.map((w) => `"${w}"*`).join(" ");
}

/** The words of a search (letters and digits only), as toSearchQuery uses them. */
export function searchWords(input: string): string[] {
  return (input.normalize("NFKC").match(/[\p{L}\p{N}]+/gu) ?? [])
    .map((w) => w.slice(0, 64))
    .slice(0, SEARCH_TERMS);
}

/**
 * Words of a title worth comparing (four letters or more), as an FTS5 query
 * on the title column matching any of them: the triager's duplicate hint.
 */
export function toSimilarTitleQuery(title: string): string | null {
  const words = [
    ...new Set(
      (
        title
          .normalize("NFKC")
          .toLowerCase()
          .match(/[\p{L}\p{N}]{4,}/gu) ?? []
      ).map((w) => w.slice(0, 64)),
    ),
  ].slice(0, 8);
  if (words.length === 0) return null;
  return `title : (${words.map((w) => `"${w}"`).join(" OR ")})`;
}

import { normalizeReportId } from "../ids.js";

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

/** What a search box's text asks for, before any query is built. */
export type SearchTarget =
  /** One report by its ID: opened directly when the searcher may see it. */
  | { kind: "report"; publicId: string }
  /** A weakness: reports with this CWE, or whose text names it. */
  | { kind: "cwe"; cwe: string; match: string; terms: SearchTerm[] }
  /** A CVE ID: the report whose advisory names it. */
  | { kind: "cve"; cveId: string }
  | { kind: "words"; words: string[]; terms: SearchTerm[] }
  | { kind: "nothing" };

/** A term a snippet marks: a whole word, or any word starting with it. */
export interface SearchTerm {
  word: string;
  prefix: boolean;
}

const CWE_QUERY = /^cwe[\s:-]?(\d{1,6})$/i;
const CVE_QUERY = /^cve-\d{4}-\d{4,19}$/i;

/**
 * Reads the search box: a report ID (any case, spaces around it; see
 * normalizeReportId), a CWE ("CWE-639", "cwe 639"), a CVE ID, or words.
 */
export function searchTarget(input: string): SearchTarget {
  const typed = input.normalize("NFKC").trim();
  const publicId = normalizeReportId(typed);
  if (publicId) return { kind: "report", publicId };
  const cwe = CWE_QUERY.exec(typed);
  if (cwe) {
    const number = String(Number(cwe[1]));
    return {
      kind: "cwe",
      cwe: `CWE-${number}`,
      // A phrase: "cwe" followed by the number, as the index splits "CWE-639".
      match: `"cwe ${number}"`,
      terms: [
        { word: "cwe", prefix: false },
        { word: number, prefix: false },
      ],
    };
  }
  if (CVE_QUERY.test(typed)) return { kind: "cve", cveId: typed.toUpperCase() };
  const words = searchWords(typed);
  if (words.length === 0) return { kind: "nothing" };
  return {
    kind: "words",
    words,
    terms: words.map((word) => ({ word, prefix: true })),
  };
}

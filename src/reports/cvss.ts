import * as cvssModule from "ae-cvss-calculator";

// The package is CommonJS; depending on the loader its classes sit on the
// namespace or on its default export.
type CvssLibrary = Pick<typeof cvssModule, "Cvss3P1" | "Cvss4P0">;
const cvss: CvssLibrary =
  "Cvss3P1" in cvssModule && cvssModule.Cvss3P1
    ? cvssModule
    : (cvssModule as unknown as { default: CvssLibrary }).default;

/** The qualitative ratings, most severe first (the order lists and charts show). */
export const SEVERITIES = [
  "critical",
  "high",
  "medium",
  "low",
  "none",
] as const;
export type Severity = (typeof SEVERITIES)[number];

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

export interface CvssResult {
  vector: string;
  version: "3.1" | "4.0";
  score: number;
  severity: Severity;
}

// The library accepts partial vectors, so the base metrics are checked here
// first: every base metric, in order, with a legal value. Further metrics
// (temporal, environmental, threat) may follow.
const BASE_31 =
  /^CVSS:3\.1\/AV:[NALP]\/AC:[LH]\/PR:[NLH]\/UI:[NR]\/S:[UC]\/C:[HLN]\/I:[HLN]\/A:[HLN]((\/[A-Z]{1,3}:[A-Z])*)$/;
const BASE_40 =
  /^CVSS:4\.0\/AV:[NALP]\/AC:[LH]\/AT:[NP]\/PR:[NLH]\/UI:[NPA]\/VC:[HLN]\/VI:[HLN]\/VA:[HLN]\/SC:[HLN]\/SI:[HLN]\/SA:[HLN]((\/[A-Z]{1,3}:[A-Z])*)$/;

/** The qualitative rating shared by CVSS 3.1 and 4.0. */
export function severityOf(score: number): Severity {
  if (score === 0) return "none";
  if (score < 4) return "low";
  if (score < 7) return "medium";
  if (score < 9) return "high";
  return "critical";
}

/** Scores a vector server-side; null when it is not a complete, valid CVSS 3.1 or 4.0 vector. */
export function scoreCvss(input: string): CvssResult | null {
  const vector = input.trim();
  if (vector.length > 300) return null;
  const version = BASE_31.test(vector)
    ? "3.1"
    : BASE_40.test(vector)
      ? "4.0"
      : null;
  if (!version) return null;
  try {
    const calculator =
      version === "3.1" ? new cvss.Cvss3P1(vector) : new cvss.Cvss4P0(vector);
    const score = calculator.calculateScores().overall;
    if (typeof score !== "number" || Number.isNaN(score)) return null;
    return { vector, version, score, severity: severityOf(score) };
  } catch {
    return null;
  }
}

/** The base metrics of each version, in vector order. */
const BASE_METRICS: Record<"3.1" | "4.0", readonly string[]> = {
  "3.1": ["AV", "AC", "PR", "UI", "S", "C", "I", "A"],
  "4.0": ["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"],
};

/**
 * What is wrong with a CVSS vector as typed or picked, in words for the
 * field; null when it is empty or complete. A partial vector names the base
 * metrics it lacks, so nothing half chosen is silently dropped.
 */
export function cvssProblem(input: string): string | null {
  const vector = input.trim();
  if (vector === "" || scoreCvss(vector) !== null) return null;
  const version = /^CVSS:(3\.1|4\.0)\//.exec(vector)?.[1] as
    "3.1" | "4.0" | undefined;
  if (version) {
    const present = new Set(
      vector
        .split("/")
        .slice(1)
        .map((part) => part.split(":")[0]),
    );
    const missing = BASE_METRICS[version].filter((m) => !present.has(m));
    if (missing.length)
      return `The CVSS ${version} vector is incomplete, missing: ${missing.join(", ")}. Choose every base metric, or clear the field.`;
  }
  return "Enter a complete CVSS 3.1 or 4.0 vector, like CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N, or leave it empty.";
}

export const SEVERITY_LABELS: Record<Severity, string> = {
  none: "None",
  low: "Low",
  medium: "Medium",
  high: "High",
  critical: "Critical",
};

/** The word a person reads for a stored severity (null when not rated). */
export function severityLabel(severity: string | null): string | null {
  if (severity === null) return null;
  return isSeverity(severity) ? SEVERITY_LABELS[severity] : severity;
}

import { scoreCvss } from "../reports/cvss.js";

/**
 * A CVSS 3.1 base vector as FIRST's JSON representation (cvss-v3.1.json),
 * which both CSAF 2.0 (`cvss_v3`) and CVE JSON 5 (`cvssV3_1`) embed.
 */
export interface CvssV31Json {
  version: "3.1";
  vectorString: string;
  attackVector: string;
  attackComplexity: string;
  privilegesRequired: string;
  userInteraction: string;
  scope: string;
  confidentialityImpact: string;
  integrityImpact: string;
  availabilityImpact: string;
  baseScore: number;
  baseSeverity: string;
}

const AV: Record<string, string> = {
  N: "NETWORK",
  A: "ADJACENT_NETWORK",
  L: "LOCAL",
  P: "PHYSICAL",
};
const LOW_HIGH: Record<string, string> = { L: "LOW", H: "HIGH" };
const PR: Record<string, string> = { N: "NONE", L: "LOW", H: "HIGH" };
const UI: Record<string, string> = { N: "NONE", R: "REQUIRED" };
const S: Record<string, string> = { U: "UNCHANGED", C: "CHANGED" };
const CIA: Record<string, string> = { N: "NONE", L: "LOW", H: "HIGH" };

const BASE_KEYS = ["AV", "AC", "PR", "UI", "S", "C", "I", "A"] as const;

/**
 * The base metrics of a CVSS 3.1 vector, scored again here (the stored score
 * may be older than the vector). Temporal and environmental metrics are left
 * out: both formats then require their scores as well, and a disclosure
 * desk publishes the base rating. Null for a 4.0 vector or anything invalid.
 */
export function cvssV31Json(vector: string | null): CvssV31Json | null {
  if (!vector) return null;
  const metrics = new Map(
    vector
      .trim()
      .split("/")
      .slice(1)
      .map((part) => part.split(":") as [string, string]),
  );
  if (!vector.trim().startsWith("CVSS:3.1/")) return null;
  const base = `CVSS:3.1/${BASE_KEYS.map((k) => `${k}:${metrics.get(k)}`).join("/")}`;
  const scored = scoreCvss(base);
  if (!scored || scored.version !== "3.1") return null;
  const m = (key: (typeof BASE_KEYS)[number], names: Record<string, string>) =>
    names[metrics.get(key)!]!;
  return {
    version: "3.1",
    vectorString: base,
    attackVector: m("AV", AV),
    attackComplexity: m("AC", LOW_HIGH),
    privilegesRequired: m("PR", PR),
    userInteraction: m("UI", UI),
    scope: m("S", S),
    confidentialityImpact: m("C", CIA),
    integrityImpact: m("I", CIA),
    availabilityImpact: m("A", CIA),
    baseScore: scored.score,
    baseSeverity: scored.severity.toUpperCase(),
  };
}

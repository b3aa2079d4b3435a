// CVSS 3.1 base score, as specified by FIRST:
// https://www.first.org/cvss/v3.1/specification-document (section 7 and
// appendix A for Roundup). Pure functions, no DOM: the calculator script
// imports them in the browser and test/unit/cvss-calculator.test.ts checks
// them against the server's scoring (src/reports/cvss.ts).

/** The eight base metrics in vector order, with their values as people read them. */
export const CVSS31_METRICS = [
  {
    key: "AV",
    name: "Attack vector",
    values: [
      ["N", "Network"],
      ["A", "Adjacent"],
      ["L", "Local"],
      ["P", "Physical"],
    ],
  },
  {
    key: "AC",
    name: "Attack complexity",
    values: [
      ["L", "Low"],
      ["H", "High"],
    ],
  },
  {
    key: "PR",
    name: "Privileges required",
    values: [
      ["N", "None"],
      ["L", "Low"],
      ["H", "High"],
    ],
  },
  {
    key: "UI",
    name: "User interaction",
    values: [
      ["N", "None"],
      ["R", "Required"],
    ],
  },
  {
    key: "S",
    name: "Scope",
    values: [
      ["U", "Unchanged"],
      ["C", "Changed"],
    ],
  },
  {
    key: "C",
    name: "Confidentiality",
    values: [
      ["H", "High"],
      ["L", "Low"],
      ["N", "None"],
    ],
  },
  {
    key: "I",
    name: "Integrity",
    values: [
      ["H", "High"],
      ["L", "Low"],
      ["N", "None"],
    ],
  },
  {
    key: "A",
    name: "Availability",
    values: [
      ["H", "High"],
      ["L", "Low"],
      ["N", "None"],
    ],
  },
];

// The same check as the server: every base metric, in order, then optional
// further metrics (temporal, environmental) which the base score ignores.
const VECTOR_31 =
  /^CVSS:3\.1\/AV:([NALP])\/AC:([LH])\/PR:([NLH])\/UI:([NR])\/S:([UC])\/C:([HLN])\/I:([HLN])\/A:([HLN])((?:\/[A-Z]{1,3}:[A-Z])*)$/;

/**
 * Splits a CVSS 3.1 vector into its base metrics ({ AV: "N", ... }) and the
 * rest of the vector (`extra`, "" or "/E:P/..."); null when it is not one.
 */
export function parseCvss31(vector) {
  const text = String(vector).trim();
  const match = text.length <= 300 ? VECTOR_31.exec(text) : null;
  if (!match) return null;
  const metrics = {};
  CVSS31_METRICS.forEach((m, i) => (metrics[m.key] = match[i + 1]));
  return { metrics, extra: match[9] };
}

/** Writes the base metrics (all eight) as a vector, followed by `extra`. */
export function formatCvss31(metrics, extra = "") {
  const parts = CVSS31_METRICS.map((m) => `${m.key}:${metrics[m.key]}`);
  return `CVSS:3.1/${parts.join("/")}${extra}`;
}

// Metric weights from the specification's table 16.
const AV = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 };
const AC = { L: 0.77, H: 0.44 };
const PR_UNCHANGED = { N: 0.85, L: 0.62, H: 0.27 };
const PR_CHANGED = { N: 0.85, L: 0.68, H: 0.5 };
const UI = { N: 0.85, R: 0.62 };
const CIA = { H: 0.56, L: 0.22, N: 0 };

/**
 * Appendix A: the smallest number with one decimal that is >= the input,
 * computed on integers so that floating-point noise (4.000000001) does not
 * round up a whole tenth.
 */
function roundup(input) {
  const intInput = Math.round(input * 100000);
  if (intInput % 10000 === 0) return intInput / 100000;
  return (Math.floor(intInput / 10000) + 1) / 10;
}

/** The base score (0.0–10.0) of a CVSS 3.1 vector; null when it is not a valid one. */
export function cvss31BaseScore(vector) {
  const parsed = parseCvss31(vector);
  if (!parsed) return null;
  const m = parsed.metrics;
  const changed = m.S === "C";
  // Impact Sub-Score, then Impact, which depends on Scope.
  const iss = 1 - (1 - CIA[m.C]) * (1 - CIA[m.I]) * (1 - CIA[m.A]);
  const impact = changed
    ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15)
    : 6.42 * iss;
  const pr = (changed ? PR_CHANGED : PR_UNCHANGED)[m.PR];
  const exploitability = 8.22 * AV[m.AV] * AC[m.AC] * pr * UI[m.UI];
  if (impact <= 0) return 0;
  return changed
    ? roundup(Math.min(1.08 * (impact + exploitability), 10))
    : roundup(Math.min(impact + exploitability, 10));
}

/** The qualitative rating (table 14): None, Low, Medium, High or Critical. */
export function cvssRating(score) {
  if (score === 0) return "None";
  if (score < 4) return "Low";
  if (score < 7) return "Medium";
  if (score < 9) return "High";
  return "Critical";
}

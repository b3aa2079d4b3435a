// Types for cvss31.js, which the browser loads as plain JavaScript and the
// unit tests import (the project does not compile JavaScript).

export type Cvss31MetricKey = "AV" | "AC" | "PR" | "UI" | "S" | "C" | "I" | "A";

export interface Cvss31Metric {
  key: Cvss31MetricKey;
  name: string;
  values: [value: string, label: string][];
}

export type Cvss31Metrics = Record<Cvss31MetricKey, string>;

export const CVSS31_METRICS: Cvss31Metric[];
export function parseCvss31(
  vector: string,
): { metrics: Cvss31Metrics; extra: string } | null;
export function formatCvss31(metrics: Cvss31Metrics, extra?: string): string;
export function cvss31BaseScore(vector: string): number | null;
export function cvssRating(
  score: number,
): "None" | "Low" | "Medium" | "High" | "Critical";

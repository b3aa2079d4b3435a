/**
 * Credit in a published advisory: who is thanked, and for what. The types are
 * the CVE record's (and GitHub advisories'), so exports carry them unchanged.
 */
export const CREDIT_TYPES = [
  "finder",
  "reporter",
  "analyst",
  "coordinator",
  "remediation_developer",
  "remediation_reviewer",
  "remediation_verifier",
  "tool",
  "sponsor",
  "other",
] as const;
export type CreditType = (typeof CREDIT_TYPES)[number];

export const CREDIT_TYPE_LABELS: Record<CreditType, string> = {
  finder: "Finder",
  reporter: "Reporter",
  analyst: "Analyst",
  coordinator: "Coordinator",
  remediation_developer: "Remediation developer",
  remediation_reviewer: "Remediation reviewer",
  remediation_verifier: "Remediation verifier",
  tool: "Tool",
  sponsor: "Sponsor",
  other: "Other",
};

export interface AdvisoryCredit {
  name: string;
  type: CreditType;
}

/** The CVE JSON 5 schema spells credit types with spaces ("remediation developer"). */
export function cveCreditType(type: CreditType): string {
  return type.replaceAll("_", " ");
}

/** The researcher's answer to the credit the CERT proposes for publication. */
export const CREDIT_ANSWERS = ["pending", "accepted", "declined"] as const;
export type CreditAnswer = (typeof CREDIT_ANSWERS)[number];

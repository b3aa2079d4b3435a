/**
 * The weaknesses a researcher can pick: the 2024 CWE Top 25 and the common web
 * weaknesses, plus "other". Shipped with the app: no download at run time.
 */
import type { SelectOption } from "../http/option-tags.js";
export interface Weakness {
  id: string;
  name: string;
}

export const CWE_OTHER = "other";

export const WEAKNESSES: readonly Weakness[] = [
  { id: "CWE-79", name: "Cross-site Scripting (XSS)" },
  { id: "CWE-787", name: "Out-of-bounds Write" },
  { id: "CWE-89", name: "SQL Injection" },
  { id: "CWE-352", name: "Cross-Site Request Forgery (CSRF)" },
  { id: "CWE-22", name: "Path Traversal" },
  { id: "CWE-125", name: "Out-of-bounds Read" },
  { id: "CWE-78", name: "OS Command Injection" },
  { id: "CWE-416", name: "Use After Free" },
  { id: "CWE-862", name: "Missing Authorization" },
  { id: "CWE-434", name: "Unrestricted Upload of File with Dangerous Type" },
  { id: "CWE-94", name: "Code Injection" },
  { id: "CWE-20", name: "Improper Input Validation" },
  { id: "CWE-77", name: "Command Injection" },
  { id: "CWE-287", name: "Improper Authentication" },
  { id: "CWE-269", name: "Improper Privilege Management" },
  { id: "CWE-502", name: "Deserialization of Untrusted Data" },
  {
    id: "CWE-200",
    name: "Exposure of Sensitive Information to an Unauthorized Actor",
  },
  { id: "CWE-863", name: "Incorrect Authorization" },
  { id: "CWE-918", name: "Server-Side Request Forgery (SSRF)" },
  {
    id: "CWE-119",
    name: "Improper Restriction of Operations within the Bounds of a Memory Buffer",
  },
  { id: "CWE-476", name: "NULL Pointer Dereference" },
  { id: "CWE-798", name: "Use of Hard-coded Credentials" },
  { id: "CWE-190", name: "Integer Overflow or Wraparound" },
  { id: "CWE-400", name: "Uncontrolled Resource Consumption" },
  { id: "CWE-306", name: "Missing Authentication for Critical Function" },
  {
    id: "CWE-639",
    name: "Authorization Bypass Through User-Controlled Key (IDOR)",
  },
  { id: "CWE-284", name: "Improper Access Control" },
  { id: "CWE-285", name: "Improper Authorization" },
  { id: "CWE-601", name: "Open Redirect" },
  { id: "CWE-611", name: "XML External Entity (XXE)" },
  { id: "CWE-613", name: "Insufficient Session Expiration" },
  {
    id: "CWE-307",
    name: "Improper Restriction of Excessive Authentication Attempts",
  },
  { id: "CWE-521", name: "Weak Password Requirements" },
  { id: "CWE-522", name: "Insufficiently Protected Credentials" },
  { id: "CWE-319", name: "Cleartext Transmission of Sensitive Information" },
  { id: "CWE-312", name: "Cleartext Storage of Sensitive Information" },
  { id: "CWE-327", name: "Use of a Broken or Risky Cryptographic Algorithm" },
  { id: "CWE-384", name: "Session Fixation" },
  {
    id: "CWE-1021",
    name: "Improper Restriction of Rendered UI Layers (Clickjacking)",
  },
  {
    id: "CWE-942",
    name: "Permissive Cross-domain Policy with Untrusted Domains (CORS)",
  },
  { id: "CWE-1336", name: "Server-Side Template Injection" },
  { id: "CWE-917", name: "Expression Language Injection" },
  { id: "CWE-915", name: "Mass Assignment" },
  {
    id: "CWE-209",
    name: "Generation of Error Message Containing Sensitive Information",
  },
  { id: "CWE-532", name: "Insertion of Sensitive Information into Log File" },
  {
    id: "CWE-640",
    name: "Weak Password Recovery Mechanism for Forgotten Password",
  },
];

const byId = new Map(WEAKNESSES.map((w) => [w.id, w]));

export function isKnownCwe(id: string): boolean {
  return id === CWE_OTHER || byId.has(id);
}

export function cweLabel(id: string): string {
  if (id === CWE_OTHER) return "Other weakness";
  const weakness = byId.get(id);
  return weakness ? `${weakness.id}: ${weakness.name}` : id;
}

/** Frozen, so their HTML is built once (optionTags). */
export const CWE_OPTIONS: readonly SelectOption[] = Object.freeze([
  ...WEAKNESSES.map((w) => ({ value: w.id, label: `${w.id}: ${w.name}` })),
  { value: CWE_OTHER, label: "Other / not sure" },
]);

/** The report form's: nothing chosen until the researcher chooses. */
export const CWE_FORM_OPTIONS: readonly SelectOption[] = Object.freeze([
  { value: "", label: "Choose…" },
  ...CWE_OPTIONS,
]);

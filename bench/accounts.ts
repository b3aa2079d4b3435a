import path from "node:path";
import { projectRoot } from "../src/paths.js";

/** Every seeded account shares this password (hashed once, like the app does). */
export const BENCH_PASSWORD = "bench-password-correct-horse-battery";

/**
 * Staff accounts have two-factor sign-in on (when the schema has it) with this
 * TOTP secret, so the benchmark can sign in as a triager.
 */
export const BENCH_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

export const ADMIN_EMAIL = "admin@cert.bench.example";
export const triagerEmail = (n: number) => `triager-${n}@cert.bench.example`;
export const contactEmail = (org: number, k: number) =>
  `contact-${org}-${k}@org.bench.example`;
export const researcherEmail = (n: number) =>
  `researcher-${n}@research.bench.example`;

/** The triager and the researcher the benchmark signs in as (researcher 1 files the most). */
export const BENCH_TRIAGER_EMAIL = triagerEmail(1);
export const BENCH_RESEARCHER_EMAIL = researcherEmail(1);

export const DEFAULT_DATA_DIR = path.join(projectRoot, "bench", "data");

/** `--name value` or `--name=value` from argv. */
export function argValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${name}`) return args[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

export function argFlag(args: string[], name: string): boolean {
  return args.includes(`--${name}`);
}

/** "1,000,000", "1_000_000", "1e6" and "1000000" all read as a million. */
export function parseCount(raw: string, what: string): number {
  const n = Number(raw.replace(/[,_]/g, ""));
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${what} must be a whole number, got "${raw}"`);
  return n;
}

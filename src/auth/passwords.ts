import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../paths.js";

/**
 * Hashes are self-describing: `scrypt$N$r$p$salt$hash` (base64), so the
 * parameters can change and old hashes still verify (and are rehashed with
 * the configured ones at the next sign-in, see `needsRehash`).
 */
const KEY_LENGTH = 32;

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/**
 * OWASP's Password Storage Cheat Sheet lists five scrypt settings of the
 * same minimal defence, trading memory for parallelism: N = 2^17 (128 MiB)
 * p 1, 2^16 p 2, 2^15 (32 MiB) p 3, 2^14 p 5, 2^13 p 10, all with r = 8.
 * The configured cost (SCRYPT_COST) is N, and p follows from this table.
 * The default is 2^15: a sign-in holds 32 MiB instead of 128 MiB, and still
 * forces an attacker to keep 32 MiB per guess in flight (README, "Security").
 * Below 2^13 no setting is in OWASP's list: such a cost is for tests only and
 * hashes with p = 1 (fast); above 2^17, p = 1 is stronger than required.
 */
const OWASP_P: Record<number, number> = {
  [2 ** 17]: 1,
  [2 ** 16]: 2,
  [2 ** 15]: 3,
  [2 ** 14]: 5,
  [2 ** 13]: 10,
};

/** The scrypt parameters for a configured cost (N). */
export function scryptParams(cost: number): ScryptParams {
  return { N: cost, r: 8, p: OWASP_P[cost] ?? 1 };
}

/**
 * Password hashes share a memory budget of 64 MiB: each holds 128·N·r bytes
 * while it runs (32 MiB at N = 2^15, r = 8), so two run at once and the rest
 * wait their turn, in order. Without a limit, sign-ins arriving together ran
 * up to the four threads of libuv's pool at once (4 × 128 MiB at the former
 * N = 2^17), a way to exhaust the server's memory from the sign-in form.
 * Two, not one: a hash takes about half a second, and one at a time could
 * not keep up with two sign-ins a second. A hash larger than the budget (an
 * old N = 2^17 hash being verified, 128 MiB) runs alone.
 */
const MEMORY_BUDGET = 64 * 1024 * 1024;
const waiting: { bytes: number; start: () => void }[] = [];
let memoryInUse = 0;
let scryptRunning = 0;

/** How many password hashes are being computed right now. */
export function passwordHashesRunning(): number {
  return scryptRunning;
}

const fits = (bytes: number) =>
  scryptRunning === 0 || memoryInUse + bytes <= MEMORY_BUDGET;

function take(bytes: number) {
  scryptRunning += 1;
  memoryInUse += bytes;
}

async function scryptAsync(
  password: string,
  salt: Buffer,
  params: ScryptParams,
): Promise<Buffer> {
  const bytes = 128 * params.N * params.r;
  if (waiting.length === 0 && fits(bytes)) take(bytes);
  else await new Promise<void>((start) => waiting.push({ bytes, start }));
  try {
    return await scryptNow(password, salt, params);
  } finally {
    scryptRunning -= 1;
    memoryInUse -= bytes;
    while (waiting.length > 0 && fits(waiting[0]!.bytes)) {
      const next = waiting.shift()!;
      take(next.bytes);
      next.start();
    }
  }
}

function scryptNow(password: string, salt: Buffer, { N, r, p }: ScryptParams) {
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(
      password,
      salt,
      KEY_LENGTH,
      { N, r, p, maxmem: 256 * N * r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** Hashes with the parameters for `cost` (SCRYPT_COST), or with explicit ones. */
export async function hashPassword(
  password: string,
  cost: number | ScryptParams,
): Promise<string> {
  const params = typeof cost === "number" ? scryptParams(cost) : cost;
  const salt = randomBytes(16);
  const key = await scryptAsync(password.normalize("NFKC"), salt, params);
  return [
    "scrypt",
    params.N,
    params.r,
    params.p,
    salt.toString("base64"),
    key.toString("base64"),
  ].join("$");
}

export async function verifyPassword(
  password: string,
  stored: string,
): Promise<boolean> {
  const [scheme, n, r, p, saltB64, keyB64] = stored.split("$");
  if (scheme !== "scrypt" || !n || !r || !p || !saltB64 || !keyB64)
    return false;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  // A malformed stored hash never reaches scrypt (nor the memory budget).
  if (!Object.values(params).every((v) => Number.isSafeInteger(v) && v > 0))
    return false;
  const expected = Buffer.from(keyB64, "base64");
  const actual = await scryptAsync(
    password.normalize("NFKC"),
    Buffer.from(saltB64, "base64"),
    params,
  );
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * True when the stored hash was made with other parameters than `cost`
 * gives today (an older N = 2^17, p = 1 hash, or a raised cost): rehash it
 * at the next sign-in, while the password is at hand.
 */
export function needsRehash(stored: string, cost: number): boolean {
  const [, n, r, p] = stored.split("$");
  const want = scryptParams(cost);
  return Number(n) !== want.N || Number(r) !== want.r || Number(p) !== want.p;
}

let commonPasswords: Set<string> | undefined;
function loadCommonPasswords(): Set<string> {
  commonPasswords ??= new Set(
    readFileSync(
      path.join(projectRoot, "src/auth/common-passwords.txt"),
      "utf8",
    )
      .split("\n")
      .map((l) => l.trim().toLowerCase())
      .filter(Boolean),
  );
  return commonPasswords;
}

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 128;

/** Returns why a password is refused, or null when it is acceptable. */
export function passwordProblem(
  password: string,
  email?: string,
): string | null {
  if (password.length < PASSWORD_MIN)
    return `Use at least ${PASSWORD_MIN} characters.`;
  if (password.length > PASSWORD_MAX)
    return `Use at most ${PASSWORD_MAX} characters.`;
  const lower = password.toLowerCase();
  if (loadCommonPasswords().has(lower) || /^(.)\1+$/.test(password)) {
    return "This password is too common; choose one that is hard to guess.";
  }
  if (email) {
    const address = email.toLowerCase();
    const local = address.split("@")[0] ?? "";
    if (
      lower.includes(address) ||
      (local.length >= 4 && lower.includes(local))
    ) {
      return "Do not use your email address in your password.";
    }
  }
  return null;
}

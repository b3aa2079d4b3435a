import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { projectRoot } from "../paths.js";

/**
 * Hashes are self-describing: `scrypt$N$r$p$salt$hash` (base64), so the cost
 * can be raised later and old hashes still verify. OWASP recommends N=2^17,
 * r=8, p=1; tests lower N through SCRYPT_COST to stay quick.
 */
const KEY_LENGTH = 32;

/**
 * One scrypt at a time: each holds 128 MiB (N=2^17, r=8) while it runs, so
 * sign-ins arriving together added 128 MiB each, up to the four threads of
 * libuv's pool: 512 MiB for four requests to the sign-in form. The others
 * wait their turn (a hash takes a fraction of a second).
 */
let scryptQueue: Promise<unknown> = Promise.resolve();
let scryptRunning = 0;

/** How many password hashes are being computed right now (at most one). */
export function passwordHashesRunning(): number {
  return scryptRunning;
}

function scryptAsync(
  password: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
): Promise<Buffer> {
  const turn = scryptQueue.then(async () => {
    scryptRunning += 1;
    try {
      return await scryptNow(password, salt, N, r, p);
    } finally {
      scryptRunning -= 1;
    }
  });
  scryptQueue = turn.catch(() => undefined);
  return turn;
}

function scryptNow(
  password: string,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
) {
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

export async function hashPassword(
  password: string,
  cost: number,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password.normalize("NFKC"), salt, cost, 8, 1);
  return [
    "scrypt",
    cost,
    8,
    1,
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
  const expected = Buffer.from(keyB64, "base64");
  const actual = await scryptAsync(
    password.normalize("NFKC"),
    Buffer.from(saltB64, "base64"),
    Number(n),
    Number(r),
    Number(p),
  );
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** True when the stored hash uses a lower cost than configured: rehash on next sign-in. */
export function needsRehash(stored: string, cost: number): boolean {
  return Number(stored.split("$")[1]) < cost;
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

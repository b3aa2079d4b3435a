import {
  createHash,
  createHmac,
  randomBytes,
  randomFillSync,
} from "node:crypto";

const RANDOM_POOL_SIZE = 4096;
const randomPool = Buffer.alloc(RANDOM_POOL_SIZE);
let randomPoolOffset = RANDOM_POOL_SIZE;

/**
 * Cryptographically random bytes from a pool refilled 4 KB at a time: one
 * call for random bytes costs about what 4 KB cost (7–30 µs here), and a
 * filed report took three (its ID, its mail). Node's randomUUID pools the
 * same way. Bytes handed out are zeroed in the pool, never given twice.
 */
export function pooledRandomBytes(length: number): Buffer {
  if (length > RANDOM_POOL_SIZE) return randomBytes(length);
  if (randomPoolOffset + length > RANDOM_POOL_SIZE) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const end = randomPoolOffset + length;
  const bytes = Buffer.from(randomPool.subarray(randomPoolOffset, end));
  randomPool.fill(0, randomPoolOffset, end);
  randomPoolOffset = end;
  return bytes;
}

/** Crockford base32: no I, L, O or U, so IDs read aloud and typed by hand survive. */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

export function crockford(length: number): string {
  const bytes = pooledRandomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += CROCKFORD[bytes[i]! & 31];
  return out;
}

/** A quotable, unguessable report ID such as DD-7K2Q-9M4D (40 random bits). */
export function newReportId(): string {
  return `DD-${crockford(4)}-${crockford(4)}`;
}

export const REPORT_ID_PATTERN =
  /^DD-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/;

/**
 * Reads a report ID as people type it: case-insensitive, and the letters
 * Crockford maps (O→0, I/L→1). Returns null for anything not shaped like one.
 */
export function normalizeReportId(input: string): string | null {
  const id = input
    .trim()
    .toUpperCase()
    .replace(/O/g, "0")
    .replace(/[IL]/g, "1")
    .replace(/^D0-/, "DD-");
  return REPORT_ID_PATTERN.test(id) ? id : null;
}

/** An opaque public ID for objects other than reports (users, attachments, orgs). */
export function newPublicId(): string {
  return crockford(16).toLowerCase();
}

/** A secret for a one-time link; only its hash is stored. */
export function newSecretToken(): string {
  return randomBytes(32).toString("base64url");
}

export function sha256Hex(value: string | Buffer): string {
  return createHash("sha256").update(value).digest("hex");
}

/**
 * A MAC (hex) of `message` under a key derived from the session secret for
 * one purpose, so the one secret never vouches for two kinds of thing alike
 * (VERP bounce addresses, intake reply tokens).
 */
export function purposeMac(
  secret: string,
  purpose: string,
  message: string,
): string {
  const key = createHmac("sha256", secret).update(purpose).digest();
  return createHmac("sha256", key).update(message).digest("hex");
}

import { authenticator } from "otplib";
import QRCode from "qrcode";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { crockford, sha256Hex } from "../ids.js";
import type { User } from "../users/types.js";
import { findPasswordHash } from "../users/repository.js";
import { verifyPassword } from "./passwords.js";
import { formatDateTime } from "../format.js";
import { enqueueMail } from "../mail/outbox.js";
import {
  claimTotpStep,
  clearTotp,
  consumeRecoveryCode,
  countUnusedRecoveryCodes,
  enableTotp,
  readTotpState,
  replaceRecoveryCodes,
  setPendingTotpSecret,
  unusedRecoveryCodeHashes,
} from "./two-factor-repository.js";

/**
 * TOTP two-factor sign-in (RFC 6238, 30 s steps, 6 digits) with ten
 * single-use recovery codes. Time comes from deps.clock, so tests can move it.
 */
const STEP_MS = 30_000;
const RECOVERY_CODES = 10;
const ISSUER = "Disclosure Desk";

export interface Enrollment {
  /** Base32, shown for typing into an app by hand. */
  secret: string;
  /** The QR code as an SVG data: URI (an <img>, so no markup enters the page). */
  qrDataUri: string;
}

/** Starts (or restarts) enrollment: a fresh secret, not active until confirmed. */
export async function startEnrollment(
  deps: Pick<Deps, "db">,
  user: User,
): Promise<Enrollment> {
  const state = await readTotpState(deps.db, user.id);
  if (state?.enabledAt) throw new Error("two-factor sign-in is already on");
  const secret = state?.secret ?? authenticator.generateSecret(20);
  if (!state?.secret) await setPendingTotpSecret(deps.db, user.id, secret);
  return { secret, qrDataUri: await qrDataUri(user.email, secret) };
}

async function qrDataUri(email: string, secret: string): Promise<string> {
  const uri = authenticator.keyuri(email, ISSUER, secret);
  const svg = await QRCode.toString(uri, { type: "svg", margin: 1 });
  return "data:image/svg+xml;base64," + Buffer.from(svg).toString("base64");
}

/** The time step a code belongs to, within one step either side of now; else null. */
function matchingStep(code: string, secret: string, now: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = authenticator
    .clone({ epoch: now.getTime(), window: 1 })
    .checkDelta(code, secret);
  return delta === null ? null : Math.floor(now.getTime() / STEP_MS) + delta;
}

function normalizeCode(input: string): string {
  return input.replace(/[\s-]/g, "").toUpperCase();
}

function newRecoveryCodes(): string[] {
  return Array.from(
    { length: RECOVERY_CODES },
    () => `${crockford(5)}-${crockford(5)}`,
  );
}

const hashRecoveryCode = (code: string) => sha256Hex(normalizeCode(code));

/**
 * Confirms enrollment with a first code from the app. Returns the recovery
 * codes, shown once and stored only as hashes; null when the code is wrong.
 */
export async function confirmEnrollment(
  deps: Pick<Deps, "db" | "clock">,
  user: User,
  code: string,
  request: AuditRequestContext | null,
): Promise<string[] | null> {
  const state = await readTotpState(deps.db, user.id);
  if (!state?.secret || state.enabledAt) return null;
  const now = deps.clock.now();
  const step = matchingStep(normalizeCode(code), state.secret, now);
  if (step === null) return null;
  const codes = newRecoveryCodes();
  await deps.db.transaction().execute(async (tx) => {
    if (!(await claimTotpStep(tx, user.id, step))) return;
    await enableTotp(tx, user.id, now);
    await replaceRecoveryCodes(tx, user.id, codes.map(hashRecoveryCode));
    await recordAudit(tx, {
      action: "auth.2fa_enabled",
      actor: user,
      target: { type: "user", id: user.publicId },
      request,
      at: now,
    });
  });
  return (await readTotpState(deps.db, user.id))?.enabledAt ? codes : null;
}

export type SecondFactor = "totp" | "recovery_code";

/**
 * Checks a second factor at sign-in: a current TOTP code never used before,
 * or an unused recovery code. Null when neither.
 */
export async function verifySecondFactor(
  deps: Pick<Deps, "db" | "clock">,
  user: User,
  input: string,
  request: AuditRequestContext | null,
): Promise<SecondFactor | null> {
  const state = await readTotpState(deps.db, user.id);
  if (!state?.secret || !state.enabledAt) return null;
  const now = deps.clock.now();
  const code = normalizeCode(input);
  const step = matchingStep(code, state.secret, now);
  if (step !== null) {
    return (await claimTotpStep(deps.db, user.id, step)) ? "totp" : null;
  }
  if (code.length !== 10) return null;
  const used = await consumeRecoveryCode(
    deps.db,
    user.id,
    hashRecoveryCode(code),
    now,
  );
  if (!used) return null;
  await recordAudit(deps.db, {
    action: "auth.recovery_code_used",
    actor: user,
    target: { type: "user", id: user.publicId },
    details: { left: await countUnusedRecoveryCodes(deps.db, user.id) },
    request,
    at: now,
  });
  return "recovery_code";
}

export function recoveryCodesLeft(deps: Pick<Deps, "db">, user: User) {
  return countUnusedRecoveryCodes(deps.db, user.id);
}

export type DisableProblem = "password" | "code";

/** Turning two-factor off needs the password and a current code (or a recovery code). */
export async function disableTwoFactor(
  deps: Pick<Deps, "db" | "clock">,
  user: User,
  password: string,
  code: string,
  request: AuditRequestContext | null,
): Promise<DisableProblem | null> {
  const hash = await findPasswordHash(deps.db, user.id);
  if (!hash || !(await verifyPassword(password, hash))) return "password";
  if (!(await verifySecondFactor(deps, user, code, request))) return "code";
  await deps.db.transaction().execute(async (tx) => {
    await clearTotp(tx, user.id);
    await recordAudit(tx, {
      action: "auth.2fa_disabled",
      actor: user,
      target: { type: "user", id: user.publicId },
      request,
      at: deps.clock.now(),
    });
  });
  return null;
}

/**
 * New recovery codes in place of the old ones (which stop working at once),
 * proven by the current password or a code from the app: a session left
 * open must not be enough to take the account's way back in. Audited and
 * mailed to the owner, like a password change.
 */
export async function regenerateRecoveryCodes(
  deps: Pick<Deps, "db" | "clock" | "config">,
  user: User,
  proof: { password: string; code: string },
  request: AuditRequestContext | null,
): Promise<
  { ok: true; codes: string[] } | { ok: false; errors: Record<string, string> }
> {
  const state = await readTotpState(deps.db, user.id);
  if (!state?.secret || !state.enabledAt)
    return {
      ok: false,
      errors: { password: "Two-factor sign-in is off: there are no codes." },
    };
  const now = deps.clock.now();
  if (proof.password) {
    const hash = await findPasswordHash(deps.db, user.id);
    if (!hash || !(await verifyPassword(proof.password, hash)))
      return { ok: false, errors: { password: "That password is not right." } };
  } else if (proof.code) {
    const step = matchingStep(normalizeCode(proof.code), state.secret, now);
    if (step === null || !(await claimTotpStep(deps.db, user.id, step)))
      return {
        ok: false,
        errors: {
          code: "That code is not right, or was used already. Enter the current 6-digit code from your app.",
        },
      };
  } else {
    return {
      ok: false,
      errors: {
        password: "Enter your password, or a code from your app below.",
      },
    };
  }
  const codes = newRecoveryCodes();
  await deps.db.transaction().execute(async (tx) => {
    await replaceRecoveryCodes(tx, user.id, codes.map(hashRecoveryCode));
    await recordAudit(tx, {
      action: "auth.recovery_codes_regenerated",
      actor: user,
      target: { type: "user", id: user.publicId },
      request,
      at: now,
    });
    await enqueueMail(tx, deps, {
      template: "recovery_codes_regenerated",
      to: { address: user.email, userId: user.id },
      data: {
        displayName: user.displayName,
        when: formatDateTime(now),
        accountLink: `${deps.config.baseUrl}/account/2fa`,
      },
    });
  });
  return { ok: true, codes };
}

/**
 * The codes just shown, as a text file: only codes that are this account's
 * unused ones (the page sends them back), so the download cannot be made to
 * carry anything else. Null when any is not.
 */
export async function recoveryCodesFile(
  deps: Pick<Deps, "db">,
  user: User,
  codes: readonly string[],
): Promise<string | null> {
  if (codes.length === 0 || codes.length > RECOVERY_CODES) return null;
  const unused = await unusedRecoveryCodeHashes(deps.db, user.id);
  if (!codes.every((c) => unused.has(hashRecoveryCode(c)))) return null;
  return [
    `Disclosure Desk recovery codes for ${user.email}`,
    "",
    "Each code works once, in place of a code from your authenticator app.",
    "Keep this file somewhere safe, away from your phone.",
    "",
    ...codes.map(normalizeCode).map((c) => `${c.slice(0, 5)}-${c.slice(5)}`),
    "",
  ].join("\n");
}

import { authenticator } from "otplib";
import QRCode from "qrcode";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { crockford, sha256Hex } from "../ids.js";
import type { User } from "../users/types.js";
import { findPasswordHash } from "../users/repository.js";
import { verifyPassword } from "./passwords.js";
import {
  claimTotpStep,
  clearTotp,
  consumeRecoveryCode,
  countUnusedRecoveryCodes,
  enableTotp,
  readTotpState,
  replaceRecoveryCodes,
  setPendingTotpSecret,
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

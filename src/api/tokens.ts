/**
 * Personal access tokens for the JSON API. A token is its user, as the user
 * row stands at each request, narrowed by its scopes: it never does more
 * than its user could do in the web at that moment (the same policy).
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { isStaffRole, type Actor, type Role } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import { DAY } from "../clock.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { text, type Outcome } from "../http/validation.js";
import { newPublicId, sha256Hex } from "../ids.js";
import { toActor } from "../users/service.js";
import { findUserById } from "../users/repository.js";
import type { User } from "../users/types.js";
import {
  findApiTokenByHash,
  insertApiToken,
  listApiTokens,
  markApiTokenUsed,
  revokeApiToken,
  type ApiToken,
} from "./token-repository.js";

/** Secret scanners (GitHub's, gitleaks) recognise a leaked token by this. */
export const TOKEN_PREFIX = "dd_pat_";
const TOKEN_PATTERN = /^dd_pat_[A-Za-z0-9_-]{43}$/;

export const API_SCOPES = [
  "reports:read",
  "reports:write",
  "workflow:write",
  "advisories:write",
  "admin",
] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export const SCOPE_LABELS: Record<ApiScope, string> = {
  "reports:read": "Read the reports you can see",
  "reports:write":
    "File reports, comment and attach files; an organization's statement, tracking ID and fix target",
  "workflow:write": "Take workflow steps; an organization's status on a case",
  "advisories:write": "Write advisories (CERT staff)",
  admin: "Administration (admins)",
};

/** Scopes a role could never use are not given to it. */
const SCOPE_ROLES: Partial<Record<ApiScope, readonly Role[]>> = {
  "advisories:write": ["triager", "admin"],
  admin: ["admin"],
};

export function scopesFor(role: Role): ApiScope[] {
  return API_SCOPES.filter((s) => SCOPE_ROLES[s]?.includes(role) ?? true);
}

export const DEFAULT_EXPIRY_DAYS = 90;
export const MAX_EXPIRY_DAYS = 366;

const asList = (v: unknown) =>
  v === undefined || v === "" ? [] : Array.isArray(v) ? v : [v];

export const tokenFormSchema = z.object({
  name: text("Token name", 1, 80),
  scopes: z.preprocess(
    asList,
    z
      .array(z.enum(API_SCOPES, { error: "Choose scopes from the list." }))
      .min(1, "Choose at least one scope."),
  ),
  expiresDays: z
    .string()
    .default("")
    .transform((s) => s.trim())
    .refine(
      (s) =>
        s === "" ||
        (/^\d{1,3}$/.test(s) && Number(s) >= 1 && Number(s) <= MAX_EXPIRY_DAYS),
      `Enter a number of days from 1 to ${MAX_EXPIRY_DAYS}, or leave it empty for ${DEFAULT_EXPIRY_DAYS}.`,
    )
    .transform((s) => (s === "" ? DEFAULT_EXPIRY_DAYS : Number(s))),
});
export type TokenForm = z.infer<typeof tokenFormSchema>;

/**
 * The token is 256 random bits: nobody can guess it or search for it, so a
 * fast hash (SHA-256) protects the stored copy as well as a slow password
 * hash would, and lets every request find its token with one indexed look-up.
 * (A slow hash is for passwords, which are guessable.)
 */
export function tokenHash(token: string): string {
  return sha256Hex(token);
}

export interface CreatedToken {
  /** Shown once; only its hash is kept. */
  token: string;
  record: ApiToken;
}

/**
 * Creates a token for `user`, by themselves (web) or by an operator (CLI,
 * actor null). Staff tokens exist only for accounts with two-factor sign-in.
 */
export async function createApiToken(
  deps: Deps,
  actor: Actor | null,
  user: User,
  form: TokenForm,
  request: AuditRequestContext | null,
): Promise<Outcome<CreatedToken>> {
  if (user.disabledAt)
    return {
      ok: false,
      errors: { _form: "This account is disabled: it cannot have tokens." },
    };
  if (isStaffRole(user.role) && !user.twoFactorEnabled)
    return {
      ok: false,
      errors: {
        _form:
          "CERT staff tokens exist only for accounts with two-factor sign-in on. Turn it on first.",
      },
    };
  const allowed = scopesFor(user.role);
  const refused = form.scopes.filter((s) => !allowed.includes(s));
  if (refused.length)
    return {
      ok: false,
      errors: {
        scopes: `Your role cannot use these scopes: ${refused.join(", ")}.`,
      },
    };
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const now = deps.clock.now();
  const record = await deps.db.transaction().execute(async (tx) => {
    const record = await insertApiToken(tx, {
      publicId: newPublicId(),
      userId: user.id,
      name: form.name,
      tokenHash: tokenHash(token),
      scopes: [...new Set(form.scopes)],
      createdAt: now,
      expiresAt: new Date(now.getTime() + form.expiresDays * DAY),
    });
    await recordAudit(tx, {
      action: "api.token_created",
      actor,
      target: { type: "api_token", id: record.publicId },
      details: {
        user: user.publicId,
        scopes: record.scopes,
        expires: record.expiresAt.toISOString(),
      },
      request,
      at: now,
    });
    return record;
  });
  return { ok: true, value: { token, record } };
}

export async function revokeToken(
  deps: Deps,
  actor: Actor,
  publicId: string,
  request: AuditRequestContext | null,
): Promise<ApiToken> {
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    const token = await revokeApiToken(
      tx,
      actor.id,
      publicId.slice(0, 40),
      now,
    );
    if (!token) throw new NotFoundError();
    await recordAudit(tx, {
      action: "api.token_revoked",
      actor,
      target: { type: "api_token", id: token.publicId },
      request,
      at: now,
    });
    return token;
  });
}

export interface TokenView {
  publicId: string;
  name: string;
  scopes: string;
  created: string;
  expires: string;
  lastUsed: string;
  status: "active" | "expired" | "revoked";
}

/** The account page's list: newest first, with where each was last used. */
export async function tokenViews(deps: Deps, user: User): Promise<TokenView[]> {
  const now = deps.clock.now();
  return (await listApiTokens(deps.db, user.id)).map((t) => ({
    publicId: t.publicId,
    name: t.name,
    scopes: t.scopes.join(", "),
    created: formatDateTime(t.createdAt),
    expires: formatDateTime(t.expiresAt),
    lastUsed: t.lastUsedAt
      ? `${formatDateTime(t.lastUsedAt)} from ${t.lastUsedIp ?? "an unknown address"}`
      : "Never",
    status: t.revokedAt
      ? "revoked"
      : t.expiresAt.getTime() <= now.getTime()
        ? "expired"
        : "active",
  }));
}

/** Who a request's token speaks for, as their account stands now. */
export interface TokenCaller {
  token: ApiToken;
  user: User;
  actor: Actor;
  scopes: ReadonlySet<ApiScope>;
}

/** Last use is written at most this often per token (a write per request is waste). */
const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * The caller behind a bearer token, or null for any token that does not
 * work now: unknown, revoked, expired, its user disabled, or a staff
 * account without two-factor sign-in (checked at every use, not only at
 * creation: turning it off stops the token).
 */
export async function callerOf(
  deps: Deps,
  raw: string,
  ip: string | null,
): Promise<TokenCaller | null> {
  if (!TOKEN_PATTERN.test(raw)) return null;
  const token = await findApiTokenByHash(deps.db, tokenHash(raw));
  const now = deps.clock.now();
  if (!token || token.revokedAt) return null;
  if (token.expiresAt.getTime() <= now.getTime()) return null;
  // The CURRENT user row: a disabled or demoted user's token follows at once.
  const user = await findUserById(deps.db, token.userId);
  if (!user || user.disabledAt) return null;
  if (isStaffRole(user.role) && !user.twoFactorEnabled) return null;
  if (
    !token.lastUsedAt ||
    token.lastUsedIp !== ip ||
    now.getTime() - token.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS
  )
    await markApiTokenUsed(deps.db, token.id, now, ip);
  const scopes = new Set(
    token.scopes.filter((s): s is ApiScope =>
      (API_SCOPES as readonly string[]).includes(s),
    ),
  );
  return { token, user, actor: toActor(user), scopes };
}

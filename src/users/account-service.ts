import { z } from "zod";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import {
  hashPassword,
  passwordProblem,
  verifyPassword,
} from "../auth/passwords.js";
import {
  deleteUserSessions,
  listUserSessions,
} from "../auth/session-repository.js";
import {
  consumeToken,
  findValidToken,
  issueToken,
  retireAllTokens,
  retireTokens,
  type TokenPurpose,
} from "../auth/tokens.js";
import type { DbOrTx } from "../db/index.js";
import type { MailTemplate } from "../mail/templates.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { emailField } from "../http/validation.js";
import { enqueueMail } from "../mail/outbox.js";
import {
  findPasswordHash,
  findUserByEmail,
  findUserById,
  markEmailVerified,
  setPasswordHash,
  setUserEmail,
} from "./repository.js";
import type { Outcome } from "./service.js";
import type { User } from "./types.js";

/**
 * The account's own security flows: confirming an address, resetting a
 * forgotten password, changing password and email, and the sessions list.
 * Every link is a one-time token stored only as a hash (auth/tokens.ts).
 */
export const VERIFY_EMAIL_VALID_MS = 24 * 3600_000;
export const PASSWORD_RESET_VALID_MS = 30 * 60_000;

type DbClock = Pick<Deps, "db" | "clock" | "config">;

/**
 * Mails a one-time link inside the caller's transaction; the user's earlier
 * unused links of that purpose stop working. The mail gets `link` and
 * `expires` besides the user's name.
 */
async function mailOneTimeLink(
  tx: DbOrTx,
  deps: DbClock,
  user: User,
  link: {
    purpose: TokenPurpose;
    validMs: number;
    path: string;
    template: MailTemplate;
    to?: string;
    payload?: string;
  },
) {
  const now = deps.clock.now();
  await retireTokens(tx, user.id, link.purpose, now);
  const token = await issueToken(
    tx,
    link.purpose,
    user.id,
    now,
    link.validMs,
    link.payload ?? null,
  );
  await enqueueMail(tx, deps, {
    template: link.template,
    to: link.to
      ? { address: link.to, userId: null }
      : { address: user.email, userId: user.id },
    data: {
      displayName: user.displayName,
      link: `${deps.config.baseUrl}${link.path}?token=${token}`,
      expires: formatDateTime(new Date(now.getTime() + link.validMs)),
    },
  });
}

/** Mails a fresh confirmation link; earlier unused ones stop working. */
export async function sendEmailVerification(deps: DbClock, user: User) {
  if (user.emailVerifiedAt) return;
  await deps.db
    .transaction()
    .execute((tx) => mailEmailVerification(tx, deps, user));
}

/** The confirmation link, inside the caller's transaction (registration's). */
export function mailEmailVerification(tx: DbOrTx, deps: DbClock, user: User) {
  return mailOneTimeLink(tx, deps, user, {
    purpose: "verify_email",
    validMs: VERIFY_EMAIL_VALID_MS,
    path: "/verify-email",
    template: "verify_email",
  });
}

/**
 * Someone registered with an address that has an account: the page answers
 * exactly as for a new address, and the owner learns about it by mail.
 */
export async function notifyEmailTaken(deps: DbClock, existing: User) {
  await enqueueMail(deps.db, deps, {
    template: "email_taken",
    to: { address: existing.email, userId: existing.id },
    data: {
      loginLink: `${deps.config.baseUrl}/login`,
      resetLink: `${deps.config.baseUrl}/password/forgot`,
    },
  });
}

export type EmailLink =
  | { kind: "verify"; user: User }
  | { kind: "change"; user: User; newEmail: string };

/** What a confirmation link (new account or changed address) would do, if valid. */
export async function readEmailLink(
  deps: DbClock,
  token: string,
): Promise<EmailLink | undefined> {
  const valid = await findValidToken(
    deps.db,
    ["verify_email", "change_email"],
    token,
    deps.clock.now(),
  );
  const user = valid?.userId
    ? await findUserById(deps.db, valid.userId)
    : undefined;
  if (!valid || !user || user.disabledAt) return undefined;
  if (valid.purpose === "change_email" && valid.payload)
    return { kind: "change", user, newEmail: valid.payload };
  return { kind: "verify", user };
}

/**
 * Uses a confirmation link. A changed address is checked again for being
 * free (someone may have registered it meanwhile). Returns what happened, or
 * an error message for the page.
 *
 * A changed address also retires every link mailed before (they went to the
 * old address) and ends the account's sessions but the one confirming, if
 * it is the owner's: whoever could read the old mailbox loses the account.
 */
export async function confirmEmailLink(
  deps: DbClock,
  token: string,
  request: AuditRequestContext | null,
  current: { userId: number; sessionId: string } | null = null,
): Promise<Outcome<EmailLink>> {
  const link = await readEmailLink(deps, token);
  const invalid = {
    ok: false as const,
    errors: {
      _form:
        "This link is not valid: it was used already, has expired, or is wrong.",
    },
  };
  if (!link) return invalid;
  if (link.kind === "change" && (await findUserByEmail(deps.db, link.newEmail)))
    return {
      ok: false,
      errors: { _form: "That address now belongs to another account." },
    };
  const now = deps.clock.now();
  const used = await deps.db.transaction().execute(async (tx) => {
    const valid = await findValidToken(
      tx,
      ["verify_email", "change_email"],
      token,
      now,
    );
    if (!valid || !(await consumeToken(tx, valid.id, now))) return false;
    if (link.kind === "change") {
      await setUserEmail(tx, link.user.id, link.newEmail, now);
      await retireAllTokens(tx, link.user.id, now);
      await deleteUserSessions(
        tx,
        link.user.id,
        current?.userId === link.user.id ? current.sessionId : undefined,
      );
    } else {
      await markEmailVerified(tx, link.user.id, now);
    }
    await recordAudit(tx, {
      action:
        link.kind === "change" ? "auth.email_changed" : "auth.email_verified",
      actor: link.user,
      target: { type: "user", id: link.user.publicId },
      request,
      at: now,
    });
    return true;
  });
  return used ? { ok: true, value: link } : invalid;
}

export const forgotPasswordSchema = z.object({ email: emailField });

/**
 * Mails a reset link when the address belongs to an active account. The
 * caller answers the same either way, and the unknown case does comparable
 * work, so neither the page nor its timing tells who has an account.
 */
export async function requestPasswordReset(deps: DbClock, email: string) {
  const user = await findUserByEmail(deps.db, email);
  await hashPassword("timing-equaliser", deps.config.scryptCost);
  if (!user || user.disabledAt) return;
  await deps.db.transaction().execute((tx) =>
    mailOneTimeLink(tx, deps, user, {
      purpose: "password_reset",
      validMs: PASSWORD_RESET_VALID_MS,
      path: "/password/set",
      template: "password_reset",
    }),
  );
}

export const changePasswordSchema = z.object({
  current: z.string({ error: "Enter your current password." }),
  password: z.string({ error: "Enter a new password." }),
  confirm: z.string().default(""),
});

/** Needs the current password; ends every other session and tells the owner by mail. */
export async function changePassword(
  deps: DbClock,
  user: User,
  input: z.infer<typeof changePasswordSchema>,
  keepSessionId: string,
  request: AuditRequestContext | null,
): Promise<Outcome<null>> {
  const stored = await findPasswordHash(deps.db, user.id);
  if (!stored || !(await verifyPassword(input.current, stored)))
    return {
      ok: false,
      errors: { current: "Your current password is not right." },
    };
  const problem = passwordProblem(input.password, user.email);
  if (problem) return { ok: false, errors: { password: problem } };
  if (input.password !== input.confirm)
    return {
      ok: false,
      errors: { confirm: "The two passwords do not match." },
    };
  const hash = await hashPassword(input.password, deps.config.scryptCost);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await setPasswordHash(tx, user.id, hash, now);
    await deleteUserSessions(tx, user.id, keepSessionId);
    await recordAudit(tx, {
      action: "auth.password_changed",
      actor: user,
      target: { type: "user", id: user.publicId },
      request,
      at: now,
    });
    await enqueueMail(tx, deps, {
      template: "password_changed",
      to: { address: user.email, userId: user.id },
      data: {
        displayName: user.displayName,
        when: formatDateTime(now),
        resetLink: `${deps.config.baseUrl}/password/forgot`,
      },
    });
  });
  return { ok: true, value: null };
}

export const changeEmailSchema = z.object({
  email: emailField,
  password: z.string({ error: "Enter your password." }),
});

/**
 * Starts an address change: a link to the new address (which must confirm
 * it) and a notice to the old one, so a hijacked session cannot quietly move
 * the account.
 */
export async function requestEmailChange(
  deps: DbClock,
  user: User,
  input: z.infer<typeof changeEmailSchema>,
): Promise<Outcome<{ newEmail: string }>> {
  const stored = await findPasswordHash(deps.db, user.id);
  if (!stored || !(await verifyPassword(input.password, stored)))
    return { ok: false, errors: { password: "That password is not right." } };
  const newEmail = input.email.toLowerCase();
  if (newEmail === user.email)
    return {
      ok: false,
      errors: { email: "That is already your address." },
    };
  if (await findUserByEmail(deps.db, newEmail))
    return {
      ok: false,
      errors: { email: "That address belongs to another account." },
    };
  await deps.db.transaction().execute(async (tx) => {
    await mailOneTimeLink(tx, deps, user, {
      purpose: "change_email",
      validMs: VERIFY_EMAIL_VALID_MS,
      path: "/verify-email",
      template: "email_change_confirm",
      to: newEmail,
      payload: newEmail,
    });
    await enqueueMail(tx, deps, {
      template: "email_change_notice",
      to: { address: user.email, userId: user.id },
      data: {
        displayName: user.displayName,
        newEmail,
        accountLink: `${deps.config.baseUrl}/account`,
      },
    });
  });
  return { ok: true, value: { newEmail } };
}

export interface SessionView {
  current: boolean;
  device: string;
  ip: string;
  started: string;
  lastSeen: string;
}

/** A short, readable device name from a user agent. */
export function describeDevice(userAgent: string | null): string {
  if (!userAgent) return "Unknown device";
  const browser = /Edg\//.test(userAgent)
    ? "Edge"
    : /Firefox\//.test(userAgent)
      ? "Firefox"
      : /Chrome\//.test(userAgent)
        ? "Chrome"
        : /Safari\//.test(userAgent)
          ? "Safari"
          : userAgent.split(/[\s/]/)[0] || "Unknown browser";
  const system = /Android/.test(userAgent)
    ? "Android"
    : /iPhone|iPad/.test(userAgent)
      ? "iOS"
      : /Windows/.test(userAgent)
        ? "Windows"
        : /Mac OS X/.test(userAgent)
          ? "macOS"
          : /Linux/.test(userAgent)
            ? "Linux"
            : "";
  return system ? `${browser} on ${system}` : browser;
}

export async function listSessions(
  deps: Pick<Deps, "db" | "clock">,
  user: User,
  currentSessionId: string,
): Promise<SessionView[]> {
  const rows = await listUserSessions(
    deps.db,
    user.id,
    deps.clock.now().getTime(),
  );
  return rows.map((row) => ({
    current: row.sid === currentSessionId,
    device: describeDevice(row.userAgent),
    ip: row.ip ?? "unknown",
    started: row.createdAt ? formatDateTime(new Date(row.createdAt)) : "",
    lastSeen: row.lastSeenAt ? formatDateTime(new Date(row.lastSeenAt)) : "",
  }));
}

/** "Sign out everywhere else": every session of the user but this one. */
export async function endOtherSessions(
  deps: Pick<Deps, "db" | "clock">,
  user: User,
  keepSessionId: string,
  request: AuditRequestContext | null,
) {
  await deps.db.transaction().execute(async (tx) => {
    await deleteUserSessions(tx, user.id, keepSessionId);
    await recordAudit(tx, {
      action: "auth.sessions_ended",
      actor: user,
      target: { type: "user", id: user.publicId },
      request,
      at: deps.clock.now(),
    });
  });
}

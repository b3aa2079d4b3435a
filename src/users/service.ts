import { z } from "zod";
import {
  canAdministerOrg,
  canAssignRole,
  type Actor,
  type Role,
  ROLES,
  can,
} from "../auth/policy.js";
import {
  hashPassword,
  needsRehash,
  passwordProblem,
  verifyPassword,
} from "../auth/passwords.js";
import { deleteUserSessions } from "../auth/session-repository.js";
import {
  consumeToken,
  findValidToken,
  issueToken,
  retireAllTokens,
  retireSetupTokens,
} from "../auth/tokens.js";
import type { Deps } from "../deps.js";
import { formatDateTime, ROLE_LABELS } from "../format.js";
import { HttpError, NotFoundError } from "../http/errors.js";
import {
  emailField,
  text,
  type FieldErrors,
  type Outcome,
} from "../http/validation.js";
import { newPublicId } from "../ids.js";
import { enqueueMail } from "../mail/outbox.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import { mailEmailVerification, notifyEmailTaken } from "./account-service.js";
import {
  countAdmins,
  findPasswordHash,
  findUserByEmail,
  findUserById,
  findUserByPublicId,
  insertUser,
  listUsers,
  markEmailVerified,
  setNotifyLevel,
  replacePasswordHash,
  setPasswordHash,
  setUserDisabled,
  setUserRole,
} from "./repository.js";
import type { NotifyLevel, User } from "./types.js";

const SET_PASSWORD_VALID_MS = 72 * 3600_000;

// Callers across features import it from here too.
export type { Outcome };

export const displayNameField = text("Display name", 1, 80);

export const registrationSchema = z.object({
  email: emailField,
  displayName: displayNameField,
  password: z.string({ error: "Password is required." }),
});

export function toActor(user: User): Actor {
  return {
    id: user.id,
    role: user.role,
    orgIds: user.orgIds,
    limitedOrgIds: user.limitedOrgIds,
    adminOrgIds: user.adminOrgIds,
    emailVerified: user.emailVerifiedAt !== null,
    twoFactorEnabled: user.twoFactorEnabled,
  };
}

/**
 * Researchers register themselves; every other role is made by staff. The
 * answer is the same whether the address is new or taken ("check your
 * mail"): a new account gets a confirmation link, the owner of a taken
 * address a notice. The password is hashed either way, so timing matches.
 */
export async function registerResearcher(
  deps: Deps,
  input: z.infer<typeof registrationSchema>,
): Promise<Outcome<{ email: string }>> {
  const problem = passwordProblem(input.password, input.email);
  if (problem) return { ok: false, errors: { password: problem } };
  const passwordHash = await hashPassword(
    input.password,
    deps.config.scryptCost,
  );
  const existing = await findUserByEmail(deps.db, input.email);
  if (existing) {
    await notifyEmailTaken(deps, existing);
    return { ok: true, value: { email: input.email } };
  }
  // The account, its audit entry and its confirmation mail: all or nothing.
  const user = await deps.db.transaction().execute(async (tx) => {
    const user = await insertUser(tx, {
      publicId: newPublicId(),
      email: input.email,
      displayName: input.displayName,
      role: "researcher",
      passwordHash,
      createdAt: deps.clock.now(),
    });
    await recordAudit(tx, {
      action: "user.created",
      actor: user,
      target: { type: "user", id: user.publicId },
      details: { role: user.role, via: "registration" },
      at: user.createdAt,
    });
    await mailEmailVerification(tx, deps, user);
    return user;
  });
  return { ok: true, value: { email: user.email } };
}

// Compared against when the email is unknown, so a miss takes as long as a hit.
let decoyHash: Promise<string> | undefined;

/**
 * Checks credentials. Unknown email, wrong password and disabled account all
 * answer null after the same amount of work: the response tells nothing.
 */
export async function authenticate(
  deps: Deps,
  email: string,
  password: string,
) {
  const user = await findUserByEmail(deps.db, email.trim().toLowerCase());
  const stored = user ? await findPasswordHash(deps.db, user.id) : null;
  if (!stored) {
    decoyHash ??= hashPassword(
      "decoy-password-never-matches",
      deps.config.scryptCost,
    );
    await verifyPassword(password, await decoyHash);
    return null;
  }
  const ok = await verifyPassword(password, stored);
  if (!ok || !user || user.disabledAt) return null;
  // Older parameters (N = 2^17, p = 1 before): store a hash made with the
  // configured ones while the password is at hand. One write, not audited
  // (the sign-in is; nothing the user did changed).
  if (needsRehash(stored, deps.config.scryptCost)) {
    await replacePasswordHash(
      deps.db,
      user.id,
      stored,
      await hashPassword(password, deps.config.scryptCost),
    );
  }
  return user;
}

/** Loads the user behind a session; a disabled account has no session. */
export async function sessionUser(
  deps: Deps,
  id: number,
): Promise<User | undefined> {
  const user = await findUserById(deps.db, id);
  return user && !user.disabledAt ? user : undefined;
}

export const createAccountSchema = z.object({
  email: emailField,
  displayName: displayNameField,
  role: z.enum(ROLES, { error: "Choose a role." }),
});

export interface CreatedAccount {
  user: User;
  link: string;
}

/**
 * Makes an account without a password and mails (and returns) a one-time link
 * to choose one. `actor` null means the command line, which runs as the host.
 */
export async function createAccount(
  deps: Deps,
  actor: Actor | null,
  input: z.infer<typeof createAccountSchema>,
  /** An invitation to an organization (orgId): its administrator may send it too. */
  options: { orgName?: string; orgId?: number } = {},
): Promise<Outcome<CreatedAccount>> {
  const allowed =
    options.orgId !== undefined && input.role === "org_contact"
      ? canAdministerOrg(actor, options.orgId)
      : canAssignRole(actor, input.role);
  if (actor !== null && !allowed) throw new NotFoundError();
  if (await findUserByEmail(deps.db, input.email)) {
    return {
      ok: false,
      errors: { email: "An account with this email already exists." },
    };
  }
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    const user = await insertUser(tx, {
      publicId: newPublicId(),
      email: input.email,
      displayName: input.displayName,
      role: input.role,
      passwordHash: null,
      createdAt: now,
    });
    await recordAudit(tx, {
      action: "user.created",
      actor,
      target: { type: "user", id: user.publicId },
      details: { role: user.role },
      at: now,
    });
    // The first-run link was printed for want of an admin; there is one now.
    if (user.role === "admin") await retireSetupTokens(tx, now);
    const token = await issueToken(
      tx,
      "set_password",
      user.id,
      now,
      SET_PASSWORD_VALID_MS,
    );
    const link = `${deps.config.baseUrl}/password/set?token=${token}`;
    const expires = formatDateTime(
      new Date(now.getTime() + SET_PASSWORD_VALID_MS),
    );
    await enqueueMail(tx, deps, {
      template: options.orgName ? "invitation" : "set_password",
      to: { address: user.email, userId: user.id },
      data: {
        displayName: user.displayName,
        roleLabel: ROLE_LABELS[user.role],
        orgName: options.orgName,
        link,
        expires,
      },
    });
    return { ok: true as const, value: { user, link } };
  });
}

export const newPasswordSchema = z.object({
  token: z.string().max(200).default(""),
  password: z.string({ error: "Password is required." }),
  confirm: z.string().default(""),
});

/** Links that set a password: the first one (invitation) and a reset. */
const PASSWORD_LINKS = ["set_password", "password_reset"] as const;

/** Who a set-password link is for, or undefined if it is not (or no longer) valid. */
export async function userForPasswordToken(deps: Deps, token: string) {
  const valid = await findValidToken(
    deps.db,
    PASSWORD_LINKS,
    token,
    deps.clock.now(),
  );
  return valid?.userId ? findUserById(deps.db, valid.userId) : undefined;
}

/** Sets a password through a one-time link; ends every session of that account. */
export async function setPasswordWithToken(
  deps: Deps,
  input: z.infer<typeof newPasswordSchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<User>> {
  const user = await userForPasswordToken(deps, input.token);
  if (!user)
    throw new HttpError(
      400,
      "This link is not valid any more. Ask for a new one.",
    );
  const problem = passwordProblem(input.password, user.email);
  if (problem) return { ok: false, errors: { password: problem } };
  if (input.password !== input.confirm) {
    return {
      ok: false,
      errors: { confirm: "The two passwords do not match." },
    };
  }
  const hash = await hashPassword(input.password, deps.config.scryptCost);
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    const token = await findValidToken(tx, PASSWORD_LINKS, input.token, now);
    if (!token || !(await consumeToken(tx, token.id, now))) {
      throw new HttpError(
        400,
        "This link is not valid any more. Ask for a new one.",
      );
    }
    await setPasswordHash(tx, user.id, hash, now);
    // Every other link in old mail (an unused invitation, an email change
    // someone else started) dies with the sessions.
    await retireAllTokens(tx, user.id, now);
    await deleteUserSessions(tx, user.id);
    // The link arrived by mail, so the address is proven.
    await markEmailVerified(tx, user.id, now);
    await recordAudit(tx, {
      action:
        token.purpose === "password_reset"
          ? "auth.password_reset"
          : "auth.password_changed",
      actor: user,
      target: { type: "user", id: user.publicId },
      request,
      at: now,
    });
    // A reset replaced a password: the owner hears of it, as after a change
    // on the account page (someone else may have read their mail). The
    // first password of an invitation replaced nothing.
    if (token.purpose === "password_reset")
      await enqueueMail(tx, deps, {
        template: "password_changed",
        to: { address: user.email, userId: user.id },
        data: {
          displayName: user.displayName,
          when: formatDateTime(now),
          resetLink: `${deps.config.baseUrl}/password/forgot`,
        },
      });
    return { ok: true as const, value: user };
  });
}

/** The first admin: only while there is none, through the one-time setup link. */
export const setupSchema = registrationSchema.extend({
  token: z.string().max(200).default(""),
});

export async function isSetupTokenValid(
  deps: Deps,
  token: string,
): Promise<boolean> {
  if ((await countAdmins(deps.db)) > 0) return false;
  return (
    (await findValidToken(deps.db, "setup", token, deps.clock.now())) !==
    undefined
  );
}

export async function completeSetup(
  deps: Deps,
  input: z.infer<typeof setupSchema>,
): Promise<Outcome<User>> {
  if (!(await isSetupTokenValid(deps, input.token))) {
    throw new HttpError(400, "This setup link is not valid any more.");
  }
  const problem = passwordProblem(input.password, input.email);
  if (problem) return { ok: false, errors: { password: problem } };
  if (await findUserByEmail(deps.db, input.email)) {
    return {
      ok: false,
      errors: { email: "An account with this email already exists." },
    };
  }
  const hash = await hashPassword(input.password, deps.config.scryptCost);
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    const token = await findValidToken(tx, "setup", input.token, now);
    if (!token || !(await consumeToken(tx, token.id, now))) {
      throw new HttpError(400, "This setup link is not valid any more.");
    }
    const user = await insertUser(tx, {
      publicId: newPublicId(),
      email: input.email,
      displayName: input.displayName,
      role: "admin",
      passwordHash: hash,
      createdAt: now,
    });
    await recordAudit(tx, {
      action: "user.created",
      actor: user,
      target: { type: "user", id: user.publicId },
      details: { role: user.role, via: "setup" },
      at: now,
    });
    return { ok: true as const, value: user };
  });
}

/**
 * At start with no admin: a fresh one-time setup link (earlier unused ones are
 * voided, since their secret was only ever printed once). Null when not needed.
 */
export async function issueSetupLinkIfNeeded(
  deps: Deps,
): Promise<string | null> {
  if ((await countAdmins(deps.db)) > 0) return null;
  const now = deps.clock.now();
  const token = await deps.db.transaction().execute(async (tx) => {
    await retireSetupTokens(tx, now);
    return issueToken(
      tx,
      "setup",
      null,
      now,
      deps.config.setupTokenHours * 3600_000,
    );
  });
  return `${deps.config.baseUrl}/setup?token=${token}`;
}

// ---- administration ----

function requireUserAdmin(actor: Actor | null) {
  if (actor !== null && !can(actor, "user:manage")) throw new NotFoundError();
}

export async function listAllUsers(
  deps: Deps,
  actor: Actor | null,
): Promise<User[]> {
  requireUserAdmin(actor);
  return listUsers(deps.db);
}

async function targetUser(deps: Deps, target: string | number): Promise<User> {
  const user =
    typeof target === "number"
      ? await findUserById(deps.db, target)
      : ((await findUserByPublicId(deps.db, target)) ??
        (await findUserByEmail(deps.db, target)));
  if (!user) throw new NotFoundError();
  return user;
}

/** Disabling ends every session of the account at once. */
export async function disableUser(
  deps: Deps,
  actor: Actor | null,
  target: string | number,
) {
  requireUserAdmin(actor);
  const user = await targetUser(deps, target);
  if (actor && user.id === actor.id)
    throw new HttpError(400, "You cannot disable your own account.");
  await deps.db.transaction().execute(async (tx) => {
    await setUserDisabled(tx, user.id, deps.clock.now());
    await deleteUserSessions(tx, user.id);
    await recordAudit(tx, {
      action: "user.disabled",
      actor,
      target: { type: "user", id: user.publicId },
      at: deps.clock.now(),
    });
  });
  return user;
}

export async function enableUser(
  deps: Deps,
  actor: Actor | null,
  target: string | number,
) {
  requireUserAdmin(actor);
  const user = await targetUser(deps, target);
  await deps.db.transaction().execute(async (tx) => {
    await setUserDisabled(tx, user.id, null);
    await recordAudit(tx, {
      action: "user.enabled",
      actor,
      target: { type: "user", id: user.publicId },
      at: deps.clock.now(),
    });
  });
  return user;
}

export async function changeRole(
  deps: Deps,
  actor: Actor | null,
  target: string | number,
  role: Role,
) {
  requireUserAdmin(actor);
  const user = await targetUser(deps, target);
  if (actor && user.id === actor.id)
    throw new HttpError(400, "You cannot change your own role.");
  await deps.db.transaction().execute(async (tx) => {
    await setUserRole(tx, user.id, role);
    if (role === "admin") await retireSetupTokens(tx, deps.clock.now());
    // A role change changes what the sessions may do: make them sign in again.
    await deleteUserSessions(tx, user.id);
    await recordAudit(tx, {
      action: "user.role_changed",
      actor,
      target: { type: "user", id: user.publicId },
      details: { from: user.role, to: role },
      at: deps.clock.now(),
    });
  });
  return user;
}

export async function setNotificationPreference(
  deps: Deps,
  actor: Actor,
  notify: NotifyLevel,
  request: AuditRequestContext | null = null,
) {
  if (!can(actor, "account:manage")) throw new NotFoundError();
  await deps.db.transaction().execute(async (tx) => {
    const user = await findUserById(tx, actor.id);
    if (!user || user.notify === notify) return;
    await setNotifyLevel(tx, actor.id, notify);
    await recordAudit(tx, {
      action: "user.notifications_changed",
      actor,
      target: { type: "user", id: user.publicId },
      details: { level: `${user.notify} → ${notify}` },
      request,
      at: deps.clock.now(),
    });
  });
}

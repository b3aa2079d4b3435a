import type { Selectable } from "kysely";
import type { Role } from "../auth/policy.js";
import type { Db, DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";
import type { UsersTable } from "../db/schema.js";
import type { NotifyLevel, User } from "./types.js";

const NO_ORGS: {
  orgIds: number[];
  limitedOrgIds: number[];
  adminOrgIds: number[];
} = { orgIds: [], limitedOrgIds: [], adminOrgIds: [] };

function toUser(
  row: Selectable<UsersTable>,
  orgs: { orgIds: number[]; limitedOrgIds: number[]; adminOrgIds: number[] },
): User {
  return {
    id: row.id,
    publicId: row.public_id,
    email: row.email,
    displayName: row.display_name,
    role: row.role as Role,
    notify: row.notify as NotifyLevel,
    disabledAt: row.disabled_at === null ? null : new Date(row.disabled_at),
    emailVerifiedAt:
      row.email_verified_at === null ? null : new Date(row.email_verified_at),
    twoFactorEnabled: row.totp_enabled_at !== null,
    systemAccount: row.system_account === 1,
    mailBouncingSince:
      row.mail_bouncing_since === null
        ? null
        : new Date(row.mail_bouncing_since),
    createdAt: new Date(row.created_at),
    ...orgs,
  };
}

/**
 * The organizations a user belongs to; of those, the ones where they see
 * only the cases they are given, and the ones they administer.
 */
async function orgIdsOf(db: DbOrTx, userId: number): Promise<Memberships> {
  return (await membershipsOf(db, [userId])).get(userId) ?? NO_ORGS;
}

type Memberships = {
  orgIds: number[];
  limitedOrgIds: number[];
  adminOrgIds: number[];
};

/** orgIdsOf for several users in one query. */
async function membershipsOf(
  db: DbOrTx,
  userIds: readonly number[],
): Promise<Map<number, Memberships>> {
  if (userIds.length === 0) return new Map();
  return membershipsByUser((await membershipsQuery(db, userIds)).rows);
}

// Every signed-in request reads its user's memberships: built once.
const membershipsQuery = preparedQuery((db, userIds: readonly number[]) =>
  db
    .selectFrom("org_members as m")
    .innerJoin("organizations as o", "o.id", "m.org_id")
    .select(["m.user_id", "m.org_id", "m.is_admin", "o.members_see_all"])
    .where("m.user_id", "in", userIds)
    .orderBy("m.org_id"),
);

function membershipsByUser(
  rows: readonly {
    user_id: number;
    org_id: number;
    is_admin: number;
    members_see_all: number;
  }[],
): Map<number, Memberships> {
  const byUser = new Map<number, Memberships>();
  for (const r of rows) {
    let m = byUser.get(r.user_id);
    if (!m) {
      m = { orgIds: [], limitedOrgIds: [], adminOrgIds: [] };
      byUser.set(r.user_id, m);
    }
    m.orgIds.push(r.org_id);
    if (r.members_see_all === 0 && r.is_admin === 0)
      m.limitedOrgIds.push(r.org_id);
    if (r.is_admin === 1) m.adminOrgIds.push(r.org_id);
  }
  return byUser;
}

/**
 * The contacts of these organizations, each with all their memberships (as
 * the policy reads them), by organization and by name: three queries for
 * every organization on a case.
 */
export async function findMembersOfOrgs(
  db: DbOrTx,
  orgIds: readonly number[],
): Promise<Map<number, User[]>> {
  const byOrg = new Map<number, User[]>();
  if (orgIds.length === 0) return byOrg;
  const rows = await db
    .selectFrom("org_members as m")
    .innerJoin("users as u", "u.id", "m.user_id")
    .selectAll("u")
    .select("m.org_id as member_of")
    .where("m.org_id", "in", [...orgIds])
    .orderBy("u.display_name")
    .execute();
  const memberships = await membershipsOf(db, [
    ...new Set(rows.map((r) => r.id)),
  ]);
  for (const { member_of, ...row } of rows) {
    const list = byOrg.get(member_of) ?? [];
    list.push(toUser(row, memberships.get(row.id) ?? NO_ORGS));
    byOrg.set(member_of, list);
  }
  return byOrg;
}

export async function findUserById(
  db: DbOrTx,
  id: number,
): Promise<User | undefined> {
  const row = (await userById(db, id)).rows[0];
  return row && toUser(row, await orgIdsOf(db, row.id));
}

// Read on every signed-in request (passport's deserialize): built once.
const userById = preparedQuery((db, id: number) =>
  db.selectFrom("users").selectAll().where("id", "=", id),
);

export async function findUserByPublicId(
  db: DbOrTx,
  publicId: string,
): Promise<User | undefined> {
  const row = await db
    .selectFrom("users")
    .selectAll()
    .where("public_id", "=", publicId)
    .executeTakeFirst();
  return row && toUser(row, await orgIdsOf(db, row.id));
}

export async function findUserByEmail(
  db: DbOrTx,
  email: string,
): Promise<User | undefined> {
  const row = await db
    .selectFrom("users")
    .selectAll()
    .where("email", "=", email.toLowerCase())
    .executeTakeFirst();
  return row && toUser(row, await orgIdsOf(db, row.id));
}

/** The stored password hash, read only by the sign-in and password-change paths. */
export async function findPasswordHash(
  db: DbOrTx,
  userId: number,
): Promise<string | null> {
  const row = await db
    .selectFrom("users")
    .select("password_hash")
    .where("id", "=", userId)
    .executeTakeFirst();
  return row?.password_hash ?? null;
}

export interface NewUser {
  publicId: string;
  email: string;
  displayName: string;
  role: Role;
  passwordHash: string | null;
  createdAt: Date;
  /** Set for accounts whose address is known good (made by staff, tests). */
  emailVerifiedAt?: Date | null;
}

export async function insertUser(db: DbOrTx, user: NewUser): Promise<User> {
  const row = await db
    .insertInto("users")
    .values({
      public_id: user.publicId,
      email: user.email.toLowerCase(),
      display_name: user.displayName,
      role: user.role,
      password_hash: user.passwordHash,
      created_at: user.createdAt.getTime(),
      password_changed_at: user.passwordHash ? user.createdAt.getTime() : null,
      email_verified_at: user.emailVerifiedAt?.getTime() ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toUser(row, NO_ORGS);
}

export async function setPasswordHash(
  db: DbOrTx,
  userId: number,
  hash: string,
  at: Date,
) {
  await db
    .updateTable("users")
    .set({ password_hash: hash, password_changed_at: at.getTime() })
    .where("id", "=", userId)
    .execute();
}

/**
 * Stores a rehash of the same password (new scrypt parameters): not a
 * password change, so `password_changed_at` stays. Only over the hash it
 * was made from: a password changed or reset meanwhile is never overwritten
 * with the old one. True when it was stored.
 */
export async function replacePasswordHash(
  db: DbOrTx,
  userId: number,
  from: string,
  to: string,
): Promise<boolean> {
  const result = await db
    .updateTable("users")
    .set({ password_hash: to })
    .where("id", "=", userId)
    .where("password_hash", "=", from)
    .executeTakeFirst();
  return result.numUpdatedRows === 1n;
}

export async function setUserRole(db: DbOrTx, userId: number, role: Role) {
  await db
    .updateTable("users")
    .set({ role })
    .where("id", "=", userId)
    .where("system_account", "=", 0)
    .execute();
}

export async function setUserDisabled(
  db: DbOrTx,
  userId: number,
  at: Date | null,
) {
  await db
    .updateTable("users")
    .set({ disabled_at: at ? at.getTime() : null })
    .where("id", "=", userId)
    // The intake account stays disabled: it never signs in.
    .where("system_account", "=", 0)
    .execute();
}

export async function setNotifyLevel(
  db: DbOrTx,
  userId: number,
  notify: NotifyLevel,
) {
  await db
    .updateTable("users")
    .set({ notify })
    .where("id", "=", userId)
    .execute();
}

export async function markEmailVerified(db: DbOrTx, userId: number, at: Date) {
  await db
    .updateTable("users")
    .set({ email_verified_at: at.getTime() })
    .where("id", "=", userId)
    .where("email_verified_at", "is", null)
    .execute();
}

/**
 * Admin accounts, disabled ones included: once an admin has existed the
 * first-run setup link must never work again (an operator who disabled
 * every admin re-enables one on the command line).
 */
export async function countAdmins(db: DbOrTx): Promise<number> {
  const row = await db
    .selectFrom("users")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("role", "=", "admin")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function listUsers(db: DbOrTx, limit = 500): Promise<User[]> {
  const rows = await db
    .selectFrom("users")
    .selectAll()
    // The intake account (reports by email) is nobody's to manage.
    .where("system_account", "=", 0)
    .orderBy("id")
    .limit(limit)
    .execute();
  const members = await db
    .selectFrom("org_members")
    .select(["org_id", "user_id", "is_admin"])
    .execute();
  // The users list shows memberships only; who sees which case is read per user (orgIdsOf).
  return rows.map((row) => {
    const own = members.filter((m) => m.user_id === row.id);
    return toUser(row, {
      orgIds: own.map((m) => m.org_id),
      limitedOrgIds: [],
      adminOrgIds: own.filter((m) => m.is_admin === 1).map((m) => m.org_id),
    });
  });
}

/**
 * The active staff (the queue's assignee filter on every view, the triage
 * team's mail) kept for the database `keptIn` until an account changes on
 * any connection (users_version, moved by triggers): a disabled account
 * leaves the list at once. Inside a transaction on it a kept list is used
 * but none is stored, as the transaction's own changes may roll back.
 */
const activeStaffKept = new WeakMap<
  object,
  { version: number; list: readonly User[] }
>();

// Read on every queue and report page: built once.
const usersVersion = preparedQuery((db) =>
  db.selectFrom("users_version").select("version"),
);

export async function listActiveStaff(db: DbOrTx, keptIn: Db): Promise<User[]> {
  const { version } = (await usersVersion(db)).rows[0]!;
  const kept = activeStaffKept.get(keptIn);
  if (kept && kept.version === version) return [...kept.list];
  const list = await readActiveStaff(db);
  if (!db.isTransaction) activeStaffKept.set(keptIn, { version, list });
  return [...list];
}

async function readActiveStaff(db: DbOrTx): Promise<User[]> {
  const rows = await db
    .selectFrom("users")
    .selectAll()
    .where("role", "in", ["triager", "admin"])
    .where("disabled_at", "is", null)
    .orderBy("id")
    .execute();
  return rows.map((row) => toUser(row, NO_ORGS));
}

/** Several accounts at once (mail recipients); memberships are not loaded. */
export async function findUsersByIds(
  db: DbOrTx,
  ids: readonly number[],
): Promise<User[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom("users")
    .selectAll()
    .where("id", "in", ids as number[])
    .execute();
  return rows.map((row) => toUser(row, NO_ORGS));
}

export async function setUserEmail(
  db: DbOrTx,
  userId: number,
  email: string,
  at: Date,
) {
  await db
    .updateTable("users")
    // A new address starts with a clean record (bounces.ts).
    .set({
      email: email.toLowerCase(),
      email_verified_at: at.getTime(),
      mail_bouncing_since: null,
    })
    .where("id", "=", userId)
    .execute();
}

import { sql, type Selectable } from "kysely";
import {
  announceChange,
  cacheLifetime,
  changeGeneration,
} from "../db/changes.js";
import { equalsIgnoringCase } from "../db/dialect.js";
import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";
import type { OrganizationsTable } from "../db/schema.js";
import type {
  Organization,
  OrganizationSummary,
  OrgCaseGrant,
  OrgContact,
} from "./types.js";

function toOrganization(row: Selectable<OrganizationsTable>): Organization {
  return {
    id: row.id,
    publicId: row.public_id,
    name: row.name,
    createdAt: new Date(row.created_at),
  };
}

/**
 * The list of every organization (500 in the benchmark's seed, one `<option>`
 * each on the queue, the report form and the report page) is kept in memory:
 * reading and mapping it cost more than the queue's own list query. Adding
 * one drops it (announceChange, src/db/changes.ts): in this instance at once,
 * in the other instances on PostgreSQL when their change notice arrives
 * (within milliseconds of the commit). One written by another process on
 * SQLite (the command line) is seen within a minute.
 */
const ORGANIZATIONS_CACHE_MS = 60_000;
const organizationsCache = new WeakMap<
  object,
  { generation: number; until: number; list: readonly Organization[] }
>();

export async function insertOrganization(
  db: DbOrTx,
  org: { publicId: string; name: string; createdAt: Date },
): Promise<Organization> {
  const row = await db
    .insertInto("organizations")
    .values({
      public_id: org.publicId,
      name: org.name,
      created_at: org.createdAt.getTime(),
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  await announceChange(db, "organizations");
  return toOrganization(row);
}

/** Names are unique without regard to case (the index is `collate nocase`; lower(name) on PostgreSQL). */
export async function findOrganizationByName(
  db: DbOrTx,
  name: string,
): Promise<Organization | undefined> {
  const row = await db
    .selectFrom("organizations")
    .selectAll()
    .where(equalsIgnoringCase(db, "name", name))
    .executeTakeFirst();
  return row && toOrganization(row);
}

export async function findOrganizationByPublicId(
  db: DbOrTx,
  publicId: string,
): Promise<Organization | undefined> {
  const row = await db
    .selectFrom("organizations")
    .selectAll()
    .where("public_id", "=", publicId)
    .executeTakeFirst();
  return row && toOrganization(row);
}

export async function findOrganizationById(
  db: DbOrTx,
  id: number,
): Promise<Organization | undefined> {
  const row = (await organizationById(db, id)).rows[0];
  return row && toOrganization(row);
}

// Read on report pages (the lead organization, the triage form): built once.
const organizationById = preparedQuery((db, id: number) =>
  db.selectFrom("organizations").selectAll().where("id", "=", id),
);

/**
 * Every organization by name, for pickers and filters (see the cache above).
 * The kept list itself is returned, frozen, so what is derived from it can
 * be kept with it (keptOptions in src/http/option-tags.ts).
 */
export async function listOrganizations(
  db: DbOrTx,
): Promise<readonly Organization[]> {
  // Inside a transaction the list may include its own uncommitted writes.
  if (db.isTransaction) return readOrganizations(db);
  const now = Date.now();
  const cached = organizationsCache.get(db);
  const generation = changeGeneration(db, "organizations");
  if (cached && cached.generation === generation && cached.until > now)
    return cached.list;
  const list = Object.freeze(await readOrganizations(db));
  // A change during the read leaves the cache empty for the next caller.
  if (generation === changeGeneration(db, "organizations"))
    organizationsCache.set(db, {
      generation,
      until: now + cacheLifetime(db, ORGANIZATIONS_CACHE_MS),
      list,
    });
  return list;
}

async function readOrganizations(db: DbOrTx): Promise<Organization[]> {
  const rows = await db
    .selectFrom("organizations")
    .selectAll()
    .orderBy("name")
    .execute();
  return rows.map(toOrganization);
}

export async function listOrganizationSummaries(
  db: DbOrTx,
): Promise<OrganizationSummary[]> {
  const rows = await db
    .selectFrom("organizations as o")
    .selectAll("o")
    .select((eb) => [
      eb
        .selectFrom("org_members as m")
        .select(eb.fn.countAll<number>().as("n"))
        .whereRef("m.org_id", "=", "o.id")
        .as("member_count"),
      eb
        .selectFrom("reports as r")
        .select(eb.fn.countAll<number>().as("n"))
        .whereRef("r.organization_id", "=", "o.id")
        .as("report_count"),
    ])
    .orderBy("o.name")
    .execute();
  return rows.map((row) => ({
    ...toOrganization(row),
    memberCount: Number(row.member_count ?? 0),
    reportCount: Number(row.report_count ?? 0),
  }));
}

export async function listOrgContacts(
  db: DbOrTx,
  orgId: number,
): Promise<OrgContact[]> {
  const rows = await db
    .selectFrom("org_members as m")
    .innerJoin("users as u", "u.id", "m.user_id")
    .select([
      "u.id",
      "u.public_id",
      "u.email",
      "u.display_name",
      "u.disabled_at",
      "u.password_hash",
      "m.is_admin",
    ])
    .where("m.org_id", "=", orgId)
    .orderBy("u.display_name")
    .execute();
  return rows.map((row) => ({
    id: row.id,
    publicId: row.public_id,
    email: row.email,
    displayName: row.display_name,
    disabled: row.disabled_at !== null,
    hasPassword: row.password_hash !== null,
    isAdmin: row.is_admin === 1,
  }));
}

export async function isOrgMember(
  db: DbOrTx,
  orgId: number,
  userId: number,
): Promise<boolean> {
  const row = await db
    .selectFrom("org_members")
    .select("org_id")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function addOrgMember(
  db: DbOrTx,
  orgId: number,
  userId: number,
): Promise<void> {
  await db
    .insertInto("org_members")
    .values({ org_id: orgId, user_id: userId })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/**
 * True when there was such a membership. The cases the organization gave
 * the member go with it: joining again later starts with none.
 */
export async function removeOrgMember(
  db: DbOrTx,
  orgId: number,
  userId: number,
): Promise<boolean> {
  await db
    .deleteFrom("org_case_grants")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .execute();
  const result = await db
    .deleteFrom("org_members")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/** Makes a member the organization's administrator, or a plain member again; true when they are a member. */
export async function setOrgAdmin(
  db: DbOrTx,
  orgId: number,
  userId: number,
  isAdmin: boolean,
): Promise<boolean> {
  const result = await db
    .updateTable("org_members")
    .set({ is_admin: isAdmin ? 1 : 0 })
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function countOrgAdmins(
  db: DbOrTx,
  orgId: number,
): Promise<number> {
  const row = await db
    .selectFrom("org_members")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("org_id", "=", orgId)
    .where("is_admin", "=", 1)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** True: every member sees every case of the organization; false: only the cases they are given. */
export async function membersSeeAll(
  db: DbOrTx,
  orgId: number,
): Promise<boolean> {
  const row = await db
    .selectFrom("organizations")
    .select("members_see_all")
    .where("id", "=", orgId)
    .executeTakeFirstOrThrow();
  return row.members_see_all === 1;
}

export async function setMembersSeeAll(
  db: DbOrTx,
  orgId: number,
  seeAll: boolean,
): Promise<void> {
  await db
    .updateTable("organizations")
    .set({ members_see_all: seeAll ? 1 : 0 })
    .where("id", "=", orgId)
    .execute();
}

/** The cases the organization gave its members, with each report's ID and title. */
export async function listOrgCaseGrants(
  db: DbOrTx,
  orgId: number,
): Promise<OrgCaseGrant[]> {
  const rows = await db
    .selectFrom("org_case_grants as g")
    .innerJoin("reports as r", "r.id", "g.report_id")
    .select(["g.user_id", "g.granted_at", "r.public_id", "r.title"])
    .where("g.org_id", "=", orgId)
    .orderBy("g.granted_at")
    .orderBy("r.public_id")
    .execute();
  return rows.map((row) => ({
    userId: row.user_id,
    reportPublicId: row.public_id,
    reportTitle: row.title,
    grantedAt: new Date(row.granted_at),
  }));
}

/** Gives a member a case; false when they had it already. */
export async function addOrgCaseGrant(
  db: DbOrTx,
  grant: {
    orgId: number;
    userId: number;
    reportId: number;
    by: number;
    at: Date;
  },
): Promise<boolean> {
  const result = await db
    .insertInto("org_case_grants")
    .values({
      org_id: grant.orgId,
      user_id: grant.userId,
      report_id: grant.reportId,
      granted_at: grant.at.getTime(),
      granted_by: grant.by,
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Takes a case back from a member, by its report ID; true when they had it. */
export async function removeOrgCaseGrant(
  db: DbOrTx,
  orgId: number,
  userId: number,
  reportPublicId: string,
): Promise<boolean> {
  const result = await db
    .deleteFrom("org_case_grants")
    .where("org_id", "=", orgId)
    .where("user_id", "=", userId)
    .where("report_id", "in", (eb) =>
      eb
        .selectFrom("reports")
        .select("id")
        .where("public_id", "=", reportPublicId),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

import { z } from "zod";
import { isUniqueViolation } from "../db/dialect.js";
import { can, type Actor } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { emailField, text } from "../http/validation.js";
import { newPublicId } from "../ids.js";
import { ROLE_LABELS } from "../format.js";
import { findUserByEmail, findUserByPublicId } from "../users/repository.js";
import {
  createAccount,
  displayNameField,
  type Outcome,
} from "../users/service.js";
import {
  addOrgMember,
  findOrganizationByName,
  findOrganizationByPublicId,
  insertOrganization,
  isOrgMember,
  listOrgContacts,
  listOrganizationSummaries,
  removeOrgMember,
  setOrgAdmin,
} from "./repository.js";
import type { Organization, OrganizationSummary, OrgContact } from "./types.js";

export const organizationSchema = z.object({
  name: text("Organization name", 2, 120),
});

export const contactSchema = z.object({
  email: emailField,
  displayName: displayNameField,
});

function requireOrgManager(actor: Actor | null): asserts actor is Actor {
  if (!can(actor, "org:manage")) throw new NotFoundError();
}

async function loadOrganization(
  deps: Deps,
  publicId: string,
): Promise<Organization> {
  const org = await findOrganizationByPublicId(deps.db, publicId);
  if (!org) throw new NotFoundError();
  return org;
}

export async function listOrganizationsWithCounts(
  deps: Deps,
  actor: Actor | null,
): Promise<OrganizationSummary[]> {
  requireOrgManager(actor);
  return listOrganizationSummaries(deps.db);
}

const NAME_TAKEN = "An organization with this name already exists.";

export async function createOrganization(
  deps: Deps,
  actor: Actor | null,
  input: z.infer<typeof organizationSchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<Organization>> {
  try {
    return await deps.db
      .transaction()
      .execute((tx) =>
        createOrganizationIn(tx, actor, input, deps.clock.now(), request),
      );
  } catch (err) {
    // Two people creating the same name at once: the unique index decides.
    if (isUniqueViolation(err))
      return { ok: false, errors: { name: NAME_TAKEN } };
    throw err;
  }
}

/**
 * Creates an organization, audited, inside the caller's transaction (the
 * triage step creates the one the researcher suggested together with the step).
 */
export async function createOrganizationIn(
  tx: DbOrTx,
  actor: Actor | null,
  input: z.infer<typeof organizationSchema>,
  now: Date,
  request: AuditRequestContext | null = null,
): Promise<Outcome<Organization>> {
  requireOrgManager(actor);
  const existing = await findOrganizationByName(tx, input.name);
  if (existing) {
    return {
      ok: false,
      errors: { name: `${NAME_TAKEN} (“${existing.name}”)` },
    };
  }
  const created = await insertOrganization(tx, {
    publicId: newPublicId(),
    name: input.name,
    createdAt: now,
  });
  await recordAudit(tx, {
    action: "org.created",
    actor,
    target: { type: "organization", id: created.publicId },
    request,
    details: { name: created.name },
    at: now,
  });
  return { ok: true, value: created };
}

export interface OrganizationDetails {
  organization: Organization;
  contacts: OrgContact[];
}

export async function organizationDetails(
  deps: Deps,
  actor: Actor | null,
  orgPublicId: string,
): Promise<OrganizationDetails> {
  requireOrgManager(actor);
  const organization = await loadOrganization(deps, orgPublicId);
  return {
    organization,
    contacts: await listOrgContacts(deps.db, organization.id),
  };
}

export type InviteResult =
  | { kind: "invited"; email: string; link: string }
  | { kind: "added"; email: string };

/**
 * Makes someone a contact of an organization. A new address gets an
 * org_contact account and a one-time invitation link by mail; an existing
 * org contact (of another organization) is simply added. Other roles are
 * refused: an org contact's account sees only its organizations' reports,
 * which would silently change what a researcher or triager sees.
 */
export async function inviteContact(
  deps: Deps,
  actor: Actor | null,
  orgPublicId: string,
  input: z.infer<typeof contactSchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<InviteResult>> {
  requireOrgManager(actor);
  const org = await loadOrganization(deps, orgPublicId);
  return inviteContactTo(deps, actor, org, input, request);
}

/**
 * The invitation itself, for staff and for the organization's administrator
 * (orgs/admin-service.ts), who asked the policy before. The administrator
 * is not told which role another account has: that is the CERT's to know.
 */
export async function inviteContactTo(
  deps: Deps,
  actor: Actor,
  org: Organization,
  input: z.infer<typeof contactSchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<InviteResult>> {
  const existing = await findUserByEmail(deps.db, input.email);
  if (existing) {
    if (existing.role !== "org_contact") {
      return {
        ok: false,
        errors: {
          email: can(actor, "org:manage")
            ? `This email belongs to an account with the role ${ROLE_LABELS[existing.role]}; only organization contact accounts can be added to an organization.`
            : "This address cannot be added to an organization; ask the CERT, who can.",
        },
      };
    }
    if (await isOrgMember(deps.db, org.id, existing.id)) {
      return {
        ok: false,
        errors: {
          email: `${existing.email} is already a contact of ${org.name}.`,
        },
      };
    }
    await deps.db.transaction().execute(async (tx) => {
      await addOrgMember(tx, org.id, existing.id);
      await recordMembership(
        tx,
        "org.member_added",
        actor,
        org,
        existing.publicId,
        request,
        deps.clock.now(),
      );
    });
    return { ok: true, value: { kind: "added", email: existing.email } };
  }

  const created = await createAccount(
    deps,
    actor,
    { email: input.email, displayName: input.displayName, role: "org_contact" },
    { orgName: org.name, orgId: org.id },
  );
  if (!created.ok) return created;
  // createAccount commits on its own; if this step failed, inviting the same
  // address again finds the org_contact account and only adds the membership.
  const user = created.value.user;
  await deps.db.transaction().execute(async (tx) => {
    await addOrgMember(tx, org.id, user.id);
    await recordMembership(
      tx,
      "org.member_added",
      actor,
      org,
      user.publicId,
      request,
      deps.clock.now(),
    );
  });
  return {
    ok: true,
    value: { kind: "invited", email: user.email, link: created.value.link },
  };
}

export async function recordMembership(
  db: Parameters<typeof recordAudit>[0],
  action:
    | "org.member_added"
    | "org.member_removed"
    | "org.admin_granted"
    | "org.admin_revoked",
  actor: Actor,
  org: Organization,
  userPublicId: string,
  request: AuditRequestContext | null,
  at: Date,
) {
  await recordAudit(db, {
    action,
    actor,
    target: { type: "organization", id: org.publicId },
    request,
    details: { user: userPublicId },
    at,
  });
}

/** Ends a membership; the contact's next request already sees one organization less. */
export async function removeContact(
  deps: Deps,
  actor: Actor | null,
  orgPublicId: string,
  userPublicId: string,
  request: AuditRequestContext | null = null,
): Promise<{ organization: Organization; email: string }> {
  requireOrgManager(actor);
  const org = await loadOrganization(deps, orgPublicId);
  const user = await findUserByPublicId(deps.db, userPublicId);
  if (!user) throw new NotFoundError();
  const removed = await deps.db.transaction().execute(async (tx) => {
    const done = await removeOrgMember(tx, org.id, user.id);
    if (done)
      await recordMembership(
        tx,
        "org.member_removed",
        actor,
        org,
        user.publicId,
        request,
        deps.clock.now(),
      );
    return done;
  });
  if (!removed) throw new NotFoundError();
  return { organization: org, email: user.email };
}

/**
 * Staff make a contact the organization's administrator (who manages its
 * colleagues and who sees which case), or a plain member again.
 */
export async function setContactAdmin(
  deps: Deps,
  actor: Actor | null,
  orgPublicId: string,
  userPublicId: string,
  isAdmin: boolean,
  request: AuditRequestContext | null = null,
): Promise<{ organization: Organization; email: string }> {
  requireOrgManager(actor);
  const org = await loadOrganization(deps, orgPublicId);
  const user = await findUserByPublicId(deps.db, userPublicId);
  if (!user) throw new NotFoundError();
  const done = await deps.db.transaction().execute(async (tx) => {
    if (!(await setOrgAdmin(tx, org.id, user.id, isAdmin))) return false;
    await recordMembership(
      tx,
      isAdmin ? "org.admin_granted" : "org.admin_revoked",
      actor,
      org,
      user.publicId,
      request,
      deps.clock.now(),
    );
    return true;
  });
  if (!done) throw new NotFoundError();
  return { organization: org, email: user.email };
}

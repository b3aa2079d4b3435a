/**
 * Inside an organization: what its administrator does (policy.ts
 * canAdministerOrg, asked per organization). Colleagues are invited with the
 * same invitation staff send (service.ts inviteContactTo), removed (never the
 * last administrator by themselves), and the organization chooses whether
 * every member sees every case or only the cases they are given. Anything
 * outside the administrator's organization answers 404, as if it did not exist.
 */
import { z } from "zod";
import {
  administeredOrgIds,
  canAdministerOrg,
  isStaffRole,
  type Actor,
} from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import type { Outcome } from "../http/validation.js";
import { normalizeReportId } from "../ids.js";
import { findNotifiedCaseOf } from "../reports/participations-repository.js";
import { findUserByPublicId } from "../users/repository.js";
import {
  addOrgCaseGrant,
  countOrgAdmins,
  findOrganizationById,
  findOrganizationByPublicId,
  isOrgMember,
  listOrgCaseGrants,
  listOrgContacts,
  membersSeeAll,
  removeOrgCaseGrant,
  removeOrgMember,
  setMembersSeeAll,
  setOrgAdmin,
} from "./repository.js";
import {
  contactSchema,
  inviteContactTo,
  recordMembership,
  type InviteResult,
} from "./service.js";
import type { Organization, OrgCaseGrant, OrgContact } from "./types.js";

export const VISIBILITIES = ["all", "given"] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export const visibilitySchema = z.object({
  visibility: z.enum(VISIBILITIES, {
    error:
      "Choose whether every member sees every case or only the cases they are given.",
  }),
});

export const giveCaseSchema = z.object({
  member: z
    .string({ error: "Choose the colleague to give the case to." })
    .trim()
    .min(1, "Choose the colleague to give the case to."),
  reportId: z
    .string({ error: "Report ID is required." })
    .trim()
    .min(1, "Report ID is required.")
    .max(40, "A report ID looks like DD-7K2Q-9M4D."),
});

export { contactSchema };

/** The organization, if this actor administers it; otherwise 404. */
async function administered(
  deps: Deps,
  actor: Actor | null,
  orgPublicId: string,
): Promise<{ actor: Actor; org: Organization }> {
  const org = await findOrganizationByPublicId(deps.db, orgPublicId);
  if (!org || !actor || !canAdministerOrg(actor, org.id))
    throw new NotFoundError();
  return { actor, org };
}

/** The member of this organization with this public ID; anyone else 404. */
async function memberOf(deps: Deps, org: Organization, userPublicId: string) {
  const user = await findUserByPublicId(deps.db, userPublicId);
  if (!user || !(await isOrgMember(deps.db, org.id, user.id)))
    throw new NotFoundError();
  return user;
}

/** The organizations an org contact administers, for their own page. */
export async function administeredOrganizations(
  deps: Deps,
  actor: Actor | null,
): Promise<Organization[]> {
  const ids = administeredOrgIds(actor);
  if (ids.length === 0) throw new NotFoundError();
  const orgs = await Promise.all(
    ids.map((id) => findOrganizationById(deps.db, id)),
  );
  return orgs
    .filter((o): o is Organization => o !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

export interface MemberView extends OrgContact {
  /** The signed-in administrator themself. */
  isYou: boolean;
  /** Removing them is refused: they are the last administrator and it is themselves. */
  lastAdminSelf: boolean;
  cases: OrgCaseGrant[];
}

export interface OrgAdminPage {
  organization: Organization;
  visibility: Visibility;
  members: MemberView[];
  /** The member picker of "give a case". */
  memberOptions: { value: string; label: string }[];
  /** Staff see the page too (from /orgs): the way back differs. */
  byStaff: boolean;
}

export async function orgAdminPage(
  deps: Deps,
  actorIn: Actor | null,
  orgPublicId: string,
): Promise<OrgAdminPage> {
  const { actor, org } = await administered(deps, actorIn, orgPublicId);
  const [contacts, grants, seeAll, admins] = await Promise.all([
    listOrgContacts(deps.db, org.id),
    listOrgCaseGrants(deps.db, org.id),
    membersSeeAll(deps.db, org.id),
    countOrgAdmins(deps.db, org.id),
  ]);
  const members = contacts.map((c) => ({
    ...c,
    isYou: c.id === actor.id,
    lastAdminSelf: c.id === actor.id && c.isAdmin && admins <= 1,
    cases: grants.filter((g) => g.userId === c.id),
  }));
  return {
    organization: org,
    visibility: seeAll ? "all" : "given",
    members,
    memberOptions: [
      { value: "", label: "Choose a colleague" },
      ...contacts
        .filter((c) => !c.isAdmin)
        .map((c) => ({
          value: c.publicId,
          label: `${c.displayName} (${c.email})`,
        })),
    ],
    byStaff: isStaffRole(actor.role),
  };
}

/** Invites a colleague: the same invitation (mail, one-time link) staff send. */
export async function inviteColleague(
  deps: Deps,
  actorIn: Actor | null,
  orgPublicId: string,
  input: z.infer<typeof contactSchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<InviteResult>> {
  const { actor, org } = await administered(deps, actorIn, orgPublicId);
  return inviteContactTo(deps, actor, org, input, request);
}

export const LAST_ADMIN =
  "You are this organization's last administrator: ask the CERT to make a colleague administrator before you leave.";

/**
 * Ends a colleague's membership (and the cases they were given). An
 * administrator does not remove themselves while they are the last one:
 * nobody would be left to manage the organization.
 */
export async function removeColleague(
  deps: Deps,
  actorIn: Actor | null,
  orgPublicId: string,
  userPublicId: string,
  request: AuditRequestContext | null = null,
): Promise<Outcome<{ organization: Organization; email: string }>> {
  const { actor, org } = await administered(deps, actorIn, orgPublicId);
  const user = await memberOf(deps, org, userPublicId);
  return deps.db.transaction().execute(async (tx) => {
    if (
      user.id === actor.id &&
      user.adminOrgIds.includes(org.id) &&
      (await countOrgAdmins(tx, org.id)) <= 1
    )
      return { ok: false, status: 409, errors: { _form: LAST_ADMIN } };
    if (!(await removeOrgMember(tx, org.id, user.id)))
      throw new NotFoundError();
    await recordMembership(
      tx,
      "org.member_removed",
      actor,
      org,
      user.publicId,
      request,
      deps.clock.now(),
    );
    return { ok: true, value: { organization: org, email: user.email } };
  });
}

/** Every member sees every case of the organization, or only those they are given. */
export async function setVisibility(
  deps: Deps,
  actorIn: Actor | null,
  orgPublicId: string,
  input: z.infer<typeof visibilitySchema>,
  request: AuditRequestContext | null = null,
): Promise<Organization> {
  const { actor, org } = await administered(deps, actorIn, orgPublicId);
  await deps.db.transaction().execute(async (tx) => {
    await setMembersSeeAll(tx, org.id, input.visibility === "all");
    await recordAudit(tx, {
      action: "org.visibility_changed",
      actor,
      target: { type: "organization", id: org.publicId },
      request,
      details: { visibility: input.visibility },
      at: deps.clock.now(),
    });
  });
  return org;
}

const NOT_OUR_CASE = (org: Organization) =>
  `${org.name} has no case with this report ID. Use the ID of a report the CERT notified ${org.name} of, such as DD-7K2Q-9M4D.`;

/**
 * Gives a member one of the organization's cases (one it takes part in and
 * was notified of). Any other report ID gets the same message, whether the
 * report exists or not.
 */
export async function giveCase(
  deps: Deps,
  actorIn: Actor | null,
  orgPublicId: string,
  input: z.infer<typeof giveCaseSchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<{ email: string; reportPublicId: string }>> {
  const { actor, org } = await administered(deps, actorIn, orgPublicId);
  const user = await memberOf(deps, org, input.member);
  const publicId = normalizeReportId(input.reportId);
  const report =
    publicId === null
      ? undefined
      : await findNotifiedCaseOf(deps.db, org.id, publicId);
  if (!report) return { ok: false, errors: { reportId: NOT_OUR_CASE(org) } };
  const now = deps.clock.now();
  const added = await deps.db.transaction().execute(async (tx) => {
    const done = await addOrgCaseGrant(tx, {
      orgId: org.id,
      userId: user.id,
      reportId: report.id,
      by: actor.id,
      at: now,
    });
    if (done)
      await recordAudit(tx, {
        action: "org.case_given",
        actor,
        target: { type: "organization", id: org.publicId },
        request,
        details: { user: user.publicId, report: report.publicId },
        at: now,
      });
    return done;
  });
  if (!added)
    return {
      ok: false,
      errors: {
        reportId: `${user.displayName} already has ${report.publicId}.`,
      },
    };
  return {
    ok: true,
    value: { email: user.email, reportPublicId: report.publicId },
  };
}

/** Takes a case back from a member: their next request no longer sees it. */
export async function takeCase(
  deps: Deps,
  actorIn: Actor | null,
  orgPublicId: string,
  userPublicId: string,
  reportPublicId: string,
  request: AuditRequestContext | null = null,
): Promise<{
  organization: Organization;
  email: string;
  reportPublicId: string;
}> {
  const { actor, org } = await administered(deps, actorIn, orgPublicId);
  const user = await memberOf(deps, org, userPublicId);
  // By the grant itself: a case given before the organization left it can still be taken back.
  const taken = await deps.db.transaction().execute(async (tx) => {
    if (!(await removeOrgCaseGrant(tx, org.id, user.id, reportPublicId)))
      return false;
    await recordAudit(tx, {
      action: "org.case_taken",
      actor,
      target: { type: "organization", id: org.publicId },
      request,
      details: { user: user.publicId, report: reportPublicId },
      at: deps.clock.now(),
    });
    return true;
  });
  if (!taken) throw new NotFoundError();
  return { organization: org, email: user.email, reportPublicId };
}

export const LAST_ADMIN_STEP_DOWN =
  "You are this organization's last administrator: make a colleague administrator before you step down.";

/**
 * Makes a colleague an administrator too, or a plain member again. The
 * last administrator does not step down: someone must remain to manage
 * the organization.
 */
export async function setColleagueAdmin(
  deps: Deps,
  actorIn: Actor | null,
  orgPublicId: string,
  userPublicId: string,
  isAdmin: boolean,
  request: AuditRequestContext | null = null,
): Promise<Outcome<{ organization: Organization; email: string }>> {
  const { actor, org } = await administered(deps, actorIn, orgPublicId);
  const user = await memberOf(deps, org, userPublicId);
  return deps.db.transaction().execute(async (tx) => {
    if (
      !isAdmin &&
      user.adminOrgIds.includes(org.id) &&
      (await countOrgAdmins(tx, org.id)) <= 1
    )
      return {
        ok: false,
        status: 409,
        errors: {
          _form:
            user.id === actor.id
              ? LAST_ADMIN_STEP_DOWN
              : `${user.displayName} is this organization's last administrator.`,
        },
      };
    await setOrgAdmin(tx, org.id, user.id, isAdmin);
    await recordMembership(
      tx,
      isAdmin ? "org.admin_granted" : "org.admin_revoked",
      actor,
      org,
      user.publicId,
      request,
      deps.clock.now(),
    );
    return { ok: true, value: { organization: org, email: user.email } };
  });
}

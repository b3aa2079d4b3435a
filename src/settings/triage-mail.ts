import { can, type Actor } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Db, DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { ROLE_LABELS } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import type { FieldErrors } from "../http/validation.js";
import { listActiveStaff } from "../users/repository.js";
import type { User } from "../users/types.js";
import { deleteSetting, findSetting, upsertSetting } from "./repository.js";

/*
 * Who hears of a report nobody is assigned to (a new report, above all):
 * the staff an admin chose on the settings page, or, when none is chosen
 * (or none of them is still active staff), every active triager, and the
 * admins only when there is no triager, so that a new report always
 * reaches somebody. Admins are not mailed every report by default: they
 * run the desk; triagers work the queue.
 */

/** The saved choice: internal user IDs, as JSON. */
const KEY = "mail.triage_team";

/** Who is mailed, from the active staff and the saved choice. */
export function triageTeamFrom(
  staff: readonly User[],
  chosen: unknown,
): User[] {
  const ids = Array.isArray(chosen) ? chosen : [];
  const picked = staff.filter((u) => ids.includes(u.id));
  if (picked.length > 0) return picked;
  const triagers = staff.filter((u) => u.role === "triager");
  return triagers.length > 0 ? triagers : [...staff];
}

/** The triage team's mail goes to these people now (notifications.ts). */
export async function triageTeam(db: DbOrTx, keptIn: Db): Promise<User[]> {
  return triageTeamFrom(
    await listActiveStaff(db, keptIn),
    await findSetting(db, KEY),
  );
}

export interface TriageMailView {
  staff: { publicId: string; name: string; role: string; checked: boolean }[];
  /** Nobody chosen: the default applies. */
  usingDefault: boolean;
}

/** The settings page's list of active staff, ticked as saved (or as typed). */
export async function triageMailSettings(
  deps: Pick<Deps, "db">,
  actor: Actor | null,
  typed?: readonly string[],
): Promise<TriageMailView> {
  if (!can(actor, "settings:manage")) throw new NotFoundError();
  const staff = await listActiveStaff(deps.db, deps.db);
  const saved = await findSetting(deps.db, KEY);
  const chosen = Array.isArray(saved) ? saved : [];
  return {
    staff: staff.map((u) => ({
      publicId: u.publicId,
      name: u.displayName,
      role: ROLE_LABELS[u.role] ?? u.role,
      checked: typed ? typed.includes(u.publicId) : chosen.includes(u.id),
    })),
    usingDefault: !staff.some((u) => chosen.includes(u.id)),
  };
}

export type TriageMailOutcome =
  { ok: true; value: { count: number } } | { ok: false; errors: FieldErrors };

/**
 * Saves who hears of unassigned reports: each entry must be an active
 * triager or admin (a forged or stale ID is refused, nothing changed);
 * nobody means the default. Audited with the names before and after.
 */
export async function saveTriageMail(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor | null,
  publicIds: readonly string[],
  request: AuditRequestContext | null,
): Promise<TriageMailOutcome> {
  if (!actor || !can(actor, "settings:manage")) throw new NotFoundError();
  const staff = await listActiveStaff(deps.db, deps.db);
  const byPublicId = new Map(staff.map((u) => [u.publicId, u]));
  const chosen = [...new Set(publicIds)].map((id) => byPublicId.get(id));
  if (chosen.some((u) => u === undefined))
    return {
      ok: false,
      errors: {
        staff:
          "One of the people ticked is not an active triager or admin any more. Reload the page and choose again.",
      },
    };
  const users = chosen as User[];
  const now = deps.clock.now();
  const names = (list: readonly User[]) =>
    list.length ? list.map((u) => u.displayName).join(", ") : "default";
  await deps.db.transaction().execute(async (tx) => {
    const before = await findSetting(tx, KEY);
    const was = Array.isArray(before)
      ? staff.filter((u) => before.includes(u.id))
      : [];
    if (users.length === 0) await deleteSetting(tx, KEY);
    else
      await upsertSetting(
        tx,
        KEY,
        users.map((u) => u.id),
        now,
        actor.id,
      );
    await recordAudit(tx, {
      action: "setting.changed",
      actor,
      target: { type: "setting", id: "triage_mail" },
      details: { recipients: `${names(was)} → ${names(users)}` },
      request,
      at: now,
    });
  });
  return { ok: true, value: { count: users.length } };
}

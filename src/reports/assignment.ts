/**
 * Who works on a report: any active triager or admin, chosen by a triager.
 * The page's single form and the bulk action (bulk.ts) both go through
 * resolveAssignee and assignIn, so they refuse and record the same way.
 */
import type { Actor } from "../auth/policy.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import type { SelectOption } from "../http/option-tags.js";
import { DONE, type Outcome } from "../http/validation.js";
import { findUserById, listActiveStaff } from "../users/repository.js";
import type { User } from "../users/types.js";
import { recordChange } from "./changes.js";
import type { AssignInput } from "./forms.js";
import { setAssignee } from "./repository.js";
import { requireOn } from "./service.js";
import type { Report } from "./types.js";

export const UNKNOWN_ASSIGNEE =
  "Choose someone on the CERT team from the list: that account is not an active triager or administrator.";

/** The people a report can be given to: "Unassigned" and every active triager and admin. */
export async function assigneeOptions(
  deps: Pick<Deps, "db">,
  actor: Actor,
): Promise<SelectOption[]> {
  const staff = await listActiveStaff(deps.db, deps.db);
  return [
    { value: "", label: "Unassigned" },
    ...staff.map((u) => ({
      value: u.publicId,
      label: u.id === actor.id ? `${u.displayName} (you)` : u.displayName,
    })),
  ];
}

/**
 * The account an assignment names, by its public ID ("" for nobody): only
 * an active triager or admin. Anything else (a researcher, a disabled
 * account, an ID that does not exist) is refused, naming no one.
 */
export async function resolveAssignee(
  db: DbOrTx,
  deps: Pick<Deps, "db">,
  publicId: string,
): Promise<{ ok: true; user: User | null } | { ok: false; error: string }> {
  if (publicId === "") return { ok: true, user: null };
  const staff = await listActiveStaff(db, deps.db);
  const user = staff.find((u) => u.publicId === publicId);
  return user ? { ok: true, user } : { ok: false, error: UNKNOWN_ASSIGNEE };
}

/**
 * Writes an assignment inside the caller's transaction: the report's
 * assignee, its (internal) timeline entry, its audit entry with the
 * assignee before and after, and the new assignee's mail. False when
 * nothing changes.
 */
export async function assignIn(
  tx: DbOrTx,
  deps: Deps,
  step: {
    actor: Actor;
    report: Report;
    assignee: User | null;
    at: Date;
    request: AuditRequestContext | null;
  },
): Promise<boolean> {
  const { actor, report, assignee, at } = step;
  const assigneeId = assignee?.id ?? null;
  if (assigneeId === report.assigneeId) return false;
  await setAssignee(tx, report.id, assigneeId, at);
  const before =
    report.assigneeId === null
      ? null
      : ((await findUserById(tx, report.assigneeId))?.publicId ?? null);
  await recordChange(tx, deps, {
    change: "assigned",
    report,
    actor,
    at,
    request: step.request,
    body: !assignee
      ? "Unassigned"
      : assignee.id === actor.id
        ? "Assigned to themselves"
        : `Assigned to ${assignee.displayName}`,
    details: { from: before, to: assignee?.publicId ?? null },
  });
  return true;
}

/** The report page's assignment: "assign to me", "unassign", or anyone on the team. */
export async function assignReport(
  deps: Deps,
  actor: Actor,
  report: Report,
  input: AssignInput,
  request: AuditRequestContext | null = null,
): Promise<Outcome<void>> {
  requireOn(actor, "report:assign", report);
  let assignee: User | null;
  if (input.assignee_id !== undefined) {
    const found = await resolveAssignee(deps.db, deps, input.assignee_id);
    if (!found.ok)
      return {
        ok: false,
        status: 400,
        errors: { assignee_id: found.error },
      };
    assignee = found.user;
  } else if (input.assignee === "me") {
    assignee = (await findUserById(deps.db, actor.id)) ?? null;
  } else {
    assignee = null;
  }
  const at = deps.clock.now();
  await deps.db
    .transaction()
    .execute((tx) =>
      assignIn(tx, deps, { actor, report, assignee, at, request }),
    );
  return DONE;
}

import { z } from "zod";
import { isUniqueViolation } from "../db/dialect.js";
import { can, canUseSavedView, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { newPublicId } from "../ids.js";
import { text, type Outcome } from "../http/validation.js";
import {
  deleteSavedView,
  findSavedView,
  insertSavedView,
  listSavedViews,
  savedViewNameTaken,
  type SavedView,
} from "./saved-views-repository.js";

/*
 * Saved queue views: a staff member names the queue's current filters and
 * order and finds them again in one click. Each person's own: anybody
 * else's view ID is answered 404, like one that does not exist.
 */

export const savedViewSchema = z.object({ name: text("Name", 1, 80) });

/** The queue parameters a view keeps (queue.ts parseQueueQuery reads them). */
export const VIEW_PARAMS = [
  "state",
  "org",
  "severity",
  "cwe",
  "assignee",
  "waiting",
  "overdue",
  "sort",
] as const;

/** A view's query string from a form or a query: the known parameters, non-empty. */
export function viewQueryOf(source: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const key of VIEW_PARAMS) {
    const value = source[key];
    if (typeof value === "string" && value.trim() && value.length <= 100)
      params.set(key, value.trim());
  }
  return params.toString();
}

/** The views every staff member has. Their parameters are in the queue's order. */
export const BUILT_IN_VIEWS = [
  { name: "Unassigned", query: "assignee=unassigned" },
  { name: "Overdue", query: "overdue=1" },
  { name: "Waiting for me", query: "assignee=me&waiting=cert" },
  { name: "Waiting for the organization", query: "waiting=organization" },
] as const;

export const NAME_TAKEN = "You already have a view with this name.";

export async function saveView(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor | null,
  input: z.infer<typeof savedViewSchema>,
  query: string,
): Promise<Outcome<SavedView>> {
  if (!actor || !can(actor, "saved_view:use")) throw new NotFoundError();
  if (await savedViewNameTaken(deps.db, actor.id, input.name))
    return { ok: false, errors: { name: NAME_TAKEN } };
  const view = {
    publicId: newPublicId(),
    userId: actor.id,
    name: input.name,
    query,
    createdAt: deps.clock.now(),
  };
  try {
    await insertSavedView(deps.db, view);
  } catch (err) {
    // The same name saved twice at once: the unique index decides.
    if (isUniqueViolation(err))
      return { ok: false, errors: { name: NAME_TAKEN } };
    throw err;
  }
  return { ok: true, value: { ...view, id: 0 } };
}

/** One's own view, or 404 exactly like a view that does not exist. */
export async function ownView(
  deps: Pick<Deps, "db">,
  actor: Actor | null,
  publicId: string,
): Promise<SavedView> {
  const view =
    /^[0-9a-z]{1,32}$/.test(publicId) &&
    (await findSavedView(deps.db, publicId));
  if (!view || !canUseSavedView(actor, view)) throw new NotFoundError();
  return view;
}

export async function removeView(
  deps: Pick<Deps, "db">,
  actor: Actor | null,
  publicId: string,
): Promise<SavedView> {
  const view = await ownView(deps, actor, publicId);
  await deleteSavedView(deps.db, view.id);
  return view;
}

export async function myViews(
  deps: Pick<Deps, "db">,
  actor: Actor,
): Promise<SavedView[]> {
  if (!can(actor, "saved_view:use")) return [];
  return listSavedViews(deps.db, actor.id);
}

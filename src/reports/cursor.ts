import type { DbOrTx } from "../db/index.js";
import { normalizeReportId } from "../ids.js";
import {
  findCursorId,
  type KeysetPosition,
  type ListScope,
  type ListSort,
  type SortDirection,
} from "./list-repository.js";

/*
 * Keyset paging of the report lists: the orders a list can be read in, and
 * the cursor that marks a place in one. A cursor is opaque to the user; it
 * carries the order it belongs to, the sort value and the report's public ID
 * (internal ids never appear in a URL).
 */

type ListOrder = { sort: ListSort; direction: SortDirection; label: string };

/** The orders a person can choose for the queue. */
export const SORTS = {
  due_asc: {
    sort: "due",
    direction: "asc",
    label: "Due soonest first",
  },
  activity_desc: {
    sort: "activity",
    direction: "desc",
    label: "Last activity, newest first",
  },
  activity_asc: {
    sort: "activity",
    direction: "asc",
    label: "Last activity, oldest first",
  },
  submitted_asc: {
    sort: "submitted",
    direction: "asc",
    label: "Submission date, oldest first",
  },
  submitted_desc: {
    sort: "submitted",
    direction: "desc",
    label: "Submission date, newest first",
  },
} as const satisfies Record<string, ListOrder>;
export type SortKey = keyof typeof SORTS;
export const DEFAULT_SORT: SortKey = "activity_desc";
/** The queue's: what is due soonest (reports on no clock last). */
export const QUEUE_DEFAULT_SORT: SortKey = "due_asc";

/** A search's one order (list-repository.ts says why); not offered on lists. */
export const LIST_ORDERS = {
  ...SORTS,
  filing_desc: { sort: "filing", direction: "desc", label: "Newest first" },
} as const satisfies Record<string, ListOrder>;
export type ListOrderKey = keyof typeof LIST_ORDERS;

export function encodeCursor(
  sort: ListOrderKey,
  value: number,
  publicId: string,
): string {
  // In filing order the sort value is the internal id: left out.
  const shown = LIST_ORDERS[sort].sort === "filing" ? 0 : value;
  return Buffer.from(`${sort}|${shown}|${publicId}`).toString("base64url");
}

export function decodeCursor(
  raw: string,
  sort: ListOrderKey,
): { value: number; publicId: string } | null {
  if (!raw || raw.length > 100) return null;
  const parts = Buffer.from(raw, "base64url").toString("utf8").split("|");
  if (parts.length !== 3 || parts[0] !== sort) return null;
  const value = Number(parts[1]);
  const publicId = normalizeReportId(parts[2] ?? "");
  if (!Number.isSafeInteger(value) || !publicId) return null;
  return { value, publicId };
}

/** Where a list resumes: only at a report the list may contain. */
export async function resolveCursor(
  db: DbOrTx,
  scope: ListScope,
  raw: string,
  sort: ListOrderKey,
): Promise<{ after?: KeysetPosition; invalid: boolean }> {
  if (!raw) return { invalid: false };
  const cursor = decodeCursor(raw, sort);
  const id = cursor && (await findCursorId(db, scope, cursor.publicId));
  if (!cursor || !id) return { invalid: true };
  const value = LIST_ORDERS[sort].sort === "filing" ? id : cursor.value;
  return { after: { value, id }, invalid: false };
}

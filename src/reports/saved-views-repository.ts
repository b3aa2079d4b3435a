import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";

/* All SQL for saved queue views. */

export interface SavedView {
  id: number;
  publicId: string;
  userId: number;
  name: string;
  query: string;
  createdAt: Date;
}

const COLUMNS = [
  "id",
  "public_id",
  "user_id",
  "name",
  "query",
  "created_at",
] as const;

function toView(row: {
  id: number;
  public_id: string;
  user_id: number;
  name: string;
  query: string;
  created_at: number;
}): SavedView {
  return {
    id: row.id,
    publicId: row.public_id,
    userId: row.user_id,
    name: row.name,
    query: row.query,
    createdAt: new Date(row.created_at),
  };
}

export async function listSavedViews(
  db: DbOrTx,
  userId: number,
): Promise<SavedView[]> {
  return (await savedViewsOf(db, userId)).rows.map(toView);
}

// Every queue page lists its reader's saved views: built once.
const savedViewsOf = preparedQuery((db, userId: number) =>
  db
    .selectFrom("saved_views")
    .select(COLUMNS)
    .where("user_id", "=", userId)
    .orderBy("name"),
);

export async function findSavedView(
  db: DbOrTx,
  publicId: string,
): Promise<SavedView | undefined> {
  const row = await db
    .selectFrom("saved_views")
    .select(COLUMNS)
    .where("public_id", "=", publicId)
    .executeTakeFirst();
  return row && toView(row);
}

/** Whether the user has a view of this name, letter case aside. */
export async function savedViewNameTaken(
  db: DbOrTx,
  userId: number,
  name: string,
): Promise<boolean> {
  const row = await db
    .selectFrom("saved_views")
    .select("id")
    .where("user_id", "=", userId)
    .where((eb) => eb(eb.fn("lower", ["name"]), "=", name.toLowerCase()))
    .executeTakeFirst();
  return !!row;
}

export async function insertSavedView(
  db: DbOrTx,
  view: Omit<SavedView, "id">,
): Promise<void> {
  await db
    .insertInto("saved_views")
    .values({
      public_id: view.publicId,
      user_id: view.userId,
      name: view.name,
      query: view.query,
      created_at: view.createdAt.getTime(),
    })
    .execute();
}

export async function deleteSavedView(db: DbOrTx, id: number): Promise<void> {
  await db.deleteFrom("saved_views").where("id", "=", id).execute();
}

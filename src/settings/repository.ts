import type { DbOrTx } from "../db/index.js";

/** A saved setting: its key and its value, parsed from JSON. */
export interface SavedSetting {
  key: string;
  value: unknown;
}

export async function listSettings(db: DbOrTx): Promise<SavedSetting[]> {
  const rows = await db
    .selectFrom("settings")
    .select(["key", "value"])
    .orderBy("key")
    .execute();
  return rows.map((r) => ({ key: r.key, value: parseJson(r.value) }));
}

/** One saved setting's value, or undefined when it is not set (or unreadable). */
export async function findSetting(db: DbOrTx, key: string): Promise<unknown> {
  const row = await db
    .selectFrom("settings")
    .select("value")
    .where("key", "=", key)
    .executeTakeFirst();
  return row ? parseJson(row.value) : undefined;
}

export async function upsertSetting(
  db: DbOrTx,
  key: string,
  value: unknown,
  at: Date,
  userId: number | null,
): Promise<void> {
  const row = {
    key,
    value: JSON.stringify(value),
    updated_at: at.getTime(),
    updated_by: userId,
  };
  await db
    .insertInto("settings")
    .values(row)
    .onConflict((oc) =>
      oc.column("key").doUpdateSet({
        value: row.value,
        updated_at: row.updated_at,
        updated_by: row.updated_by,
      }),
    )
    .execute();
}

export async function deleteSetting(db: DbOrTx, key: string): Promise<void> {
  await db.deleteFrom("settings").where("key", "=", key).execute();
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // an unreadable row counts as not set
  }
}

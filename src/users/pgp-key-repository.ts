import type { DbOrTx } from "../db/index.js";

export interface StoredPgpKey {
  armored: string;
  fingerprint: string;
  expiresAt: Date | null;
}

export async function findPgpKey(
  db: DbOrTx,
  userId: number,
): Promise<StoredPgpKey | undefined> {
  const row = await db
    .selectFrom("user_pgp_keys")
    .select(["armored", "fingerprint", "expires_at"])
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return (
    row && {
      armored: row.armored,
      fingerprint: row.fingerprint,
      expiresAt: row.expires_at === null ? null : new Date(row.expires_at),
    }
  );
}

/** One key per account: a new one replaces the old. */
export async function savePgpKey(
  db: DbOrTx,
  userId: number,
  key: StoredPgpKey,
  at: Date,
) {
  const values = {
    armored: key.armored,
    fingerprint: key.fingerprint,
    expires_at: key.expiresAt?.getTime() ?? null,
    created_at: at.getTime(),
  };
  await db
    .insertInto("user_pgp_keys")
    .values({ user_id: userId, ...values })
    .onConflict((oc) => oc.column("user_id").doUpdateSet(values))
    .execute();
}

/** Whether there was a key to remove. */
export async function deletePgpKey(db: DbOrTx, userId: number) {
  const result = await db
    .deleteFrom("user_pgp_keys")
    .where("user_id", "=", userId)
    .executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

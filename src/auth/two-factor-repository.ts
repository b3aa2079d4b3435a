import type { DbOrTx } from "../db/index.js";

export interface TotpState {
  secret: string | null;
  enabledAt: number | null;
  lastStep: number | null;
}

export async function readTotpState(
  db: DbOrTx,
  userId: number,
): Promise<TotpState | undefined> {
  const row = await db
    .selectFrom("users")
    .select(["totp_secret", "totp_enabled_at", "totp_last_step"])
    .where("id", "=", userId)
    .executeTakeFirst();
  return (
    row && {
      secret: row.totp_secret,
      enabledAt: row.totp_enabled_at,
      lastStep: row.totp_last_step,
    }
  );
}

/** A secret waiting to be confirmed by a first code (two-factor still off). */
export async function setPendingTotpSecret(
  db: DbOrTx,
  userId: number,
  secret: string,
) {
  await db
    .updateTable("users")
    .set({ totp_secret: secret, totp_enabled_at: null, totp_last_step: null })
    .where("id", "=", userId)
    .execute();
}

export async function enableTotp(db: DbOrTx, userId: number, at: Date) {
  await db
    .updateTable("users")
    .set({ totp_enabled_at: at.getTime() })
    .where("id", "=", userId)
    .execute();
}

/**
 * Records a TOTP time step as used. Conditional, so of two requests racing
 * with the same code only one wins: a code is never accepted twice.
 */
export async function claimTotpStep(
  db: DbOrTx,
  userId: number,
  step: number,
): Promise<boolean> {
  const result = await db
    .updateTable("users")
    .set({ totp_last_step: step })
    .where("id", "=", userId)
    .where((eb) =>
      eb.or([
        eb("totp_last_step", "is", null),
        eb("totp_last_step", "<", step),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function clearTotp(db: DbOrTx, userId: number) {
  await db
    .updateTable("users")
    .set({ totp_secret: null, totp_enabled_at: null, totp_last_step: null })
    .where("id", "=", userId)
    .execute();
  await db.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
}

export async function replaceRecoveryCodes(
  db: DbOrTx,
  userId: number,
  codeHashes: readonly string[],
) {
  await db.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
  await db
    .insertInto("recovery_codes")
    .values(codeHashes.map((code_hash) => ({ user_id: userId, code_hash })))
    .execute();
}

/** Uses up a recovery code; false when it is unknown or was used already. */
export async function consumeRecoveryCode(
  db: DbOrTx,
  userId: number,
  codeHash: string,
  at: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("recovery_codes")
    .set({ used_at: at.getTime() })
    .where("user_id", "=", userId)
    .where("code_hash", "=", codeHash)
    .where("used_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function countUnusedRecoveryCodes(
  db: DbOrTx,
  userId: number,
): Promise<number> {
  const row = await db
    .selectFrom("recovery_codes")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("user_id", "=", userId)
    .where("used_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** The hashes of the recovery codes not used yet. */
export async function unusedRecoveryCodeHashes(
  db: DbOrTx,
  userId: number,
): Promise<Set<string>> {
  const rows = await db
    .selectFrom("recovery_codes")
    .select("code_hash")
    .where("user_id", "=", userId)
    .where("used_at", "is", null)
    .execute();
  return new Set(rows.map((r) => r.code_hash));
}

import type { DbOrTx } from "../db/index.js";
import { newSecretToken, sha256Hex } from "../ids.js";

export type TokenPurpose =
  | "setup"
  | "set_password"
  | "invite"
  | "verify_email"
  | "password_reset"
  | "change_email";

/** Issues a one-time token; the secret goes into a link, only its hash is stored. */
export async function issueToken(
  db: DbOrTx,
  purpose: TokenPurpose,
  userId: number | null,
  now: Date,
  validMs: number,
  /** Data the link carries (a new email address), kept server-side. */
  payload: string | null = null,
): Promise<string> {
  const secret = newSecretToken();
  await db
    .insertInto("tokens")
    .values({
      token_hash: sha256Hex(secret),
      purpose,
      user_id: userId,
      expires_at: now.getTime() + validMs,
      created_at: now.getTime(),
      payload,
    })
    .execute();
  return secret;
}

export interface ValidToken {
  id: number;
  userId: number | null;
  purpose: TokenPurpose;
  payload: string | null;
}

/** A token that exists, has this purpose, is unused and unexpired; else undefined. */
export async function findValidToken(
  db: DbOrTx,
  purpose: TokenPurpose | readonly TokenPurpose[],
  secret: string,
  now: Date,
): Promise<ValidToken | undefined> {
  if (!secret || secret.length > 200) return undefined;
  const purposes = Array.isArray(purpose) ? purpose : [purpose];
  const row = await db
    .selectFrom("tokens")
    .select(["id", "user_id", "purpose", "payload"])
    .where("token_hash", "=", sha256Hex(secret))
    .where("purpose", "in", purposes as TokenPurpose[])
    .where("used_at", "is", null)
    .where("expires_at", ">", now.getTime())
    .executeTakeFirst();
  return (
    row && {
      id: row.id,
      userId: row.user_id,
      purpose: row.purpose as TokenPurpose,
      payload: row.payload,
    }
  );
}

/** Marks a token used; false if another request used it first. */
export async function consumeToken(
  db: DbOrTx,
  id: number,
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("tokens")
    .set({ used_at: now.getTime() })
    .where("id", "=", id)
    .where("used_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function hasUnusedToken(
  db: DbOrTx,
  purpose: TokenPurpose,
  now: Date,
) {
  const row = await db
    .selectFrom("tokens")
    .select("id")
    .where("purpose", "=", purpose)
    .where("used_at", "is", null)
    .where("expires_at", ">", now.getTime())
    .executeTakeFirst();
  return row !== undefined;
}

/** Retires a user's unused links of one purpose (a newer one replaces them). */
export async function retireTokens(
  db: DbOrTx,
  userId: number,
  purpose: TokenPurpose,
  now: Date,
) {
  await db
    .updateTable("tokens")
    .set({ used_at: now.getTime() })
    .where("user_id", "=", userId)
    .where("purpose", "=", purpose)
    .where("used_at", "is", null)
    .execute();
}

/** Retires every unused link of a user, whatever it was for. */
export async function retireAllTokens(db: DbOrTx, userId: number, now: Date) {
  await db
    .updateTable("tokens")
    .set({ used_at: now.getTime() })
    .where("user_id", "=", userId)
    .where("used_at", "is", null)
    .execute();
}

/** Voids every unused first-run setup link (an admin exists, or a newer link replaces them). */
export async function retireSetupTokens(db: DbOrTx, now: Date) {
  await db
    .updateTable("tokens")
    .set({ used_at: now.getTime() })
    .where("purpose", "=", "setup" satisfies TokenPurpose)
    .where("used_at", "is", null)
    .execute();
}

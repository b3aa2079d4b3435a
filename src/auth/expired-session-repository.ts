import type { DbOrTx } from "../db/index.js";

/** A signed-in session that ended by idle expiry and is still on record. */
export interface ExpiredSignIn {
  userId: number;
  /** The CSRF token its pages carried, if it had one. */
  csrfToken: string | null;
}

/**
 * The signed-in session `sid` if it expired (idle) between `since` and `now`.
 * A session ended by sign-out, a password change or a reset is deleted, so
 * only an idle expiry is found here; a never-signed-in one has no user.
 */
export async function findExpiredSignIn(
  db: DbOrTx,
  sid: string,
  now: number,
  since: number,
): Promise<ExpiredSignIn | undefined> {
  const row = await db
    .selectFrom("sessions")
    .select(["user_id", "data"])
    .where("sid", "=", sid)
    .where("user_id", "is not", null)
    .where("expires_at", "<=", now)
    .where("expires_at", ">", since)
    .executeTakeFirst();
  if (!row || row.user_id === null) return undefined;
  let csrfToken: unknown;
  try {
    csrfToken = (JSON.parse(row.data) as { csrfToken?: unknown }).csrfToken;
  } catch {
    csrfToken = undefined;
  }
  return {
    userId: row.user_id,
    csrfToken: typeof csrfToken === "string" ? csrfToken : null,
  };
}

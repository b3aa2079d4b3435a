import type { DbOrTx } from "../db/index.js";

export interface StoredSession {
  data: string;
  expiresAt: number;
}

export async function readSession(
  db: DbOrTx,
  sid: string,
): Promise<StoredSession | undefined> {
  const row = await db
    .selectFrom("sessions")
    .select(["data", "expires_at"])
    .where("sid", "=", sid)
    .executeTakeFirst();
  return row && { data: row.data, expiresAt: row.expires_at };
}

export async function writeSession(
  db: DbOrTx,
  sid: string,
  userId: number | null,
  data: string,
  expiresAt: number,
) {
  await db
    .insertInto("sessions")
    .values({ sid, user_id: userId, data, expires_at: expiresAt })
    .onConflict((oc) =>
      oc
        .column("sid")
        .doUpdateSet({ user_id: userId, data, expires_at: expiresAt }),
    )
    .execute();
}

export async function touchSession(db: DbOrTx, sid: string, expiresAt: number) {
  await db
    .updateTable("sessions")
    .set({ expires_at: expiresAt })
    .where("sid", "=", sid)
    .execute();
}

export async function deleteSession(db: DbOrTx, sid: string) {
  await db.deleteFrom("sessions").where("sid", "=", sid).execute();
}

/** Ends every session of a user (disabled account, changed password), but one to keep. */
export async function deleteUserSessions(
  db: DbOrTx,
  userId: number,
  exceptSid?: string,
) {
  let q = db.deleteFrom("sessions").where("user_id", "=", userId);
  if (exceptSid) q = q.where("sid", "!=", exceptSid);
  await q.execute();
}

export async function deleteExpiredSessions(db: DbOrTx, now: number) {
  await db.deleteFrom("sessions").where("expires_at", "<", now).execute();
}

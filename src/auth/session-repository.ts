import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";

export interface StoredSession {
  data: string;
  expiresAt: number;
}

// Read on every request that carries a session cookie: built once.
const sessionById = preparedQuery((db, sid: string) =>
  db
    .selectFrom("sessions")
    .select(["data", "expires_at"])
    .where("sid", "=", sid),
);

export async function readSession(
  db: DbOrTx,
  sid: string,
): Promise<StoredSession | undefined> {
  const row = (await sessionById(db, sid)).rows[0];
  return row && { data: row.data, expiresAt: row.expires_at };
}

/** Where a session was opened, for the owner's list of sessions. */
export interface SessionClient {
  ip: string | null;
  userAgent: string | null;
}

function sessionValues(
  userId: number | null,
  data: string,
  expiresAt: number,
  client: SessionClient | null,
  now: number,
) {
  return {
    user_id: userId,
    data,
    expires_at: expiresAt,
    ip: client?.ip ?? null,
    user_agent: client?.userAgent?.slice(0, 300) ?? null,
    last_seen_at: now,
  };
}

/** A new session (first save, or regenerated at sign-in): its start is now. */
export async function insertSession(
  db: DbOrTx,
  sid: string,
  userId: number | null,
  data: string,
  expiresAt: number,
  client: SessionClient | null,
  now: number,
) {
  await db
    .insertInto("sessions")
    .values({
      sid,
      ...sessionValues(userId, data, expiresAt, client, now),
      created_at: now,
    })
    .execute();
}

/**
 * Saves a session that has a row. Never inserts: a request that loaded the
 * session before it was ended (sign out everywhere, password change) must not
 * bring it back when it finishes.
 */
export async function updateSession(
  db: DbOrTx,
  sid: string,
  userId: number | null,
  data: string,
  expiresAt: number,
  client: SessionClient | null,
  now: number,
) {
  await db
    .updateTable("sessions")
    .set(sessionValues(userId, data, expiresAt, client, now))
    .where("sid", "=", sid)
    .execute();
}

const touchQuery = preparedQuery(
  (db, sid: string, expiresAt: number, now: number) =>
    db
      .updateTable("sessions")
      .set({ expires_at: expiresAt, last_seen_at: now })
      .where("sid", "=", sid),
);

export async function touchSession(
  db: DbOrTx,
  sid: string,
  expiresAt: number,
  now: number,
) {
  await touchQuery(db, sid, expiresAt, now);
}

export interface UserSessionRow {
  sid: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: number | null;
  lastSeenAt: number | null;
}

/** A user's live sessions, most recently used first. */
export async function listUserSessions(
  db: DbOrTx,
  userId: number,
  now: number,
): Promise<UserSessionRow[]> {
  const rows = await db
    .selectFrom("sessions")
    .select(["sid", "ip", "user_agent", "created_at", "last_seen_at"])
    .where("user_id", "=", userId)
    .where("expires_at", ">", now)
    .orderBy("last_seen_at", "desc")
    .limit(100)
    .execute();
  return rows.map((r) => ({
    sid: r.sid,
    ip: r.ip,
    userAgent: r.user_agent,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
  }));
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

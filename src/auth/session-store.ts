import type session from "express-session";
import type { Clock } from "../clock.js";
import type { Db } from "../db/index.js";
import type { Deps } from "../deps.js";
import { ENDED_WITHIN_MS } from "./kept-forms.js";
import {
  deleteExpiredSessions,
  deleteSession,
  insertSession,
  readSession,
  touchSession,
  updateSession,
} from "./session-repository.js";

/**
 * An unchanged session's expiry is moved forward in the database at most
 * this often: with a rolling session every page view was otherwise a write
 * transaction (and a WAL append). Idle expiry is thus exact to a minute, as
 * is "last seen" in the list of sessions.
 */
export const TOUCH_INTERVAL_MS = 60_000;
/** Sessions whose stored expiry is remembered (most recently used kept). */
const REMEMBERED_SESSIONS = 10_000;

/** The signed-in user's id as passport keeps it in the session. */
function userIdOf(data: object): number | null {
  const user = (data as { passport?: { user?: unknown } }).passport?.user;
  return typeof user === "number" ? user : null;
}

/**
 * Sessions live in the database so they survive a restart and can be ended
 * for one user (disable, password change). Expiry is idle time, judged by the
 * injected clock so tests can move it. Used by src/auth/session.ts.
 */
export class DatabaseSessionStore {
  /** The expiry last read or written for a session id. */
  private readonly storedExpiry = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly idleMs: number,
  ) {}

  private remember(sid: string, expiresAt: number) {
    this.storedExpiry.delete(sid);
    this.storedExpiry.set(sid, expiresAt);
    if (this.storedExpiry.size > REMEMBERED_SESSIONS)
      this.storedExpiry.delete(this.storedExpiry.keys().next().value!);
  }

  private expiry(): number {
    return this.clock.now().getTime() + this.idleMs;
  }

  /** The session's data, or null when there is none or it expired. */
  async get(sid: string): Promise<Record<string, unknown> | null> {
    const row = await readSession(this.db, sid);
    if (!row || row.expiresAt <= this.clock.now().getTime()) {
      this.storedExpiry.delete(sid);
      return null;
    }
    this.remember(sid, row.expiresAt);
    return JSON.parse(row.data) as Record<string, unknown>;
  }

  /**
   * Inserts a session generated in this request (`isNew`); any other is
   * updated and stays gone if it was ended meanwhile (the row is not
   * brought back).
   */
  async save(
    sid: string,
    data: object,
    json: string,
    isNew: boolean,
  ): Promise<void> {
    const expiresAt = this.expiry();
    await (isNew ? insertSession : updateSession)(
      this.db,
      sid,
      userIdOf(data),
      json,
      expiresAt,
      (data as session.SessionData).client ?? null,
      this.clock.now().getTime(),
    );
    this.remember(sid, expiresAt);
  }

  /** Moves an unchanged session's expiry forward (at most once a minute). */
  async touch(sid: string): Promise<void> {
    const expiresAt = this.expiry();
    const stored = this.storedExpiry.get(sid);
    if (stored !== undefined && expiresAt - stored < TOUCH_INTERVAL_MS) return;
    await touchSession(this.db, sid, expiresAt, this.clock.now().getTime());
    this.remember(sid, expiresAt);
  }

  async destroy(sid: string): Promise<void> {
    this.storedExpiry.delete(sid);
    await deleteSession(this.db, sid);
  }
}

/**
 * Deletes the sessions that expired over a day ago. Expired rows are kept that
 * long because a report typed into an expired session is kept only for the
 * user whose session it was (src/auth/kept-forms.ts reads the row).
 */
export function pruneExpiredSessions(deps: Pick<Deps, "db" | "clock">) {
  return deleteExpiredSessions(
    deps.db,
    deps.clock.now().getTime() - ENDED_WITHIN_MS,
  );
}

import session from "express-session";
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

type Callback = (err?: unknown, value?: any) => void;

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
function userIdOf(sess: session.SessionData): number | null {
  const user = (sess as { passport?: { user?: unknown } }).passport?.user;
  return typeof user === "number" ? user : null;
}

/**
 * Sessions live in the database so they survive a restart and can be ended
 * for one user (disable, password change). Expiry is idle time, judged by the
 * injected clock so tests can move it.
 */
export class DatabaseSessionStore extends session.Store {
  /** The expiry last read or written for a session id. */
  private readonly storedExpiry = new Map<string, number>();
  /**
   * Session objects that have a row: read from the database, or inserted by
   * this request. Any other session express-session saves was just generated
   * (first save, or regenerated at sign-in and sign-out) under a fresh id.
   */
  private readonly hasRow = new WeakSet<object>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly idleMs: number,
  ) {
    super();
  }

  private remember(sid: string, expiresAt: number) {
    this.storedExpiry.delete(sid);
    this.storedExpiry.set(sid, expiresAt);
    if (this.storedExpiry.size > REMEMBERED_SESSIONS)
      this.storedExpiry.delete(this.storedExpiry.keys().next().value!);
  }

  private expiry(): number {
    return this.clock.now().getTime() + this.idleMs;
  }

  override get(sid: string, cb: Callback): void {
    readSession(this.db, sid).then((row) => {
      if (!row || row.expiresAt <= this.clock.now().getTime()) {
        this.storedExpiry.delete(sid);
        return cb(null, null);
      }
      this.remember(sid, row.expiresAt);
      cb(null, JSON.parse(row.data));
    }, cb);
  }

  override createSession(
    req: Parameters<session.Store["createSession"]>[0],
    sess: session.SessionData,
  ) {
    const created = super.createSession(req, sess);
    this.hasRow.add(created);
    return created;
  }

  /**
   * Inserts only a session generated in this request; any other is updated
   * and stays gone if it was ended meanwhile (the row is not brought back).
   */
  override set(sid: string, sess: session.SessionData, cb?: Callback): void {
    const expiresAt = this.expiry();
    const isNew = !this.hasRow.has(sess);
    (isNew ? insertSession : updateSession)(
      this.db,
      sid,
      userIdOf(sess),
      JSON.stringify(sess),
      expiresAt,
      sess.client ?? null,
      this.clock.now().getTime(),
    ).then(
      () => {
        if (isNew) this.hasRow.add(sess);
        this.remember(sid, expiresAt);
        cb?.();
      },
      (err) => cb?.(err),
    );
  }

  /** Called for a session read but not changed by the request. */
  override touch(sid: string, _sess: session.SessionData, cb?: Callback): void {
    const expiresAt = this.expiry();
    const stored = this.storedExpiry.get(sid);
    if (stored !== undefined && expiresAt - stored < TOUCH_INTERVAL_MS) {
      cb?.();
      return;
    }
    touchSession(this.db, sid, expiresAt, this.clock.now().getTime()).then(
      () => {
        this.remember(sid, expiresAt);
        cb?.();
      },
      (err) => cb?.(err),
    );
  }

  override destroy(sid: string, cb?: Callback): void {
    this.storedExpiry.delete(sid);
    deleteSession(this.db, sid).then(
      () => cb?.(),
      (err) => cb?.(err),
    );
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

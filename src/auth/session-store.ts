import session from "express-session";
import type { Clock } from "../clock.js";
import type { Db } from "../db/index.js";
import {
  deleteExpiredSessions,
  deleteSession,
  readSession,
  touchSession,
  writeSession,
} from "./session-repository.js";

type Callback = (err?: unknown, value?: any) => void;

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
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly idleMs: number,
  ) {
    super();
  }

  private expiry(): number {
    return this.clock.now().getTime() + this.idleMs;
  }

  override get(sid: string, cb: Callback): void {
    readSession(this.db, sid).then((row) => {
      if (!row || row.expiresAt <= this.clock.now().getTime())
        return cb(null, null);
      cb(null, JSON.parse(row.data));
    }, cb);
  }

  override set(sid: string, sess: session.SessionData, cb?: Callback): void {
    writeSession(
      this.db,
      sid,
      userIdOf(sess),
      JSON.stringify(sess),
      this.expiry(),
      sess.client ?? null,
      this.clock.now().getTime(),
    ).then(
      () => cb?.(),
      (err) => cb?.(err),
    );
  }

  override touch(sid: string, _sess: session.SessionData, cb?: Callback): void {
    touchSession(this.db, sid, this.expiry(), this.clock.now().getTime()).then(
      () => cb?.(),
      (err) => cb?.(err),
    );
  }

  override destroy(sid: string, cb?: Callback): void {
    deleteSession(this.db, sid).then(
      () => cb?.(),
      (err) => cb?.(err),
    );
  }

  /** Housekeeping: drop sessions that expired. */
  prune(): Promise<void> {
    return deleteExpiredSessions(this.db, this.clock.now().getTime());
  }
}

import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { DatabaseSessionStore } from "./session-store.js";

/*
 * The session middleware. It keeps express-session's behaviour, the part
 * of its interface that passport and csrf-sync use (`req.session` with its
 * data, `id`, save, regenerate and destroy; the types stay those of
 * @types/express-session, of which nothing else is used) and its cookie
 * (`s:` + id + `.` + HMAC-SHA256, so sessions survive the change), in the
 * steps this app needs:
 *
 * - the session is read from the store when the cookie's signature is
 *   right (a verified cookie is remembered: the same secret gives the
 *   same answer);
 * - it is saved when its data changed (compared as JSON, once), else its
 *   expiry is moved forward (the store does that at most once a minute);
 *   a new session is saved only once something is put in it;
 * - the cookie is sent again on every answer (a rolling idle expiry),
 *   only over TLS when it is Secure;
 * - the answer is finished only after the save is stored, its head
 *   included, so a browser following a redirect at once reads the session
 *   as this request left it.
 *
 * express-session hashed the session three times per request, signed the
 * cookie twice and wrapped the answer in several layers: 8–10 % of the
 * CPU of a page view (bench/README.md, issue 26).
 */

type Callback = (err?: unknown) => void;

export interface SessionOptions {
  /** The cookie's name. */
  name: string;
  secret: string;
  store: DatabaseSessionStore;
  /** Idle time after which the session ends; the cookie's lifetime. */
  maxAgeMs: number;
  /** Send the cookie only over TLS (behind a proxy: `trust proxy`). */
  secure: boolean;
  logger: Logger;
}

/** What the middleware knows of one request's session, kept off its data. */
interface SessionState {
  req: Request;
  options: SessionOptions;
  /** The data as JSON when it was read or last saved; null: never stored. */
  savedJson: string | null;
  /** It has a row in the store (read from it, or inserted by this request). */
  hasRow: boolean;
  /** It replaced the request's session (regenerate): stored even if empty. */
  replacing: boolean;
}

/**
 * A session: its data are its own properties (JSON.stringify of it is
 * what is stored); its id and state are private.
 */
class Session {
  readonly #id: string;
  readonly #state: SessionState;
  [key: string]: unknown;

  constructor(
    req: Request,
    options: SessionOptions,
    id: string,
    data: Record<string, unknown> | null,
  ) {
    this.#id = id;
    this.#state = {
      req,
      options,
      savedJson: null,
      hasRow: false,
      replacing: false,
    };
    if (data) {
      // Rows written by express-session hold its cookie too: not data.
      delete data.cookie;
      delete data.id;
      Object.assign(this, data);
      this.#state.savedJson = JSON.stringify(this);
      this.#state.hasRow = true;
    }
  }

  get id() {
    return this.#id;
  }

  static stateOf(session: Session) {
    return session.#state;
  }

  save(callback?: Callback) {
    const state = this.#state;
    const json = JSON.stringify(this);
    state.options.store.save(this.id, this, json, !state.hasRow).then(
      () => {
        state.savedJson = json;
        state.hasRow = true;
        callback?.();
      },
      callback ?? (() => {}),
    );
    return this;
  }

  /** A new session under a new id; the old one is ended in the store. */
  regenerate(callback: Callback) {
    const { req, options } = this.#state;
    const replace = () =>
      (Session.stateOf(
        startSession(req, options, newSessionId(), null),
      ).replacing = true);
    options.store.destroy(this.id).then(
      () => {
        replace();
        callback();
      },
      (err) => {
        replace();
        callback(err);
      },
    );
    return this;
  }

  destroy(callback: Callback) {
    const { req, options } = this.#state;
    delete (req as { session?: unknown }).session;
    options.store.destroy(this.id).then(() => callback(), callback);
    return this;
  }
}

function newSessionId() {
  return randomBytes(24).toString("base64url");
}

function startSession(
  req: Request,
  options: SessionOptions,
  id: string,
  data: Record<string, unknown> | null,
) {
  const session = new Session(req, options, id, data);
  req.sessionID = id;
  // The runtime object has every member of express-session's Session type
  // but its private constructor, which the type cannot be given.
  req.session = session as unknown as Request["session"];
  return session;
}

/** The session id a signed cookie value ("s:" + id + "." + MAC) holds, or null. */
function unsignedSessionId(value: string, secret: string): string | null {
  const dot = value.lastIndexOf(".");
  if (!value.startsWith("s:") || dot < 2) return null;
  const sid = value.slice(2, dot);
  const expected = Buffer.from(signature(sid, secret));
  const given = Buffer.from(value.slice(dot + 1));
  return given.length === expected.length && timingSafeEqual(given, expected)
    ? sid
    : null;
}

/** HMAC-SHA256 in base64 without padding, as cookie-signature wrote it. */
function signature(sid: string, secret: string) {
  return createHmac("sha256", secret)
    .update(sid)
    .digest("base64")
    .replace(/=+$/, "");
}

/** The session id the signed session cookie of a Cookie header names, or null (none, malformed or forged). */
export function signedSessionId(
  header: string | undefined,
  name: string,
  secret: string,
): string | null {
  const value = cookieValue(header, name);
  return value === null ? null : unsignedSessionId(value, secret);
}

/** The first value of a cookie in a Cookie header, decoded; null if none or malformed. */
function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length > 1)
      value = value.slice(1, -1);
    try {
      return decodeURIComponent(value);
    } catch {
      return null;
    }
  }
  return null;
}

/** Verified cookie values remembered (most recently verified kept). */
const REMEMBERED_COOKIES = 10_000;

export function sessions(options: SessionOptions): RequestHandler {
  const { name, secret, store, logger } = options;
  // A cookie value whose signature was verified, and its session id; and
  // each id's signed value for the answer's cookie.
  const verified = new Map<string, string>();
  const signed = new Map<string, string>();
  const remember = (map: Map<string, string>, key: string, value: string) => {
    if (map.size >= REMEMBERED_COOKIES) map.delete(map.keys().next().value!);
    map.set(key, value);
  };
  const sessionIdOf = (value: string) => {
    const known = verified.get(value);
    if (known !== undefined) return known;
    const sid = unsignedSessionId(value, secret);
    if (sid !== null) remember(verified, value, sid);
    return sid;
  };
  const signedValue = (sid: string) => {
    let value = signed.get(sid);
    if (value === undefined) {
      value = encodeURIComponent(`s:${sid}.${signature(sid, secret)}`);
      remember(signed, sid, value);
    }
    return value;
  };

  return (req: Request, res: Response, next: NextFunction) => {
    const raw = cookieValue(req.headers.cookie, name);
    const cookieId = raw === null ? null : sessionIdOf(raw);

    const begin = (data: Record<string, unknown> | null) => {
      startSession(req, options, data ? cookieId! : newSessionId(), data);
      holdAnswerUntilStored(req, res, options, signedValue, logger);
      next();
    };
    if (cookieId === null) return begin(null);
    store.get(cookieId).then(begin, next);
  };
}

/**
 * The cookie goes out with the answer's head; the answer is finished once
 * the session is saved (changed) or its expiry moved (unchanged).
 */
function holdAnswerUntilStored(
  req: Request,
  res: Response,
  options: SessionOptions,
  signedValue: (sid: string) => string,
  logger: Logger,
) {
  // This middleware's own object, or none once destroyed.
  const session = () => req.session as unknown as Session | undefined;
  const changed = (s: Session) => {
    const { savedJson, replacing } = Session.stateOf(s);
    const json = JSON.stringify(s);
    // A session never stored is saved once it holds something, or when it
    // replaced the request's own (sign-in, sign-out).
    if (savedJson === null) return replacing || json !== "{}";
    return json !== savedJson;
  };

  const writeHead = res.writeHead;
  res.writeHead = function (this: Response, ...args: unknown[]) {
    const s = session();
    if (s && (!options.secure || req.secure)) {
      // Rolling: every answer renews the cookie of a stored session; a new
      // one gets its cookie once it is to be stored.
      if (Session.stateOf(s).hasRow || changed(s))
        this.appendHeader("Set-Cookie", cookieHeader(s, options, signedValue));
    }
    return (writeHead as (...a: unknown[]) => Response).apply(this, args);
  } as Response["writeHead"];

  const end = res.end;
  let ending = false;
  res.end = function (this: Response, ...args: unknown[]) {
    const finish = () =>
      (end as (...a: unknown[]) => Response).apply(res, args);
    const s = session();
    if (ending) return finish();
    ending = true;
    if (!s) return finish();
    // Streamed (the head is out): stored beside the rest of the answer.
    const streamed = res.headersSent;
    if (streamed) finish();
    storeSession(s, (err) => {
      if (err) logger.warn({ err, url: req.originalUrl }, "session not saved");
      if (!streamed) finish();
    });
    return this;
  } as Response["end"];

  function storeSession(s: Session, done: Callback) {
    if (changed(s)) return void s.save(done);
    if (!Session.stateOf(s).hasRow) return done();
    options.store.touch(s.id).then(() => done(), done);
  }
}

/** The cookie, renewed: its expiry is the browser's, in real time (the session's own is the store's, by the injected clock). */
function cookieHeader(
  s: Session,
  options: SessionOptions,
  signedValue: (sid: string) => string,
) {
  const expires = new Date(Date.now() + options.maxAgeMs);
  return (
    `${options.name}=${signedValue(s.id)}; Path=/; Expires=${expires.toUTCString()}; HttpOnly` +
    `${options.secure ? "; Secure" : ""}; SameSite=Lax`
  );
}

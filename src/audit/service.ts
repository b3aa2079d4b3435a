import {
  can,
  relationTo,
  type Actor,
  type ReportAccessFacts,
  standsFor,
} from "../auth/policy.js";
import { lockInTransaction, withWriteTransaction } from "../db/dialect.js";
import type { Db, DbOrTx } from "../db/index.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { sha256Hex } from "../ids.js";
import { findUserByEmail } from "../users/repository.js";
import {
  auditEntriesAfter,
  insertAuditEntry,
  lastAuditLink,
  listAuditEntries,
  organizationNamesByPublicId,
  organizationPublicId,
  reportFactsForAudit,
  reportViewEntries,
  userNamesByPublicId,
} from "./repository.js";
import type {
  AuditAction,
  AuditActor,
  AuditDetails,
  AuditEntry,
  AuditFilter,
  AuditInput,
  AuditListItem,
  AuditRequestContext,
  AuditVerification,
  ReportViewer,
} from "./types.js";

/** The link before the first entry. */
export const GENESIS_HASH = "0".repeat(64);
/** Part of every hash, so a future change of serialization cannot collide. */
const HASH_FORMAT = "dd-audit-v1";

const MAX_IP = 64;
const MAX_USER_AGENT = 256;
const MAX_TARGET_ID = 100;
const MAX_DETAIL_STRING = 254;
const MAX_DETAILS_JSON = 2000;
// Details are for names, IDs and states. A key like these means a caller is
// about to write a secret into a log that can never be edited again.
const SECRET_KEY = /pass(word)?|secret|token|otp|totp|recovery|cookie|session/i;

/**
 * The canonical serialization: a JSON array of every stored field in a fixed
 * order (JSON strings have one encoding, so equal entries hash equally). The
 * id is included, so an entry cannot be moved to another position, and the
 * previous hash, so nothing before it can change unseen.
 */
export function auditHash(entry: Omit<AuditEntry, "hash">): string {
  return sha256Hex(
    JSON.stringify([
      HASH_FORMAT,
      entry.id,
      entry.at.getTime(),
      entry.actorId,
      entry.actorLabel,
      entry.action,
      entry.targetType,
      entry.targetId,
      entry.ip,
      entry.userAgent,
      entry.details,
      entry.prevHash,
    ]),
  );
}

function clip(value: string | null | undefined, max: number): string | null {
  if (value === null || value === undefined) return null;
  // Control characters would let a crafted user agent forge lines in a log view.
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, " ");
  return clean.length > max ? clean.slice(0, max) : clean;
}

/** Serializes details, refusing secrets and size that do not belong in a log. */
export function serializeDetails(details: AuditDetails | undefined): string {
  if (!details) return "{}";
  const safe: Record<string, unknown> = {};
  for (const key of Object.keys(details).sort()) {
    if (SECRET_KEY.test(key))
      throw new Error(`audit details must not carry "${key}"`);
    const value = details[key];
    safe[key] =
      typeof value === "string" ? clip(value, MAX_DETAIL_STRING) : value;
  }
  const json = JSON.stringify(safe);
  if (json.length > MAX_DETAILS_JSON)
    throw new Error("audit details are too large for the log");
  return json;
}

/**
 * Appends after `head`, the last entry (read when not given: a batch passes
 * the entry it has just written).
 */
async function append(
  db: DbOrTx,
  input: AuditInput,
  knownHead?: { id: number; hash: string },
): Promise<AuditEntry> {
  const head = knownHead ?? (await lastAuditLink(db));
  const unhashed: Omit<AuditEntry, "hash"> = {
    id: (head?.id ?? 0) + 1,
    at: input.at,
    actorId: input.actor?.id ?? null,
    actorLabel:
      input.actor?.role ??
      input.actorLabel ??
      (input.request ? "anonymous" : "system"),
    action: input.action,
    targetType: input.target?.type ?? null,
    targetId: clip(input.target?.id, MAX_TARGET_ID),
    ip: clip(input.request?.ip, MAX_IP),
    userAgent: clip(input.request?.userAgent, MAX_USER_AGENT),
    // An API request's entry names the token it came with (src/api/auth.ts).
    details: serializeDetails(
      input.request?.apiToken
        ? { ...input.details, api: input.request.apiToken }
        : input.details,
    ),
    prevHash: head?.hash ?? GENESIS_HASH,
  };
  const entry = { ...unhashed, hash: auditHash(unhashed) };
  await insertAuditEntry(db, entry);
  return entry;
}

/**
 * Appends one entry to the chain. Reading the head and inserting must happen
 * in one transaction: given a transaction, it joins it (so the entry commits
 * or rolls back with the change it records); given the database, it opens
 * its own. That one is BEGIN IMMEDIATE, which takes SQLite's write lock
 * before the head is read, so another process (the CLI beside the server)
 * waits instead of failing on a stale read; on PostgreSQL every append
 * holds an advisory lock until its transaction ends, so instances append
 * one at a time (src/db/dialect.ts). A fork is impossible either way:
 * the database refuses an entry that is not the next id linked to the last
 * hash (migration 2026-11-30-04).
 */
export async function recordAudit(
  db: DbOrTx,
  input: AuditInput,
): Promise<AuditEntry> {
  if (db.isTransaction) {
    // PostgreSQL: instances append one at a time (SQLite: nothing to do).
    await lockInTransaction(db, AUDIT_CHAIN_LOCK);
    return append(db, input);
  }
  const [entry] = await appendInOwnTransaction(db as Db, [input]);
  return entry!;
}

/** The lock appends to the chain take (src/db/dialect.ts). */
const AUDIT_CHAIN_LOCK = "audit-chain";

async function appendInOwnTransaction(
  db: Db,
  inputs: readonly AuditInput[],
): Promise<AuditEntry[]> {
  return withWriteTransaction(db, AUDIT_CHAIN_LOCK, async (conn) => {
    const entries: AuditEntry[] = [];
    for (const input of inputs)
      entries.push(await append(conn, input, entries.at(-1)));
    return entries;
  });
}

/** Entries waiting for the next turn of the event loop, per database. */
const batches = new WeakMap<
  Db,
  { inputs: AuditInput[]; committed: Promise<unknown> }
>();

/**
 * Appends an entry together with the others recorded in the same turn of
 * the event loop, in one transaction: a report view's entry cost a
 * transaction of its own, 0.34 ms of the report page (bench/README.md).
 * Resolves once the entry is committed, so a caller that waits for it
 * (a report page) is never answered with its entry still unwritten; if the
 * transaction fails, every caller in it gets the error.
 */
export function recordAuditInBatch(db: Db, input: AuditInput): Promise<void> {
  // Refused details fail their own caller now, not the whole batch later.
  serializeDetails(input.details);
  let batch = batches.get(db);
  if (!batch) {
    const inputs: AuditInput[] = [];
    const committed = new Promise((resolve, reject) =>
      setImmediate(() => {
        batches.delete(db);
        appendInOwnTransaction(db, inputs).then(resolve, reject);
      }),
    );
    batch = { inputs, committed };
    batches.set(db, batch);
  }
  batch.inputs.push(input);
  return batch.committed.then(() => undefined);
}

const VERIFY_PAGE = 1000;

/**
 * Walks the chain in id order and recomputes every link; the first entry
 * that does not fit is reported. Truncating the newest entries cannot be
 * seen from inside the chain: keep the printed head hash somewhere else
 * (a ticket, a signed note) to detect that.
 */
export async function verifyAuditChain(db: DbOrTx): Promise<AuditVerification> {
  let expectedPrev = GENESIS_HASH;
  let count = 0;
  let afterId = 0;
  for (;;) {
    const page = await auditEntriesAfter(db, afterId, VERIFY_PAGE);
    if (page.length === 0) break;
    for (const entry of page) {
      if (entry.prevHash !== expectedPrev) {
        return {
          ok: false,
          brokenAt: entry.id,
          count,
          reason:
            "its previous-hash does not match the entry before it: an entry was removed, inserted or moved here",
        };
      }
      if (auditHash(entry) !== entry.hash) {
        return {
          ok: false,
          brokenAt: entry.id,
          count,
          reason: "its content does not match its hash: the entry was changed",
        };
      }
      expectedPrev = entry.hash;
      count += 1;
      afterId = entry.id;
    }
  }
  return { ok: true, count, headHash: expectedPrev };
}

// ---- sign-in, sign-out ----

/** Account lookups for failed sign-ins are shaped like an email or not stored. */
const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]{1,189}$/;

/**
 * One entry per sign-in attempt. A failure names the account when it exists
 * (so a brute force on one account is visible per account) and otherwise
 * keeps the typed email only if it looks like one: a password typed into
 * the email field must not end up in a log nobody can edit.
 */
export async function recordSignInAttempt(
  deps: Pick<Deps, "db" | "clock">,
  user: { id: number; role: AuditActor["role"]; publicId: string } | null,
  typedEmail: string,
  request: AuditRequestContext,
): Promise<void> {
  const at = deps.clock.now();
  if (user) {
    await recordAudit(deps.db, {
      action: "auth.sign_in",
      actor: user,
      target: { type: "user", id: user.publicId },
      request,
      at,
    });
    return;
  }
  const email = typedEmail.trim().toLowerCase();
  const account = EMAIL_SHAPE.test(email)
    ? await findUserByEmail(deps.db, email)
    : undefined;
  await recordAudit(deps.db, {
    action: "auth.sign_in_failed",
    actor: null,
    target: account ? { type: "user", id: account.publicId } : null,
    details: EMAIL_SHAPE.test(email) ? { email } : { email: null },
    request,
    at,
  });
}

export async function recordSignOut(
  deps: Pick<Deps, "db" | "clock">,
  actor: (AuditActor & { publicId?: string }) | null,
  request: AuditRequestContext,
): Promise<void> {
  if (!actor) return;
  await recordAudit(deps.db, {
    action: "auth.sign_out",
    actor,
    target: actor.publicId ? { type: "user", id: actor.publicId } : null,
    request,
    at: deps.clock.now(),
  });
}

// ---- report views ----

/**
 * Records that someone other than its researcher opened a report: staff and
 * org contacts (the researcher's own views say nothing worth keeping). Pass
 * the report's transaction-free db or a transaction; the organization is
 * stored by public ID so the researcher later sees the name it had then.
 */
export async function recordReportView(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor,
  report: ReportAccessFacts & { publicId: string },
  request: AuditRequestContext | null,
  db: DbOrTx = deps.db,
): Promise<void> {
  const relation = relationTo(actor, report);
  if (relation !== "staff" && relation !== "org_contact") return;
  const details: AuditDetails = {};
  // The organization the contact reads for (the first, if several of theirs take part).
  const [organizationId] = standsFor(actor, report);
  if (relation === "org_contact" && organizationId !== undefined) {
    details.organization =
      (await organizationPublicId(db, organizationId)) ?? null;
  }
  const entry: AuditInput = {
    action: "report.viewed",
    actor,
    target: { type: "report", id: report.publicId },
    request,
    details,
    at: deps.clock.now(),
  };
  if (db.isTransaction) await recordAudit(db, entry);
  else await recordAuditInBatch(db as Db, entry);
}

/** Views by the same person this close together are one visit. */
const VISIT_GAP_MS = 30 * 60_000;
const MAX_VIEW_ENTRIES = 1000;
const MAX_VIEWERS = 100;

/**
 * Turns view entries (newest first) into what the researcher sees: one line
 * per visit with the viewer's role then and, for org contacts, their
 * organization. Pure, so the shape is tested without a database.
 */
export function summarizeViews(
  entries: readonly AuditEntry[],
  orgNames: ReadonlyMap<string, string>,
  reporterId: number,
): ReportViewer[] {
  const viewers: ReportViewer[] = [];
  const lastSeen = new Map<string, number>();
  for (const entry of entries) {
    if (entry.actorId === reporterId) continue;
    const key = String(entry.actorId);
    const newer = lastSeen.get(key);
    lastSeen.set(key, entry.at.getTime());
    if (newer !== undefined && newer - entry.at.getTime() < VISIT_GAP_MS)
      continue;
    const org = orgOf(entry);
    viewers.push({
      role: entry.actorLabel,
      organizationName: org ? (orgNames.get(org) ?? null) : null,
      at: entry.at,
    });
    if (viewers.length >= MAX_VIEWERS) break;
  }
  return viewers;
}

function orgOf(entry: AuditEntry): string | null {
  try {
    const parsed = JSON.parse(entry.details) as { organization?: unknown };
    return typeof parsed.organization === "string" ? parsed.organization : null;
  } catch {
    return null;
  }
}

/**
 * Who viewed a report, for its researcher (and staff).
 *
 * Decision: the researcher sees each visit's time, the viewer's role at the
 * time (triager, admin, org contact) and, for an org contact, the
 * organization's name. Never a person's name, email or ID: CERT staff are
 * not exposed to pressure or social engineering through the tracker, and an
 * organization answers for its own contacts. That is enough for what the
 * researcher needs to know: that the CERT and the organization have read it.
 *
 * Throws NotFoundError when the actor may not see the report; returns null
 * when they may see the report but not its viewers (org contacts).
 */
export async function viewersOfReport(
  deps: Pick<Deps, "db">,
  actor: Actor | null,
  reportInternalId: number,
): Promise<ReportViewer[] | null> {
  const report = await reportFactsForAudit(deps.db, reportInternalId);
  if (!report || !can(actor, "report:view", report)) throw new NotFoundError();
  if (!can(actor, "report:view_viewers", report)) return null;
  const entries = await reportViewEntries(
    deps.db,
    report.publicId,
    MAX_VIEW_ENTRIES,
  );
  const orgIds = [
    ...new Set(entries.map(orgOf).filter((o): o is string => o !== null)),
  ];
  const names = await organizationNamesByPublicId(deps.db, orgIds);
  return summarizeViews(entries, names, report.reporterId);
}

// ---- the admin page ----

export const AUDIT_PAGE_SIZE = 50;

export interface AuditQuery {
  action?: AuditAction;
  actorEmail?: string;
  targetId?: string;
  /** Start of the first day, inclusive. */
  from?: Date;
  /** Start of the day after the last, exclusive. */
  until?: Date;
  before?: number;
}

export interface AuditPage {
  entries: AuditListItem[];
  /** Names of the users and organizations the entries point to, by public ID. */
  names: { users: Map<string, string>; organizations: Map<string, string> };
  /** The `before` cursor of the next (older) page, or null at the end. */
  nextBefore: number | null;
}

/**
 * Detail values that are users' public IDs: the assignee before and after
 * (report.assigned) and the contact added or removed (org.member_*).
 */
export function userIdsInDetails(entry: AuditEntry): string[] {
  const keys =
    entry.action === "report.assigned"
      ? ["from", "to"]
      : entry.action.startsWith("org.member_")
        ? ["user"]
        : [];
  if (keys.length === 0) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(entry.details);
  } catch {
    return [];
  }
  if (!parsed || typeof parsed !== "object") return [];
  return keys
    .map((k) => (parsed as Record<string, unknown>)[k])
    .filter((v): v is string => typeof v === "string");
}

export async function browseAudit(
  deps: Pick<Deps, "db">,
  actor: Actor | null,
  query: AuditQuery,
  pageSize = AUDIT_PAGE_SIZE,
): Promise<AuditPage> {
  if (!can(actor, "audit:view")) throw new NotFoundError();
  const filter: AuditFilter = {
    action: query.action,
    targetId: query.targetId,
    fromMs: query.from?.getTime(),
    untilMs: query.until?.getTime(),
  };
  if (query.actorEmail) {
    // An unknown email matches nothing rather than everything.
    filter.actorId =
      (await findUserByEmail(deps.db, query.actorEmail))?.id ?? -1;
  }
  const rows = await listAuditEntries(
    deps.db,
    filter,
    query.before ?? null,
    pageSize + 1,
  );
  const entries = rows.slice(0, pageSize);
  const userIds = new Set<string>();
  const orgIds = new Set<string>();
  for (const e of entries) {
    if (e.targetType === "user" && e.targetId) userIds.add(e.targetId);
    if (e.targetType === "organization" && e.targetId) orgIds.add(e.targetId);
    for (const id of userIdsInDetails(e)) userIds.add(id);
  }
  return {
    entries,
    names: {
      users: await userNamesByPublicId(deps.db, [...userIds]),
      organizations: await organizationNamesByPublicId(deps.db, [...orgIds]),
    },
    nextBefore: rows.length > pageSize ? entries[entries.length - 1]!.id : null,
  };
}

/**
 * The stack's limit: the database work of each measured page, as the very
 * statements the app ran for it.
 *
 * bench/run.ts starts the app once with SQL_CAPTURE_FILE, signs in, opens
 * every measured URL twice and keeps, per URL, the statements of its last
 * visit (`pickCaptured`): a page in its steady state, with the app's kept
 * lists already filled and the session's expiry not yet due for a write.
 * The limit process (bench/ceiling.ts with BENCH_STATEMENTS) prepares each
 * distinct statement once with better-sqlite3 and, on every request, runs
 * that URL's statements in order (`limitRunner`), then renders the page
 * from memory as the ceiling does.
 *
 * Values that must be fresh on every run are made fresh, by the app's own
 * rules, never skipped: a parameter within ten minutes of the capture's
 * time is "now" and moves with the clock, and the audit entry of a report
 * view is the next link of the chain (the id after the head just read, its
 * hash, and the chain's hash function from src/audit/service.ts), which the
 * database's trigger checks as it does the app's.
 */
import Database from "better-sqlite3";
import { readFileSync } from "node:fs";
import { auditHash } from "../src/audit/service.js";
import { decodeParam } from "../src/db/capture.js";

export interface CapturedStatement {
  sql: string;
  params: unknown[];
  reader: boolean;
}

export interface CapturedPage {
  url: string;
  /** When the app ran it (ms). */
  at: number;
  statements: CapturedStatement[];
}

interface CaptureLine extends CapturedPage {
  method: string;
  status: number;
}

/** The last 200 GET of each URL in an SQL_CAPTURE_FILE. */
export function pickCaptured(
  file: string,
  urls: readonly string[],
): Map<string, CapturedPage> {
  const wanted = new Set(urls);
  const pages = new Map<string, CapturedPage>();
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    if (!raw) continue;
    const line = JSON.parse(raw) as CaptureLine;
    if (line.method !== "GET" || line.status !== 200 || !wanted.has(line.url))
      continue;
    pages.set(line.url, {
      url: line.url,
      at: line.at,
      statements: line.statements,
    });
  }
  const missing = urls.filter((u) => !pages.has(u));
  if (missing.length > 0)
    throw new Error(`no statements captured for ${missing.join(", ")}`);
  return pages;
}

/** A statement's kind, for the bench's summary. */
export function statementKind(sql: string): string {
  const word = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? "?";
  return word;
}

const NOW_WINDOW_MS = 10 * 60_000;
const AUDIT_INSERT = /^\s*insert into "audit_log"\s*\(([^)]*)\)/i;
const AUDIT_HEAD = /^\s*select "id", "hash" from "audit_log"/i;

/**
 * Prepares the captured statements (each distinct SQL once) and returns a
 * function running one URL's statements. The connection is set up as the
 * app's (src/db/index.ts).
 */
export function limitRunner(dbFile: string, statementsFile: string) {
  const captured = JSON.parse(readFileSync(statementsFile, "utf8")) as Record<
    string,
    CapturedPage
  >;
  const sqlite = new Database(dbFile);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = NORMAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  // The app checkpoints from a worker thread; its worker keeps doing so
  // while the limit is measured, so the limit's commits need not either.
  sqlite.pragma("wal_autocheckpoint = 10000");

  const prepared = new Map<string, Database.Statement>();
  type Step = (ctx: { head: unknown[] | undefined; now: number }) => void;
  const plans = new Map<string, Step[]>();

  for (const [url, page] of Object.entries(captured)) {
    const steps: Step[] = [];
    for (const s of page.statements) {
      let statement = prepared.get(s.sql);
      if (!statement) {
        statement = sqlite.prepare(s.sql);
        if (statement.reader) statement.raw(true);
        prepared.set(s.sql, statement);
      }
      const stmt = statement;
      const params = s.params.map(decodeParam);
      // Parameters that are "now" at the capture move with the clock.
      const nowAt = params.flatMap((p, i) =>
        typeof p === "number" &&
        p > 1e12 &&
        Math.abs(p - page.at) < NOW_WINDOW_MS
          ? [i]
          : [],
      );
      const auditColumns = AUDIT_INSERT.exec(s.sql)?.[1]
        ?.split(",")
        .map((c) => c.trim().replace(/^"|"$/g, ""));
      if (auditColumns) {
        steps.push(({ head, now }) => {
          const value = (name: string) => params[auditColumns.indexOf(name)];
          const [headId, headHash] = (head ?? []) as [number, string];
          if (headId === undefined)
            throw new Error(`${url}: an audit entry without the head read`);
          const entry = {
            id: headId + 1,
            at: new Date(now),
            actorId: value("actor_id") as number | null,
            actorLabel: value("actor_label") as string,
            action: value("action") as string,
            targetType: value("target_type") as string | null,
            targetId: value("target_id") as string | null,
            ip: value("ip") as string | null,
            userAgent: value("user_agent") as string | null,
            details: value("details") as string,
            prevHash: headHash,
          };
          const fields: Record<string, unknown> = {
            id: entry.id,
            at: now,
            actor_id: entry.actorId,
            actor_label: entry.actorLabel,
            action: entry.action,
            target_type: entry.targetType,
            target_id: entry.targetId,
            ip: entry.ip,
            user_agent: entry.userAgent,
            details: entry.details,
            prev_hash: entry.prevHash,
            hash: auditHash(entry as Parameters<typeof auditHash>[0]),
          };
          stmt.run(auditColumns.map((c) => fields[c]));
        });
        continue;
      }
      const isHead = AUDIT_HEAD.test(s.sql);
      steps.push((ctx) => {
        let values = params;
        if (nowAt.length > 0) {
          values = [...params];
          for (const i of nowAt)
            values[i] = (params[i] as number) + (ctx.now - page.at);
        }
        if (stmt.reader) {
          const rows = stmt.all(values) as unknown[][];
          if (isHead) ctx.head = rows[0];
        } else stmt.run(values);
      });
    }
    plans.set(url, steps);
  }

  return (url: string) => {
    const steps = plans.get(url);
    if (!steps) throw new Error(`no statements for ${url}`);
    const ctx = { head: undefined as unknown[] | undefined, now: Date.now() };
    try {
      for (const step of steps) step(ctx);
    } catch (err) {
      if (sqlite.inTransaction) sqlite.prepare("rollback").run();
      throw err;
    }
  };
}

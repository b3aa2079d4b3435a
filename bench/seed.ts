/**
 * Builds a realistic benchmark database:
 *
 *   npm run bench:seed -- --reports 1000000 [--data-dir bench/data] [--seed 1]
 *
 * The schema comes from the app's own migrations; the rows are then written
 * directly with better-sqlite3 prepared statements in batched transactions
 * (raw SQL is allowed here: this is tooling, not the app). Any database
 * already in the data directory is replaced.
 */
import { existsSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { hashPassword } from "../src/auth/passwords.js";
import { databaseFile, openDatabase } from "../src/db/index.js";
import { indexPendingReports } from "../src/reports/list-repository.js";
import { migrateToLatest } from "../src/db/migrate.js";
import { newPublicId, newReportId } from "../src/ids.js";
import { NO_DEADLINE } from "../src/reports/clocks.js";
import { scoreCvss } from "../src/reports/cvss.js";
import { WEAKNESSES } from "../src/reports/cwe.js";
import type { State } from "../src/reports/workflow.js";
import {
  ADMIN_EMAIL,
  argValue,
  BENCH_PASSWORD,
  BENCH_TOTP_SECRET,
  contactEmail,
  DEFAULT_DATA_DIR,
  parseCount,
  researcherEmail,
  triagerEmail,
} from "./accounts.js";
import * as text from "./text.js";

export const ORGANIZATIONS = 500;
export const RESEARCHERS = 50_000;
export const TRIAGERS = 40;
export const CONTACTS_PER_ORG = 2;

const DAY = 86_400_000;
const YEAR = 365 * DAY;
const BATCH = 2_000;

export interface SeedOptions {
  reports: number;
  dataDir: string;
  seed?: number;
  /** Progress bar and summary on stderr. */
  quiet?: boolean;
}

export interface SeedSummary {
  reports: number;
  events: number;
  users: number;
  states: Record<string, number>;
  seconds: number;
  bytes: number;
}

interface Event {
  actor: number | null;
  kind: string;
  action: string | null;
  from: State | null;
  to: State | null;
  visibility: "public" | "internal";
  body: string | null;
  at: number;
}

/** A progress bar on stderr, redrawn at most ten times a second. */
function progressBar(total: number, label: string, quiet: boolean) {
  const started = Date.now();
  let last = 0;
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  const draw = (done: number, final = false) => {
    if (quiet) return;
    const now = Date.now();
    if (!final && now - last < 100) return;
    last = now;
    const fraction = total ? done / total : 1;
    const elapsed = (now - started) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const eta = rate > 0 ? (total - done) / rate : 0;
    const width = 30;
    const filled = Math.round(fraction * width);
    const line = `${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${done.toLocaleString("en-GB")}/${total.toLocaleString("en-GB")} ${Math.round(rate).toLocaleString("en-GB")}/s ETA ${eta.toFixed(0)} s`;
    if (tty) process.stderr.write(`\r${line}${final ? "\n" : ""}`);
    else {
      const decile = Math.floor(fraction * 10);
      if (decile !== lastDecile || final) {
        lastDecile = decile;
        process.stderr.write(line + "\n");
      }
    }
  };
  return { draw, done: () => draw(total, true) };
}

/** Report creation times over five years, more of them recently (volume triples). */
function creationTime(u: number, start: number, span: number): number {
  const g = 2;
  const t = (-1 + Math.sqrt(1 + 2 * g * u * (1 + g / 2))) / g;
  return Math.floor(start + Math.min(1, t) * span);
}

const OUTCOMES = [
  ["resolved", 0.35],
  ["invalid", 0.22],
  ["duplicate", 0.2],
  ["out_of_scope", 0.12],
  ["wont_fix", 0.05],
  ["withdrawn", 0.06],
] as const;
type Outcome = (typeof OUTCOMES)[number][0];

function pickOutcome(rng: text.Prng): Outcome {
  let u = rng.next();
  for (const [name, p] of OUTCOMES) {
    if (u < p) return name;
    u -= p;
  }
  return "resolved";
}

export async function seed(options: SeedOptions): Promise<SeedSummary> {
  const started = Date.now();
  const quiet = options.quiet ?? false;
  const log = (line: string) => {
    if (!quiet) process.stderr.write(line + "\n");
  };
  const rng = text.prng(options.seed ?? 1);
  const file = databaseFile(options.dataDir);
  for (const suffix of ["", "-wal", "-shm"]) {
    if (existsSync(file + suffix)) rmSync(file + suffix);
  }

  // The app's own migrations make the schema, exactly as the server would.
  const { db, sqlite } = openDatabase(file);
  await migrateToLatest(db);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("synchronous = OFF");
  sqlite.pragma("foreign_keys = OFF");
  sqlite.pragma("cache_size = -512000");
  sqlite.pragma("temp_store = MEMORY");

  const now = Date.now();
  const start = now - 5 * YEAR;

  // ---- people ----
  const cost = Number(process.env.SCRYPT_COST ?? 2 ** 15);
  const passwordHash = await hashPassword(BENCH_PASSWORD, cost);
  const insertUser = sqlite.prepare(
    `insert into users (id, public_id, email, display_name, role, password_hash,
       email_verified_at, password_changed_at, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertOrg = sqlite.prepare(
    "insert into organizations (id, public_id, name, created_at) values (?, ?, ?, ?)",
  );
  const insertMember = sqlite.prepare(
    "insert into org_members (org_id, user_id) values (?, ?)",
  );
  let userId = 0;
  const addUser = (email: string, name: string, role: string) => {
    userId += 1;
    const created = start - 30 * DAY + rng.int(30 * DAY);
    insertUser.run(
      userId,
      newPublicId(),
      email,
      name,
      role,
      passwordHash,
      created,
      created,
      created,
    );
    return userId;
  };
  const triagers: number[] = [];
  const contacts: number[][] = [];
  const orgHosts: string[] = [];
  const researchersFrom = TRIAGERS + 2 + ORGANIZATIONS * CONTACTS_PER_ORG;
  sqlite.transaction(() => {
    addUser(ADMIN_EMAIL, "CERT Administrator", "admin");
    for (let n = 1; n <= TRIAGERS; n++)
      triagers.push(addUser(triagerEmail(n), text.personName(rng), "triager"));
    for (let o = 1; o <= ORGANIZATIONS; o++) {
      const name = text.organizationName(o - 1);
      insertOrg.run(o, newPublicId(), name, start - rng.int(365) * DAY);
      orgHosts.push(`portal.${text.slug(name)}.example`);
      const members: number[] = [];
      for (let k = 1; k <= CONTACTS_PER_ORG; k++) {
        const id = addUser(
          contactEmail(o, k),
          text.personName(rng),
          "org_contact",
        );
        insertMember.run(o, id);
        members.push(id);
      }
      contacts.push(members);
    }
  })();
  if (userId + 1 !== researchersFrom) throw new Error("user ids out of step");
  // Staff must sign in with a second factor where the app has one.
  const userColumns = (
    sqlite.prepare("pragma table_info(users)").all() as { name: string }[]
  ).map((c) => c.name);
  if (
    userColumns.includes("totp_secret") &&
    userColumns.includes("totp_enabled_at")
  ) {
    sqlite
      .prepare(
        `update users set totp_secret = ?, totp_enabled_at = created_at
         where role in ('triager', 'admin')`,
      )
      .run(BENCH_TOTP_SECRET);
  }
  const researchers = progressBar(RESEARCHERS, "researchers", quiet);
  sqlite.transaction(() => {
    for (let n = 1; n <= RESEARCHERS; n++) {
      addUser(researcherEmail(n), text.personName(rng), "researcher");
      if (n % 5000 === 0) researchers.draw(n);
    }
  })();
  researchers.done();

  // ---- reports ----
  // Secondary indexes are dropped and rebuilt after the bulk load (a sorted
  // build is much faster than a million random inserts); same SQL, same names.
  const indexes = sqlite
    .prepare(
      `select name, sql from sqlite_master
       where type = 'index' and sql is not null
         and tbl_name in ('reports', 'report_events')`,
    )
    .all() as { name: string; sql: string }[];
  for (const index of indexes) sqlite.exec(`drop index "${index.name}"`);

  const insertReport = sqlite.prepare(
    `insert into reports (id, public_id, reporter_id, organization_id,
       suggested_org_name, title, asset, cwe, cvss_vector, cvss_score, severity,
       description, steps, impact, data_exposed, records_affected, credit_kind,
       credit_handle, reveal_identity, state, state_before_info, resolution,
       duplicate_of_id, assignee_id, created_at, updated_at, ack_due_at,
       triage_due_at, vendor_notified_at, disclosure_due_at, closed_at,
       queue_due_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
       ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insertEvent = sqlite.prepare(
    `insert into report_events (report_id, actor_id, kind, action, from_state,
       to_state, visibility, body, created_at)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );

  // A few dozen scored vectors, as researchers and triagers enter them.
  const vectors: { vector: string; score: number; severity: string }[] = [];
  const v = (options: string) => options[rng.int(options.length)];
  while (vectors.length < 60) {
    const vector = `CVSS:3.1/AV:${v("NNNAL")}/AC:${v("LLH")}/PR:${v("NLLH")}/UI:${v("NNR")}/S:${v("UUC")}/C:${v("HHLN")}/I:${v("HLNN")}/A:${v("NNLH")}`;
    const scored = scoreCvss(vector);
    if (scored)
      vectors.push({
        vector: scored.vector,
        score: scored.score,
        severity: scored.severity,
      });
  }
  const cwes = WEAKNESSES.map((w) => w.id);
  const dataKinds = ["personal", "health", "credentials", "financial", "other"];
  const usedIds = new Set<string>();
  const states: Record<string, number> = {};
  let eventCount = 0;

  const one = (reportId: number) => {
    let publicId = newReportId();
    // 40 random bits: a million IDs collide about once; the app retries too.
    while (usedIds.has(publicId)) publicId = newReportId();
    usedIds.add(publicId);

    const created = creationTime(
      (reportId - 1 + rng.next()) / options.reports,
      start,
      now - start - DAY,
    );
    const reporter = researchersFrom + rng.skewed(RESEARCHERS);
    const org = 1 + rng.skewed(ORGANIZATIONS);
    const chosenOrg = rng.chance(0.85);
    let organizationId: number | null = chosenOrg ? org : null;
    const suggested = chosenOrg ? null : text.organizationName(rng.int(5000));
    const cwe = rng.chance(0.93) ? rng.pick(cwes) : "other";
    let cvss = rng.chance(0.55) ? rng.pick(vectors) : null;
    const url = text.asset(rng, orgHosts[org - 1]!);
    const records = rng.chance(0.4)
      ? Math.floor(10 ** rng.between(1, 7))
      : null;
    const exposed = dataKinds.filter(() => rng.chance(0.25));
    const creditKind = rng.chance(0.6)
      ? "name"
      : rng.chance(0.75)
        ? "handle"
        : "anonymous";
    const triager = rng.pick(triagers);
    const contact = rng.pick(contacts[org - 1]!);

    // Walk the report through its life until "now": older reports are
    // mostly finished, recent ones still early. A few stall for a long time.
    const outcome = pickOutcome(rng);
    const stall = rng.chance(0.1) ? 12 : 1;
    const events: Event[] = [];
    let t = created;
    let state: State = "submitted";
    let stateBeforeInfo: State | null = null;
    let resolution: string | null = null;
    let assignee: number | null = null;
    let vendorNotifiedAt: number | null = null;
    let closedAt: number | null = null;
    events.push({
      actor: reporter,
      kind: "submitted",
      action: null,
      from: null,
      to: "submitted",
      visibility: "public",
      body: null,
      at: t,
    });
    const step = (
      action: string,
      to: State,
      actor: number,
      minDays: number,
      maxDays: number,
    ): boolean => {
      const next = t + Math.floor(rng.between(minDays, maxDays) * DAY * stall);
      if (next >= now) return false;
      t = next;
      events.push({
        actor,
        kind: "transition",
        action,
        from: state,
        to,
        visibility: "public",
        body: text.transitionMessage(rng, action),
        at: t,
      });
      state = to;
      return true;
    };
    const acknowledge = () => {
      if (!step("acknowledge", "acknowledged", triager, 0.05, 3)) return false;
      if (rng.chance(0.7)) assignee = triager;
      return true;
    };
    // Sometimes the triager needs more from the researcher first.
    const maybeNeedInfo = () => {
      if (!rng.chance(0.12)) return true;
      const before: State = state;
      if (!step("request_info", "needs_info", triager, 0.5, 4)) return false;
      if (!step("provide_info", before, reporter, 0.5, 12)) {
        stateBeforeInfo = before;
        return false;
      }
      return true;
    };
    const close = (why: string, actor = triager, min = 1, max = 10) => {
      if (
        !step(
          why === "withdrawn" ? "withdraw" : "close",
          "closed",
          actor,
          min,
          max,
        )
      )
        return false;
      resolution = why;
      closedAt = t;
      return true;
    };
    const triage = () => {
      if (!step("triage", "triaged", triager, 1, 8)) return false;
      cvss ??= rng.pick(vectors);
      organizationId ??= org;
      return true;
    };

    run: {
      if (outcome === "withdrawn") {
        if (rng.chance(0.5) && !acknowledge()) break run;
        close("withdrawn", reporter, 1, 20);
        break run;
      }
      if (outcome !== "resolved" && outcome !== "wont_fix") {
        if (rng.chance(0.6) && (!acknowledge() || !maybeNeedInfo())) break run;
        close(outcome, triager, 0.5, 10);
        break run;
      }
      if (!acknowledge() || !maybeNeedInfo() || !triage()) break run;
      if (outcome === "wont_fix") {
        close("wont_fix", triager, 3, 30);
        break run;
      }
      if (!step("notify_vendor", "vendor_notified", triager, 0.5, 4)) break run;
      vendorNotifiedAt = t;
      if (
        rng.chance(0.5) &&
        !step("vendor_acknowledge", "fix_in_progress", contact, 1, 14)
      )
        break run;
      if (
        !step(
          "mark_fixed",
          "fixed",
          rng.chance(0.6) ? contact : triager,
          5,
          120,
        )
      )
        break run;
      if (
        rng.chance(0.5) &&
        !step("verify_fix", "fix_verified", reporter, 1, 14)
      )
        break run;
      if (!close("resolved", triager, 1, 10)) break run;
      if (rng.chance(0.3)) step("publish", "disclosed", triager, 7, 60);
    }

    // Conversation beside the workflow: comments and internal notes.
    const last = t;
    if (rng.chance(0.25)) {
      events.push({
        actor: rng.chance(0.5) ? reporter : triager,
        kind: "comment",
        action: null,
        from: null,
        to: null,
        visibility: "public",
        body: text.comment(rng),
        at: Math.floor(rng.between(created, last)),
      });
    }
    if (rng.chance(0.1)) {
      events.push({
        actor: triager,
        kind: "note",
        action: null,
        from: null,
        to: null,
        visibility: "internal",
        body: text.note(rng),
        at: Math.floor(rng.between(created, last)),
      });
    }
    events.sort((a, b) => a.at - b.at);
    const updated = events[events.length - 1]!.at;

    insertReport.run(
      reportId,
      publicId,
      reporter,
      organizationId,
      suggested,
      text.title(rng, cwe),
      url,
      cwe,
      cvss?.vector ?? null,
      cvss?.score ?? null,
      cvss?.severity ?? null,
      text.description(rng, url),
      text.steps(rng, url),
      text.impact(rng, records),
      JSON.stringify(exposed),
      records,
      creditKind,
      creditKind === "handle" ? `hunter${reporter}` : null,
      rng.chance(0.5) ? 1 : 0,
      state,
      stateBeforeInfo,
      resolution,
      resolution === "duplicate" && reportId > 1
        ? 1 + rng.int(reportId - 1)
        : null,
      assignee,
      created,
      updated,
      created + 3 * DAY,
      created + 10 * DAY,
      vendorNotifiedAt,
      vendorNotifiedAt === null ? null : vendorNotifiedAt + 90 * DAY,
      closedAt,
      // The queue's next deadline, as migration 2026-12-07-31 fills it.
      state === "submitted"
        ? created + 3 * DAY
        : state === "acknowledged"
          ? created + 10 * DAY
          : vendorNotifiedAt !== null &&
              ["vendor_notified", "fix_in_progress", "fixed"].includes(state)
            ? vendorNotifiedAt + 90 * DAY
            : NO_DEADLINE,
    );
    for (const e of events) {
      insertEvent.run(
        reportId,
        e.actor,
        e.kind,
        e.action,
        e.from,
        e.to,
        e.visibility,
        e.body,
        e.at,
      );
    }
    eventCount += events.length;
    states[state] = (states[state] ?? 0) + 1;
  };

  const bar = progressBar(options.reports, "reports    ", quiet);
  const batch = sqlite.transaction((from: number, to: number) => {
    for (let id = from; id <= to; id++) one(id);
  });
  for (let from = 1; from <= options.reports; from += BATCH) {
    const to = Math.min(options.reports, from + BATCH - 1);
    batch(from, to);
    // The app's triggers noted the batch for the full-text index.
    await indexPendingReports(db);
    bar.draw(to);
  }
  bar.done();

  // Each report's organization takes part in its case, as migration
  // 2026-12-08-01 made of every report that existed before participations.
  sqlite.exec(`
    insert into participations
      (report_id, organization_id, status, answered_at, status_changed_at,
       fix_verified_at, added_at, notified_at)
    select id, organization_id,
      case
        when vendor_notified_at is null then 'not_answered'
        when state in ('fixed', 'fix_verified') or fix_verified_at is not null
          or (state = 'closed' and resolution = 'resolved') then 'fixed'
        when state in ('fix_in_progress', 'disclosed', 'closed') then 'affected'
        else 'not_answered'
      end,
      case when vendor_notified_at is null or state = 'vendor_notified'
        then null else updated_at end,
      case when vendor_notified_at is null or state = 'vendor_notified'
        then null else updated_at end,
      fix_verified_at, coalesce(vendor_notified_at, created_at),
      vendor_notified_at
    from reports where organization_id is not null`);

  const indexBar = progressBar(indexes.length, "indexes    ", quiet);
  indexes.forEach((index, i) => {
    sqlite.exec(index.sql);
    indexBar.draw(i + 1);
  });
  indexBar.done();

  sqlite.pragma("wal_checkpoint(TRUNCATE)");
  sqlite.pragma("foreign_keys = ON");
  await db.destroy();

  const bytes = statSync(file).size;
  const summary: SeedSummary = {
    reports: options.reports,
    events: eventCount,
    users: userId,
    states,
    seconds: (Date.now() - started) / 1000,
    bytes,
  };
  log(
    `seeded ${file}: ${summary.reports.toLocaleString("en-GB")} reports, ` +
      `${eventCount.toLocaleString("en-GB")} timeline events (${(eventCount / Math.max(1, summary.reports)).toFixed(2)} per report), ` +
      `${userId.toLocaleString("en-GB")} users, ${ORGANIZATIONS} organizations, ` +
      `${(bytes / 1e9).toFixed(2)} GB in ${summary.seconds.toFixed(1)} s`,
  );
  log(
    "states: " +
      Object.entries(states)
        .sort((a, b) => b[1] - a[1])
        .map(
          ([s, n]) =>
            `${s} ${((100 * n) / Math.max(1, summary.reports)).toFixed(1)}%`,
        )
        .join(", "),
  );
  return summary;
}

async function main() {
  const args = process.argv.slice(2);
  const reports = parseCount(
    argValue(args, "reports") ?? "1000000",
    "--reports",
  );
  const dataDir = path.resolve(
    argValue(args, "data-dir") ?? process.env.DATA_DIR ?? DEFAULT_DATA_DIR,
  );
  const seedValue = parseCount(argValue(args, "seed") ?? "1", "--seed");
  await seed({ reports, dataDir, seed: seedValue });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

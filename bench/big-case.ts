/**
 * One very large case on a seeded database, and how fast its pages are:
 *
 *   npm run bench:seed -- --reports 20000 --data-dir /tmp/bigcase
 *   npm run bench:big-case -- --data-dir /tmp/bigcase [--organizations 150]
 *     [--comments 2000] [--duration 10] [--connections 1]
 *
 * Adds (once; a later run finds it by its title) ONE case with 150
 * participating organizations, each with a contact, and 2,000 comments
 * spread over every audience (everyone on the case, the researcher, one
 * organization, one organization and the researcher, internal notes).
 * Then starts the app from the source (tsx, NODE_ENV=production) and
 * measures with autocannon: the report page as a triager, as one
 * organization's contact and as the researcher, and the queue. Prints the
 * latency of each; bench/README.md ("A case with 150 organizations") has
 * the figures.
 */
import autocannon from "autocannon";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { databaseFile, openDatabase } from "../src/db/index.js";
import { migrateToLatest } from "../src/db/migrate.js";
import { newPublicId, newReportId } from "../src/ids.js";
import { indexPendingReports } from "../src/reports/list-repository.js";
import { projectRoot } from "../src/paths.js";
import {
  argValue,
  BENCH_RESEARCHER_EMAIL,
  BENCH_TRIAGER_EMAIL,
  DEFAULT_DATA_DIR,
  parseCount,
} from "./accounts.js";
import { dropQueuedMail, freePort, signIn, startSmtp } from "./run.js";
import * as text from "./text.js";

export const BIG_CASE_TITLE =
  "Booking IDs readable in a hospital-appointment product deployed by many portals";
const DAY = 86_400_000;
const PROXY_HEADERS = { "x-forwarded-proto": "https" };
const STATUSES = [
  "not_answered",
  "investigating",
  "affected",
  "not_affected",
  "fixed",
  "disputed",
] as const;

export const bigCaseContactEmail = (n: number) =>
  `bigcase-contact-${n}@org.bench.example`;

export interface BigCase {
  publicId: string;
  reportId: number;
  organizations: number;
  comments: number;
  created: boolean;
}

/**
 * Adds the big case to the database in dataDir, or finds the one an
 * earlier run added.
 */
export async function addBigCase(
  dataDir: string,
  organizations: number,
  comments: number,
): Promise<BigCase> {
  const { db, sqlite } = openDatabase(databaseFile(dataDir));
  try {
    await migrateToLatest(db);
    const existing = sqlite
      .prepare("select id, public_id from reports where title = ?")
      .get(BIG_CASE_TITLE) as { id: number; public_id: string } | undefined;
    if (existing) {
      const count = (sql: string) =>
        Number(sqlite.prepare(sql).pluck().get(existing.id));
      return {
        publicId: existing.public_id,
        reportId: existing.id,
        organizations: count(
          "select count(*) from participations where report_id = ?",
        ),
        comments: count(
          "select count(*) from report_events where report_id = ? and kind in ('comment', 'note')",
        ),
        created: false,
      };
    }
    const id = (email: string) =>
      sqlite
        .prepare("select id from users where email = ?")
        .pluck()
        .get(email) as number | undefined;
    const researcherId = id(BENCH_RESEARCHER_EMAIL);
    const triagerId = id(BENCH_TRIAGER_EMAIL);
    if (!researcherId || !triagerId)
      throw new Error("the seeded accounts are missing: seed with bench:seed");
    // Every seeded account has the bench password: the new contacts too.
    const passwordHash = sqlite
      .prepare("select password_hash from users where id = ?")
      .pluck()
      .get(researcherId) as string;
    const rng = text.prng(150);
    const now = Date.now();
    const notifiedAt = now - 30 * DAY;
    const publicId = newReportId();
    const url =
      "https://appointments.portal-product.bench.example/api/v2/bookings";

    // Until the migration that lets the timeline's audience name one
    // organization has run, those comments go to everyone on the case.
    const oneOrgAudience = (
      sqlite
        .prepare(
          "select sql from sqlite_master where type = 'table' and name = 'report_events'",
        )
        .pluck()
        .get() as string
    ).includes("'org'");
    if (!oneOrgAudience)
      process.stderr.write(
        "· this schema's timeline has no audience for one organization: those comments go to everyone\n",
      );

    const add = sqlite.transaction(() => {
      const orgIds: number[] = [];
      const contactIds: number[] = [];
      const insertOrg = sqlite.prepare(
        "insert into organizations (public_id, name, created_at) values (?, ?, ?)",
      );
      const insertUser = sqlite.prepare(
        `insert into users (public_id, email, display_name, role, password_hash,
           email_verified_at, password_changed_at, created_at)
         values (?, ?, ?, 'org_contact', ?, ?, ?, ?)`,
      );
      const insertMember = sqlite.prepare(
        "insert into org_members (org_id, user_id) values (?, ?)",
      );
      for (let n = 1; n <= organizations; n++) {
        const org = Number(
          insertOrg.run(
            newPublicId(),
            `State portal ${String(n).padStart(3, "0")} (big case)`,
            now - 400 * DAY,
          ).lastInsertRowid,
        );
        const user = Number(
          insertUser.run(
            newPublicId(),
            bigCaseContactEmail(n),
            text.personName(rng),
            passwordHash,
            now - 400 * DAY,
            now - 400 * DAY,
            now - 400 * DAY,
          ).lastInsertRowid,
        );
        insertMember.run(org, user);
        orgIds.push(org);
        contactIds.push(user);
      }
      const reportId = Number(
        sqlite
          .prepare(
            `insert into reports (public_id, reporter_id, organization_id, title,
               asset, cwe, cvss_vector, cvss_score, severity, description, steps,
               impact, data_exposed, records_affected, credit_kind,
               reveal_identity, state, assignee_id, created_at, updated_at,
               ack_due_at, triage_due_at, vendor_notified_at, disclosure_due_at,
               case_open)
             values (?, ?, ?, ?, ?, 'CWE-639',
               'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N', 6.5, 'medium',
               ?, ?, ?, '["health"]', 2000000, 'name', 1, 'fix_in_progress', ?,
               ?, ?, ?, ?, ?, ?, 1)`,
          )
          .run(
            publicId,
            researcherId,
            orgIds[0],
            BIG_CASE_TITLE,
            url,
            text.description(rng, url),
            text.steps(rng, url),
            text.impact(rng, 2_000_000),
            triagerId,
            now - 40 * DAY,
            now,
            now - 37 * DAY,
            now - 30 * DAY,
            notifiedAt,
            notifiedAt + 90 * DAY,
          ).lastInsertRowid,
      );
      const insertParticipation = sqlite.prepare(
        `insert into participations (report_id, organization_id, status,
           answered_at, status_changed_at, statement, statement_updated_at,
           statement_approved_at, statement_shared, tracking_id, added_at,
           notified_at)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      orgIds.forEach((org, i) => {
        const status = STATUSES[i % STATUSES.length]!;
        const answered = status === "not_answered" ? null : notifiedAt + DAY;
        const statement =
          i % 3 === 0
            ? `Our deployment ${status === "not_affected" ? "does not use the booking API" : "was updated"}.`
            : null;
        insertParticipation.run(
          reportId,
          org,
          status,
          answered,
          answered,
          statement,
          statement && notifiedAt + 2 * DAY,
          statement && i % 2 === 0 ? notifiedAt + 3 * DAY : null,
          i % 5 === 0 ? 1 : 0,
          `SP-${i + 1}-${rng.int(10_000)}`,
          notifiedAt,
          notifiedAt,
        );
      });
      const insertEvent = sqlite.prepare(
        `insert into report_events (report_id, actor_id, kind, visibility,
           audience, audience_org_id, body, created_at)
         values (?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (let c = 0; c < comments; c++) {
        const at = notifiedAt + Math.floor((c * 29 * DAY) / comments);
        const k = c % 10;
        const org = rng.int(organizations);
        // A tenth internal notes, a fifth to everyone on the case, a tenth
        // to the researcher, the rest to one organization (with or without
        // the researcher), by the CERT or that organization's contact.
        if (k === 0)
          insertEvent.run(
            reportId,
            triagerId,
            "note",
            "internal",
            "internal",
            null,
            text.note(rng),
            at,
          );
        else if (k <= 2)
          insertEvent.run(
            reportId,
            triagerId,
            "comment",
            "public",
            "everyone",
            null,
            text.comment(rng),
            at,
          );
        else if (k === 3)
          insertEvent.run(
            reportId,
            researcherId,
            "comment",
            "public",
            "researcher",
            null,
            text.comment(rng),
            at,
          );
        else
          insertEvent.run(
            reportId,
            k % 2 ? contactIds[org] : triagerId,
            "comment",
            "public",
            oneOrgAudience ? (k <= 7 ? "org" : "org_researcher") : "everyone",
            oneOrgAudience ? orgIds[org] : null,
            text.comment(rng),
            at,
          );
      }
      return reportId;
    });
    const reportId = add();
    await indexPendingReports(db);
    return { publicId, reportId, organizations, comments, created: true };
  } finally {
    await db.destroy();
  }
}

export interface PageTime {
  name: string;
  /** The app's CPU time (user + system) per request: steadier than latency on a shared machine. */
  cpuMs: number;
  url: string;
  requests: number;
  rps: number;
  mean: number;
  p50: number;
  p99: number;
  bytes: number;
  bad: number;
}

/** A process's CPU time so far (user + system), in ms. */
function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime, fields 14 and 15 of stat (11 and 12 after the name).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

async function measure(
  pid: number,
  base: string,
  name: string,
  url: string,
  cookie: string,
  connections: number,
  duration: number,
): Promise<PageTime> {
  const first = await fetch(base + url, {
    headers: { ...PROXY_HEADERS, cookie },
    redirect: "manual",
  });
  const body = await first.text();
  if (first.status !== 200)
    throw new Error(`${name}: ${url} answered ${first.status}`);
  const cpuBefore = cpuTimeMs(pid);
  const r = await autocannon({
    url: base + url,
    connections,
    duration,
    headers: { ...PROXY_HEADERS, cookie },
  });
  const cpu = cpuTimeMs(pid) - cpuBefore;
  return {
    name,
    cpuMs: cpu / Math.max(r.requests.total, 1),
    url,
    requests: r.requests.total,
    rps: r["2xx"] / r.duration,
    mean: r.latency.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    bytes: Buffer.byteLength(body),
    bad: r.non2xx + r.errors + r.timeouts,
  };
}

export async function runBigCase(options: {
  dataDir: string;
  organizations: number;
  comments: number;
  duration: number;
  connections: number;
}): Promise<PageTime[]> {
  const out = (line = "") => process.stdout.write(line + "\n");
  const note = (line: string) => process.stderr.write(`· ${line}\n`);
  const file = databaseFile(options.dataDir);
  if (!existsSync(file))
    throw new Error(
      `no database at ${file}: run npm run bench:seed -- --reports 20000 --data-dir ${options.dataDir} first`,
    );
  const big = await addBigCase(
    options.dataDir,
    options.organizations,
    options.comments,
  );
  note(
    `${big.created ? "added" : "found"} the big case ${big.publicId}: ${big.organizations} organizations, ${big.comments} comments and notes`,
  );

  const smtp = await startSmtp();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(projectRoot, "src/server.ts")],
    {
      cwd: projectRoot,
      env: {
        ...process.env,
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(port),
        BASE_URL: "https://desk.bench.example",
        DATA_DIR: options.dataDir,
        SESSION_SECRET: "bench-session-secret-".padEnd(64, "x"),
        TRUST_PROXY: "loopback",
        SMTP_URL: smtp.url,
        LOG_LEVEL: "warn",
        RATE_LIMITS: "false",
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  try {
    const until = Date.now() + 10 * 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error("the app exited");
      const ok = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > until) throw new Error("the app did not start");
      await new Promise((r) => setTimeout(r, 200));
    }
    // Reminders the first start queues go to invented addresses.
    await new Promise((r) => setTimeout(r, 3000));
    {
      const { db, sqlite } = openDatabase(file);
      dropQueuedMail(sqlite, ["queued"]);
      await db.destroy();
    }
    note(
      "signing in as a triager, one organization's contact and the researcher",
    );
    const triager = await signIn(base, BENCH_TRIAGER_EMAIL);
    const contact = await signIn(base, bigCaseContactEmail(2));
    const researcher = await signIn(base, BENCH_RESEARCHER_EMAIL);
    const report = `/reports/${big.publicId}`;
    // One organization's own page, where the CERT's forms for it are on a
    // case with more than ten.
    const orgPublicId = await (async () => {
      const { db, sqlite } = openDatabase(file);
      const id = sqlite
        .prepare(
          `select o.public_id from participations p
             join organizations o on o.id = p.organization_id
            where p.report_id = ? and p.removed_at is null
            order by p.id limit 1`,
        )
        .pluck()
        .get(big.reportId) as string;
      await db.destroy();
      return id;
    })();
    const pages: [string, string, string][] = [
      ["report page, triager", report, triager],
      [
        "one organization's page, triager",
        `${report}/participants/${orgPublicId}`,
        triager,
      ],
      ["report page, one organization's contact", report, contact],
      ["report page, the researcher", report, researcher],
      ["queue, first page (triager)", "/queue", triager],
      ["the contact's list of cases", "/org/reports", contact],
    ];
    const results: PageTime[] = [];
    for (const [name, url, cookie] of pages) {
      note(`measuring ${name} (${url})`);
      results.push(
        await measure(
          child.pid!,
          base,
          name,
          url,
          cookie,
          options.connections,
          options.duration,
        ),
      );
    }
    out(
      `A case with ${big.organizations} organizations and ${big.comments} comments (${options.connections} connection(s), ${options.duration} s each):`,
    );
    out(
      "| page | mean ms | p50 ms | p99 ms | req/s | app CPU ms/request | KB |",
    );
    out("|---|---:|---:|---:|---:|---:|---:|");
    for (const r of results)
      out(
        `| ${r.name} | ${r.mean.toFixed(1)} | ${r.p50} | ${r.p99} | ${r.rps.toFixed(1)} | ${r.cpuMs.toFixed(1)} | ${(r.bytes / 1024).toFixed(0)} |${r.bad ? ` ${r.bad} bad` : ""}`,
      );
    return results;
  } finally {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await smtp.close();
  }
}

async function main() {
  const args = process.argv.slice(2);
  await runBigCase({
    dataDir: path.resolve(argValue(args, "data-dir") ?? DEFAULT_DATA_DIR),
    organizations: parseCount(
      argValue(args, "organizations") ?? "150",
      "--organizations",
    ),
    comments: parseCount(argValue(args, "comments") ?? "2000", "--comments"),
    duration: parseCount(argValue(args, "duration") ?? "10", "--duration"),
    connections: parseCount(
      argValue(args, "connections") ?? "1",
      "--connections",
    ),
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });

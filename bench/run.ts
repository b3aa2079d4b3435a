/**
 * The benchmark: starts the real built app on a seeded database and measures
 * signed-in pages, report submission, peak memory and mail delivery, each
 * page beside the ceiling (bench/ceiling.ts).
 *
 *   npm run bench:seed -- --reports 1000000
 *   npm run bench [-- --data-dir D] [--duration 10] [--mail 10000] [--no-build]
 *     [--request-timeout 10]
 *
 * The last line is machine-readable:
 *   bench: queue_ratio=… report_ratio=… search_p99_ms=… submit_rps=… lost=… rss_mb=… mail_per_s=…
 * The process exits non-zero if a submission was lost, a measured request
 * failed or answered other than expected, or the outbox did not drain; the
 * performance goals themselves are reported, not enforced.
 */
import autocannon from "autocannon";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { authenticator } from "otplib";
import { SMTPServer } from "smtp-server";
import type { Database as SqliteDatabase } from "better-sqlite3";
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { databaseFile, openDatabase } from "../src/db/index.js";
import { enqueueMail } from "../src/mail/outbox.js";
import { projectRoot } from "../src/paths.js";
import {
  argFlag,
  argValue,
  BENCH_PASSWORD,
  BENCH_RESEARCHER_EMAIL,
  BENCH_TOTP_SECRET,
  BENCH_TRIAGER_EMAIL,
  DEFAULT_DATA_DIR,
  parseCount,
} from "./accounts.js";
import type { CeilingPlan } from "./plan.js";
import * as text from "./text.js";

export interface BenchOptions {
  dataDir: string;
  /** Seconds per measurement. */
  duration: number;
  /** Seconds of unmeasured load before each page. */
  warmup: number;
  connections: number[];
  /** Size of the outbox burst. */
  mail: number;
  build: boolean;
  /** How many report pages the report measurement cycles through. */
  reportPages: number;
  /**
   * Seconds before a measured request counts as timed out (a problem). The
   * smoke gives it minutes: on a busy CI machine slow is not broken.
   */
  requestTimeout: number;
}

interface Measurement {
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  ok: number;
  bad: number;
  detail: string;
}

interface PageResult {
  name: string;
  kind: "queue" | "report" | "mine" | "search";
  connections: number;
  app: Measurement;
  ceiling: Measurement;
}

interface SubmitResult {
  /** Each POST followed by the receipt page it redirects to, as a browser does. */
  withReceipt: boolean;
  connections: number;
  seconds: number;
  accepted: number;
  stored: number;
  bad: number;
  rps: number;
  p50: number;
  p99: number;
}

const SESSION_SECRET = "bench-session-secret-".padEnd(64, "x");
const BASE_URL = "https://desk.bench.example";
/** The app runs as deployed: behind a TLS-terminating proxy on loopback. */
const PROXY_HEADERS = { "x-forwarded-proto": "https" };

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Deletes undelivered mail (it goes to invented addresses): outbox messages
 * in the given states and team notices not yet addressed (their table exists
 * once the app has migrated the database). Returns how many messages that was.
 */
export function dropQueuedMail(
  sqlite: SqliteDatabase,
  statuses: readonly ("queued" | "sending")[],
): number {
  const messages = sqlite
    .prepare(
      `delete from outbox where status in (${statuses.map(() => "?").join(", ")})`,
    )
    .run(...statuses).changes;
  const hasFanouts = sqlite
    .prepare(
      "select 1 from sqlite_master where type = 'table' and name = 'outbox_fanouts'",
    )
    .get();
  const fanned = hasFanouts
    ? (sqlite
        .prepare("delete from outbox_fanouts returning recipient_count")
        .pluck()
        .all() as number[])
    : [];
  return messages + fanned.reduce((a, b) => a + b, 0);
}

/** A loopback SMTP server that accepts and counts, doing as little as it can. */
export async function startSmtp() {
  const state = { count: 0, first: 0, last: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    disableReverseLookup: true,
    logger: false,
    onData(stream, _session, callback) {
      stream.on("data", () => undefined);
      stream.on("end", () => {
        const now = performance.now();
        if (state.count === 0) state.first = now;
        state.count += 1;
        state.last = now;
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    state,
    reset() {
      state.count = 0;
      state.first = 0;
      state.last = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function spawnNode(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): { child: ChildProcess; log: string[] } {
  const child = spawn(process.execPath, [...args, script], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n").filter(Boolean)) {
      log.push(line);
      if (log.length > 200) log.shift();
    }
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { child, log };
}

async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  child?: { child: ChildProcess; log: string[] },
) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.child.exitCode !== null)
      throw new Error(`${what}: process exited\n${child.log.join("\n")}`);
    if (
      await Promise.resolve()
        .then(check)
        .catch(() => false)
    )
      return;
    if (Date.now() > until)
      throw new Error(
        `${what}: timed out\n${child ? child.log.join("\n") : ""}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Reads the database file once so the OS holds it in its file cache, as it
 * does for a server that has been running. This VM drops that cache now and
 * then (7 GB of it fell to 2.8 GB within half an hour, with 21 GB free), and
 * a run that began cold read its first pages from disk: only the app pays
 * that, the ceiling never reads the database, so ratios moved with it.
 * Skipped when the file could not stay cached (over half the memory).
 */
function warmFileCache(file: string): { bytes: number; ms: number } | null {
  const size = statSync(file).size;
  if (size > os.totalmem() / 2) return null;
  const started = Date.now();
  const chunk = Buffer.allocUnsafe(16 * 1024 * 1024);
  const fd = openSync(file, "r");
  try {
    let read = 0;
    while (read < size) {
      const n = readSync(fd, chunk, 0, chunk.length, read);
      if (n === 0) break;
      read += n;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes: size, ms: Date.now() - started };
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

function cookieFrom(res: Response, name: string): string | null {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(";");
    if (pair?.startsWith(`${name}=`)) return pair;
  }
  return null;
}

const csrfOf = (html: string) =>
  /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? null;

/**
 * The report form as a researcher fills it in (2 KB of Markdown), from the
 * form page's CSRF token and first organization; urlencoded.
 */
/** The title of every report the bench files (and skips when it picks report pages). */
export const BENCH_REPORT_TITLE =
  "IDOR in appointment lookup exposes other patients' bookings";

export function reportFormBody(formHtml: string): string {
  const token = csrfOf(formHtml);
  const org = /<option value="([a-z0-9]{16})"/.exec(formHtml)?.[1];
  if (!token || !org)
    throw new Error("no CSRF token or organization on /reports/new");
  const rng = text.prng(7);
  const url = "https://portal.bench-hospital.example/api/v1/appointments";
  return new URLSearchParams({
    _csrf: token,
    title: BENCH_REPORT_TITLE,
    organization: org,
    newOrganization: "",
    asset: url,
    cwe: "CWE-639",
    cvss: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
    description: text.description(rng, url),
    steps: text.steps(rng, url),
    impact: text.impact(rng, 2_000_000),
    dataExposed: "health",
    recordsAffected: "2000000",
    creditKind: "name",
    creditHandle: "",
    revealIdentity: "yes",
  }).toString();
}

/** Signs in over HTTP like a browser: the form's CSRF token, then the POST. */
/** A process's resident memory now (VmRSS) or at its highest (VmHWM), in MB. */
export function processMemoryMb(pid: number, field: "VmRSS" | "VmHWM") {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1];
  return kb ? Number(kb) / 1024 : 0;
}

export async function signIn(base: string, email: string): Promise<string> {
  const form = await fetch(`${base}/login`, { headers: PROXY_HEADERS });
  const first = cookieFrom(form, "dd.sid");
  const token = csrfOf(await form.text());
  if (!first || !token) throw new Error("no session or CSRF token on /login");
  const res = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: {
      ...PROXY_HEADERS,
      cookie: first,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      email,
      password: BENCH_PASSWORD,
      _csrf: token,
    }),
  });
  let cookie = cookieFrom(res, "dd.sid");
  if (res.status !== 303 || !cookie)
    throw new Error(`sign-in as ${email} answered ${res.status}`);
  // Staff accounts answer with a second step: a TOTP code.
  const location = res.headers.get("location") ?? "";
  if (location.startsWith("/login/2fa")) {
    // A code is accepted once: if this 30 s step's code was used (an earlier
    // run), the next step's code is still within the accepted window.
    let status = 0;
    for (const offset of [0, 30_000]) {
      const challenge = await fetch(base + location, {
        headers: { ...PROXY_HEADERS, cookie },
      });
      const challengeToken = csrfOf(await challenge.text());
      if (!challengeToken) throw new Error(`no CSRF token on ${location}`);
      const second = await fetch(`${base}/login/2fa`, {
        method: "POST",
        redirect: "manual",
        headers: {
          ...PROXY_HEADERS,
          cookie,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: new URLSearchParams({
          code: authenticator
            .clone({ epoch: Date.now() + offset })
            .generate(BENCH_TOTP_SECRET),
          _csrf: challengeToken,
        }),
      });
      status = second.status;
      if (status === 303) {
        cookie = cookieFrom(second, "dd.sid") ?? cookie;
        break;
      }
    }
    if (status !== 303)
      throw new Error(`two-factor sign-in as ${email} answered ${status}`);
  }
  return cookie;
}

async function get(base: string, url: string, cookie?: string) {
  const res = await fetch(base + url, {
    headers: { ...PROXY_HEADERS, ...(cookie && { cookie }) },
    redirect: "manual",
    signal: AbortSignal.timeout(120_000),
  });
  return { status: res.status, body: await res.text() };
}

function summarize(result: autocannon.Result, ok: number): Measurement {
  return {
    seconds: result.duration,
    rps: ok / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    ok,
    bad: result.non2xx + result.errors + result.timeouts,
    detail: `3xx ${result["3xx"]}, 4xx ${result["4xx"]}, 5xx ${result["5xx"]}, errors ${result.errors}, timeouts ${result.timeouts}`,
  };
}

/**
 * Two measurements of the same page as one: the rate over both, the p50 of
 * the two weighted by their requests, and the higher p99 (their latencies
 * are not kept, so the exact p99 of both cannot be had; the higher one errs
 * against the side measured).
 */
function combine(a: Measurement, b: Measurement): Measurement {
  const seconds = a.seconds + b.seconds;
  const requests = a.requests + b.requests;
  return {
    seconds,
    rps: (a.ok + b.ok) / seconds,
    p50: Math.round(
      (a.p50 * a.requests + b.p50 * b.requests) / Math.max(requests, 1),
    ),
    p99: Math.max(a.p99, b.p99),
    requests,
    ok: a.ok + b.ok,
    bad: a.bad + b.bad,
    detail: `${a.detail}; then ${b.detail}`,
  };
}

/**
 * Waits until the server answers its health check quickly again: requests
 * still queued from a measurement must not be counted against the next one.
 */
async function settle(base: string) {
  const until = Date.now() + 15 * 60_000;
  while (Date.now() < until) {
    const started = performance.now();
    const ok = await fetch(`${base}/healthz`, {
      signal: AbortSignal.timeout(60_000),
    }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok && performance.now() - started < 200) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${base} did not settle within 15 minutes`);
}

/** Measures GETs cycling through urls (one URL or several) on one server. */
async function load(
  base: string,
  urls: string[],
  cookie: string | undefined,
  connections: number,
  duration: number,
  timeout: number,
  settleFirst = true,
): Promise<Measurement> {
  if (settleFirst) await settle(base);
  let next = 0;
  const result = await autocannon({
    url: base + urls[0],
    connections,
    duration,
    timeout,
    headers: { ...PROXY_HEADERS, ...(cookie && { cookie }) },
    requests:
      urls.length > 1
        ? [
            {
              setupRequest: (req) => {
                req.path = urls[next++ % urls.length]!;
                return req;
              },
            },
          ]
        : undefined,
  });
  return summarize(result, result["2xx"]);
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-GB", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

export interface BenchOutcome {
  ok: boolean;
  line: string;
}

export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const out = (line = "") => process.stdout.write(line + "\n");
  // What the bench is doing, for the RSS samples below.
  let phase = "starting";
  const note = (line: string) => {
    phase = line;
    process.stderr.write(`· ${line}\n`);
  };
  const problems: string[] = [];
  const file = databaseFile(options.dataDir);
  if (!existsSync(file))
    throw new Error(
      `no database at ${file}: run npm run bench:seed -- --data-dir ${options.dataDir} first`,
    );

  if (options.build) {
    note("building the app (tsc -p tsconfig.build.json)");
    execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], {
      cwd: projectRoot,
      stdio: "inherit",
    });
  }

  const warmed = warmFileCache(file);
  if (warmed)
    note(
      `read the database once (${(warmed.bytes / 1e9).toFixed(1)} GB in ${(warmed.ms / 1000).toFixed(1)} s), as a running server has it in the OS's file cache`,
    );

  const smtp = await startSmtp();
  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    BASE_URL,
    DATA_DIR: options.dataDir,
    SESSION_SECRET,
    TRUST_PROXY: "loopback",
    SMTP_URL: smtp.url,
    LOG_LEVEL: "warn",
    // One researcher files thousands of reports a minute here; the per-account
    // limit (30 an hour) exists to refuse exactly that.
    RATE_LIMITS: "false",
  };
  const base = `http://127.0.0.1:${port}`;
  const { db, sqlite } = openDatabase(file);
  const count = (sql: string, ...params: unknown[]) =>
    Number(
      (sqlite
        .prepare(sql)
        .pluck()
        .get(...params) as number | bigint | null) ?? 0,
    );

  // ---- what to measure ----
  const reports = count("select count(*) from reports");
  const userId = (email: string) =>
    count("select id from users where email = ?", email);
  const triagerId = userId(BENCH_TRIAGER_EMAIL);
  const researcherId = userId(BENCH_RESEARCHER_EMAIL);
  if (!triagerId || !researcherId)
    throw new Error("the seeded accounts are missing: seed with bench:seed");
  // The queue opens on the open reports, due soonest first (queue.ts).
  const openReports = count(
    "select count(*) from reports where state not in ('closed', 'disclosed')",
  );
  const deep = sqlite
    .prepare(
      `select queue_due_at as value, public_id as publicId from reports
       where state not in ('closed', 'disclosed')
       order by queue_due_at asc, id asc limit 1 offset ?`,
    )
    .get(Math.floor(openReports / 2)) as { value: number; publicId: string };
  // The queue's cursor format (cursor.ts): checked below against a real "next" link.
  const deepCursor = Buffer.from(
    `due_asc|${deep.value}|${deep.publicId}`,
  ).toString("base64url");
  // Open reports the seeder made: the ones earlier runs filed (all alike,
  // each still "submitted", so a heavier page with the triage forms) would
  // otherwise be a larger share of the pages with every run.
  const open = sqlite
    .prepare(
      `select public_id from reports
       where state not in ('closed', 'disclosed') and title != ? order by id`,
    )
    .pluck()
    .all(BENCH_REPORT_TITLE) as string[];
  const reportUrls = Array.from(
    { length: Math.min(options.reportPages, open.length) },
    (_, i) =>
      `/reports/${open[Math.floor((i * open.length) / options.reportPages)]}`,
  );
  const queuePages = [
    { name: "queue, first page", url: "/queue" },
    {
      name: "queue, filtered",
      url: "/queue?state=vendor_notified&severity=high",
    },
    {
      name: `queue, deep (open report ${fmt(Math.floor(openReports / 2))})`,
      url: `/queue?cursor=${deepCursor}`,
    },
  ];
  // A common word, two words, and an organization's name.
  const searchUrls = [
    "/search?q=appointment",
    "/search?q=password+reset",
    "/search?q=Harbour+Water+Utility",
  ];
  const plan: CeilingPlan = {
    pages: [
      ...queuePages.map((p) => ({
        url: p.url,
        kind: "queue" as const,
        userId: triagerId,
      })),
      ...reportUrls.map((url) => ({
        url,
        kind: "report" as const,
        userId: triagerId,
      })),
      ...searchUrls.map((url) => ({
        url,
        kind: "search" as const,
        userId: triagerId,
      })),
      { url: "/reports", kind: "mine" as const, userId: researcherId },
    ],
  };

  // Mail left queued by an earlier run, or by the app's first start on a
  // fresh seed (the reminder scheduler catches up on every deadline that
  // passed in five years of history), would be delivered during the
  // measurements: it goes to invented addresses and is dropped first.
  const stale = dropQueuedMail(sqlite, ["queued", "sending"]);
  if (stale)
    note(`dropped ${fmt(stale)} undelivered messages left in the outbox`);
  // Every run starts from an empty write-ahead log (a migration on the first
  // start of a fresh seed can leave a gigabyte in it).
  sqlite.pragma("wal_checkpoint(TRUNCATE)");
  note(`starting the app on ${base} (NODE_ENV=production)`);
  const app = spawnNode("dist/src/server.js", env);
  let ceiling: ReturnType<typeof spawnNode> | undefined;
  const pages: PageResult[] = [];
  const submits: SubmitResult[] = [];
  let mailPerSecond = 0;
  let rssMb = 0;
  // The app's RSS every 50 ms, so the peak can be told apart by phase, and
  // the highest while pages or submissions were measured (a sign-in's
  // password hash, 32 MiB for a moment, 128 MiB with the former scrypt
  // parameters, is the peak outside load).
  const rssPeak = { mb: 0, phase: "" };
  const rssPeakUnderLoad = { mb: 0, phase: "" };
  const rssSampler = setInterval(() => {
    try {
      const mb = processMemoryMb(app.child.pid!, "VmRSS");
      if (mb > rssPeak.mb) Object.assign(rssPeak, { mb, phase });
      if (phase.startsWith("measuring ") && mb > rssPeakUnderLoad.mb)
        Object.assign(rssPeakUnderLoad, { mb, phase });
    } catch {
      // not started yet, or gone
    }
  }, 50);
  try {
    await waitFor(
      "app start",
      async () => (await fetch(`${base}/healthz`)).ok,
      // The first start on a seeded database runs the migrations after those
      // the seeder ran (for a migration that builds an index over a million
      // reports, that takes a while).
      30 * 60_000,
      app,
    );
    // The scheduler's first pass on a fresh seed records every reminder of
    // five years (about half a million rows) in the background: measured
    // alongside, it made the first run after a seed the slowest. Wait until
    // the reminders stop growing (at once on any later run).
    let reminders = -1;
    await waitFor(
      "reminder scheduler's first pass",
      async () => {
        const before = reminders;
        await new Promise((r) => setTimeout(r, 2000));
        reminders = count("select count(*) from reminders");
        return reminders === before;
      },
      30 * 60_000,
      app,
    );
    // The mail those reminders queued goes to invented addresses: dropped.
    dropQueuedMail(sqlite, ["queued"]);
    // After the app, so the database is migrated before the ceiling reads it.
    ceiling = spawnNode("dist/bench/ceiling.js", {
      ...env,
      PORT: "0",
      BENCH_PLAN: JSON.stringify(plan),
    });
    const started = ceiling;
    let ceilingPort = 0;
    await waitFor(
      "ceiling start",
      () => {
        const line = started.log.find((l) => l.startsWith("ceiling ready on"));
        ceilingPort = line ? Number(line.split(" ").pop()) : 0;
        return ceilingPort > 0;
      },
      120_000,
      started,
    );
    const ceilingBase = `http://127.0.0.1:${ceilingPort}`;

    note("signing in as a triager and as a researcher");
    const triager = await signIn(base, BENCH_TRIAGER_EMAIL);
    const researcher = await signIn(base, BENCH_RESEARCHER_EMAIL);

    // Every page answers 200 on both servers before anything is measured, and
    // the hand-built deep cursor has the shape of a real "next" link.
    const first = await get(base, "/queue", triager);
    const nextLink = /href="\/queue\?cursor=([^"&]+)"/.exec(first.body)?.[1];
    const decoded = nextLink
      ? Buffer.from(nextLink, "base64url").toString()
      : "";
    if (!decoded.startsWith("due_asc|"))
      throw new Error(`unexpected queue cursor: ${decoded || "none"}`);
    for (const page of plan.pages) {
      const cookie = page.kind === "mine" ? researcher : triager;
      const a = await get(base, page.url, cookie);
      const c = await get(ceilingBase, page.url);
      if (a.status !== 200 || c.status !== 200)
        throw new Error(`${page.url}: app ${a.status}, ceiling ${c.status}`);
      if (a.body.includes("no longer valid"))
        throw new Error(`${page.url}: the cursor was refused`);
    }

    const groups: {
      name: string;
      kind: PageResult["kind"];
      urls: string[];
      cookie: string;
    }[] = [
      ...queuePages.map((p) => ({
        name: p.name,
        kind: "queue" as const,
        urls: [p.url],
        cookie: triager,
      })),
      {
        name: `report page (${reportUrls.length} open reports)`,
        kind: "report",
        urls: reportUrls,
        cookie: triager,
      },
      {
        name: `search (${searchUrls.length} queries)`,
        kind: "search",
        urls: searchUrls,
        cookie: triager,
      },
      {
        name: "my reports",
        kind: "mine",
        urls: ["/reports"],
        cookie: researcher,
      },
    ];
    for (const group of groups) {
      note(`measuring ${group.name}`);
      if (options.warmup > 0) {
        await load(
          base,
          group.urls,
          group.cookie,
          16,
          options.warmup,
          options.requestTimeout,
        );
        await load(
          ceilingBase,
          group.urls,
          undefined,
          16,
          options.warmup,
          options.requestTimeout,
          false,
        );
      }
      for (const connections of options.connections) {
        // App, ceiling, ceiling, app: each side gets half its time early and
        // half late, so a slow spell of the machine (runs here differ by up
        // to a factor of two) weighs on both sides alike.
        const half = options.duration / 2;
        const measureApp = () =>
          load(
            base,
            group.urls,
            group.cookie,
            connections,
            half,
            options.requestTimeout,
          );
        const measureCeiling = () =>
          load(
            ceilingBase,
            group.urls,
            undefined,
            connections,
            half,
            options.requestTimeout,
            false,
          );
        const appFirst = await measureApp();
        const ceilingFirst = await measureCeiling();
        const ceilingResult = combine(ceilingFirst, await measureCeiling());
        const appResult = combine(appFirst, await measureApp());
        if (appResult.bad > 0)
          problems.push(
            `${group.name} at ${connections} connections: ${appResult.bad} requests failed or answered non-2xx (${appResult.detail})`,
          );
        pages.push({
          name: group.name,
          kind: group.kind,
          connections,
          app: appResult,
          ceiling: ceilingResult,
        });
        note(
          `${group.name} at ${connections}: app ${fmt(appResult.rps, 1)}/s (p50 ${appResult.p50} ms, p99 ${appResult.p99} ms), ceiling ${fmt(ceilingResult.rps, 1)}/s, ratio ${(appResult.rps / ceilingResult.rps).toFixed(2)}`,
        );
      }
    }

    // ---- submissions: POSTs of the form (the goal), then each POST with the
    // receipt page it redirects to, as a browser does ----
    await settle(base);
    const formPage = await get(base, "/reports/new", researcher);
    const body = reportFormBody(formPage.body);
    for (const withReceipt of [false, true])
      for (const connections of options.connections) {
        const what = withReceipt
          ? "submissions with receipt page"
          : "submissions";
        note(`measuring ${what} at ${connections} connections`);
        const before = count("select coalesce(max(id), 0) from reports");
        const tally = {
          accepted: 0,
          bad: 0,
          badAnswers: new Map<string, number>(),
        };
        const badAnswer = (what: string) => {
          tally.bad += 1;
          tally.badAnswers.set(what, (tally.badAnswers.get(what) ?? 0) + 1);
        };
        // A fixed number of requests, so every answer is counted (a run cut by
        // time would leave answers in flight that stored a report).
        // Sized from a short timed run of "my reports" (a POST costs about two
        // of those, a POST and its receipt page three) so it lasts about --duration.
        const probe = await autocannon({
          url: `${base}/reports`,
          connections,
          duration: Math.max(1, options.duration / 5),
          headers: { ...PROXY_HEADERS, cookie: researcher },
        });
        const rounds = Math.max(
          4,
          Math.ceil(
            (options.duration * probe["2xx"]) /
              probe.duration /
              (withReceipt ? 3 : 2) /
              connections,
          ),
        );
        const post: autocannon.Request = {
          method: "POST",
          path: "/reports/new",
          headers: {
            ...PROXY_HEADERS,
            cookie: researcher,
            "content-type": "application/x-www-form-urlencoded",
          },
          body,
          onResponse: (status, _body, context, headers) => {
            const location = String(
              Object.entries(headers ?? {}).find(
                ([name]) => name.toLowerCase() === "location",
              )?.[1] ?? "",
            );
            if (status === 303 && /^\/reports\/DD-/.test(location)) {
              tally.accepted += 1;
              (context as { location?: string }).location = location;
            } else
              badAnswer(`POST ${status}${location ? ` to ${location}` : ""}`);
          },
        };
        const receipt: autocannon.Request = {
          method: "GET",
          headers: { ...PROXY_HEADERS, cookie: researcher },
          setupRequest: (req, context) => {
            const location = (context as { location?: string }).location;
            if (!location) return undefined as unknown as typeof req;
            return { ...req, path: location };
          },
          onResponse: (status) => {
            if (status !== 200) badAnswer(`receipt page ${status}`);
          },
        };
        const requests = withReceipt ? [post, receipt] : [post];
        const result = await autocannon({
          url: `${base}/reports/new`,
          connections,
          amount: rounds * requests.length * connections,
          timeout: Math.max(30, options.requestTimeout),
          headers: { ...PROXY_HEADERS, cookie: researcher },
          requests,
        });
        const stored = count(
          "select count(*) from reports where id > ?",
          before,
        );
        const bad = tally.bad + result.errors + result.timeouts;
        note(
          `${what} at ${connections}: ${fmt(tally.accepted / result.duration, 1)}/s, ${tally.accepted} accepted, ${stored} stored`,
        );
        submits.push({
          withReceipt,
          connections,
          seconds: result.duration,
          accepted: tally.accepted,
          stored,
          bad,
          rps: tally.accepted / result.duration,
          p50: result.latency.p50,
          p99: result.latency.p99,
        });
        if (tally.accepted > stored)
          problems.push(
            `${what} at ${connections} connections: ${tally.accepted} accepted, only ${stored} stored`,
          );
        if (stored > tally.accepted)
          problems.push(
            `${what} at ${connections} connections: ${stored - tally.accepted} stored but never answered in time`,
          );
        if (bad > 0) {
          const detail = [
            ...[...tally.badAnswers].map(([answer, n]) => `${answer} ×${n}`),
            ...(result.errors ? [`connection errors ×${result.errors}`] : []),
            ...(result.timeouts ? [`timeouts ×${result.timeouts}`] : []),
          ].join(", ");
          problems.push(
            `${what} at ${connections} connections: ${bad} answers were not ${withReceipt ? "303 + 200" : "303"} (${detail})`,
          );
        }
      }

    // ---- the outbox: a burst of notifications into a loopback SMTP server ----
    // The submissions above queued mail (the receipt and the triage team's
    // notice); that backlog, and any reminder the scheduler queued meanwhile,
    // is dropped so the burst is measured on its own.
    const dropped = dropQueuedMail(sqlite, ["queued"]);
    await waitFor(
      "outbox settles",
      () => count("select count(*) from outbox where status = 'sending'") === 0,
      60_000,
    );
    note(
      `dropped ${fmt(dropped)} queued notifications from the submissions; enqueueing ${fmt(options.mail)}`,
    );
    smtp.reset();
    const config = loadConfig({ ...process.env, ...env });
    const recipients = sqlite
      .prepare(
        "select id, email, display_name from users where role = 'researcher' order by id limit 1000",
      )
      .all() as { id: number; email: string; display_name: string }[];
    const burstStart = count("select coalesce(max(id), 0) from outbox");
    const enqueued = performance.now();
    await db.transaction().execute(async (tx) => {
      for (let i = 0; i < options.mail; i++) {
        const to = recipients[i % recipients.length]!;
        const publicId = open[i % open.length]!;
        await enqueueMail(
          tx,
          { config, clock: systemClock },
          {
            template: "report_event",
            to: { address: to.email, userId: to.id },
            data: {
              displayName: to.display_name,
              publicId,
              subjectText: "New comment",
              happened: "There is a new comment on the report.",
              stateLabel: "Fix in progress",
              next: null,
              link: `${BASE_URL}/reports/${publicId}`,
            },
          },
        );
      }
    });
    await waitFor(
      "outbox drain",
      () => smtp.state.count >= options.mail,
      Math.max(120_000, options.mail * 50),
      app,
    );
    const sent = count(
      "select count(*) from outbox where id > ? and status = 'sent'",
      burstStart,
    );
    const seconds = (smtp.state.last - smtp.state.first) / 1000;
    mailPerSecond = seconds > 0 ? (options.mail - 1) / seconds : 0;
    const firstAfter = (smtp.state.first - enqueued) / 1000;
    const total = (smtp.state.last - enqueued) / 1000;
    if (sent !== options.mail || smtp.state.count !== options.mail)
      problems.push(
        `outbox: ${options.mail} enqueued, ${smtp.state.count} received, ${sent} marked sent`,
      );

    rssMb = processMemoryMb(app.child.pid!, "VmHWM");

    // ---- report ----
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    out();
    out(
      `Disclosure Desk benchmark: ${fmt(reports)} reports, ${os.cpus().length} × ${cpu}, Node ${process.version}, ${options.duration} s per measurement`,
    );
    const header = [
      "page".padEnd(36),
      "conns".padStart(5),
      "app req/s".padStart(10),
      "p50 ms".padStart(7),
      "p99 ms".padStart(7),
      "ceiling req/s".padStart(14),
      "p50 ms".padStart(7),
      "p99 ms".padStart(7),
      "ratio".padStart(6),
    ].join(" ");
    out(header);
    out("-".repeat(header.length));
    for (const p of pages) {
      out(
        [
          p.name.padEnd(36),
          String(p.connections).padStart(5),
          fmt(p.app.rps, 1).padStart(10),
          fmt(p.app.p50).padStart(7),
          fmt(p.app.p99).padStart(7),
          fmt(p.ceiling.rps, 1).padStart(14),
          fmt(p.ceiling.p50).padStart(7),
          fmt(p.ceiling.p99).padStart(7),
          (p.app.rps / p.ceiling.rps).toFixed(2).padStart(6),
        ].join(" "),
      );
    }
    for (const s of submits) {
      out(
        `${(s.withReceipt ? "submit (POST + receipt page)" : "submit (POST)").padEnd(36)} ${String(s.connections).padStart(5)} ${fmt(s.rps, 1).padStart(10)} ${fmt(s.p50).padStart(7)} ${fmt(s.p99).padStart(7)}   submissions/s; ${fmt(s.accepted)} accepted, ${fmt(s.stored)} stored, lost ${Math.max(0, s.accepted - s.stored)}`,
      );
    }
    out(
      `outbox: ${fmt(options.mail)} messages delivered in ${seconds.toFixed(1)} s after the first (${fmt(mailPerSecond, 1)}/s); first delivery ${firstAfter.toFixed(1)} s after commit, last ${total.toFixed(1)} s`,
    );
    out(
      `app peak RSS (VmHWM): ${rssMb.toFixed(0)} MB; highest sample ${rssPeak.mb.toFixed(0)} MB, while "${rssPeak.phase}"; under load ${rssPeakUnderLoad.mb.toFixed(0)} MB, while "${rssPeakUnderLoad.phase}"`,
    );
  } finally {
    clearInterval(rssSampler);
    await stopChild(app.child);
    if (ceiling) await stopChild(ceiling.child);
    await smtp.close();
    await db.destroy();
  }

  const ratio = (kind: PageResult["kind"]) =>
    Math.min(
      ...pages
        .filter((p) => p.kind === kind)
        .map((p) => p.app.rps / p.ceiling.rps),
    );
  const queueRatio = ratio("queue");
  const reportRatio = ratio("report");
  const searchP99 = Math.max(
    ...pages
      .filter(
        (p) =>
          p.kind === "search" &&
          p.connections === Math.min(...options.connections),
      )
      .map((p) => p.app.p99),
  );
  // A submission is the POST (the receipt page is a page view); the runs
  // with the receipt page are shown beside it.
  const submitRps = Math.min(
    ...submits.filter((s) => !s.withReceipt).map((s) => s.rps),
  );
  // Accepted (303) but not in the database. A report stored whose answer
  // never came is not lost, but is reported as a problem above.
  const lost = submits.reduce(
    (n, s) => n + Math.max(0, s.accepted - s.stored),
    0,
  );
  const p99At16 = pages.filter(
    (p) => p.connections === Math.min(...options.connections),
  );
  const worstP99 = Math.max(...p99At16.map((p) => p.app.p99));
  const goals: [string, boolean][] = [
    [`queue ratio ${queueRatio.toFixed(2)} ≥ 0.6`, queueRatio >= 0.6],
    [`report ratio ${reportRatio.toFixed(2)} ≥ 0.6`, reportRatio >= 0.6],
    [
      `worst page p99 at 16 connections ${fmt(worstP99)} ms ≤ 50`,
      worstP99 <= 50,
    ],
    [`submissions ${fmt(submitRps, 1)}/s ≥ 300`, submitRps >= 300],
    [`lost ${lost} = 0`, lost === 0],
    [`RSS ${rssMb.toFixed(0)} MB ≤ 300`, rssMb <= 300],
    [`mail ${fmt(mailPerSecond, 1)}/s ≥ 200`, mailPerSecond >= 200],
    [
      `search p99 at 16 connections ${fmt(searchP99)} ms ≤ 100`,
      searchP99 <= 100,
    ],
  ];
  out(
    "goals: " +
      goals.map(([g, met]) => `${met ? "met" : "MISSED"}: ${g}`).join("; "),
  );
  for (const problem of problems) out(`PROBLEM: ${problem}`);
  // The app logs at "warn": what it said about failed requests, if anything.
  if (problems.length > 0)
    for (const line of app.log.filter((l) => /"level":(50|60)/.test(l)))
      out(`app: ${line}`);
  const line = `bench: queue_ratio=${queueRatio.toFixed(2)} report_ratio=${reportRatio.toFixed(2)} search_p99_ms=${searchP99.toFixed(0)} submit_rps=${submitRps.toFixed(0)} lost=${lost} rss_mb=${rssMb.toFixed(0)} mail_per_s=${mailPerSecond.toFixed(0)}`;
  out(line);
  return { ok: problems.length === 0, line };
}

export function optionsFromArgs(args: string[]): BenchOptions {
  const number = (name: string, fallback: number) => {
    const raw = argValue(args, name);
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`--${name} must be a number`);
    return n;
  };
  return {
    dataDir: path.resolve(
      argValue(args, "data-dir") ?? process.env.DATA_DIR ?? DEFAULT_DATA_DIR,
    ),
    duration: number("duration", 10),
    warmup: number("warmup", 3),
    connections: (argValue(args, "connections") ?? "16,64")
      .split(",")
      .map((c) => parseCount(c, "--connections")),
    mail: parseCount(argValue(args, "mail") ?? "10000", "--mail"),
    build: !argFlag(args, "no-build"),
    reportPages: parseCount(
      argValue(args, "report-pages") ?? "50",
      "--report-pages",
    ),
    requestTimeout: number("request-timeout", 10),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  runBench(optionsFromArgs(process.argv.slice(2))).then(
    (outcome) => process.exit(outcome.ok ? 0 : 1),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

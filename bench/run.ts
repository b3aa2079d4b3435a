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
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
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
import { copySqliteToPostgres, CopyRefused } from "../src/db/copy.js";
import { databaseFile, openDatabase, openPostgres } from "../src/db/index.js";
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
  researcherEmail,
} from "./accounts.js";
import { pickCaptured, statementKind, type CapturedPage } from "./limit.js";
import {
  openLoop,
  percentile,
  type OpenLoopResult,
  type OpenLoopTarget,
} from "./open-loop.js";
import type { CeilingPlan } from "./plan.js";
import { seed } from "./seed.js";
import { postgresStore, sqliteStore, type BenchStore } from "./store.js";
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
  /** Seconds of each CPU-per-view measurement. */
  cpuSeconds: number;
  /** The other database sizes CPU per view is measured at (growth). */
  growth: number[];
  /** The open-loop run: requests/s and seconds. */
  openRate: number;
  openSeconds: number;
  /** Capacity: open-loop steps from capacityStart by capacityStep, each stepSeconds. */
  capacityStart: number;
  capacityStep: number;
  capacityMax: number;
  stepSeconds: number;
  /** Sign-ins per second during an open-loop page load of signInSeconds. */
  signInRate: number;
  signInSeconds: number;
  /** Where to keep the captured statements (JSON, by URL), if anywhere. */
  statementsOut: string | null;
  /**
   * DATABASE_URL: an empty PostgreSQL database; the seed is copied into it
   * and the run repeated there (`bench-postgres: …`).
   */
  databaseUrl: string | null;
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
  /** The serving process's CPU time (user + system) over the run, ms. */
  cpuMs: number;
}

interface PageResult {
  name: string;
  kind: "queue" | "report" | "mine" | "search";
  connections: number;
  app: Measurement;
  ceiling: Measurement;
  /** The stack's limit: the ceiling plus the page's own SQL (bench/limit.ts). */
  limit: Measurement;
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

/** Drops queued mail from a SQLite database (bench/store.ts). */
export { dropQueuedSqliteMail as dropQueuedMail } from "./store.js";

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

export async function signIn(
  base: string,
  email: string,
  /** Per request; none by default. */
  timeoutMs?: number,
): Promise<string> {
  const signal = () =>
    timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  const form = await fetch(`${base}/login`, {
    headers: PROXY_HEADERS,
    signal: signal(),
  });
  const first = cookieFrom(form, "dd.sid");
  const token = csrfOf(await form.text());
  if (!first || !token) throw new Error("no session or CSRF token on /login");
  const res = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    signal: signal(),
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
    cpuMs: 0,
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
    cpuMs: a.cpuMs + b.cpuMs,
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
  Number.isNaN(n)
    ? "na"
    : n.toLocaleString("en-GB", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });

/** n.toFixed(digits), or "na" for what was not measured. */
const fixed = (n: number, digits: number) =>
  Number.isNaN(n) ? "na" : n.toFixed(digits);

/** The limit's side of a page on PostgreSQL, where it is not measured. */
const NOT_MEASURED: Measurement = {
  seconds: 0,
  rps: NaN,
  p50: NaN,
  p99: NaN,
  requests: 0,
  ok: 0,
  bad: 0,
  detail: "not measured",
  cpuMs: NaN,
};

/** The pages measured on a database, and the ceiling's plan for them. */
export function measuredPages(sqlite: SqliteDatabase, reportPages: number) {
  const count = (sql: string, ...params: unknown[]) =>
    Number(
      (sqlite
        .prepare(sql)
        .pluck()
        .get(...params) as number | bigint | null) ?? 0,
    );
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
  // The queue's cursor format (cursor.ts): checked against a real "next" link.
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
    { length: Math.min(reportPages, open.length) },
    (_, i) => `/reports/${open[Math.floor((i * open.length) / reportPages)]}`,
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
  return {
    reports,
    triagerId,
    researcherId,
    open,
    queuePages,
    reportUrls,
    searchUrls,
    plan,
  };
}

interface PageGroup {
  name: string;
  /** The name without the database's own numbers, to match across sizes. */
  key: string;
  kind: PageResult["kind"];
  urls: string[];
  cookie: string;
}

function pageGroups(
  pagesOf: ReturnType<typeof measuredPages>,
  triager: string,
  researcher: string,
): PageGroup[] {
  return [
    ...pagesOf.queuePages.map((p) => ({
      name: p.name,
      key: p.name.replace(/ \(.*\)$/, ""),
      kind: "queue" as const,
      urls: [p.url],
      cookie: triager,
    })),
    {
      name: `report page (${pagesOf.reportUrls.length} open reports)`,
      key: "report page",
      kind: "report",
      urls: pagesOf.reportUrls,
      cookie: triager,
    },
    {
      name: `search (${pagesOf.searchUrls.length} queries)`,
      key: "search",
      kind: "search",
      urls: pagesOf.searchUrls,
      cookie: triager,
    },
    {
      name: "my reports",
      key: "my reports",
      kind: "mine",
      urls: ["/reports"],
      cookie: researcher,
    },
  ];
}

/**
 * The i-th request of the open-loop mix: queue pages, report pages, search
 * and "my reports" in turn, each kind cycling through its own URLs.
 */
function openLoopMix(groups: PageGroup[]) {
  const kinds: PageResult["kind"][] = ["queue", "report", "search", "mine"];
  const targets = kinds.map((kind) =>
    groups
      .filter((g) => g.kind === kind)
      .flatMap((g) => g.urls.map((url) => ({ url, cookie: g.cookie }))),
  );
  const next = kinds.map(() => 0);
  return (i: number): OpenLoopTarget => {
    const k = i % kinds.length;
    const list = targets[k]!;
    const t = list[next[k]!++ % list.length]!;
    return {
      path: t.url,
      headers: { ...PROXY_HEADERS, cookie: t.cookie },
      expect: 200,
    };
  };
}

function noteBad(problems: string[], what: string, result: OpenLoopResult) {
  if (result.ok < result.sent)
    problems.push(
      `${what}: ${result.sent - result.ok} of ${result.sent} requests failed (${[
        ...result.bad,
      ]
        .map(([k, n]) => `${k} ×${n}`)
        .join(", ")})`,
    );
}

/** A process's CPU time so far (user + system, all threads), in ms. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces), from field 3.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / CLOCK_TICKS;
}

const CLOCK_TICKS = (() => {
  try {
    return (
      Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100
    );
  } catch {
    return 100;
  }
})();

interface CpuRow {
  size: number;
  name: string;
  key: string;
  requests: number;
  cpuMsPerRequest: number;
  rps: number;
}

/**
 * The app's CPU time per request on one page group: /proc/<pid>/stat before
 * and after a closed-loop run at 16 connections, divided by the answers.
 * Steadier than requests/s on a shared machine: another process's load
 * takes the app's turns but not its CPU time.
 */
async function cpuPerRequest(
  base: string,
  pid: number,
  group: PageGroup,
  seconds: number,
  timeout: number,
): Promise<Omit<CpuRow, "size" | "name">> {
  await settle(base);
  // A short warm-up of this page.
  await load(
    base,
    group.urls,
    group.cookie,
    16,
    Math.min(2, seconds / 2),
    timeout,
    false,
  );
  const before = processCpuMs(pid);
  const m = await load(
    base,
    group.urls,
    group.cookie,
    16,
    seconds,
    timeout,
    false,
  );
  const cpu = processCpuMs(pid) - before;
  return {
    key: group.key,
    requests: m.ok,
    cpuMsPerRequest: m.ok > 0 ? cpu / m.ok : 0,
    rps: m.rps,
  };
}

interface SignInLoad {
  pages: OpenLoopResult;
  attempted: number;
  failed: number;
  errors: string[];
  /** Sorted, ms. */
  latencies: number[];
}

/**
 * Signs researchers in (researcher 2, 3, …: each a new session and a
 * password hash) at `rate` per second while fn runs.
 */
async function withSignIns(
  base: string,
  rate: number,
  fn: () => Promise<OpenLoopResult>,
  /** A sign-in not done by then fails (it would otherwise wait out a backlog). */
  timeoutMs: number,
): Promise<SignInLoad> {
  const load: SignInLoad = {
    pages: undefined as unknown as OpenLoopResult,
    attempted: 0,
    failed: 0,
    errors: [],
    latencies: [],
  };
  const pending: Promise<void>[] = [];
  const timer = setInterval(() => {
    const n = 2 + load.attempted++;
    const started = performance.now();
    pending.push(
      signIn(base, researcherEmail(n), timeoutMs).then(
        () => void load.latencies.push(performance.now() - started),
        (err: Error) => {
          load.failed += 1;
          load.errors.push(err.message);
        },
      ),
    );
  }, 1000 / rate);
  try {
    load.pages = await fn();
  } finally {
    clearInterval(timer);
  }
  await Promise.all(pending);
  load.latencies.sort((a, b) => a - b);
  return load;
}

/**
 * Starts the built app on the database (after dropping mail left queued and
 * emptying the write-ahead log) and, unless told not to, waits until it is
 * ready (see appReady).
 */
async function startApp(
  store: BenchStore,
  env: Record<string, string>,
  note: (line: string) => void,
  { wait = true }: { wait?: boolean } = {},
) {
  // Mail left queued by an earlier run, or by the app's first start on a
  // fresh seed (the reminder scheduler catches up on every deadline that
  // passed in five years of history), would be delivered during the
  // measurements: it goes to invented addresses and is dropped first.
  const stale = await store.dropQueuedMail(["queued", "sending"]);
  if (stale)
    note(`dropped ${fmt(stale)} undelivered messages left in the outbox`);
  store.beforeStart();
  const app = spawnNode("dist/src/server.js", env);
  if (wait) await appReady(`http://127.0.0.1:${env.PORT}`, store, app);
  return app;
}

/** Waits for the health check, then for the reminder scheduler's first pass. */
async function appReady(
  base: string,
  store: BenchStore,
  app: ReturnType<typeof spawnNode>,
) {
  const port = Number(new URL(base).port);
  await waitFor(
    "app start",
    // Its own socket: on a machine shared with other test suites another
    // process can take the port the bench picked while the app is still
    // migrating, and answer for it.
    async () =>
      listensOn(app.child.pid!, port) && (await fetch(`${base}/healthz`)).ok,
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
  const count = () => store.count("select count(*) from reminders");
  await waitFor(
    "reminder scheduler's first pass",
    async () => {
      const before = reminders;
      await new Promise((r) => setTimeout(r, 2000));
      reminders = await count();
      return reminders === before;
    },
    30 * 60_000,
    app,
  );
  // The mail those reminders queued goes to invented addresses: dropped.
  await store.dropQueuedMail(["queued"]);
}

/** Whether the process holds a listening TCP socket on the port (Linux /proc). */
export function listensOn(pid: number, port: number): boolean {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(
        readlinkSync(`/proc/${pid}/fd/${fd}`),
      );
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local address, state 0A (LISTEN), inode
      if (f[1]?.endsWith(`:${hex}`) && f[3] === "0A" && inodes.has(f[9]!))
        return true;
    }
  }
  return false;
}

/** "10k", "100k", "1m": a growth database's folder suffix. */
export const sizeLabel = (n: number) =>
  n >= 1e6 && n % 1e6 === 0
    ? `${n / 1e6}m`
    : n >= 1e3 && n % 1e3 === 0
      ? `${n / 1e3}k`
      : String(n);

export interface BenchOutcome {
  ok: boolean;
  line: string;
}

/**
 * The run on the seeded SQLite database; with DATABASE_URL (an empty
 * PostgreSQL database) the seed is first copied into it with db:copy's
 * code, and after the SQLite run the same run on PostgreSQL prints its own
 * line (`bench-postgres: …`).
 */
export async function runBench(options: BenchOptions): Promise<BenchOutcome> {
  const note = (line: string) => process.stderr.write(`· ${line}\n`);
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

  // What to measure, read before a run writes: the PostgreSQL copy is the
  // database as it is now, and its run measures the same pages.
  const planning = openDatabase(file);
  let plan0: ReturnType<typeof measuredPages>;
  try {
    plan0 = measuredPages(planning.sqlite, options.reportPages);
  } finally {
    await planning.db.destroy();
  }

  const url = options.databaseUrl;
  // The SQLite run's processes (the app) must not see DATABASE_URL.
  delete process.env.DATABASE_URL;
  if (url) {
    note(`copying the seeded database into PostgreSQL (db:copy)`);
    const target = openPostgres({ url, poolSize: 2, statementTimeoutMs: 0 });
    try {
      const started = performance.now();
      const copied = await copySqliteToPostgres(file, target.db, {
        batchRows: 5000,
      });
      note(
        `copied ${fmt(copied.tables.reduce((n, t) => n + t.rows, 0))} rows in ${((performance.now() - started) / 1000).toFixed(1)} s; audit chain OK (${fmt(copied.audit.count)} entries)`,
      );
    } catch (error) {
      if (error instanceof CopyRefused)
        throw new Error(
          `DATABASE_URL: ${error.message} The bench copies its seed into an empty database on every run.`,
        );
      throw error;
    } finally {
      await target.db.destroy();
    }
  }

  const onSqlite = await runPass(options, plan0, {
    label: "bench",
    store: sqliteStore(openDatabase(file)),
    env: {},
  });
  if (!url) return onSqlite;
  const onPostgres = await runPass(options, plan0, {
    label: "bench-postgres",
    store: postgresStore(
      openPostgres({ url, poolSize: 4, statementTimeoutMs: 60_000 }),
    ),
    env: { DATABASE_URL: url },
  });
  return {
    ok: onSqlite.ok && onPostgres.ok,
    line: `${onSqlite.line}\n${onPostgres.line}`,
  };
}

/** One database's run: its app, its measurements, its line. */
async function runPass(
  options: BenchOptions,
  plan0: ReturnType<typeof measuredPages>,
  pass: {
    /** The last line's first word. */
    label: string;
    store: BenchStore;
    /** What the app's environment adds (DATABASE_URL). */
    env: Record<string, string>;
  },
): Promise<BenchOutcome> {
  const out = (line = "") => process.stdout.write(line + "\n");
  const { store } = pass;
  const onSqlite = store.dialect === "sqlite";
  // The stack's limit runs the captured statements with better-sqlite3:
  // on PostgreSQL it is not measured (bench/README.md).
  const withLimit = onSqlite;
  // What the bench is doing, for the RSS samples below.
  let phase = "starting";
  const note = (line: string) => {
    phase = line;
    process.stderr.write(`· ${onSqlite ? "" : "[postgres] "}${line}\n`);
  };
  const problems: string[] = [];
  const statementSummary: string[] = [];
  const file = databaseFile(options.dataDir);

  const warmed = onSqlite ? warmFileCache(file) : null;
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
    ...pass.env,
  };
  const base = `http://127.0.0.1:${port}`;
  const { db } = store;
  const count = (sql: string, ...params: unknown[]) =>
    store.count(sql, ...params);

  // ---- what to measure ----
  const {
    reports,
    triagerId,
    researcherId,
    queuePages,
    reportUrls,
    searchUrls,
    plan,
  } = plan0;
  const open = plan0.open;

  // ---- the app's own statements for each page (the stack's limit) ----
  const work = mkdtempSync(path.join(os.tmpdir(), "dd-bench-"));
  const captureFile = path.join(work, "statements.jsonl");
  const statementsFile = path.join(work, "statements.json");
  let captured = new Map<string, CapturedPage>();
  if (withLimit) {
    note("capturing the app's SQL statements for each page (SQL_CAPTURE_FILE)");
    const capturing = await startApp(
      store,
      { ...env, SQL_CAPTURE_FILE: captureFile },
      note,
    );
    try {
      const triager = await signIn(base, BENCH_TRIAGER_EMAIL);
      const researcher = await signIn(base, BENCH_RESEARCHER_EMAIL);
      // Twice: the second visit is the page in its steady state.
      for (let pass = 0; pass < 2; pass++)
        for (const page of plan.pages) {
          const res = await get(
            base,
            page.url,
            page.kind === "mine" ? researcher : triager,
          );
          if (res.status !== 200)
            throw new Error(`capture: ${page.url} answered ${res.status}`);
        }
      captured = pickCaptured(
        captureFile,
        plan.pages.map((p) => p.url),
      );
    } catch (err) {
      throw new Error(
        `capturing the statements: ${(err as Error).message}\n${capturing.log.join("\n")}`,
      );
    } finally {
      await stopChild(capturing.child);
    }
    writeFileSync(statementsFile, JSON.stringify(Object.fromEntries(captured)));
    if (options.statementsOut)
      writeFileSync(
        options.statementsOut,
        JSON.stringify(Object.fromEntries(captured), null, 1),
      );
  }

  note(`starting the app on ${base} (NODE_ENV=production)`);
  const app = await startApp(store, env, note, { wait: false });
  // An app that dies mid-run (PostgreSQL restarted under it, say) would
  // leave the bench waiting for answers that never come: stop at once.
  const appDied = (code: number | null) => {
    process.stderr.write(
      `the app exited (code ${code}) while "${phase}":\n${app.log.slice(-30).join("\n")}\n`,
    );
    for (const side of [ceiling, limit]) side?.child.kill();
    process.exit(1);
  };
  app.child.once("exit", appDied);
  let ceiling: ReturnType<typeof spawnNode> | undefined;
  let limit: ReturnType<typeof spawnNode> | undefined;
  const pages: PageResult[] = [];
  const submits: SubmitResult[] = [];
  const cpuRows: CpuRow[] = [];
  const openRuns: { what: string; result: OpenLoopResult }[] = [];
  let signIns: SignInLoad | null = null;
  let capacity = 0;
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
    await appReady(base, store, app);
    // After the app, so the database is migrated before the ceiling reads it.
    const startSide = async (name: "ceiling" | "limit") => {
      const side = spawnNode("dist/bench/ceiling.js", {
        ...env,
        PORT: "0",
        BENCH_PLAN: JSON.stringify(plan),
        ...(name === "limit" && { BENCH_STATEMENTS: statementsFile }),
      });
      let port = 0;
      await waitFor(
        `${name} start`,
        () => {
          const line = side.log.find((l) => l.startsWith(`${name} ready on`));
          port = line ? Number(line.split(" ").pop()) : 0;
          return port > 0;
        },
        120_000,
        side,
      );
      return { side, base: `http://127.0.0.1:${port}` };
    };
    const c = await startSide("ceiling");
    ceiling = c.side;
    const ceilingBase = c.base;
    const l = withLimit ? await startSide("limit") : null;
    limit = l?.side;
    const limitBase = l?.base ?? null;

    note("signing in as a triager and as a researcher");
    const triager = await signIn(base, BENCH_TRIAGER_EMAIL);
    const researcher = await signIn(base, BENCH_RESEARCHER_EMAIL);

    // Every page answers 200 on the three servers before anything is
    // measured, and the hand-built deep cursor has the shape of a real
    // "next" link.
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
      const s = limitBase ? await get(limitBase, page.url) : { status: 200 };
      if (a.status !== 200 || c.status !== 200 || s.status !== 200)
        throw new Error(
          `${page.url}: app ${a.status}, ceiling ${c.status}, limit ${s.status}`,
        );
      if (a.body.includes("no longer valid"))
        throw new Error(`${page.url}: the cursor was refused`);
    }

    const groups = pageGroups(plan0, triager, researcher);
    // What the limit runs for each page, in the app's words.
    for (const group of withLimit ? groups : []) {
      const counts = new Map<string, number>();
      let total = 0;
      for (const url of group.urls)
        for (const s of captured.get(url)!.statements) {
          const kind = statementKind(s.sql);
          counts.set(kind, (counts.get(kind) ?? 0) + 1);
          total += 1;
        }
      statementSummary.push(
        `${group.name}: ${(total / group.urls.length).toFixed(1)} statements a view (${[
          ...counts,
        ]
          .map(([k, n]) => `${k} ${(n / group.urls.length).toFixed(1)}`)
          .join(", ")})`,
      );
    }
    for (const line of statementSummary) note(`captured: ${line}`);

    for (const group of groups) {
      note(`measuring ${group.name}`);
      if (options.warmup > 0)
        for (const target of [base, ceilingBase, limitBase].filter(
          (t): t is string => t !== null,
        ))
          await load(
            target,
            group.urls,
            target === base ? group.cookie : undefined,
            16,
            options.warmup,
            options.requestTimeout,
            target === base,
          );
      for (const connections of options.connections) {
        // App, ceiling, limit, limit, ceiling, app: each side gets half its
        // time early and half late, so a slow spell of the machine (runs
        // here differ by up to a factor of two) weighs on all alike.
        const half = options.duration / 2;
        const pids = new Map([
          [base, app.child.pid!],
          [ceilingBase, ceiling.child.pid!],
          ...(limitBase && limit
            ? [[limitBase, limit.child.pid!] as [string, number]]
            : []),
        ]);
        const measure = async (target: string) => {
          if (target === base) await settle(base);
          const pid = pids.get(target)!;
          const cpuBefore = processCpuMs(pid);
          const m = await load(
            target,
            group.urls,
            target === base ? group.cookie : undefined,
            connections,
            half,
            options.requestTimeout,
            false,
          );
          return { ...m, cpuMs: processCpuMs(pid) - cpuBefore };
        };
        const appFirst = await measure(base);
        const ceilingFirst = await measure(ceilingBase);
        const limitResult = limitBase
          ? combine(await measure(limitBase), await measure(limitBase))
          : NOT_MEASURED;
        const ceilingResult = combine(ceilingFirst, await measure(ceilingBase));
        const appResult = combine(appFirst, await measure(base));
        if (appResult.bad > 0)
          problems.push(
            `${group.name} at ${connections} connections: ${appResult.bad} requests failed or answered non-2xx (${appResult.detail})`,
          );
        if (limitResult.bad > 0)
          problems.push(
            `the limit on ${group.name} at ${connections} connections: ${limitResult.bad} requests failed (${limitResult.detail})`,
          );
        pages.push({
          name: group.name,
          kind: group.kind,
          connections,
          app: appResult,
          ceiling: ceilingResult,
          limit: limitResult,
        });
        note(
          `${group.name} at ${connections}: app ${fmt(appResult.rps, 1)}/s (p50 ${appResult.p50} ms, p99 ${appResult.p99} ms), ceiling ${fmt(ceilingResult.rps, 1)}/s, limit ${fmt(limitResult.rps, 1)}/s, ratio ${(appResult.rps / ceilingResult.rps).toFixed(2)}, limit ratio ${fixed(appResult.rps / limitResult.rps, 2)}`,
        );
      }
    }
    await stopChild(ceiling.child);
    if (limit) await stopChild(limit.child);

    // ---- CPU time per view (for the growth figure) ----
    for (const group of groups) {
      note(`measuring CPU per view: ${group.name}`);
      cpuRows.push({
        size: reports,
        name: group.name,
        ...(await cpuPerRequest(
          base,
          app.child.pid!,
          group,
          options.cpuSeconds,
          options.requestTimeout,
        )),
      });
    }

    // ---- open loop: a fixed arrival rate over a mix of pages ----
    const mix = openLoopMix(groups);
    await settle(base);
    note(
      `measuring open loop: ${options.openRate} requests/s for ${options.openSeconds} s`,
    );
    const steady = await openLoop({
      base,
      rate: options.openRate,
      seconds: options.openSeconds,
      target: mix,
      timeoutMs: options.requestTimeout * 1000,
    });
    openRuns.push({ what: "steady", result: steady });
    noteBad(problems, `open loop at ${options.openRate}/s`, steady);
    // The highest steady rate with p99 ≤ 50 ms, stepping up.
    for (
      let rate = options.capacityStart;
      rate <= options.capacityMax;
      rate += options.capacityStep
    ) {
      await settle(base);
      note(
        `measuring open loop capacity: ${rate} requests/s for ${options.stepSeconds} s`,
      );
      const step = await openLoop({
        base,
        rate,
        seconds: options.stepSeconds,
        target: mix,
        timeoutMs: options.requestTimeout * 1000,
      });
      openRuns.push({ what: "step", result: step });
      const p99 = percentile(step.latencies, 99);
      if (step.ok < step.sent || p99 > 50) break;
      capacity = rate;
    }

    // ---- sign-ins at 2/s during a page load ----
    await settle(base);
    note(
      `measuring sign-ins: ${options.signInRate}/s during ${options.openRate} page requests/s for ${options.signInSeconds} s`,
    );
    signIns = await withSignIns(
      base,
      options.signInRate,
      () =>
        openLoop({
          base,
          rate: options.openRate,
          seconds: options.signInSeconds,
          target: mix,
          timeoutMs: options.requestTimeout * 1000,
        }),
      Math.max(30, options.requestTimeout) * 1000,
    );
    noteBad(problems, "pages during sign-ins", signIns.pages);
    if (signIns.failed > 0)
      problems.push(
        `sign-ins under load: ${signIns.failed} of ${signIns.attempted} failed (${signIns.errors.slice(0, 3).join("; ")})`,
      );

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
        const before = await count("select coalesce(max(id), 0) from reports");
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
        const stored = await count(
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
    const dropped = await store.dropQueuedMail(["queued"]);
    await waitFor(
      "outbox settles",
      async () =>
        (await count(
          "select count(*) from outbox where status = 'sending'",
        )) === 0,
      60_000,
    );
    note(
      `dropped ${fmt(dropped)} queued notifications from the submissions; enqueueing ${fmt(options.mail)}`,
    );
    smtp.reset();
    const config = loadConfig({ ...process.env, ...env });
    const recipients = await store.all<{
      id: number;
      email: string;
      display_name: string;
    }>(
      "select id, email, display_name from users where role = 'researcher' order by id limit 1000",
    );
    const burstStart = await count("select coalesce(max(id), 0) from outbox");
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
    const sent = await count(
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
    app.child.off("exit", appDied);
    await stopChild(app.child);

    // ---- growth: CPU per view on smaller databases, seeded when missing ----
    // On PostgreSQL not measured: each size would need its own copy
    // (bench/README.md).
    for (const size of onSqlite ? options.growth : []) {
      if (size === reports) continue;
      const dir = path.join(
        path.dirname(options.dataDir),
        `data-${sizeLabel(size)}`,
      );
      const growthFile = databaseFile(dir);
      let have = 0;
      if (existsSync(growthFile)) {
        const { db: gdb, sqlite: gs } = openDatabase(growthFile);
        have = Number(gs.prepare("select count(*) from reports").pluck().get());
        await gdb.destroy();
      }
      if (have !== size) {
        note(`seeding ${fmt(size)} reports into ${dir}`);
        await seed({ reports: size, dataDir: dir, quiet: true });
      }
      warmFileCache(growthFile);
      const gopened = openDatabase(growthFile);
      const { db: gdb, sqlite: gs } = gopened;
      const gport = await freePort();
      const genv = { ...env, DATA_DIR: dir, PORT: String(gport) };
      const gbase = `http://127.0.0.1:${gport}`;
      note(`starting the app on ${fmt(size)} reports (${dir})`);
      const gapp = await startApp(sqliteStore(gopened), genv, note);
      try {
        const gpages = measuredPages(gs, options.reportPages);
        const groups = pageGroups(
          gpages,
          await signIn(gbase, BENCH_TRIAGER_EMAIL),
          await signIn(gbase, BENCH_RESEARCHER_EMAIL),
        );
        for (const group of groups) {
          note(`measuring CPU per view at ${fmt(size)}: ${group.name}`);
          const row = await cpuPerRequest(
            gbase,
            gapp.child.pid!,
            group,
            options.cpuSeconds,
            options.requestTimeout,
          );
          if (row.requests === 0)
            problems.push(`${group.name} at ${fmt(size)}: no answer`);
          cpuRows.push({ size: gpages.reports, name: group.name, ...row });
        }
      } finally {
        await stopChild(gapp.child);
        await gdb.destroy();
      }
    }

    // ---- report ----
    const cpu = os.cpus()[0]?.model ?? "unknown CPU";
    out();
    out(
      `Disclosure Desk benchmark on ${onSqlite ? "SQLite" : "PostgreSQL"}: ${fmt(reports)} reports, ${os.cpus().length} × ${cpu}, Node ${process.version}, ${options.duration} s per measurement, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );
    const header = [
      "page".padEnd(36),
      "conns".padStart(5),
      "app req/s".padStart(10),
      "p50 ms".padStart(7),
      "p99 ms".padStart(7),
      "ceiling req/s".padStart(14),
      "ratio".padStart(6),
      "limit req/s".padStart(12),
      "p50 ms".padStart(7),
      "p99 ms".padStart(7),
      "limit ratio".padStart(12),
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
          (p.app.rps / p.ceiling.rps).toFixed(2).padStart(6),
          fmt(p.limit.rps, 1).padStart(12),
          fmt(p.limit.p50).padStart(7),
          fmt(p.limit.p99).padStart(7),
          fixed(p.app.rps / p.limit.rps, 2).padStart(12),
        ].join(" "),
      );
    }
    out(
      "CPU per view (ms of the serving process's user + system time ÷ answers, over the same runs; steadier than req/s on a shared machine):",
    );
    for (const p of pages) {
      const per = (m: Measurement) => m.cpuMs / Math.max(m.ok, 1);
      out(
        `  ${p.name.padEnd(36)} ${String(p.connections).padStart(3)}  app ${per(p.app).toFixed(2)}  ceiling ${per(p.ceiling).toFixed(2)}  limit ${fixed(per(p.limit), 2)}  limit ÷ app ${fixed(per(p.limit) / per(p.app), 2)}`,
      );
    }
    for (const line of statementSummary) out(`limit's SQL, ${line}`);
    for (const s of submits) {
      out(
        `${(s.withReceipt ? "submit (POST + receipt page)" : "submit (POST)").padEnd(36)} ${String(s.connections).padStart(5)} ${fmt(s.rps, 1).padStart(10)} ${fmt(s.p50).padStart(7)} ${fmt(s.p99).padStart(7)}   submissions/s; ${fmt(s.accepted)} accepted, ${fmt(s.stored)} stored, lost ${Math.max(0, s.accepted - s.stored)}`,
      );
    }
    for (const { what, result } of openRuns)
      out(
        `open loop${what === "step" ? " step" : ""}: ${result.rate}/s for ${result.seconds} s (queue, report, search, my reports in turn): ${fmt(result.sent)} sent, ${fmt(result.ok)} ok; from the scheduled time p50 ${percentile(result.latencies, 50).toFixed(1)} ms, p99 ${percentile(result.latencies, 99).toFixed(1)} ms, max ${percentile(result.latencies, 100).toFixed(0)} ms; sender late by ${result.worstSendDelay.toFixed(0)} ms at most`,
      );
    out(
      `capacity: the highest rate with p99 ≤ 50 ms, stepping by ${options.capacityStep}/s from ${options.capacityStart}/s (${options.stepSeconds} s a step): ${capacity}/s`,
    );
    if (signIns)
      out(
        `sign-ins under load: ${signIns.attempted} at ${options.signInRate}/s (${signIns.failed} failed; p50 ${percentile(signIns.latencies, 50).toFixed(0)} ms, max ${percentile(signIns.latencies, 100).toFixed(0)} ms) during ${signIns.pages.rate} pages/s for ${signIns.pages.seconds} s: pages p99 ${percentile(signIns.pages.latencies, 99).toFixed(1)} ms`,
      );
    const sizes = [...new Set(cpuRows.map((r) => r.size))].sort(
      (a, b) => a - b,
    );
    out(
      `CPU per view (ms of the app's user + system time ÷ answers, 16 connections, ${options.cpuSeconds} s): ` +
        sizes.map((s) => fmt(s)).join(" / ") +
        " reports",
    );
    for (const key of [...new Set(cpuRows.map((r) => r.key))]) {
      const row = sizes.map(
        (s) =>
          cpuRows.find((r) => r.key === key && r.size === s)?.cpuMsPerRequest,
      );
      out(
        `  ${key.padEnd(34)} ${row.map((v) => (v === undefined ? "-" : v.toFixed(2)).padStart(7)).join(" ")}`,
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
    app.child.off("exit", appDied);
    await stopChild(app.child);
    if (ceiling) await stopChild(ceiling.child);
    if (limit) await stopChild(limit.child);
    await smtp.close();
    await db.destroy();
    rmSync(work, { recursive: true, force: true });
  }

  const lowest = (kind: PageResult["kind"], side: "ceiling" | "limit") =>
    Math.min(
      ...pages
        .filter((p) => p.kind === kind)
        .map((p) => p.app.rps / p[side].rps),
    );
  const queueRatio = lowest("queue", "ceiling");
  const reportRatio = lowest("report", "ceiling");
  const queueLimitRatio = lowest("queue", "limit");
  const reportLimitRatio = lowest("report", "limit");
  const searchP99 = Math.max(
    ...pages
      .filter(
        (p) =>
          p.kind === "search" &&
          p.connections === Math.min(...options.connections),
      )
      .map((p) => p.app.p99),
  );
  const steady = openRuns.find((r) => r.what === "steady")?.result;
  const p99At200 = steady ? percentile(steady.latencies, 99) : NaN;
  // The worst page's CPU per view at the largest size ÷ at the smallest.
  const sizes = [...new Set(cpuRows.map((r) => r.size))].sort((a, b) => a - b);
  const growth =
    sizes.length < 2
      ? null
      : Math.max(
          ...[...new Set(cpuRows.map((r) => r.key))].map((key) => {
            const at = (s: number) =>
              cpuRows.find((r) => r.key === key && r.size === s)
                ?.cpuMsPerRequest ?? NaN;
            return at(sizes.at(-1)!) / at(sizes[0]!);
          }),
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
  const allGoals: [string, boolean][] = [
    [`queue ratio ${queueRatio.toFixed(2)} ≥ 0.6`, queueRatio >= 0.6],
    [`report ratio ${reportRatio.toFixed(2)} ≥ 0.6`, reportRatio >= 0.6],
    [
      `queue limit ratio ${queueLimitRatio.toFixed(2)} ≥ 0.8`,
      queueLimitRatio >= 0.8,
    ],
    [
      `report limit ratio ${reportLimitRatio.toFixed(2)} ≥ 0.8`,
      reportLimitRatio >= 0.8,
    ],
    [
      `p99 at ${options.openRate} requests/s ${p99At200.toFixed(1)} ms ≤ 25`,
      p99At200 <= 25,
    ],
    [
      growth === null
        ? "growth not measured (one size)"
        : `growth ${growth.toFixed(2)} (${fmt(sizes.at(-1)!)} ÷ ${fmt(sizes[0]!)} reports) ≤ 1.25`,
      growth !== null && growth <= 1.25,
    ],
    [`submissions ${fmt(submitRps, 1)}/s ≥ 300`, submitRps >= 300],
    [`lost ${lost} = 0`, lost === 0],
    [
      `RSS ${rssMb.toFixed(0)} MB ≤ 300 (with sign-ins at ${options.signInRate}/s under load)`,
      rssMb <= 300,
    ],
    [`mail ${fmt(mailPerSecond, 1)}/s ≥ 200`, mailPerSecond >= 200],
    [
      `search p99 at 16 connections ${fmt(searchP99)} ms ≤ 100`,
      searchP99 <= 100,
    ],
  ];
  const goals = allGoals.filter(
    ([goal]) => withLimit || !goal.includes("limit ratio"),
  );
  out(
    "goals: " +
      goals.map(([g, met]) => `${met ? "met" : "MISSED"}: ${g}`).join("; "),
  );
  for (const problem of problems) out(`PROBLEM: ${problem}`);
  // The app logs at "warn": what it said about failed requests, if anything.
  if (problems.length > 0)
    for (const line of app.log.filter((l) => /"level":(50|60)/.test(l)))
      out(`app: ${line}`);
  const line = `${pass.label}: queue_ratio=${queueRatio.toFixed(2)} report_ratio=${reportRatio.toFixed(2)} queue_limit_ratio=${fixed(queueLimitRatio, 2)} report_limit_ratio=${fixed(reportLimitRatio, 2)} p99_at_200rps_ms=${p99At200.toFixed(1)} capacity_rps=${capacity} growth=${growth === null ? "na" : growth.toFixed(2)} search_p99_ms=${searchP99.toFixed(0)} submit_rps=${submitRps.toFixed(0)} lost=${lost} rss_mb=${rssMb.toFixed(0)} mail_per_s=${mailPerSecond.toFixed(0)}`;
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
    cpuSeconds: number("cpu-seconds", 5),
    growth: (argValue(args, "growth") ?? "10000,100000")
      .split(",")
      .filter((g) => g !== "" && g !== "none")
      .map((g) => parseCount(g, "--growth")),
    openRate: number("open-rate", 200),
    openSeconds: number("open-seconds", 30),
    capacityStart: number("capacity-start", 100),
    capacityStep: number("capacity-step", 50),
    capacityMax: number("capacity-max", 2000),
    stepSeconds: number("step-seconds", 10),
    signInRate: number("sign-in-rate", 2),
    signInSeconds: number("sign-in-seconds", 15),
    statementsOut: argValue(args, "statements-out") ?? null,
    databaseUrl: process.env.DATABASE_URL || null,
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

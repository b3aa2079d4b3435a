/**
 * Profiles one page of the built app on a seeded database: starts
 * `node --cpu-prof dist/src/server.js` with the bench's environment, signs in,
 * loads the given URLs with autocannon, stops the app and prints where the
 * CPU time went (self time by function and by file).
 *
 *   npx tsc -p tsconfig.build.json
 *   npx tsx bench/profile.ts --urls /queue [--as triager|researcher]
 *     [--connections 16] [--duration 10] [--submit [--receipt]] [--smtp] [--no-prof] [--top 30]
 *     [--limit]
 *
 * --limit profiles the stack's limit (bench/limit.ts) on the same URLs
 * instead of the app: the app is started once without the profiler to
 * capture its statements for each URL (two visits, the second kept, as
 * bench/run.ts does), then `node --cpu-prof dist/bench/ceiling.js` with
 * BENCH_STATEMENTS is loaded and profiled. Its "app CPU" is the limit's.
 *
 * --submit POSTs the report form (as the researcher) instead of GETs;
 * with --receipt each POST is followed by the receipt page, as in the bench.
 * --smtp delivers mail to a loopback SMTP server, as the bench does (by
 * default the app's SMTP port is closed, so the mail worker only retries).
 * APP_NODE_FLAGS (environment) are passed to the app's node, to try a V8
 * flag (`APP_NODE_FLAGS=--trace-gc`). The line printed ends with the app's
 * peak RSS (VmHWM), which includes the sign-in's password hash (32 MiB).
 */
import autocannon from "autocannon";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { databaseFile, openDatabase } from "../src/db/index.js";
import { projectRoot } from "../src/paths.js";
import {
  argFlag,
  argValue,
  BENCH_RESEARCHER_EMAIL,
  BENCH_TRIAGER_EMAIL,
  DEFAULT_DATA_DIR,
} from "./accounts.js";
import {
  dropQueuedMail,
  freePort,
  processMemoryMb,
  reportFormBody,
  signIn,
  startSmtp,
} from "./run.js";
import { pickCaptured } from "./limit.js";
import type { CeilingPlan } from "./plan.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function and by file, largest first. */
export function summarizeProfile(file: string, top = 40): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)),
  );
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const short = url.replace(/^file:\/\//, "").replace(projectRoot + "/", "");
    const fn = `${functionName || "(anonymous)"} ${short}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    const f = short || functionName;
    byFile.set(f, (byFile.get(f) ?? 0) + us);
  }
  const table = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([k, us]) =>
          `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`,
      )
      .join("\n");
  return `total ${(total / 1000).toFixed(0)} ms sampled\n-- by function (self)\n${table(byFunction)}\n-- by file (self)\n${table(byFile)}`;
}

/**
 * CPU time the process has used (user + system, all its threads), from
 * /proc: steadier than requests/s when runs differ in how busy the machine
 * is, though a core shared with autocannon still slows it.
 */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8")
    .replace(/^.*\) /, "")
    .split(" ");
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the name).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}
/** USER_HZ, 100 on Linux everywhere Node runs. */
const CLOCK_TICKS_PER_SECOND = 100;

/** The report form, filled in as bench/run.ts does (POSTs answer 303). */
async function submitForm(
  base: string,
  headers: Record<string, string>,
): Promise<string> {
  const form = await (await fetch(`${base}/reports/new`, { headers })).text();
  return reportFormBody(form);
}

async function main() {
  const args = process.argv.slice(2);
  const dataDir = path.resolve(argValue(args, "data-dir") ?? DEFAULT_DATA_DIR);
  const urls = (argValue(args, "urls") ?? "/queue").split(",");
  const as = argValue(args, "as") ?? "triager";
  const connections = Number(argValue(args, "connections") ?? 16);
  const duration = Number(argValue(args, "duration") ?? 10);
  const prof = !argFlag(args, "no-prof");
  const limitMode = argFlag(args, "limit");
  const smtp = argFlag(args, "smtp") ? await startSmtp() : null;
  const profDir = mkdtempSync(path.join(os.tmpdir(), "dd-prof-"));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { sqlite } = openDatabase(databaseFile(dataDir));
  dropQueuedMail(sqlite, ["queued", "sending"]);
  sqlite.pragma("wal_checkpoint(TRUNCATE)");
  sqlite.close();
  const env = {
    ...process.env,
    NODE_ENV: "production",
    HOST: "127.0.0.1",
    PORT: String(port),
    BASE_URL: "https://desk.bench.example",
    DATA_DIR: dataDir,
    SESSION_SECRET: "bench-session-secret-".padEnd(64, "x"),
    TRUST_PROXY: "loopback",
    SMTP_URL: smtp?.url ?? "smtp://127.0.0.1:9",
    LOG_LEVEL: "warn",
    RATE_LIMITS: "false",
  };
  const startApp = (extraEnv: Record<string, string>, profile: boolean) =>
    spawn(
      process.execPath,
      [
        ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
        ...(process.env.APP_NODE_FLAGS ?? "").split(" ").filter(Boolean),
        "dist/src/server.js",
      ],
      {
        cwd: projectRoot,
        stdio: ["ignore", "inherit", "inherit"],
        env: { ...env, ...extraEnv },
      },
    );
  const appReady = async () => {
    for (let i = 0; ; i++) {
      const ok = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) return;
      if (i > 3000) throw new Error("app did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async (child: ChildProcess) => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };
  const userEmail =
    as === "researcher" ? BENCH_RESEARCHER_EMAIL : BENCH_TRIAGER_EMAIL;

  let child: ChildProcess;
  let target = base;
  let cookie = "";
  if (limitMode) {
    // The limit (bench/limit.ts): the app's statements for each URL are
    // captured from the app first, as bench/run.ts does, then the limit
    // process alone is profiled.
    const captureFile = path.join(profDir, "statements.jsonl");
    const statementsFile = path.join(profDir, "statements.json");
    const capturing = startApp({ SQL_CAPTURE_FILE: captureFile }, false);
    try {
      await appReady();
      const signedIn = await signIn(base, userEmail);
      for (let pass = 0; pass < 2; pass++)
        for (const url of urls) {
          const res = await fetch(base + url, {
            headers: { "x-forwarded-proto": "https", cookie: signedIn },
          });
          await res.arrayBuffer();
          if (res.status !== 200)
            throw new Error(`capture: ${url} answered ${res.status}`);
        }
    } finally {
      await stop(capturing);
    }
    writeFileSync(
      statementsFile,
      JSON.stringify(Object.fromEntries(pickCaptured(captureFile, urls))),
    );
    const { sqlite: db } = openDatabase(databaseFile(dataDir));
    const userId = Number(
      db.prepare("select id from users where email = ?").pluck().get(userEmail),
    );
    db.close();
    const plan: CeilingPlan = {
      pages: urls.map((url) => ({
        url,
        kind: url.startsWith("/reports/")
          ? "report"
          : url.startsWith("/search")
            ? "search"
            : url.startsWith("/my")
              ? "mine"
              : "queue",
        userId,
      })),
    };
    child = spawn(
      process.execPath,
      [
        ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
        "dist/bench/ceiling.js",
      ],
      {
        cwd: projectRoot,
        stdio: ["ignore", "pipe", "inherit"],
        env: {
          ...env,
          PORT: "0",
          BENCH_PLAN: JSON.stringify(plan),
          BENCH_STATEMENTS: statementsFile,
        },
      },
    );
    const limitPort = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const m = /limit ready on (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once("exit", (code) => reject(new Error(`limit exited ${code}`)));
    });
    target = `http://127.0.0.1:${limitPort}`;
  } else {
    child = startApp({}, prof);
  }
  try {
    if (!limitMode) {
      await appReady();
      cookie = await signIn(base, userEmail);
    }
    let next = 0;
    const headers: Record<string, string> = {
      "x-forwarded-proto": "https",
      ...(cookie && { cookie }),
    };
    const submit = argFlag(args, "submit")
      ? await submitForm(target, headers)
      : null;
    const cpuBefore = cpuMsOf(child.pid!);
    const result = await autocannon({
      url: target + urls[0],
      connections,
      duration,
      timeout: 30,
      headers,
      requests: submit
        ? [
            {
              method: "POST",
              path: "/reports/new",
              headers: {
                ...headers,
                "content-type": "application/x-www-form-urlencoded",
              },
              body: submit,
              onResponse: (_status, _body, context, resHeaders) => {
                (context as { location?: string }).location = String(
                  Object.entries(resHeaders ?? {}).find(
                    ([name]) => name.toLowerCase() === "location",
                  )?.[1] ?? "",
                );
              },
            },
            // --receipt: then load the page it redirects to, as the bench does.
            ...(argFlag(args, "receipt")
              ? [
                  {
                    method: "GET" as const,
                    setupRequest: (
                      req: autocannon.Request,
                      context: object,
                    ) => ({
                      ...req,
                      path: String((context as { location?: string }).location),
                    }),
                  },
                ]
              : []),
          ]
        : [
            {
              setupRequest: (req) => {
                req.path = urls[next++ % urls.length]!;
                return req;
              },
            },
          ],
    });
    const cpuMs = cpuMsOf(child.pid!) - cpuBefore;
    const peakRssMb = processMemoryMb(child.pid!, "VmHWM");
    const answered = submit ? result["3xx"] : result["2xx"];
    console.log(
      `${urls.join(",")} at ${connections}: ${(answered / result.duration).toFixed(1)} req/s ${submit ? "3xx" : "2xx"}, non2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms; app CPU ${((1000 * cpuMs) / Math.max(answered, 1)).toFixed(0)} µs a request, peak RSS ${peakRssMb.toFixed(0)} MB`,
    );
  } finally {
    await stop(child);
    if (smtp) {
      console.log(`mail delivered meanwhile: ${smtp.state.count}`);
      await smtp.close();
    }
  }
  if (prof) {
    // In --limit mode the capturing app ran without the profiler: the one
    // profile is the limit's.
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (file) {
      console.log(`profile: ${path.join(profDir, file)}`);
      console.log(
        summarizeProfile(
          path.join(profDir, file),
          Number(argValue(args, "top") ?? 30),
        ),
      );
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

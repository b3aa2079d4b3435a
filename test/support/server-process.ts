import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { projectRoot } from "../../src/paths.js";

let built = false;

/** Builds the app once per run, as `npm start` would. */
export function buildOnce() {
  if (built) return;
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], {
    cwd: projectRoot,
    stdio: "inherit",
  });
  built = true;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface RunningApp {
  baseUrl: string;
  dataDir: string;
  setupLink: string;
  log: string[];
  /** Every mail written so far (the default .eml transport), oldest first. */
  mails(): { to: string; subject: string; text: string }[];
  stop(): Promise<void>;
}

/**
 * Starts the real built server (node dist/src/server.js) on a free loopback
 * port with its own DATA_DIR, as a person would run it; mail goes to .eml files.
 */
export async function startApp(
  env: Record<string, string> = {},
): Promise<RunningApp> {
  buildOnce();
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-browser-"));
  const baseUrl = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(process.execPath, ["dist/src/server.js"], {
    cwd: projectRoot,
    env: {
      ...process.env,
      NODE_ENV: "test",
      PORT: String(port),
      HOST: "127.0.0.1",
      BASE_URL: baseUrl,
      DATA_DIR: dataDir,
      SCRYPT_COST: "1024",
      MAIL_POLL_MS: "100",
      LOG_LEVEL: "info",
      SESSION_SECRET: "browser-test-secret-browser-test-secret",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  const setupLink = await new Promise<string>((resolve, reject) => {
    let link = "";
    const timer = setTimeout(
      () => reject(new Error("server did not start:\n" + log.join("\n"))),
      20_000,
    );
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        log.push(line);
        link ||= /(http:\/\/\S+\/setup\?token=[\w-]+)/.exec(line)?.[1] ?? "";
        if (line.includes("listening on")) {
          clearTimeout(timer);
          resolve(link);
        }
      }
    };
    child.stdout!.on("data", onLine);
    child.stderr!.on("data", onLine);
    child.once("exit", (code) =>
      reject(new Error(`server exited with ${code}:\n${log.join("\n")}`)),
    );
  });
  return {
    baseUrl,
    dataDir,
    setupLink,
    log,
    mails() {
      const dir = path.join(dataDir, "mail");
      let files: string[] = [];
      try {
        files = readdirSync(dir)
          .filter((f) => f.endsWith(".eml"))
          .sort();
      } catch {
        return [];
      }
      return files.map((f) => {
        const raw = readFileSync(path.join(dir, f), "utf8");
        const header = (name: string) =>
          new RegExp(`^${name}: (.*)$`, "m").exec(raw)?.[1] ?? "";
        // Quoted-printable soft breaks and =3D must be undone to read links.
        const text = raw.replace(/=\r?\n/g, "").replace(/=3D/g, "=");
        return { to: header("To"), subject: header("Subject"), text };
      });
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

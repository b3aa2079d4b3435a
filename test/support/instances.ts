import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { projectRoot } from "../../src/paths.js";

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

/** One real app process (node --import tsx src/server.ts) on a loopback port. */
export interface Instance {
  name: string;
  baseUrl: string;
  child: ChildProcess;
  log: string[];
  /** Resolves with the exit code once the process has ended. */
  exited: Promise<number | null>;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

export async function startInstance(
  name: string,
  env: Record<string, string>,
): Promise<Instance> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start:\n${log.join("\n")}`)),
      30_000,
    );
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n").filter(Boolean)) {
        log.push(line);
        if (line.includes("listening on")) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${log.join("\n")}`));
    });
  });
  return {
    name,
    baseUrl,
    child,
    log,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null)
        child.kill("SIGTERM");
      return exited;
    },
  };
}

/**
 * A browser for several instances: one cookie jar, any base URL (the same
 * session on instance A and on B, as behind a load balancer).
 */
export class Client {
  readonly cookies = new Map<string, string>();
  csrf = "";

  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size)
      headers.set(
        "cookie",
        [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
      );
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(";");
      const eq = pair!.indexOf("=");
      const value = pair!.slice(eq + 1);
      if (/expires=Thu, 01 Jan 1970/i.test(cookie) || value === "")
        this.cookies.delete(pair!.slice(0, eq));
      else this.cookies.set(pair!.slice(0, eq), value);
    }
    return res;
  }

  /** GETs a page and keeps its CSRF token. */
  async page(url: string): Promise<string> {
    const res = await this.fetch(url);
    const html = await res.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    if (token) this.csrf = token;
    return html;
  }

  /** POSTs a urlencoded form with the CSRF token. */
  post(url: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ _csrf: this.csrf, ...fields }),
    });
  }

  /** POSTs a multipart form (the report form) with the CSRF token. */
  postMultipart(
    url: string,
    fields: Record<string, string | string[]>,
    files: { name: string; bytes: Buffer; type: string }[] = [],
  ): Promise<Response> {
    const form = new FormData();
    form.append("_csrf", this.csrf);
    for (const [key, value] of Object.entries(fields))
      for (const v of Array.isArray(value) ? value : [value])
        form.append(key, v);
    for (const file of files)
      form.append(
        "attachments",
        new Blob([new Uint8Array(file.bytes)], { type: file.type }),
        file.name,
      );
    return this.fetch(url, { method: "POST", body: form });
  }

  async signIn(baseUrl: string, email: string, password: string) {
    await this.page(`${baseUrl}/login`);
    const res = await this.post(`${baseUrl}/login`, { email, password });
    if (res.status !== 303)
      throw new Error(`sign-in failed for ${email}: ${res.status}`);
    // The sign-in's redirect comes once its session is stored
    // (src/auth/sign-in.ts, test/http/sign-in-saved.test.ts); the body is
    // read only to free the connection.
    await res.text();
    const form = await this.fetch(`${baseUrl}/reports/new`);
    const html = await form.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    if (form.status !== 200 || !token)
      throw new Error(`no report form for ${email}: ${form.status}`);
    this.csrf = token;
  }
}

/** Waits until the check passes (no deadline of its own: mocha's timeout is it). */
export async function until(
  check: () => Promise<boolean> | boolean,
  pauseMs = 100,
): Promise<void> {
  while (!(await check()))
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
}

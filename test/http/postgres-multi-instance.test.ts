import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { openConfiguredDatabase, type Db } from "../../src/db/index.js";
import { deskKey, generatedKeyFile } from "../../src/mail/desk-key.js";
import { projectRoot } from "../../src/paths.js";
import { createUser, TestClock, testConfig } from "../support/harness.js";
import {
  Client,
  startInstance,
  until,
  type Instance,
} from "../support/instances.js";
import { createPostgresDatabase } from "../support/postgres.js";
import { reportFields } from "../support/reports.js";
import { TestSmtpServer } from "../support/smtp.js";

/*
 * Issue 24: two real app processes on one PostgreSQL database, one SMTP
 * server, one attachments directory; then a PostgreSQL restart in the
 * middle of a run, and one instance shut down while it works.
 */

const run = promisify(execFile);

/** A log line without its stack traces. */
function brief(line: string): string {
  try {
    const { level, time, msg, err, url } = JSON.parse(line) as {
      level: number;
      time: number;
      msg?: string;
      err?: { message?: string; code?: string };
      url?: string;
    };
    return `${new Date(time).toISOString()} ${level} ${msg} ${url ?? ""} ${err?.code ?? ""} ${err?.message ?? ""}`;
  } catch {
    return line;
  }
}
const RESEARCHERS = 20;
const SUBMISSIONS = 200;
const REPORT_URL = /^\/reports\/(DD-[0-9A-Z]{4}-[0-9A-Z]{4})$/;

describe("PostgreSQL: two app instances on one database", function () {
  this.timeout(120_000);
  let root: string;
  let database: { url: string; drop: () => Promise<void> };
  let db: Db;
  let smtp: TestSmtpServer;
  let env: Record<string, string>;
  const instances: Instance[] = [];
  let a: Instance;
  let b: Instance;
  const researchers: { email: string; password: string; client: Client }[] = [];

  const start = async (name: string) => {
    const dataDir = path.join(root, `data-${name}`);
    mkdirSync(dataDir);
    const instance = await startInstance(name, { ...env, DATA_DIR: dataDir });
    instances.push(instance);
    return instance;
  };

  /** Every message of the outbox, each delivered to the SMTP server exactly once. */
  const allMailDeliveredOnce = async () => {
    await until(async () => {
      const open = await db
        .selectFrom("outbox")
        .select("id")
        .where("status", "in", ["queued", "sending"])
        .execute();
      const fanouts = await db
        .selectFrom("outbox_fanouts")
        .select("id")
        .execute();
      return open.length === 0 && fanouts.length === 0;
    });
    const rows = await db
      .selectFrom("outbox")
      .select(["message_id", "status"])
      .execute();
    assert.deepEqual(
      rows.filter((r) => r.status !== "sent"),
      [],
      "every message sent",
    );
    await until(() => smtp.messages.length >= rows.length);
    const delivered = new Map<string, number>();
    for (const m of smtp.messages)
      delivered.set(m.messageId!, (delivered.get(m.messageId!) ?? 0) + 1);
    assert.deepEqual(
      [...delivered].filter(([, n]) => n !== 1),
      [],
      "no message delivered twice",
    );
    assert.deepEqual(
      [...delivered.keys()].sort(),
      rows.map((r) => r.message_id).sort(),
    );
    return rows.length;
  };

  const healthz = async (instance: Instance) =>
    (await fetch(`${instance.baseUrl}/healthz`)).status;

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), "dd-multi-"));
    database = await createPostgresDatabase();
    smtp = await new TestSmtpServer().start();
    // One desk key for every instance (else each generates its own).
    const keyDir = path.join(root, "key");
    await deskKey(testConfig(keyDir));
    const attachments = path.join(root, "attachments");
    env = {
      NODE_ENV: "production",
      BASE_URL: "https://desk.example.test",
      SECURE_COOKIES: "false",
      SESSION_SECRET: "multi-instance-secret-multi-instance-secret",
      DATABASE_URL: database.url,
      DATABASE_POOL_SIZE: "5",
      ATTACHMENTS_DIR: attachments,
      SMTP_URL: smtp.url,
      MAIL_FROM: "Disclosure Desk <desk@desk.example.test>",
      MAIL_POLL_MS: "100",
      SCHEDULER_INTERVAL_MS: "200",
      SCRYPT_COST: "1024",
      PGP_PRIVATE_KEY_FILE: generatedKeyFile(keyDir),
    };
    // Both start at once on the empty database: one migrates, the other waits.
    [a, b] = await Promise.all([start("A"), start("B")]);
    const config = testConfig(path.join(root, "test"), {
      DATABASE_URL: database.url,
    });
    const opened = openConfiguredDatabase(config, {
      // The restart below drops this pool's idle connections too.
      onIdleError: () => undefined,
    });
    db = opened.db;
    const ctx = { db, config, clock: new TestClock(Date.now()) };
    await createUser(ctx, "triager", { email: "triager@example.test" });
    for (let r = 0; r < RESEARCHERS; r++) {
      const who = await createUser(ctx, "researcher", {
        email: `researcher${r}@example.test`,
      });
      const client = new Client();
      await client.signIn((r % 2 ? b : a).baseUrl, who.email, who.password);
      researchers.push({ ...who, client });
    }
  });

  /** Stops a test's background submitters whether it passed or failed. */
  let stopSubmitters = () => {};

  afterEach(function () {
    stopSubmitters();
    // What the instances logged above info (and any crash), when a test failed.
    if (this.currentTest?.state === "failed")
      for (const instance of instances)
        for (const line of instance.log)
          if (!line.includes('"level":30'))
            console.error(instance.name, brief(line));
  });

  after(async () => {
    for (const instance of instances) await instance.stop();
    await db?.destroy();
    await smtp?.stop();
    await database?.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it("files 200 concurrent submissions over both, each stored once, every mail delivered once, each reminder once", async () => {
    const results = await Promise.all(
      Array.from({ length: SUBMISSIONS }, async (_, i) => {
        const { client } = researchers[i % RESEARCHERS]!;
        const res = await client.postMultipart(
          // Each researcher's on both instances, whichever signed them in.
          `${((i + Math.floor(i / RESEARCHERS)) % 2 ? b : a).baseUrl}/reports/new`,
          reportFields({ title: `Concurrent report ${i}` }),
        );
        const text = res.status === 303 ? "" : await res.text();
        return {
          i,
          status: res.status,
          location: res.headers.get("location"),
          message: /<p>([^<]*)<\/p>/.exec(text)?.[1],
        };
      }),
    );
    assert.deepEqual(
      results.filter((r) => r.status !== 303 || !REPORT_URL.test(r.location!)),
      [],
    );
    const reports = await db
      .selectFrom("reports")
      .select(["public_id", "title"])
      .execute();
    assert.equal(reports.length, SUBMISSIONS);
    assert.deepEqual(
      reports.map((r) => r.public_id).sort(),
      results.map((r) => REPORT_URL.exec(r.location!)![1]).sort(),
    );
    assert.equal(new Set(reports.map((r) => r.title)).size, SUBMISSIONS);

    const mails = await allMailDeliveredOnce();
    // A receipt to the researcher and a notice to the triager, per report.
    assert.ok(mails >= 2 * SUBMISSIONS, `${mails} messages`);

    // Ten reports' acknowledgment comes due: both schedulers run, each
    // reminder goes out once.
    const due = reports.slice(0, 10).map((r) => r.public_id);
    await db
      .updateTable("reports")
      .set({ ack_due_at: Date.now() - 3_600_000 })
      .where("public_id", "in", due)
      .execute();
    await until(async () => {
      const rows = await db
        .selectFrom("reminders")
        .select("report_id")
        .where("kind", "=", "ack_overdue")
        .execute();
      return rows.length >= 10;
    });
    const reminders = await db
      .selectFrom("reminders")
      .innerJoin("reports", "reports.id", "reminders.report_id")
      .select(["reports.public_id", "reminders.kind"])
      .execute();
    assert.deepEqual(
      reminders.map((r) => `${r.public_id} ${r.kind}`).sort(),
      due.map((id) => `${id} ack_overdue`).sort(),
    );
    assert.ok((await allMailDeliveredOnce()) > mails, "the reminders mailed");
    // Nothing failed on either instance meanwhile (two search indexers once
    // inserted the same reports: reports_fts_pkey).
    for (const instance of [a, b])
      assert.deepEqual(
        instance.log.filter((line) => /"level":(50|60)/.test(line)),
        [],
      );
  });

  it("a session signed in on A works on B, and signing out on B ends it on A", async () => {
    const who = researchers[0]!;
    const client = new Client();
    await client.signIn(a.baseUrl, who.email, who.password);
    assert.equal((await client.fetch(`${b.baseUrl}/account`)).status, 200);
    await client.page(`${b.baseUrl}/account`);
    const out = await client.post(`${b.baseUrl}/logout`, {});
    assert.equal(out.status, 303);
    const after = await client.fetch(`${a.baseUrl}/account`);
    assert.equal(after.status, 303);
    assert.equal(after.headers.get("location"), "/login");
  });

  it("a search on B finds a report filed on A at once; an attachment uploaded on A downloads on B", async () => {
    const { client } = researchers[2]!; // signed in on A
    const bytes = Buffer.from("proof of concept: GET /booking?id=1235\n");
    const filed = await client.postMultipart(
      `${a.baseUrl}/reports/new`,
      reportFields({ title: "Zanzibarquux booking leak" }),
      [{ name: "poc.txt", bytes, type: "text/plain" }],
    );
    assert.equal(filed.status, 303);
    const publicId = REPORT_URL.exec(filed.headers.get("location")!)![1]!;
    const found = await client.fetch(`${b.baseUrl}/search?q=zanzibarquux`);
    assert.equal(found.status, 200);
    assert.ok((await found.text()).includes(publicId), "found on B");

    const attachment = await db
      .selectFrom("attachments")
      .innerJoin("reports", "reports.id", "attachments.report_id")
      .select("attachments.public_id")
      .where("reports.public_id", "=", publicId)
      .executeTakeFirstOrThrow();
    const download = await client.fetch(
      `${b.baseUrl}/reports/${publicId}/attachments/${attachment.public_id}`,
    );
    assert.equal(download.status, 200);
    assert.deepEqual(Buffer.from(await download.arrayBuffer()), bytes);
    // Both serve the one desk key.
    const keys = await Promise.all(
      [a, b].map(async (i) =>
        (await fetch(`${i.baseUrl}/.well-known/openpgpkey.asc`)).text(),
      ),
    );
    assert.equal(keys[0], keys[1]);
  });

  it("the audit chain verifies after both instances wrote to it", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "src/cli.ts", "audit:verify"],
      {
        cwd: projectRoot,
        env: { ...process.env, ...env, DATA_DIR: path.join(root, "cli") },
      },
    );
    assert.match(stdout, /^Audit chain OK: \d+ entries/);
  });

  it("keeps every accepted report and mails nothing twice across a PostgreSQL restart; 503 and the form kept meanwhile", async () => {
    const accepted: string[] = [];
    let keptForms = 0;
    const unanswered: string[] = [];
    const unexpected: string[] = [];
    let stopping = false;
    stopSubmitters = () => (stopping = true);
    let n = 0;
    // Four submitters keep filing on both instances, one after another,
    // each as three researchers in turn: a person files at most 30 reports
    // an hour, counted over both instances, and the outage's 503s count.
    const submitter = async (own: number[]) => {
      for (let turn = 0; !stopping; turn++) {
        const { client } = researchers[own[turn % own.length]!]!;
        const i = n++;
        const instance = i % 2 ? b : a;
        const title = `Restart report ${i}`;
        try {
          const res = await client.postMultipart(
            `${instance.baseUrl}/reports/new`,
            reportFields({ title }),
          );
          const html = await res.text();
          if (res.status === 303) accepted.push(title);
          else if (res.status === 503 && html.includes(title)) {
            keptForms += 1;
            // As a person would, wait a moment before sending again.
            await new Promise((resolve) => setTimeout(resolve, 250));
          } else unexpected.push(`${instance.name} ${res.status}: ${html}`);
        } catch (err) {
          // No answer at all (the connection cut: EPIPE, reset). It was
          // once in about 150 outage submissions: filed, then the session's
          // save failed after the answer had begun (fixed in app.ts).
          const cause = (err as Error).cause as Error | undefined;
          unanswered.push(title);
          console.warn(
            `${instance.name}: ${title}: no answer (${cause?.message ?? (err as Error).message})`,
          );
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };
    const submitters = [
      [4, 10, 16],
      [5, 11, 17],
      [6, 12, 18],
      [7, 13, 19],
    ].map(submitter);
    const before = (await db.selectFrom("reports").select("id").execute())
      .length;
    await until(() => accepted.length >= 8);

    let outage503: number[] = [];
    let outageSubmission: Response | undefined;
    let outageHtml = "";
    try {
      // Asynchronously: the submissions go on while PostgreSQL stops.
      await run("pg_ctlcluster", [
        "--skip-systemctl-redirect",
        "15",
        "main",
        "stop",
      ]);
      outage503 = await Promise.all([a, b].map(healthz));
      const { client } = researchers[8]!;
      outageSubmission = await client.postMultipart(
        `${b.baseUrl}/reports/new`,
        reportFields({ title: "Filed while the database was away" }),
      );
      outageHtml = await outageSubmission.text();
    } finally {
      await run("pg_ctlcluster", [
        "--skip-systemctl-redirect",
        "15",
        "main",
        "start",
      ]);
      await run("pg_isready", ["-h", "127.0.0.1", "-p", "5432", "-t", "30"]);
    }
    assert.deepEqual(outage503, [503, 503]);
    assert.equal(outageSubmission!.status, 503);
    assert.match(outageHtml, /Try again in a minute/);
    assert.match(outageHtml, /Filed while the database was away/);

    // The instances recover by themselves.
    await until(async () => (await healthz(a)) === 200);
    await until(async () => (await healthz(b)) === 200);
    const afterRestart = accepted.length;
    await until(() => accepted.length >= afterRestart + 8);
    stopping = true;
    await Promise.all(submitters);
    assert.deepEqual(
      unexpected,
      [],
      `${keptForms} answered 503 with the form kept`,
    );

    // The kept form, sent again as it is, files the report once.
    const { client } = researchers[8]!;
    const unescape = (html: string) =>
      html
        .replace(/&#39;/g, "'")
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&");
    const again = new FormData();
    for (const [, name, value] of outageHtml.matchAll(
      /<input type="hidden" name="([^"]+)" value="([^"]*)"/g,
    ))
      again.append(name!, unescape(value!));
    for (const [, name, value] of outageHtml.matchAll(
      /<textarea id="[^"]*" name="([^"]+)"[^>]*>([^<]*)<\/textarea>/g,
    ))
      again.append(name!, unescape(value!));
    assert.equal(again.get("title"), "Filed while the database was away");
    const resent = await client.fetch(`${b.baseUrl}/reports/new`, {
      method: "POST",
      body: again,
    });
    assert.equal(resent.status, 303, await resent.text());
    accepted.push("Filed while the database was away");

    const titles = (
      await db.selectFrom("reports").select("title").execute()
    ).map((r) => r.title);
    for (const title of accepted)
      assert.equal(
        titles.filter((t) => t === title).length,
        1,
        `${title} stored once`,
      );
    assert.deepEqual(unanswered, [], "every submission was answered");
    assert.equal(
      titles.length - before,
      accepted.length,
      "nothing answered 503 was stored",
    );
    await allMailDeliveredOnce();
  });

  it("SIGTERM: requests in flight finish, the claimed mail goes to the other instance, exit 0", async () => {
    // B goes first, quietly; A then works alone behind a slow mail server.
    assert.equal(await b.stop(), 0);
    smtp.delayMs = 150;
    const { client } = researchers[0]!;
    await client.signIn(
      a.baseUrl,
      researchers[0]!.email,
      researchers[0]!.password,
    );
    const sentBefore = smtp.messages.length;
    for (let i = 0; i < 15; i++) {
      const res = await client.postMultipart(
        `${a.baseUrl}/reports/new`,
        reportFields({ title: `Before shutdown ${i}` }),
      );
      assert.equal(res.status, 303);
    }
    await until(() => smtp.messages.length > sentBefore);

    // A submission A has begun to read (it answered 100 Continue) when
    // SIGTERM comes; its body follows.
    const form = new FormData();
    form.append("_csrf", client.csrf);
    for (const [k, v] of Object.entries(
      reportFields({ title: "In flight at SIGTERM" }),
    ))
      for (const one of [v].flat()) form.append(k, one);
    const body = new Response(form);
    const bytes = Buffer.from(await body.arrayBuffer());
    const url = new URL(`${a.baseUrl}/reports/new`);
    const inFlight = new Promise<number>((resolve, reject) => {
      const req = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "content-type": body.headers.get("content-type")!,
          "content-length": bytes.length,
          cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join("; "),
          expect: "100-continue",
        },
      });
      req.on("continue", () => {
        a.child.kill("SIGTERM");
        // Sent after the signal: the request is finished regardless.
        setImmediate(() => req.end(bytes));
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
    });
    assert.equal(await inFlight, 303);
    assert.equal(await a.exited, 0);
    assert.ok(
      a.log.some((l) => l.includes("shutting down")),
      "A logged its shutdown",
    );
    // A gave back what it had claimed and not sent: nothing waits for a lease.
    const claimed = await db
      .selectFrom("outbox")
      .select("id")
      .where("status", "=", "sending")
      .execute();
    assert.deepEqual(claimed, []);
    const queued = await db
      .selectFrom("outbox")
      .select("id")
      .where("status", "=", "queued")
      .execute();
    assert.ok(queued.length > 0, "A left mail for another instance");

    smtp.delayMs = 0;
    await start("C");
    await allMailDeliveredOnce();
    const stored = await db
      .selectFrom("reports")
      .select("id")
      .where("title", "=", "In flight at SIGTERM")
      .execute();
    assert.equal(stored.length, 1);
  });
});

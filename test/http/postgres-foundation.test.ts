import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import supertest from "supertest";
import { createApp } from "../../src/app.js";
import { recordAudit, verifyAuditChain } from "../../src/audit/service.js";
import {
  fullTextMatch,
  indexReportsStatement,
  withAdvisoryLock,
  withAdvisoryLockIfFree,
} from "../../src/db/dialect.js";
import { openPostgres, type Db } from "../../src/db/index.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { parseForm } from "../../src/http/validation.js";
import { reportFormSchema } from "../../src/reports/forms.js";
import { myReports } from "../../src/reports/list-service.js";
import { triageQueue } from "../../src/reports/queue.js";
import { fileReport, loadReportFor } from "../../src/reports/service.js";
import { toActor } from "../../src/users/service.js";
import { createOrg } from "../support/fixtures.js";
import { createUser, signedIn } from "../support/harness.js";
import {
  createPostgresDatabase,
  createPostgresTestContext,
  type PostgresTestContext,
} from "../support/postgres.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

/*
 * Issue 24, the foundation: DATABASE_URL selects PostgreSQL, every migration
 * runs there, and what the repositories already do portably works. This
 * file runs against the real server every machine of the project has
 * (test/support/postgres.ts); if it is not reachable the tests fail saying
 * so, they are never skipped.
 *
 * What this foundation left SQLite-only (search, reminders' index hints,
 * organizations by name, unique violations, claiming the outbox and webhook
 * deliveries) now goes through dialect.ts too: test/http/search.test.ts
 * and the other HTTP tests run here with `npm run test:postgres`, several
 * instances claiming in test/http/postgres-claims.test.ts.
 */

describe("PostgreSQL (DATABASE_URL): migrations, types, locks, search index, repositories", function () {
  this.timeout(120_000);
  let ctx: PostgresTestContext;

  before(async () => {
    ctx = await createPostgresTestContext();
  });
  after(async () => {
    await ctx?.close();
  });

  it("runs every migration on a fresh database, with 64-bit integers and identity keys", async () => {
    assert.deepEqual(await migrateToLatest(ctx.db), [], "all already applied");
    const { rows } = await sql<{
      table_name: string;
      column_name: string;
      data_type: string;
      is_identity: string;
    }>`select table_name, column_name, data_type, is_identity
       from information_schema.columns
       where table_schema = 'public'
         and (table_name, column_name) in
           (('reports', 'id'), ('reports', 'created_at'),
            ('reports', 'queue_due_at'), ('reports', 'cvss_score'),
            ('inbound_messages', 'raw'), ('reports_fts', 'document'))
       order by table_name, column_name`.execute(ctx.db);
    assert.deepEqual(
      rows.map((r) => `${r.table_name}.${r.column_name} ${r.data_type}`),
      [
        "inbound_messages.raw bytea",
        "reports.created_at bigint",
        "reports.cvss_score double precision",
        "reports.id bigint",
        "reports.queue_due_at bigint",
        "reports_fts.document tsvector",
      ],
    );
    assert.equal(
      rows.find((r) => r.table_name === "reports" && r.column_name === "id")
        ?.is_identity,
      "YES",
    );
    const gin = await sql<{ indexdef: string }>`
      select indexdef from pg_indexes where indexname = 'reports_fts_document'`.execute(
      ctx.db,
    );
    assert.match(gin.rows[0]?.indexdef ?? "", /USING gin \(document\)/);
  });

  it("reads int8 and numeric as numbers, and epoch milliseconds past 2^31", async () => {
    const row = await ctx.db
      .selectNoFrom((eb) => [
        sql<number>`count(*)`.as("n"),
        sql<number>`avg(x)`.as("average"),
        sql<number>`max(x)`.as("largest"),
      ])
      .$call((q) =>
        q.modifyEnd(
          sql`from (values (1796612947523::bigint), (8640000000000000::bigint)) as v(x)`,
        ),
      )
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, {
      n: 2,
      average: 4320898306473761.5,
      largest: 8_640_000_000_000_000,
    });
  });

  it("files a report through the service, reads it back, and lists it in the queue and the researcher's list", async () => {
    const researcher = await createUser(ctx, "researcher");
    const triager = await createUser(ctx, "triager");
    const org = await createOrg(ctx, "National Hospital Portal");
    const form = parseForm(reportFormSchema, {
      ...reportFields({ organization: org.publicId }),
      keptAttachments: [],
    });
    assert.ok(form.ok);
    const filed = await fileReport(
      ctx.deps,
      toActor(researcher.user),
      form.value,
    );
    assert.ok(filed.ok);
    const report = await loadReportFor(
      ctx.deps,
      toActor(triager.user),
      filed.value.publicId.toLowerCase(),
    );
    assert.equal(report.id, filed.value.id);
    assert.equal(report.title, form.value.title);
    assert.equal(report.organizationId, org.id);
    assert.equal(report.createdAt.getTime(), ctx.clock.now().getTime());
    assert.equal(report.cvssScore, 6.5);

    const queue = await triageQueue(ctx.deps, toActor(triager.user), {});
    assert.deepEqual(
      queue.items.map((i) => i.publicId),
      [filed.value.publicId],
    );
    const own = await myReports(ctx.deps, toActor(researcher.user), {});
    assert.deepEqual(
      own.items.map((i) => i.publicId),
      [filed.value.publicId],
    );
    // Noted for the search index by the trigger, as on SQLite.
    const pending = await ctx.db
      .selectFrom("search_pending")
      .select("report_id")
      .execute();
    assert.deepEqual(pending, [{ report_id: filed.value.id }]);
    assert.equal((await verifyAuditChain(ctx.db)).ok, true);
  });

  it("signs in, files through the real form and comments over HTTP; the audit chain verifies", async () => {
    const researcher = await signedIn(ctx, await createUser(ctx, "researcher"));
    await researcher.refreshCsrf("/reports/new");
    const res = await submitReport(researcher, reportFields());
    assert.equal(res.status, 303, res.text);
    const id = reportIdFrom(res.headers.location);
    const page = await researcher.agent.get(`/reports/${id}`);
    assert.equal(page.status, 200);
    researcher.csrf = /name="_csrf" value="([^"]+)"/.exec(page.text)![1]!;
    const comment = await researcher.post(`/reports/${id}/comments`, {
      body: "One more detail.",
    });
    assert.equal(comment.status, 303);
    const events = await ctx.db
      .selectFrom("report_events as e")
      .innerJoin("reports as r", "r.id", "e.report_id")
      .select(["e.kind", "e.body"])
      .where("r.public_id", "=", id)
      .orderBy("e.id")
      .execute();
    assert.deepEqual(
      events.map((e) => e.kind),
      ["submitted", "comment"],
    );
    const verified = await verifyAuditChain(ctx.db);
    assert.equal(verified.ok, true);
    for (const page of ["/stats", "/advisories", "/acknowledgments", "/queue"])
      assert.equal(
        (await researcher.agent.get(page)).status,
        page === "/queue" ? 404 : 200,
        page,
      );
  });

  it("keeps the audit log append-only", async () => {
    const entries = await ctx.db
      .selectFrom("audit_log")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    assert.ok(entries.n > 0, "the tests above wrote entries");
    await assert.rejects(
      sql`update audit_log set action = 'x'`.execute(ctx.db),
      /append-only/,
    );
    await assert.rejects(
      sql`delete from audit_log`.execute(ctx.db),
      /append-only/,
    );
    await assert.rejects(
      sql`truncate audit_log`.execute(ctx.db),
      /append-only/,
    );
  });

  it("indexes reports in a weighted tsvector: title A, organization and asset B, text C", async () => {
    const researcher = await createUser(ctx, "researcher");
    const form = parseForm(reportFormSchema, {
      ...reportFields({
        title: "Zanzibar gateway leaks tokens",
        asset: "https://xylophone.example.test/api",
        description: "The quokka endpoint answers without a session.",
      }),
      keptAttachments: [],
    });
    assert.ok(form.ok);
    const filed = await fileReport(
      ctx.deps,
      toActor(researcher.user),
      form.value,
    );
    assert.ok(filed.ok);
    const ids = sql`(select report_id from search_pending)`;
    await ctx.db.transaction().execute(async (tx) => {
      await sql`delete from reports_fts where rowid in ${ids}`.execute(tx);
      await indexReportsStatement(tx, ids).execute(tx);
      await tx.deleteFrom("search_pending").execute();
    });
    const matching = async (query: string) =>
      (
        await ctx.db
          .selectFrom(sql`reports_fts`.as("f"))
          .select(sql<number>`f.rowid`.as("id"))
          .where(fullTextMatch(ctx.db, "f", query))
          .execute()
      ).map((r) => r.id);
    assert.deepEqual(await matching('"zanzi"*'), [filed.value.id]);
    assert.deepEqual(await matching('"quokka" AND "zanzibar"'), [
      filed.value.id,
    ]);
    assert.deepEqual(await matching('"quokka" "nowhere"'), []);
    // The report ID is found exactly.
    assert.deepEqual(await matching(`"${filed.value.publicId}"`), [
      filed.value.id,
    ]);
    const weight = async (word: string, w: string) =>
      (
        await sql<{
          id: number;
        }>`select rowid as id from reports_fts where document @@ to_tsquery('simple', ${`${word}:${w}`})`.execute(
          ctx.db,
        )
      ).rows.map((r) => r.id);
    assert.deepEqual(await weight("zanzibar", "A"), [filed.value.id]);
    assert.deepEqual(await weight("quokka", "A"), []);
    assert.deepEqual(await weight("quokka", "C"), [filed.value.id]);
    assert.deepEqual(await weight("xylophone", "B"), [filed.value.id]);
    assert.deepEqual(await weight("xylophone", "A"), []);
  });

  it("serializes instances with an advisory lock; one that will not wait is told", async () => {
    // Two pools on one database: two app instances.
    const other = openPostgres({
      url: ctx.databaseUrl,
      poolSize: 2,
      statementTimeoutMs: 30_000,
    });
    try {
      const order: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const first = withAdvisoryLock(ctx.db, "scheduler", async () => {
        order.push("first in");
        entered();
        await held;
        order.push("first out");
      });
      await inside;
      assert.deepEqual(
        await withAdvisoryLockIfFree(other.db, "scheduler", async () => 1),
        { ran: false },
      );
      assert.deepEqual(
        await withAdvisoryLockIfFree(other.db, "another lock", async () => 2),
        { ran: true, value: 2 },
      );
      const second = withAdvisoryLock(other.db, "scheduler", async () => {
        order.push("second in");
      });
      // Wait until PostgreSQL shows the second one waiting for the lock.
      await waitFor(ctx.db, async () => {
        const { rows } = await sql<{
          n: number;
        }>`select count(*) as n from pg_locks where locktype = 'advisory' and not granted`.execute(
          ctx.db,
        );
        return rows[0]!.n === 1;
      });
      assert.deepEqual(order, ["first in"]);
      release();
      await Promise.all([first, second]);
      assert.deepEqual(order, ["first in", "first out", "second in"]);
    } finally {
      await other.db.destroy();
    }
  });

  it("answers /healthz 503 while PostgreSQL cannot be reached, and 200 again once it can", async () => {
    const proxy = await startProxy(5432);
    const url = new URL(ctx.databaseUrl);
    url.port = String(proxy.port);
    const instance = openPostgres({
      url: url.toString(),
      poolSize: 2,
      statementTimeoutMs: 30_000,
    });
    try {
      const app = createApp({ ...ctx.deps, db: instance.db });
      assert.equal((await supertest(app).get("/healthz")).status, 200);
      await proxy.stop();
      const down = await supertest(app).get("/healthz");
      assert.equal(down.status, 503);
      assert.equal(down.text, "database unavailable");
      await proxy.start();
      assert.equal((await supertest(app).get("/healthz")).status, 200);
    } finally {
      await proxy.stop();
      await instance.db.destroy();
    }
  });
  it("backs up with pg_dump and restores with pg_restore as the README says; the copy verifies and takes new entries", async () => {
    const restored = await createPostgresDatabase();
    const dir = mkdtempSync(path.join(os.tmpdir(), "dd-pg-dump-"));
    const file = path.join(dir, "desk.dump");
    try {
      const before = await verifyAuditChain(ctx.db);
      assert.ok(before.ok && before.count > 0);
      execFileSync("pg_dump", [
        "--format=custom",
        `--file=${file}`,
        ctx.databaseUrl,
      ]);
      execFileSync("pg_restore", [
        "--no-owner",
        "--exit-on-error",
        `--dbname=${restored.url}`,
        file,
      ]);
      const copy = openPostgres({
        url: restored.url,
        poolSize: 2,
        statementTimeoutMs: 30_000,
      });
      try {
        assert.deepEqual(await verifyAuditChain(copy.db), before);
        assert.deepEqual(await migrateToLatest(copy.db), []);
        await recordAudit(copy.db, {
          action: "setting.changed",
          actor: null,
          details: { changed: ["after the restore"] },
          at: ctx.clock.now(),
        });
        assert.equal((await verifyAuditChain(copy.db)).count, before.count + 1);
      } finally {
        await copy.db.destroy();
      }
    } finally {
      await restored.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Polls a condition the database answers (at most ~10 s), never a timing assertion. */
async function waitFor(_db: Db, condition: () => Promise<boolean>) {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("condition never held");
}

/**
 * A TCP proxy to PostgreSQL that can be stopped and started again on the
 * same port: an outage of the database as the app sees it, without
 * stopping the server other tests share.
 */
async function startProxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(targetPort, "127.0.0.1");
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (!server) return resolve();
      server.close(() => resolve());
      server = null;
    });
  await start();
  return {
    get port() {
      return port;
    },
    start,
    stop,
  };
}

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { after, before, describe, it } from "mocha";
import pg from "pg";
import { createApp } from "../../src/app.js";
import { runCli } from "../../src/cli.js";
import { TARGET_OWN } from "../../src/db/copy.js";
import { databaseFile, openConfiguredDatabase } from "../../src/db/index.js";
import type { Deps } from "../../src/deps.js";
import { createLogger } from "../../src/logger.js";
import { loadSettings } from "../../src/settings/service.js";
import { addMember, createOrg } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  TEST_ENV,
  TestClock,
  testConfig,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { createPostgresDatabase } from "../support/postgres.js";
import {
  reportFields,
  reportIdFrom,
  SCREENSHOT,
  submitReport,
} from "../support/reports.js";

/** Console-like output kept as lines. */
function capture() {
  const lines: string[] = [];
  const out = {
    log: (...a: unknown[]) => lines.push(a.join(" ")),
    error: (...a: unknown[]) => lines.push(a.join(" ")),
  };
  return { lines, out: out as unknown as Console };
}

/**
 * `npm run cli -- db:copy --to postgres://…`: a SQLite deployment with real
 * data, made through the app, moved into a fresh PostgreSQL database; an
 * app on the target then shows, finds and extends what was copied.
 */
describe("npm run cli -- db:copy --to postgres://… (SQLite to PostgreSQL)", function () {
  this.timeout(180_000);
  let dataDir: string;
  let ctx: TestContext;
  let target: { url: string; drop: () => Promise<void> };
  let triagerUser: TestUser;
  let researcherUser: TestUser;
  const ids: string[] = [];
  const env = () => ({ ...TEST_ENV, DATA_DIR: dataDir });

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-dbcopy-"));
    // The source is SQLite even under TEST_DATABASE_URL (dataDir given).
    ctx = await createTestContext({ dataDir });
    const org = await createOrg(ctx, "National Hospital Portal");
    const contactUser = await createUser(ctx, "org_contact");
    await addMember(ctx, org.id, contactUser.user.id);
    researcherUser = await createUser(ctx, "researcher", {
      displayName: "Rhea Searcher",
    });
    triagerUser = await createUser(ctx, "triager", {
      displayName: "Tom Triager",
    });
    const researcher = await signedIn(ctx, researcherUser);
    const triager = await signedIn(ctx, triagerUser);

    const titles = [
      "Appointments readable by changing the booking ID",
      "Quokkaflux token accepted after sign-out",
      "Stored script in the clinic's contact form",
    ];
    for (const [i, title] of titles.entries()) {
      const res = await submitReport(
        researcher,
        reportFields({
          title,
          organization: org.publicId,
          newOrganization: "",
        }),
        i === 0 ? [{ path: SCREENSHOT }] : [],
      );
      assert.equal(res.status, 303, shown(res.text).slice(0, 400));
      ids.push(reportIdFrom(res.headers.location));
    }
    const act = async (who: Browser, id: string, name: string) =>
      assert.equal(
        (await who.post(`/reports/${id}/transition`, { name })).status,
        303,
      );
    for (const id of ids) await act(triager, id, "acknowledge");
    const commented = await triager.post(`/reports/${ids[0]}/comments`, {
      body: "Reproduced on the staging portal.",
    });
    assert.equal(commented.status, 303);
    const triage = await triager.post(`/reports/${ids[0]}/triage`, {
      cwe: "CWE-639",
      cvss: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
      organization: org.publicId,
    });
    assert.equal(triage.status, 303);
    await act(triager, ids[0]!, "triage");
    await act(triager, ids[0]!, "notify_vendor");
    // Report views are audit entries too.
    for (const id of ids)
      assert.equal((await triager.agent.get(`/reports/${id}`)).status, 200);
    // A report pointing at one filed after it: the copy must not insert
    // it before the row it references exists.
    const [first, last] = await Promise.all(
      [ids[0]!, ids[2]!].map((id) =>
        ctx.db
          .selectFrom("reports")
          .select("id")
          .where("public_id", "=", id)
          .executeTakeFirstOrThrow(),
      ),
    );
    await ctx.db
      .updateTable("reports")
      .set({ duplicate_of_id: last!.id })
      .where("id", "=", first!.id)
      .execute();
    await ctx.db.destroy();
    target = await createPostgresDatabase();
  });
  after(async () => {
    await target?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** Rows of every table, on SQLite and on the target. */
  const sqliteCounts = () => {
    const db = new SqliteDatabase(databaseFile(dataDir), { readonly: true });
    try {
      const names = (
        db
          .prepare(
            "select name, sql from sqlite_master where type = 'table' order by name",
          )
          .all() as { name: string; sql: string }[]
      )
        .filter(
          (t) =>
            !/^(sqlite_|kysely_|reports_fts)/.test(t.name) &&
            !TARGET_OWN.has(t.name),
        )
        .map((t) => t.name);
      return Object.fromEntries(
        names.map((n) => [
          n,
          (
            db.prepare(`select count(*) as n from "${n}"`).get() as {
              n: number;
            }
          ).n,
        ]),
      );
    } finally {
      db.close();
    }
  };

  it("copies every table, keeping ids, and verifies counts and the audit chain", async () => {
    const { lines, out } = capture();
    const code = await runCli(["db:copy", "--to", target.url], env(), out);
    const printed = lines.join("\n");
    assert.equal(code, 0, printed);
    assert.match(printed, /row counts equal/);
    assert.match(printed, /Audit chain OK on the target: \d+ entries/);

    const counts = sqliteCounts();
    for (const table of [
      "users",
      "organizations",
      "reports",
      "report_events",
      "participations",
      "attachments",
      "outbox",
      "audit_log",
      "sessions",
    ])
      assert.ok(counts[table]! > 0, `the source has ${table} rows`);
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      for (const [table, n] of Object.entries(counts)) {
        assert.match(printed, new RegExp(`  ${table}: ${n} rows`));
        const { rows } = await client.query(
          `select count(*)::int as n from "${table}"`,
        );
        assert.equal(rows[0].n, n, table);
      }
      // The full-text index is rebuilt before the copy commits.
      const indexed = await client.query(
        "select (select count(*)::int from reports_fts) as fts, (select count(*)::int from search_pending) as pending",
      );
      assert.deepEqual(indexed.rows, [{ fts: counts.reports, pending: 0 }]);
      const { rows } = await client.query(
        "select a.public_id, b.public_id as dup from reports a join reports b on b.id = a.duplicate_of_id",
      );
      assert.deepEqual(rows, [{ public_id: ids[0], dup: ids[2] }]);
    } finally {
      await client.end();
    }
  });

  it("an app on the target shows the report with its timeline, finds it, and files a new one under a fresh id", async () => {
    const config = testConfig(dataDir, { DATABASE_URL: target.url });
    const opened = openConfiguredDatabase(config);
    assert.equal(opened.dialect, "postgres");
    const { db } = opened;
    try {
      const clock = new TestClock(ctx.clock.ms);
      const deps: Deps = {
        db,
        config,
        clock,
        logger: createLogger("silent"),
        settings: await loadSettings(db, config),
      };
      const app = { app: createApp(deps), clock, db };
      const triager = await signedIn(app, triagerUser);
      const page = shown((await triager.agent.get(`/reports/${ids[0]}`)).text);
      assert.match(page, /Appointments readable by changing the booking ID/);
      assert.match(page, /Reproduced on the staging portal\./);
      assert.match(page, /screenshot\.png/);
      assert.match(page, /National Hospital Portal/);

      const search = shown(
        (await triager.agent.get(`/search?q=quokkaflux`)).text,
      );
      assert.match(search, new RegExp(ids[1]!));
      assert.doesNotMatch(search, new RegExp(ids[2]!));

      const before = await db
        .selectFrom("reports")
        .select((eb) => eb.fn.max("id").as("max"))
        .executeTakeFirstOrThrow();
      const researcher = await signedIn(app, researcherUser);
      const res = await submitReport(
        researcher,
        reportFields({ title: "Filed after the move" }),
      );
      assert.equal(res.status, 303, shown(res.text).slice(0, 400));
      const filed = await db
        .selectFrom("reports")
        .select("id")
        .where("public_id", "=", reportIdFrom(res.headers.location))
        .executeTakeFirstOrThrow();
      assert.equal(filed.id, Number(before.max) + 1);
    } finally {
      await db.destroy();
    }
    const verify = capture();
    assert.equal(
      await runCli(
        ["audit:verify"],
        { ...env(), DATABASE_URL: target.url },
        verify.out,
      ),
      0,
      verify.lines.join("\n"),
    );
  });

  it("refuses a second copy into the now non-empty database (exit 2), changing nothing", async () => {
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    const reports = async () =>
      (await client.query("select count(*)::int as n from reports")).rows[0].n;
    try {
      const was = await reports();
      const { lines, out } = capture();
      assert.equal(
        await runCli(["db:copy", "--to", target.url], env(), out),
        2,
      );
      assert.match(
        lines.join("\n"),
        /The target database is not empty: its table \w+ has rows/,
      );
      assert.equal(await reports(), was);
    } finally {
      await client.end();
    }
  });

  it("refuses a database of something else, and asks for a postgres:// URL", async () => {
    const other = await createPostgresDatabase();
    try {
      const client = new pg.Client({ connectionString: other.url });
      await client.connect();
      await client.query("create table invoices (id int)");
      await client.end();
      const { lines, out } = capture();
      assert.equal(await runCli(["db:copy", "--to", other.url], env(), out), 2);
      assert.match(lines.join("\n"), /not a Disclosure Desk database/);
    } finally {
      await other.drop();
    }
    const usage = capture();
    assert.equal(await runCli(["db:copy"], env(), usage.out), 2);
    assert.match(usage.lines.join("\n"), /db:copy --to postgres:\/\//);
  });
});

import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createApp } from "../../src/app.js";
import {
  openConfiguredDatabase,
  type OpenedPostgres,
} from "../../src/db/index.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { projectRoot } from "../../src/paths.js";
import type { Deps } from "../../src/deps.js";
import { createLogger } from "../../src/logger.js";
import { loadSettings } from "../../src/settings/service.js";
import { TestClock, testConfig, type TestContext } from "./harness.js";

/**
 * The PostgreSQL server tests use: TEST_DATABASE_URL, else the one every
 * machine of this project runs (127.0.0.1:5432, trust authentication).
 * Each test file gets a database of its own, dropped afterwards.
 */
export const POSTGRES_SERVER_URL =
  process.env.TEST_DATABASE_URL ??
  "postgres://postgres@127.0.0.1:5432/postgres";

let databaseCounter = 0;

/** A URL of the server with another database name. */
export function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * A test database's sessions commit without waiting for the WAL to reach
 * the disk (synchronous_commit=off): a crash of the test server could lose
 * the last commits of a database dropped minutes later anyway, and each
 * commit no longer waits for an fsync on a shared machine. Locking and
 * visibility are unchanged.
 */
function withoutWaitingForDisk(url: string): string {
  // %20, not URLSearchParams' "+": libpq (pg_dump) reads "+" as itself.
  return `${url}${url.includes("?") ? "&" : "?"}options=-c%20synchronous_commit%3Doff`;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: POSTGRES_SERVER_URL,
    connectionTimeoutMillis: 5000,
  });
  try {
    await client.connect();
  } catch (error) {
    // Never a silent skip: this suite runs on every machine of the project.
    throw new Error(
      `PostgreSQL is not reachable at ${POSTGRES_SERVER_URL} (${(error as Error).message}). ` +
        "Start it (pg_ctlcluster --skip-systemctl-redirect 15 main start) or set TEST_DATABASE_URL.",
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * The schema's fingerprint: the migrations and the code that runs them. A
 * template migrated once under this name serves every test context of
 * every process until a migration changes (migrating took ~1 s a context).
 */
function schemaFingerprint(): string {
  const hash = createHash("sha256");
  const migrations = path.join(projectRoot, "db", "migrations");
  for (const file of [
    path.join(projectRoot, "src", "db", "migrate.ts"),
    path.join(projectRoot, "src", "db", "dialect.ts"),
    ...readdirSync(migrations)
      .sort()
      .map((name) => path.join(migrations, name)),
  ])
    hash.update(file).update(readFileSync(file));
  return hash.digest("hex").slice(0, 16);
}

let migratedTemplate: Promise<string> | undefined;

/** The databases a test process that ended (killed, crashed) did not drop. */
async function dropDatabasesOfEndedProcesses(c: pg.Client): Promise<void> {
  const found = await c.query(
    "select datname from pg_database where datname like 'dd_test_%'",
  );
  for (const { datname } of found.rows as { datname: string }[]) {
    const pid = Number(/^dd_test_(\d+)_/.exec(datname)?.[1]);
    if (!pid || processIsRunning(pid)) continue;
    await c.query(`drop database if exists ${datname} with (force)`);
  }
}

function processIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The name of a database with every migration applied, created once (by
 * whichever test process comes first: an advisory lock orders them) and
 * copied by CREATE DATABASE … TEMPLATE. Older templates are dropped.
 */
function migratedTemplateName(): Promise<string> {
  migratedTemplate ??= (async () => {
    const name = `dd_template_${schemaFingerprint()}`;
    await admin(async (c) => {
      await c.query("select pg_advisory_lock(72410001)");
      try {
        const found = await c.query(
          "select datname from pg_database where datname like 'dd_template_%'",
        );
        const names = found.rows.map((r: { datname: string }) => r.datname);
        for (const old of names.filter((n: string) => n !== name))
          await c.query(`drop database if exists ${old} with (force)`);
        await dropDatabasesOfEndedProcesses(c);
        if (names.includes(name)) return;
        await c.query(`create database ${name}`);
        const db = openConfiguredDatabase(
          testConfig(os.tmpdir(), {
            DATABASE_URL: withDatabase(POSTGRES_SERVER_URL, name),
          }),
        ).db;
        try {
          await migrateToLatest(db);
        } catch (error) {
          await db.destroy();
          await c.query(`drop database if exists ${name} with (force)`);
          throw error;
        }
        await db.destroy();
      } finally {
        await c.query("select pg_advisory_unlock(72410001)");
      }
    });
    return name;
  })();
  return migratedTemplate;
}

/**
 * Creates a database for one test context, dropped by drop(): empty, or
 * with every migration applied (`migrated`), copied from the template.
 */
export async function createPostgresDatabase(
  options: { migrated?: boolean } = {},
): Promise<{
  url: string;
  drop: () => Promise<void>;
}> {
  databaseCounter += 1;
  const name = `dd_test_${process.pid}_${databaseCounter}`;
  const template = options.migrated ? await migratedTemplateName() : null;
  await admin((c) =>
    c.query(
      template
        ? `create database ${name} template ${template}`
        : `create database ${name}`,
    ),
  );
  return {
    url: withoutWaitingForDisk(withDatabase(POSTGRES_SERVER_URL, name)),
    drop: () =>
      admin((c) =>
        c.query(`drop database if exists ${name} with (force)`),
      ).then(() => undefined),
  };
}

export interface PostgresTestContext extends TestContext {
  opened: OpenedPostgres;
  databaseUrl: string;
}

/** As createTestContext, on a fresh PostgreSQL database (DATABASE_URL). */
export async function createPostgresTestContext(
  options: {
    env?: Record<string, string>;
    clock?: TestClock;
    /** "error" shows what a 500 was (debugging); default silent. */
    logLevel?: "silent" | "error";
  } = {},
): Promise<PostgresTestContext> {
  const database = await createPostgresDatabase({ migrated: true });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-pg-test-"));
  const config = testConfig(dataDir, {
    DATABASE_URL: database.url,
    ...options.env,
  });
  const opened = openConfiguredDatabase(config);
  if (opened.dialect !== "postgres") throw new Error("DATABASE_URL not used");
  const { db } = opened;
  await migrateToLatest(db);
  const clock = options.clock ?? new TestClock();
  const deps: Deps = {
    db,
    config,
    clock,
    logger: createLogger(options.logLevel ?? "silent"),
    settings: await loadSettings(db, config),
  };
  return {
    app: createApp(deps),
    deps,
    db,
    config,
    clock,
    dataDir,
    opened,
    databaseUrl: database.url,
    async close() {
      await db.destroy();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

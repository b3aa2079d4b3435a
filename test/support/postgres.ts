import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { createApp } from "../../src/app.js";
import {
  openConfiguredDatabase,
  type OpenedPostgres,
} from "../../src/db/index.js";
import { migrateToLatest } from "../../src/db/migrate.js";
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

/** Creates an empty database for one test file; returns its URL and how to drop it. */
export async function createPostgresDatabase(): Promise<{
  url: string;
  drop: () => Promise<void>;
}> {
  databaseCounter += 1;
  const name = `dd_test_${process.pid}_${databaseCounter}`;
  await admin((c) => c.query(`create database ${name}`));
  return {
    url: withDatabase(POSTGRES_SERVER_URL, name),
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
  const database = await createPostgresDatabase();
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

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import supertest from "supertest";
import { createApp } from "../../src/app.js";
import type { Role } from "../../src/auth/policy.js";
import { hashPassword } from "../../src/auth/passwords.js";
import { DAY, type Clock } from "../../src/clock.js";
import { loadConfig, type Config } from "../../src/config.js";
import { databaseFile, openDatabase, type Db } from "../../src/db/index.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import type { Deps } from "../../src/deps.js";
import { newPublicId } from "../../src/ids.js";
import { addressNextFanout } from "../../src/mail/outbox.js";
import { createLogger } from "../../src/logger.js";
import { insertUser } from "../../src/users/repository.js";
import { loadSettings } from "../../src/settings/service.js";
import { authenticator } from "otplib";
import { isStaffRole } from "../../src/auth/policy.js";
import {
  enableTotp,
  setPendingTotpSecret,
} from "../../src/auth/two-factor-repository.js";
import type { User } from "../../src/users/types.js";
import { createPostgresTestContext } from "./postgres.js";

/** A clock tests can move. Starts at a fixed instant so runs are repeatable. */
export class TestClock implements Clock {
  constructor(public ms = Date.parse("2026-03-02T09:00:00Z")) {}
  now() {
    return new Date(this.ms);
  }
  advance(ms: number) {
    this.ms += ms;
  }
  advanceDays(days: number) {
    this.ms += days * DAY;
  }
}

export interface TestContext {
  app: ReturnType<typeof createApp>;
  deps: Deps;
  db: Db;
  config: Config;
  clock: TestClock;
  dataDir: string;
  /** Closes the database and removes the data directory. */
  close(): Promise<void>;
}

export const TEST_ENV = {
  NODE_ENV: "test",
  SESSION_SECRET: "test-secret-test-secret-test-secret-0123",
  SCRYPT_COST: "1024",
  LOG_LEVEL: "silent",
  BASE_URL: "http://localhost:3000",
} as const;

/**
 * The environment of a CLI command (`npm run cli -- …`) on the context's
 * database: its DATA_DIR, and its DATABASE_URL when it is PostgreSQL.
 */
export function cliEnv(
  ctx: Pick<TestContext, "config" | "dataDir">,
): Record<string, string> {
  return {
    ...TEST_ENV,
    DATA_DIR: ctx.dataDir,
    ...(ctx.config.database.url
      ? { DATABASE_URL: ctx.config.database.url }
      : {}),
  };
}

export function testConfig(
  dataDir: string,
  env: Record<string, string> = {},
): Config {
  return loadConfig({ ...TEST_ENV, DATA_DIR: dataDir, ...env });
}

/** A real SQLite file in a fresh temporary DATA_DIR, migrated, and an app on it. */
export async function createTestContext(
  options: {
    env?: Record<string, string>;
    dataDir?: string;
    clock?: TestClock;
  } = {},
): Promise<TestContext> {
  // TEST_DATABASE_URL (npm run test:postgres): a fresh PostgreSQL database
  // per context, dropped by close(). A test that reopens its own data
  // directory (options.dataDir) stays on SQLite.
  if (process.env.TEST_DATABASE_URL && !options.dataDir) {
    return createPostgresTestContext(options);
  }
  const dataDir =
    options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "dd-test-"));
  const config = testConfig(dataDir, options.env);
  const { db } = openDatabase(databaseFile(dataDir));
  await migrateToLatest(db);
  const clock = options.clock ?? new TestClock();
  const deps: Deps = {
    db,
    config,
    clock,
    logger: createLogger("silent"),
    settings: await loadSettings(db, config),
  };
  const app = createApp(deps);
  return {
    app,
    deps,
    db,
    config,
    clock,
    dataDir,
    async close() {
      await db.destroy();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Addresses every waiting fanout (the triage team's notices) to its
 * recipients, as the mail worker does before it delivers them, so a test
 * can read each person's message in the outbox.
 */
export async function addressFanouts(ctx: TestContext): Promise<void> {
  while (
    (await addressNextFanout(ctx.db, {
      config: ctx.config,
      clock: ctx.clock,
    })) !== null
  );
}

let userCounter = 0;
export const TEST_PASSWORD = "correct horse battery staple 42";

export interface TestUser {
  user: User;
  email: string;
  password: string;
  /** The TOTP secret when two-factor sign-in is on (always for staff). */
  totpSecret?: string;
}

/** Inserts an account directly (fast), with a known password and optional memberships. */
export async function createUser(
  ctx: Pick<TestContext, "db" | "config" | "clock">,
  role: Role,
  options: {
    email?: string;
    displayName?: string;
    orgIds?: number[];
    /** Default true: the address counts as confirmed. */
    emailVerified?: boolean;
    /** Default: on for staff, who cannot work without it. */
    twoFactor?: boolean;
  } = {},
): Promise<TestUser> {
  userCounter += 1;
  const email = options.email ?? `${role}${userCounter}@example.test`;
  const user = await insertUser(ctx.db, {
    publicId: newPublicId(),
    email,
    displayName: options.displayName ?? `${role} ${userCounter}`,
    role,
    passwordHash: await hashPassword(TEST_PASSWORD, ctx.config.scryptCost),
    createdAt: ctx.clock.now(),
    emailVerifiedAt: options.emailVerified === false ? null : ctx.clock.now(),
  });
  let totpSecret: string | undefined;
  if (options.twoFactor ?? isStaffRole(role)) {
    totpSecret = authenticator.generateSecret(20);
    await setPendingTotpSecret(ctx.db, user.id, totpSecret);
    await enableTotp(ctx.db, user.id, ctx.clock.now());
    user.twoFactorEnabled = true;
  }
  for (const orgId of options.orgIds ?? []) {
    await ctx.db
      .insertInto("org_members")
      .values({ org_id: orgId, user_id: user.id })
      .execute();
  }
  user.orgIds = options.orgIds ?? [];
  return { user, email, password: TEST_PASSWORD, totpSecret };
}

const NAMED_REFERENCES: Record<string, string> = {
  mdash: "\u2014",
  ldquo: "\u201c",
  rdquo: "\u201d",
  larr: "\u2190",
  rarr: "\u2192",
  hellip: "\u2026",
};

/**
 * A page's HTML with the references the app writes for characters past
 * Latin-1 (src/http/html.ts) turned back into them, as a browser shows them.
 */
export function shown(html: string): string {
  return html
    .replace(/&#x([0-9a-f]+);/g, (_, hex: string) =>
      String.fromCodePoint(parseInt(hex, 16)),
    )
    .replace(
      /&(mdash|ldquo|rdquo|larr|rarr|hellip);/g,
      (_, name: string) => NAMED_REFERENCES[name]!,
    );
}

/** Reads the CSRF token out of a rendered page. */
export function csrfFrom(html: string): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match?.[1]) throw new Error("no CSRF token on the page");
  return match[1];
}

/** A cookie-keeping client with the session's CSRF token at hand. */
export interface Browser {
  agent: ReturnType<typeof supertest.agent>;
  csrf: string;
  /** GETs a page and refreshes the CSRF token from it. */
  refreshCsrf(page?: string): Promise<string>;
  /** POSTs a urlencoded form with the current CSRF token. */
  post(url: string, fields?: Record<string, string | string[]>): supertest.Test;
}

export async function anonymous(
  ctx: Pick<TestContext, "app">,
): Promise<Browser> {
  const agent = supertest.agent(ctx.app);
  const browser: Browser = {
    agent,
    csrf: "",
    async refreshCsrf(page = "/login") {
      const res = await agent.get(page);
      browser.csrf = csrfFrom(res.text);
      return browser.csrf;
    },
    post(url, fields = {}) {
      return agent
        .post(url)
        .type("form")
        .send({ _csrf: browser.csrf, ...fields });
    },
  };
  await browser.refreshCsrf("/login");
  return browser;
}

/** The current code of a TOTP secret at the app's clock. */
export function totpCode(
  ctx: Pick<TestContext, "clock">,
  secret: string,
): string {
  return authenticator
    .clone({ epoch: ctx.clock.now().getTime() })
    .generate(secret);
}

/** Signs in through the real login form (and the two-factor step) and returns the signed-in client. */
export async function signedIn(
  ctx: Pick<TestContext, "app" | "clock" | "db">,
  who: TestUser,
): Promise<Browser> {
  const browser = await anonymous(ctx);
  let res = await browser.post("/login", {
    email: who.email,
    password: who.password,
  });
  if (res.status === 303 && res.headers.location === "/login/2fa") {
    if (!who.totpSecret)
      throw new Error(`${who.email} has two-factor sign-in but no secret`);
    // Tests sign the same person in several times within one 30 s step; the
    // app rightly refuses a code twice, so the harness forgets the last one.
    // (Replay refusal itself is tested in account-security.test.ts.)
    await ctx.db
      .updateTable("users")
      .set({ totp_last_step: null })
      .where("id", "=", who.user.id)
      .execute();
    await browser.refreshCsrf("/login/2fa");
    res = await browser.post("/login/2fa", {
      code: totpCode(ctx, who.totpSecret),
    });
  }
  if (res.status !== 303)
    throw new Error(`sign-in failed for ${who.email}: ${res.status}`);
  await browser.refreshCsrf("/account");
  return browser;
}

/** How many sessions an account has in the database now. */
export async function countSessions(
  ctx: Pick<TestContext, "db">,
  userId: number,
): Promise<number> {
  const rows = await ctx.db
    .selectFrom("sessions")
    .select("sid")
    .where("user_id", "=", userId)
    .execute();
  return rows.length;
}

import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { projectRoot } from "./paths.js";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((v) => v === "true" || v === "1" || v === "yes");
const positiveInt = z.coerce.number().int().positive();

/** Every environment variable the app reads, with its embedded default. */
const envSchema = z.object({
  NODE_ENV: z
    .enum(["development", "production", "test"])
    .default("development"),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  BASE_URL: z.url({ protocol: /^https?$/ }).default("http://localhost:3000"),
  DATA_DIR: z.string().min(1).default("db/data"),
  ATTACHMENTS_DIR: z.string().min(1).optional(),
  DATABASE_URL: z
    .string()
    .regex(
      /^postgres(ql)?:\/\//,
      "must be a PostgreSQL URL (postgres://user@host:5432/name); leave unset for the SQLite file",
    )
    .optional(),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(30_000),
  SESSION_SECRET: z
    .string()
    .min(32, "must be at least 32 characters")
    .optional(),
  SESSION_IDLE_MINUTES: positiveInt.default(120),
  TRUST_PROXY: z.string().default("false"),
  LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info"),
  SMTP_URL: z.string().optional(),
  MAIL_FROM: z.string().min(3).default("Disclosure Desk <no-reply@localhost>"),
  MAIL_MAX_ATTEMPTS: positiveInt.default(8),
  MAIL_POLL_MS: positiveInt.default(2000),
  SCRYPT_COST: z.coerce
    .number()
    .int()
    .refine(
      (n) => n >= 1024 && (n & (n - 1)) === 0,
      "must be a power of two of at least 1024",
    )
    .default(2 ** 15),
  MAIL_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9.-]+$/, "must be a domain name like desk.example.org")
    .optional(),
  REPORT_ADDRESS: z.email().optional(),
  BOUNCE_LIMIT: positiveInt.default(3),
  BOUNCE_WINDOW_DAYS: positiveInt.default(30),
  INTAKE_LIMIT_PER_SENDER: positiveInt.default(5),
  INTAKE_LIMIT_PER_HOUR: positiveInt.default(100),
  CLAIM_TOKEN_DAYS: positiveInt.default(14),
  SECURITY_CONTACT: z.string().min(3).optional(),
  SECURITY_POLICY_URL: z.url().optional(),
  SECURITY_TXT_EXPIRES_DAYS: positiveInt.default(180),
  SECURITY_LANGUAGES: z.string().default("en"),
  ACK_DUE_DAYS: positiveInt.default(3),
  TRIAGE_DUE_DAYS: positiveInt.default(10),
  DISCLOSURE_DAYS: positiveInt.default(90),
  REMEDIATION_DAYS: z
    .string()
    .regex(
      /^\d+,\d+,\d+,\d+$/,
      "must be four day counts: critical,high,medium,low (like 7,30,90,120)",
    )
    .default("7,30,90,120"),
  INFO_REMINDER_DAYS: positiveInt.default(7),
  INFO_EXPIRY_DAYS: positiveInt.default(30),
  ORG_ANSWER_DAYS: positiveInt.default(7),
  SCHEDULER_INTERVAL_MS: positiveInt.default(60_000),
  SETUP_TOKEN_HOURS: positiveInt.default(24),
  SECURE_COOKIES: bool.optional(),
  RATE_LIMITS: bool.default(true),
  SQL_CAPTURE_FILE: z.string().min(1).optional(),
  PGP_PRIVATE_KEY_FILE: z
    .string()
    .min(1)
    .refine(existsSync, "no such file")
    .optional(),
  PGP_PASSPHRASE: z.string().min(1).optional(),
  DKIM_PRIVATE_KEY_FILE: z
    .string()
    .min(1)
    .refine(existsSync, "no such file")
    .optional(),
  DKIM_SELECTOR: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a DNS label like mail2026")
    .optional(),
  DKIM_DOMAIN: z
    .string()
    .regex(/^[A-Za-z0-9.-]+\.[A-Za-z]{2,}$/, "must be a domain name")
    .optional(),
  REPLY_LOCAL_PART: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, . _ -")
    .default("reply"),
  INBOUND_SMTP_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  INBOUND_SMTP_HOST: z.string().min(1).default("127.0.0.1"),
  INBOUND_LMTP: bool.default(false),
  INBOUND_MAX_BYTES: positiveInt.default(25 * 1024 * 1024),
  WEBHOOKS_ALLOW_LOOPBACK: bool.default(false),
  WEBHOOKS_MAX_FAILURES: positiveInt.default(30),
  WEBHOOKS_POLL_MS: positiveInt.default(5000),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env["NODE_ENV"];
  port: number;
  host: string;
  baseUrl: string;
  dataDir: string;
  /**
   * The content-addressed attachment files (default DATA_DIR/attachments).
   * Several instances on one PostgreSQL database share one directory: each
   * file is named by its SHA-256 and renamed into place whole, so instances
   * writing the same bytes at once cannot corrupt it.
   */
  attachmentsDir: string;
  /**
   * PostgreSQL (DATABASE_URL) or, when null, the SQLite file in dataDir.
   * The pool and the statement timeout apply to PostgreSQL only.
   */
  database: {
    url: string | null;
    poolSize: number;
    statementTimeoutMs: number;
  };
  sessionSecret: string;
  sessionIdleMs: number;
  trustProxy: boolean | number | string;
  logLevel: Env["LOG_LEVEL"];
  smtpUrl: string | undefined;
  mailFrom: string;
  mailMaxAttempts: number;
  mailPollMs: number;
  scryptCost: number;
  /** The domain of the desk's own addresses (VERP bounces, the intake address). */
  mailDomain: string;
  /** Reports by email: mail to this address files a report. */
  reportAddress: string;
  /** Hard bounces to one address within the window before it is flagged. */
  bounceLimit: number;
  bounceWindowDays: number;
  intake: { perSenderPerHour: number; perHour: number; claimTokenDays: number };
  secureCookies: boolean;
  rateLimits: boolean;
  /**
   * For the benchmark only: append every request's SQL statements and
   * parameters to this file (JSON lines), for its stack-limit process.
   */
  sqlCaptureFile: string | null;
  security: {
    contact: string;
    policyUrl: string;
    expiresDays: number;
    languages: string;
  };
  clocks: {
    ackDueDays: number;
    triageDueDays: number;
    disclosureDays: number;
    /** An unanswered request for information: reminder, then closed as invalid. */
    infoReminderDays: number;
    infoExpiryDays: number;
    /** Days after the organization is notified to fix it, by severity. */
    remediationDays: Record<"critical" | "high" | "medium" | "low", number>;
    /** Days an organization on a case has to answer its notice (its status, past "not yet answered"). */
    orgAnswerDays: number;
  };
  schedulerIntervalMs: number;
  setupTokenHours: number;
  pgp: {
    /** The desk's own key; null: generated into DATA_DIR/pgp/ at first start. */
    privateKeyFile: string | null;
    passphrase: string | null;
  };
  /** Signing of outgoing mail; null: not signed. */
  dkim: { domainName: string; keySelector: string; privateKey: string } | null;
  /** Receiving mail (src/inbound). */
  inbound: {
    replyLocalPart: string;
    /** The SMTP/LMTP listener; null: off. */
    smtpPort: number | null;
    smtpHost: string;
    lmtp: boolean;
    maxBytes: number;
  };
  /** Webhook deliveries (src/webhooks). */
  webhooks: {
    /** Tests only: plain http and loopback addresses (a local receiver). */
    allowLoopback: boolean;
    /** Failed attempts in a row before an endpoint is disabled. */
    maxConsecutiveFailures: number;
    pollMs: number;
  };
}

export class ConfigError extends Error {}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === "true") return true;
  if (value === "false" || value === "") return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value; // an address list or "loopback", as Express accepts
}

/**
 * Development keeps a generated secret in DATA_DIR so sessions survive a
 * restart without anyone having to invent one; production must be given one.
 */
function developmentSecret(dataDir: string): string {
  const file = path.join(dataDir, "session-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const secret = randomBytes(32).toString("hex");
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, secret + "\n", { mode: 0o600 });
  return secret;
}

function remediationDays(value: string) {
  const [critical, high, medium, low] = value.split(",").map(Number) as [
    number,
    number,
    number,
    number,
  ];
  return { critical, high, medium, low };
}

/** The address in MAIL_FROM ("Desk <desk@example.org>" or a bare address). */
export function mailFromAddress(mailFrom: string): string {
  return (/<([^>]+)>/.exec(mailFrom)?.[1] ?? mailFrom).trim();
}

function dkimConfig(e: Env, problems: string[]): Config["dkim"] {
  if (!e.DKIM_PRIVATE_KEY_FILE && !e.DKIM_SELECTOR) return null;
  if (!e.DKIM_PRIVATE_KEY_FILE || !e.DKIM_SELECTOR) {
    problems.push(
      "  DKIM_PRIVATE_KEY_FILE, DKIM_SELECTOR: give both, or neither",
    );
    return null;
  }
  const domainName =
    e.DKIM_DOMAIN ?? mailFromAddress(e.MAIL_FROM).split("@")[1] ?? "";
  if (!domainName.includes("."))
    problems.push(
      "  DKIM_DOMAIN: required when MAIL_FROM's address has no domain name",
    );
  return {
    domainName,
    keySelector: e.DKIM_SELECTOR,
    privateKey: readFileSync(e.DKIM_PRIVATE_KEY_FILE, "utf8"),
  };
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `  ${i.path.join(".")}: ${i.message}`,
    );
    throw new ConfigError("Invalid configuration:\n" + lines.join("\n"));
  }
  const e = parsed.data;
  const baseUrl = e.BASE_URL.replace(/\/+$/, "");
  const https = baseUrl.startsWith("https://");
  const problems: string[] = [];
  const dkim = dkimConfig(e, problems);
  if (e.NODE_ENV === "production") {
    if (!https) problems.push("  BASE_URL: must be https in production");
    if (!e.SESSION_SECRET)
      problems.push(
        "  SESSION_SECRET: required in production (32+ characters)",
      );
  }
  // The capture is recorded by SQLite's statement wrapper (src/db/statements.ts)
  // for bench/limit.ts, which replays it with better-sqlite3.
  if (e.SQL_CAPTURE_FILE && e.DATABASE_URL)
    problems.push(
      "  SQL_CAPTURE_FILE: SQLite only (the benchmark's limit replays the statements with better-sqlite3); unset DATABASE_URL",
    );
  if (problems.length)
    throw new ConfigError("Invalid configuration:\n" + problems.join("\n"));
  const dataDir = path.resolve(projectRoot, e.DATA_DIR);
  const host = new URL(baseUrl).hostname;
  // The domain the desk receives mail for: replies (<local>+<token>@it),
  // bounces (VERP) and the intake address.
  const mailDomain = (
    e.MAIL_DOMAIN ??
    mailFromAddress(e.MAIL_FROM).split("@")[1] ??
    host
  ).toLowerCase();
  const reportAddress = (
    e.REPORT_ADDRESS ?? `security@${mailDomain}`
  ).toLowerCase();
  return {
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    baseUrl,
    dataDir,
    attachmentsDir: e.ATTACHMENTS_DIR
      ? path.resolve(projectRoot, e.ATTACHMENTS_DIR)
      : path.join(dataDir, "attachments"),
    database: {
      url: e.DATABASE_URL || null,
      poolSize: e.DATABASE_POOL_SIZE,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
    },
    sessionSecret: e.SESSION_SECRET ?? developmentSecret(dataDir),
    sessionIdleMs: e.SESSION_IDLE_MINUTES * 60_000,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    logLevel: e.LOG_LEVEL,
    smtpUrl: e.SMTP_URL || undefined,
    mailFrom: e.MAIL_FROM,
    mailMaxAttempts: e.MAIL_MAX_ATTEMPTS,
    mailPollMs: e.MAIL_POLL_MS,
    scryptCost: e.SCRYPT_COST,
    mailDomain,
    reportAddress,
    bounceLimit: e.BOUNCE_LIMIT,
    bounceWindowDays: e.BOUNCE_WINDOW_DAYS,
    intake: {
      perSenderPerHour: e.INTAKE_LIMIT_PER_SENDER,
      perHour: e.INTAKE_LIMIT_PER_HOUR,
      claimTokenDays: e.CLAIM_TOKEN_DAYS,
    },
    secureCookies: e.SECURE_COOKIES ?? https,
    rateLimits: e.RATE_LIMITS,
    sqlCaptureFile: e.SQL_CAPTURE_FILE ?? null,
    security: {
      contact: e.SECURITY_CONTACT ?? `mailto:${reportAddress}`,
      policyUrl: e.SECURITY_POLICY_URL ?? `${baseUrl}/policy`,
      expiresDays: e.SECURITY_TXT_EXPIRES_DAYS,
      languages: e.SECURITY_LANGUAGES,
    },
    clocks: {
      ackDueDays: e.ACK_DUE_DAYS,
      triageDueDays: e.TRIAGE_DUE_DAYS,
      disclosureDays: e.DISCLOSURE_DAYS,
      infoReminderDays: e.INFO_REMINDER_DAYS,
      infoExpiryDays: e.INFO_EXPIRY_DAYS,
      remediationDays: remediationDays(e.REMEDIATION_DAYS),
      orgAnswerDays: e.ORG_ANSWER_DAYS,
    },
    schedulerIntervalMs: e.SCHEDULER_INTERVAL_MS,
    setupTokenHours: e.SETUP_TOKEN_HOURS,
    pgp: {
      privateKeyFile: e.PGP_PRIVATE_KEY_FILE ?? null,
      passphrase: e.PGP_PASSPHRASE ?? null,
    },
    dkim,
    inbound: {
      replyLocalPart: e.REPLY_LOCAL_PART,
      smtpPort: e.INBOUND_SMTP_PORT ?? null,
      smtpHost: e.INBOUND_SMTP_HOST,
      lmtp: e.INBOUND_LMTP,
      maxBytes: e.INBOUND_MAX_BYTES,
    },
    webhooks: {
      allowLoopback: e.WEBHOOKS_ALLOW_LOOPBACK,
      maxConsecutiveFailures: e.WEBHOOKS_MAX_FAILURES,
      pollMs: e.WEBHOOKS_POLL_MS,
    },
  };
}

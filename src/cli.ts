import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { systemClock } from "./clock.js";
import { loadConfig } from "./config.js";
import { BackupRefused, backupSqliteFile } from "./db/backup.js";
import { copySqliteToPostgres, CopyRefused } from "./db/copy.js";
import {
  databaseFile,
  openConfiguredDatabase,
  openPostgres,
} from "./db/index.js";
import { migrateToLatest } from "./db/migrate.js";
import { createLogger } from "./logger.js";
import { isRole, ROLES } from "./auth/policy.js";
import { verifyAuditChain } from "./audit/service.js";
import { parseForm } from "./http/validation.js";
import { SettingsStore } from "./settings/service.js";
import {
  EXIT,
  pipedEnvelope,
  readAll,
  receivePipedMail,
  withoutEnvelopeLine,
} from "./inbound/receive.js";
import { createApiToken, tokenFormSchema } from "./api/tokens.js";
import { findUserByEmail } from "./users/repository.js";
import {
  createAccount,
  createAccountSchema,
  disableUser,
  listAllUsers,
} from "./users/service.js";

const USAGE = `Usage: npm run cli -- <command> [options]

  user:create --email E --role ${ROLES.join("|")} [--name N]
      Create an account and print a one-time link to set its password.
  user:list
      List every account with its role and status.
  user:disable --email E
      Disable an account and end all its sessions.
  token:create --email E --scopes S1,S2 [--expires-days N] [--name N]
      Create a personal access token for the API and print it once.
      Scopes: reports:read, reports:write, workflow:write, advisories:write, admin.
  audit:verify
      Check the audit log's hash chain; exit code 1 names the first broken entry.
  backup <file>
      Copy the SQLite database, consistently, while the app runs (never
      overwrites <file>). With DATABASE_URL, use pg_dump (README, Backups).
  db:copy --to postgres://…
      Copy the SQLite database in DATA_DIR into an empty PostgreSQL
      database (migrated first), keeping every id; then check row counts
      and the audit chain there. Exit code 2 if the target is not empty.
  mail:receive [--sender S] [--recipient R]
      Receive one message on standard input (an MTA pipe). Exit 0 accepted,
      65 malformed, 67 unknown recipient or token, 75 try again later.
`;

/** Runs one admin command; returns the process exit code. */
export async function runCli(
  argv: string[],
  env = process.env,
  out = console,
  stdin: Readable = process.stdin,
): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help") {
    out.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === "mail:receive") return mailReceive(rest, env, out, stdin);
  if (command === "backup") return backup(rest, env, out);
  if (command === "db:copy") return dbCopy(rest, env, out);
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: "string" },
      role: { type: "string" },
      name: { type: "string" },
      scopes: { type: "string" },
      "expires-days": { type: "string" },
    },
    strict: true,
  });
  const config = loadConfig(env);
  const { db } = openConfiguredDatabase(config);
  const deps = {
    db,
    config,
    clock: systemClock,
    logger: createLogger("warn"),
    settings: new SettingsStore(config.clocks),
  };
  try {
    await migrateToLatest(db);
    await deps.settings.reload(db);
    switch (command) {
      case "user:create": {
        if (!values.role || !isRole(values.role)) {
          out.error(`--role must be one of: ${ROLES.join(", ")}`);
          return 2;
        }
        const form = parseForm(createAccountSchema, {
          email: values.email ?? "",
          displayName: values.name ?? values.email?.split("@")[0] ?? "",
          role: values.role,
        });
        if (!form.ok) {
          for (const [field, message] of Object.entries(form.errors))
            out.error(`${field}: ${message}`);
          return 2;
        }
        const outcome = await createAccount(deps, null, form.value);
        if (!outcome.ok) {
          for (const [field, message] of Object.entries(outcome.errors))
            out.error(`${field}: ${message}`);
          return 1;
        }
        out.log(
          `Created ${outcome.value.user.role} ${outcome.value.user.email}.`,
        );
        out.log(
          `Set-password link (valid once, 72 hours): ${outcome.value.link}`,
        );
        return 0;
      }
      case "user:list": {
        for (const u of await listAllUsers(deps, null)) {
          out.log(
            [
              u.email,
              u.role,
              u.disabledAt ? "disabled" : "active",
              u.displayName,
            ].join("\t"),
          );
        }
        return 0;
      }
      case "user:disable": {
        if (!values.email) {
          out.error("--email is required");
          return 2;
        }
        try {
          const user = await disableUser(
            deps,
            null,
            values.email.trim().toLowerCase(),
          );
          out.log(`Disabled ${user.email}; their sessions are ended.`);
          return 0;
        } catch {
          out.error(`No account with email ${values.email}`);
          return 1;
        }
      }
      case "token:create": {
        const email = values.email?.trim().toLowerCase();
        const user = email ? await findUserByEmail(db, email) : undefined;
        if (!user) {
          out.error(`No account with email ${values.email ?? "(none given)"}`);
          return 2;
        }
        const form = parseForm(tokenFormSchema, {
          name: values.name ?? "Command-line token",
          scopes: (values.scopes ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean),
          expiresDays: values["expires-days"] ?? "",
        });
        if (!form.ok) {
          for (const [field, message] of Object.entries(form.errors))
            out.error(`${field}: ${message}`);
          return 2;
        }
        const outcome = await createApiToken(
          deps,
          null,
          user,
          form.value,
          null,
        );
        if (!outcome.ok) {
          for (const [field, message] of Object.entries(outcome.errors))
            out.error(`${field === "_form" ? "error" : field}: ${message}`);
          return 1;
        }
        const { token, record } = outcome.value;
        out.log(
          `Token ${record.publicId} for ${user.email} (${record.scopes.join(", ")}), expires ${record.expiresAt.toISOString()}.`,
        );
        out.log("It is shown only now; keep it in a secret store:");
        out.log(token);
        return 0;
      }
      case "audit:verify": {
        const result = await verifyAuditChain(db);
        if (!result.ok) {
          out.error(
            `Audit chain BROKEN at entry #${result.brokenAt}: ${result.reason}. ${result.count} entries before it verify.`,
          );
          return 1;
        }
        // The head hash is printed so it can be kept elsewhere: that is what
        // shows a truncation of the newest entries later.
        out.log(
          `Audit chain OK: ${result.count} entries, head ${result.headHash}`,
        );
        return 0;
      }
      default:
        out.error(`Unknown command: ${command}\n\n${USAGE}`);
        return 2;
    }
  } finally {
    await db.destroy();
  }
}

/** `backup <file>`: a consistent copy of the SQLite database. */
async function backup(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Pick<Console, "log" | "error">,
): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true });
  if (positionals.length !== 1) {
    out.error("Usage: npm run cli -- backup <file>");
    return 2;
  }
  const target = positionals[0]!;
  const config = loadConfig(env);
  if (config.database.url) {
    out.error(
      "DATABASE_URL is set: back up PostgreSQL with pg_dump (README, Backups).",
    );
    return 2;
  }
  try {
    const { pages } = await backupSqliteFile(
      databaseFile(config.dataDir),
      target,
    );
    out.log(`Backup written to ${target} (${pages} pages).`);
    return 0;
  } catch (error) {
    if (error instanceof BackupRefused) {
      out.error(error.message);
      return 2;
    }
    throw error;
  }
}

/** `db:copy --to postgres://…`: a SQLite deployment moved to PostgreSQL. */
async function dbCopy(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Pick<Console, "log" | "error">,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { to: { type: "string" } },
    strict: true,
  });
  if (!values.to || !/^postgres(ql)?:\/\//.test(values.to)) {
    out.error(
      "Usage: npm run cli -- db:copy --to postgres://user@host/database",
    );
    return 2;
  }
  const config = loadConfig(env);
  const source = databaseFile(config.dataDir);
  // No statement timeout: one batch or the index of a large desk may take
  // longer than a page may.
  const target = openPostgres({
    url: values.to,
    poolSize: 2,
    statementTimeoutMs: 0,
  });
  try {
    out.log(`Copying ${source} into ${redacted(values.to)}…`);
    const result = await copySqliteToPostgres(source, target.db, {
      onTable: ({ name, rows }) => out.log(`  ${name}: ${rows} rows`),
    });
    out.log(
      `Copied ${result.tables.length} tables; ${result.indexed} reports indexed for search; row counts equal.`,
    );
    out.log(
      `Audit chain OK on the target: ${result.audit.count} entries, head ${result.audit.headHash}`,
    );
    out.log(
      `Attachment files are not in the database: they stay in ${config.attachmentsDir}; copy them to the directory every instance shares (ATTACHMENTS_DIR, README).`,
    );
    return 0;
  } catch (error) {
    if (error instanceof CopyRefused) {
      out.error(error.message);
      return 2;
    }
    out.error(`db:copy failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await target.db.destroy();
  }
}

/** A connection URL without its password, for printing. */
function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

/**
 * `mail:receive`: anything that goes wrong before the message is stored
 * answers 75, so the MTA keeps it and tries again; it is never lost.
 */
async function mailReceive(
  args: string[],
  env: NodeJS.ProcessEnv,
  out: Pick<Console, "log" | "error">,
  stdin: Readable,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      sender: { type: "string" },
      recipient: { type: "string" },
    },
    strict: true,
  });
  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    out.error((error as Error).message);
    return EXIT.tryAgainLater;
  }
  const read = await readAll(stdin, config.inbound.maxBytes);
  if (read === null) {
    out.error(
      `message larger than INBOUND_MAX_BYTES (${config.inbound.maxBytes} bytes)`,
    );
    return EXIT.malformed;
  }
  const raw = withoutEnvelopeLine(read);
  let opened;
  try {
    opened = openConfiguredDatabase(config);
    await migrateToLatest(opened.db);
  } catch (error) {
    out.error(`try again later: ${(error as Error).message}`);
    await opened?.db.destroy().catch(() => undefined);
    return EXIT.tryAgainLater;
  }
  const { db } = opened;
  try {
    const settings = new SettingsStore(config.clocks);
    await settings.reload(db);
    const envelope = pipedEnvelope(
      raw,
      { sender: values.sender, recipient: values.recipient },
      env,
    );
    return await receivePipedMail(
      {
        db,
        config,
        clock: systemClock,
        logger: createLogger("warn"),
        settings,
      },
      raw,
      envelope,
      out,
    );
  } catch (error) {
    out.error(`try again later: ${(error as Error).message}`);
    return EXIT.tryAgainLater;
  } finally {
    await db.destroy();
  }
}

// Run only when executed directly, so tests can import runCli.
if (
  import.meta.url === `file://${process.argv[1]}` ||
  process.argv[1]?.endsWith("cli.ts")
) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}

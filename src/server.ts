import v8 from "node:v8";
import { createApp } from "./app.js";
import { systemClock } from "./clock.js";
import { ConfigError, loadConfig } from "./config.js";
import { startChangeListener } from "./db/changes.js";
import { openConfiguredDatabase } from "./db/index.js";
import { migrateToLatest } from "./db/migrate.js";
import { startInboundListener } from "./inbound/listener.js";
import { createLogger } from "./logger.js";
import { deskKey } from "./mail/desk-key.js";
import { createTransport } from "./mail/transport.js";
import { createMailWorker } from "./mail/worker.js";
import { startSearchIndexer } from "./reports/list-service.js";
import { startScheduler } from "./reports/reminders.js";
import { followSettings, loadSettings } from "./settings/service.js";
import { issueSetupLinkIfNeeded } from "./users/service.js";
import { createWebhookWorker } from "./webhooks/delivery.js";

/**
 * V8 sizes the heap for the machine's memory: with gigabytes free it let the
 * old space grow to four times what was live before collecting it (31 → 130
 * MB under the benchmark's load), and kept the pages it grew, which made most
 * of the app's 255–307 MB peak. Collecting when it has grown by half keeps
 * the app near its live heap (about 180 MB, bench/README.md) for a
 * collection every second or so of about 5 ms. V8 reads the flag each time
 * it sets the next limit, so setting it here takes effect (`--trace-gc`).
 */
v8.setFlagsFromString("--heap-growing-percent=50");

/** How long requests in flight may take to finish after SIGTERM. */
const SHUTDOWN_GRACE_MS = 20_000;

async function main() {
  let config;
  try {
    config = loadConfig();
    // Generated at first start; a key that cannot be read stops the app here.
    await deskKey(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  const { db } = openConfiguredDatabase(config, {
    checkpointInBackground: true,
    onIdleError: (err) =>
      logger.warn({ err }, "database connection lost; reconnecting on demand"),
  });
  const applied = await migrateToLatest(db);
  if (applied.length) logger.info({ applied }, "database migrated");

  const settings = await loadSettings(db, config);
  const deps = { db, config, clock: systemClock, logger, settings };
  // PostgreSQL: what other instances change (organizations, settings)
  // reaches this one's kept copies at once (src/db/changes.ts).
  const changes = await startChangeListener({
    db,
    url: config.database.url,
    logger,
  });
  followSettings(deps);
  const setupLink = await issueSetupLinkIfNeeded(deps);
  if (setupLink) {
    logger.warn(
      `No administrator yet. Create the first one (link valid once, ${config.setupTokenHours} h): ${setupLink}`,
    );
  }

  const app = createApp(deps);
  const server = app.listen(config.port, config.host, () => {
    logger.info(
      `Disclosure Desk listening on http://${config.host}:${config.port}, public URL ${config.baseUrl} (data in ${config.dataDir})`,
    );
  });

  // The outbox is delivered by a worker in this process, after commit.
  const transport = createTransport(config, logger);
  const worker = createMailWorker({ ...deps, transport });
  worker.start();
  // Webhook deliveries, the same way: after commit, retried, leased.
  const webhooks = createWebhookWorker(deps);
  webhooks.start();
  // Deadlines and reminders, checked by a loop in this process (no cron).
  const scheduler = startScheduler(deps, logger);
  // New and edited reports join the full-text index in batches.
  const searchIndexer = startSearchIndexer(deps, logger);
  // Mail to the desk, handed over by the local MTA (off without INBOUND_SMTP_PORT).
  const inbound =
    config.inbound.smtpPort !== null ? await startInboundListener(deps) : null;

  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down");
    // No new connections; requests in flight finish (they need the
    // database), and a kept-alive connection is closed once it is idle.
    const drained = new Promise<void>((resolve) =>
      server.close(() => resolve()),
    );
    server.closeIdleConnections();
    const idle = setInterval(() => server.closeIdleConnections(), 100);
    const cutOff = setTimeout(
      () => server.closeAllConnections(),
      SHUTDOWN_GRACE_MS,
    );
    drained.then(() => {
      clearInterval(idle);
      clearTimeout(cutOff);
    });
    // Let the message in flight finish, then close the database.
    Promise.all([
      drained,
      worker.stop(),
      webhooks.stop(),
      scheduler.stop(),
      searchIndexer.stop(),
      inbound?.close(),
      changes.stop(),
    ])
      .then(() => db.destroy())
      .then(
        () => {
          transport.close();
          process.exit(0);
        },
        (err) => {
          logger.error({ err }, "shutdown failed");
          process.exit(1);
        },
      );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

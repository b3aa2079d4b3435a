/**
 * The ceiling and the stack's limit.
 *
 * The ceiling: how fast this machine can serve the same pages when nothing
 * but Express 5 and the same compiled EJS templates is involved. A bare
 * Express app in its own process renders the report page, the queue, search
 * and "my reports" from view models held in memory: no database, no session, no
 * helmet, no CSRF, no policy. The app's requests/s divided by these is the
 * ratio the benchmark reports.
 *
 * The view models are the app's own: at start-up the app's service functions
 * build them once against the seeded database, inside a transaction that is
 * rolled back (the report page records a view in the audit log).
 *
 * The stack's limit (BENCH_STATEMENTS set): the same, plus exactly the
 * database work each page does in the app, as the app's own SQL statements
 * (captured from the app with SQL_CAPTURE_FILE, see bench/limit.ts),
 * prepared once with better-sqlite3 and run directly on every request
 * before the page is rendered: no query builder, session middleware,
 * passport, helmet or CSRF.
 *
 * Started by bench/run.ts as `node dist/bench/ceiling.js` (built like the app)
 * with BENCH_PLAN (JSON, see CeilingPlan) and the app's environment; prints
 * "ceiling ready on <port>" (or "limit ready on <port>") when it listens.
 */
import express from "express";
import type { AddressInfo } from "node:net";
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { databaseFile, openDatabase, type Db } from "../src/db/index.js";
import type { Deps } from "../src/deps.js";
import { formatDateTime, ROLE_LABELS } from "../src/format.js";
import { navigationFor } from "../src/http/navigation.js";
import { escapeHtml } from "../src/http/html.js";
import { optionTags } from "../src/http/option-tags.js";
import { createLogger } from "../src/logger.js";
import { paramsOf } from "./plan.js";
import { myReports, searchReports } from "../src/reports/list-service.js";
import { triageQueue } from "../src/reports/queue.js";
import { loadReportFor } from "../src/reports/service.js";
import { reportPage } from "../src/reports/page.js";
import { recordReportView } from "../src/audit/service.js";
import { accessFacts } from "../src/reports/types.js";
import { loadSettings } from "../src/settings/service.js";
import { findUserById } from "../src/users/repository.js";
import { toActor } from "../src/users/service.js";
import { viewsDir } from "../src/paths.js";
import type { CeilingPlan } from "./plan.js";
import { limitRunner } from "./limit.js";

class Rollback extends Error {
  constructor(readonly value: unknown) {
    super("rollback");
  }
}

/**
 * Runs fn in a transaction that is always rolled back, returning what fn
 * returned. The app is writing meanwhile (its scheduler's first run, the mail
 * worker): a transaction that read before the app's commit cannot write after
 * it (SQLITE_BUSY_SNAPSHOT, which no busy timeout waits out), so it is run
 * again.
 */
async function withoutWrites<T>(
  db: Db,
  fn: (db: Db) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.transaction().execute(async (tx) => {
        throw new Rollback(await fn(tx));
      });
    } catch (err) {
      if (err instanceof Rollback) return err.value as T;
      const code = (err as { code?: unknown }).code;
      if (
        attempt < 20 &&
        (code === "SQLITE_BUSY_SNAPSHOT" || code === "SQLITE_BUSY")
      ) {
        await new Promise((r) => setTimeout(r, 100 * attempt));
        continue;
      }
      throw err;
    }
    throw new Error("unreachable");
  }
}

interface Page {
  view: string;
  locals: Record<string, unknown>;
}

async function main() {
  const plan = JSON.parse(process.env.BENCH_PLAN ?? "null") as CeilingPlan;
  if (!plan) throw new Error("BENCH_PLAN is not set");
  const config = loadConfig();
  const { db, sqlite } = openDatabase(databaseFile(config.dataDir));
  // The app may be writing (its scheduler's first run): wait for it.
  sqlite.pragma("busy_timeout = 600000");
  const pages = new Map<string, Page>();
  const settings = await loadSettings(db, config);

  for (const entry of plan.pages) {
    const page = await withoutWrites(db, async (tx) => {
      const deps: Deps = {
        db: tx,
        config,
        clock: systemClock,
        logger: createLogger("silent"),
        settings,
      };
      const user = await findUserById(tx, entry.userId);
      if (!user) throw new Error(`no user ${entry.userId}`);
      const actor = toActor(user);
      const url = new URL(entry.url, "http://ceiling");
      const query = paramsOf(url);
      // What the app's middleware puts in res.locals for every page.
      const common = {
        currentUser: {
          displayName: user.displayName,
          role: user.role,
          roleLabel: ROLE_LABELS[user.role],
        },
        nav: navigationFor(actor),
        csrfToken: () => "c".repeat(128),
        path: url.pathname,
        flash: [],
        formatDateTime,
      };
      switch (entry.kind) {
        case "queue":
          return {
            view: "reports/queue",
            locals: {
              ...common,
              title: "Queue",
              ...(await triageQueue(deps, actor, query)),
            },
          };
        case "search":
          return {
            view: "reports/search",
            locals: {
              ...common,
              title: "Search reports",
              ...(await searchReports(deps, actor, query)),
            },
          };
        case "mine":
          return {
            view: "reports/mine",
            locals: {
              ...common,
              title: "My reports",
              ...(await myReports(deps, actor, query)),
            },
          };
        case "report": {
          const id = url.pathname.split("/").pop() ?? "";
          const report = await loadReportFor(deps, actor, id);
          await recordReportView(
            deps,
            actor,
            { ...accessFacts(report), publicId: report.publicId },
            null,
          );
          const model = await reportPage(deps, actor, report);
          return {
            view: "reports/show",
            locals: {
              ...common,
              title: `${model.report.publicId}: ${model.report.title}`,
              ...model,
            },
          };
        }
      }
    });
    pages.set(entry.url, page);
  }
  await db.destroy();

  const app = express();
  app.disable("x-powered-by");
  app.set("view engine", "ejs");
  app.set("views", viewsDir);
  // As the app (src/app.ts).
  app.set("view options", { root: viewsDir, escape: escapeHtml });
  app.set("view cache", true);
  app.locals.optionTags = optionTags; // as the app
  // Every page here is a signed-in page, which the app sends with no-store
  // and without an ETag (src/app.ts): neither side hashes the page.
  app.set("etag", false);
  const statementsFile = process.env.BENCH_STATEMENTS;
  const runStatements = statementsFile
    ? limitRunner(databaseFile(config.dataDir), statementsFile)
    : null;
  app.use((req, res) => {
    const page = pages.get(req.originalUrl);
    if (!page) return res.status(404).type("text/plain").send("not in plan");
    runStatements?.(req.originalUrl);
    res.render(page.view, page.locals);
  });
  const server = app.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(
      `${runStatements ? "limit" : "ceiling"} ready on ${port}\n`,
    );
  });
  process.once("SIGTERM", () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

import { Migrator, type Migration, type MigrationProvider } from "kysely";
import * as accounts from "../../db/migrations/2026-11-24-01-accounts.js";
import * as reports from "../../db/migrations/2026-11-24-02-reports.js";
import * as outbox from "../../db/migrations/2026-11-24-03-outbox.js";
import * as listIndexes from "../../db/migrations/2026-11-24-05-list-indexes.js";
import * as audit from "../../db/migrations/2026-11-24-09-audit.js";
import * as accountSecurity from "../../db/migrations/2026-11-25-01-account-security.js";
import * as search from "../../db/migrations/2026-11-25-11-search.js";
import * as reminders from "../../db/migrations/2026-11-25-12-reminders.js";
import * as advisories from "../../db/migrations/2026-11-25-13-advisories.js";
import * as benchIndexes from "../../db/migrations/2026-11-25-14-bench-indexes.js";
import * as statsIndexes from "../../db/migrations/2026-11-25-20-stats-indexes.js";
import * as extensions from "../../db/migrations/2026-11-25-15-extensions.js";
import * as caseFacts from "../../db/migrations/2026-11-25-16-case-facts.js";
import * as relatedIndex from "../../db/migrations/2026-11-25-17-related-index.js";
import * as credits from "../../db/migrations/2026-11-26-01-credits.js";
import * as lateReminders from "../../db/migrations/2026-11-26-02-late-reminders.js";
import * as searchVersion from "../../db/migrations/2026-11-29-01-search-version.js";
import * as outboxFanouts from "../../db/migrations/2026-11-30-01-outbox-fanouts.js";
import * as searchPending from "../../db/migrations/2026-11-30-02-search-pending.js";
import * as usersVersion from "../../db/migrations/2026-11-30-03-users-version.js";
import * as auditLink from "../../db/migrations/2026-11-30-04-audit-link.js";
import * as stateSeverityQueue from "../../db/migrations/2026-11-30-05-state-severity-queue.js";
import * as settings from "../../db/migrations/2026-11-26-30-settings.js";
import * as fixVerifiedAt from "../../db/migrations/2026-12-02-04-fix-verified-at.js";
import * as advisoryTitle from "../../db/migrations/2026-12-02-04-advisory-title.js";
import * as eventAudience from "../../db/migrations/2026-12-02-05-event-audience.js";
import * as pgpKeys from "../../db/migrations/2026-12-02-08-pgp-keys.js";
import * as reportRevisions from "../../db/migrations/2026-12-03-61-report-revisions.js";
import * as searchCwe from "../../db/migrations/2026-12-03-71-search-cwe.js";
import * as advisoryCveIndex from "../../db/migrations/2026-12-03-72-advisory-cve-index.js";
import * as inboundMail from "../../db/migrations/2026-12-07-91-inbound-mail.js";
import * as queueDue from "../../db/migrations/2026-12-07-31-queue-due.js";
import * as reportReads from "../../db/migrations/2026-12-07-32-report-reads.js";
import * as bounces from "../../db/migrations/2026-12-07-21-bounces.js";
import * as intake from "../../db/migrations/2026-12-07-22-intake.js";
import * as eventMailOrigin from "../../db/migrations/2026-12-07-96-event-mail-origin.js";
import * as savedViews from "../../db/migrations/2026-12-07-33-saved-views.js";
import * as attachmentRemoval from "../../db/migrations/2026-12-07-51-attachment-removal.js";
import * as participations from "../../db/migrations/2026-12-08-01-participations.js";
import * as apiTokens from "../../db/migrations/2026-12-08-10-api-tokens.js";
import * as webhooks from "../../db/migrations/2026-12-08-20-webhooks.js";
import * as eventAudiences from "../../db/migrations/2026-12-08-50-event-audiences.js";
import * as postgresIndexOrder from "../../db/migrations/2026-12-09-71-postgres-index-order.js";
import * as answerClock from "../../db/migrations/2026-12-08-51-answer-clock.js";
import * as rateLimitHits from "../../db/migrations/2026-12-09-10-rate-limit-hits.js";
import { forMigrations } from "./dialect.js";
import * as stateSeverityDue from "../../db/migrations/2026-12-08-30-state-severity-due.js";
import * as reporterState from "../../db/migrations/2026-12-08-30-reporter-state.js";
import type { Db } from "./index.js";

/**
 * Migrations are listed here rather than read from a folder, so the same list
 * works from TypeScript sources and from the build. Append; never reorder.
 */
const migrations: Record<string, Migration> = {
  "2026-11-24-01-accounts": accounts,
  "2026-11-24-02-reports": reports,
  "2026-11-24-03-outbox": outbox,
  "2026-11-24-05-list-indexes": listIndexes,
  "2026-11-24-09-audit": audit,
  "2026-11-25-01-account-security": accountSecurity,
  "2026-11-25-11-search": search,
  "2026-11-25-12-reminders": reminders,
  "2026-11-25-13-advisories": advisories,
  "2026-11-25-14-bench-indexes": benchIndexes,
  "2026-11-25-15-extensions": extensions,
  "2026-11-25-16-case-facts": caseFacts,
  "2026-11-25-17-related-index": relatedIndex,
  "2026-11-25-20-stats-indexes": statsIndexes,
  "2026-11-26-01-credits": credits,
  "2026-11-26-30-settings": settings,
  "2026-11-26-02-late-reminders": lateReminders,
  "2026-11-29-01-search-version": searchVersion,
  "2026-11-30-01-outbox-fanouts": outboxFanouts,
  "2026-11-30-02-search-pending": searchPending,
  "2026-11-30-03-users-version": usersVersion,
  "2026-11-30-04-audit-link": auditLink,
  "2026-11-30-05-state-severity-queue": stateSeverityQueue,
  "2026-12-02-04-fix-verified-at": fixVerifiedAt,
  "2026-12-02-04-advisory-title": advisoryTitle,
  "2026-12-02-05-event-audience": eventAudience,
  "2026-12-02-08-pgp-keys": pgpKeys,
  "2026-12-03-61-report-revisions": reportRevisions,
  "2026-12-03-71-search-cwe": searchCwe,
  "2026-12-03-72-advisory-cve-index": advisoryCveIndex,
  "2026-12-07-91-inbound-mail": inboundMail,
  "2026-12-07-31-queue-due": queueDue,
  "2026-12-07-32-report-reads": reportReads,
  "2026-12-07-21-bounces": bounces,
  "2026-12-07-22-intake": intake,
  "2026-12-07-96-event-mail-origin": eventMailOrigin,
  "2026-12-07-33-saved-views": savedViews,
  "2026-12-07-51-attachment-removal": attachmentRemoval,
  "2026-12-08-01-participations": participations,
  "2026-12-08-10-api-tokens": apiTokens,
  "2026-12-08-20-webhooks": webhooks,
  "2026-12-08-50-event-audiences": eventAudiences,
  "2026-12-08-30-state-severity-due": stateSeverityDue,
  "2026-12-08-30-reporter-state": reporterState,
  "2026-12-08-51-answer-clock": answerClock,
  "2026-12-09-10-rate-limit-hits": rateLimitHits,
  "2026-12-09-71-postgres-index-order": postgresIndexOrder,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

export async function migrateToLatest(db: Db): Promise<string[]> {
  // Work lands from parallel branches, each with its own dated migration; a
  // database that already ran a later one must still take an earlier one
  // (they never depend on each other's order: each touches its own tables).
  const migrator = new Migrator({
    // On PostgreSQL the migrations' column types are read for it (dialect.ts).
    db: forMigrations(db),
    provider,
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? [])
    .filter((r) => r.status === "Success")
    .map((r) => r.migrationName);
}

// Frozen in time: imports no app code.
import { Kysely, sql } from "kysely";

/*
 * The triage queue pages by keyset on (sort value, id) within its filters.
 * 02 covers last activity with state, organization and assignee; these add
 * submission-date order, the severity and CWE filters, and the overdue filter
 * (partial indexes over the reports still waiting for acknowledgment or
 * triage: the query repeats their WHERE literally so SQLite can use them).
 */
const WAITING = sql<boolean>`state in ('submitted', 'acknowledged')`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("reports_created")
    .on("reports")
    .columns(["created_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_state_created")
    .on("reports")
    .columns(["state", "created_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_severity_queue")
    .on("reports")
    .columns(["severity", "updated_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_cwe_queue")
    .on("reports")
    .columns(["cwe", "updated_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_waiting_queue")
    .on("reports")
    .columns(["updated_at", "id"])
    .where(WAITING)
    .execute();
  await db.schema
    .createIndex("reports_waiting_created")
    .on("reports")
    .columns(["created_at", "id"])
    .where(WAITING)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of [
    "reports_waiting_created",
    "reports_waiting_queue",
    "reports_cwe_queue",
    "reports_severity_queue",
    "reports_state_created",
    "reports_created",
  ]) {
    await db.schema.dropIndex(name).execute();
  }
}

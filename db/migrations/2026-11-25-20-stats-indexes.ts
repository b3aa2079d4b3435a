// Frozen in time: imports no app code.
import { Kysely, sql } from "kysely";

/*
 * The statistics pages (src/stats) read, for every report, when it reached
 * each milestone (first response, triaged, organization notified, fixed,
 * disclosed) and its due dates. At a million reports the timeline table holds
 * several million events with their bodies, and the reports table the full
 * report text: reading either row by row took seconds. These two narrow
 * covering indexes hold exactly what the statistics read, in report order, so
 * they are read in id ranges without touching the tables.
 *
 * report_events_milestones is partial (state changes only); the query repeats
 * `to_state is not null` so SQLite can use it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("report_events_milestones")
    .on("report_events")
    .columns(["report_id", "to_state", "created_at"])
    .where(sql.ref("to_state"), "is not", null)
    .execute();
  await db.schema
    .createIndex("reports_stats")
    .on("reports")
    .columns([
      "id",
      "created_at",
      "organization_id",
      "ack_due_at",
      "triage_due_at",
      "disclosure_due_at",
    ])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("reports_stats").execute();
  await db.schema.dropIndex("report_events_milestones").execute();
}

// Frozen in time: a migration imports no app code.
// When a report's fix was verified, so that a closed report still knows
// whether it was resolved by a verified fix (publication and the "resolved"
// resolution rest on it). Filled from the timeline: the last verification,
// unless the report was reopened after it.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("reports")
    .addColumn("fix_verified_at", "integer")
    .execute();
  await sql`
    UPDATE reports SET fix_verified_at = (
      SELECT MAX(v.created_at) FROM report_events v
      WHERE v.report_id = reports.id AND v.kind = 'transition'
        AND v.to_state = 'fix_verified'
    )
    WHERE NOT EXISTS (
      SELECT 1 FROM report_events r
      WHERE r.report_id = reports.id AND r.kind = 'transition'
        AND r.action = 'reopen'
        AND r.created_at >= (
          SELECT MAX(v.created_at) FROM report_events v
          WHERE v.report_id = reports.id AND v.kind = 'transition'
            AND v.to_state = 'fix_verified'
        )
    )`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("reports").dropColumn("fix_verified_at").execute();
}

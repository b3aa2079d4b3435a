// Frozen in time: a migration imports no app code.
// The queue filtered by state and severity together ("vendor notified,
// high"): with an index on one of them SQLite read every report of that
// state or severity until it had found a page of the other, about 100 rows
// for 26 at a million reports. This one gives the page's rows in order.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("reports_state_severity_queue")
    .on("reports")
    .columns(["state", "severity", "updated_at", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("reports_state_severity_queue").execute();
}

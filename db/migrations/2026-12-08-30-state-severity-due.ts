// Frozen in time: a migration imports no app code.
// The queue filtered by state and severity together opens sorted by the next
// deadline (queue_due_at) since the triager's queue became a due-order list,
// but its index (2026-11-30-05) is in order of last activity: SQLite read
// every report of that state and severity and sorted them (258 ms at a
// million reports for "vendor notified, high"; 42 ms of CPU a view at 1M
// against 5 at 10,000). This one gives the due-order page's rows in order.
// The activity-order index stays for the list sorted by activity.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("reports_state_severity_due")
    .on("reports")
    .columns(["state", "severity", "queue_due_at", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("reports_state_severity_due").execute();
}

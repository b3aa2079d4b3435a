// Frozen in time: a migration imports no app code.
// The queue sorts by what is due soonest: the next deadline of the clocks
// running in the report's state, kept on the report (written with every
// change, by recordChange) so the order reads from an index at a million
// reports. A report with no running clock holds the largest date there is,
// so it sorts last without NULLs in the keyset.
import { Kysely, sql } from "kysely";

const NO_DEADLINE = 8_640_000_000_000_000;
const DAY = 86_400_000;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("reports")
    .addColumn("queue_due_at", "integer", (c) =>
      c.notNull().defaultTo(NO_DEADLINE),
    )
    .execute();
  // The kept due dates; the fix target and the answer's expiry depend on
  // settings a migration cannot read: the defaults stand in for them until
  // the report's next change writes the date from the settings of the day.
  await sql`update reports set queue_due_at = coalesce(
    case
      when state = 'submitted' then ack_due_at
      when state = 'acknowledged' then triage_due_at
      when state = 'needs_info' then info_requested_at + ${30 * DAY}
      when state in ('vendor_notified', 'fix_in_progress', 'fixed')
        then disclosure_due_at
    end, ${NO_DEADLINE})`.execute(db);
  await db.schema
    .createIndex("reports_queue_due")
    .on("reports")
    .columns(["queue_due_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_assignee_due")
    .on("reports")
    .columns(["assignee_id", "queue_due_at", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("reports_assignee_due").execute();
  await db.schema.dropIndex("reports_queue_due").execute();
  await db.schema.alterTable("reports").dropColumn("queue_due_at").execute();
}

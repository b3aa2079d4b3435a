// Frozen in time: a migration imports no app code.
// Reminders the scheduler mailed, one row each, so each is sent once even
// across restarts; `due_at` is the deadline it was about, so a moved
// deadline (or a new request for information) gets its own reminders.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("reports")
    .addColumn("info_requested_at", "integer")
    .execute();
  await db.schema
    .createTable("reminders")
    .addColumn("report_id", "integer", (c) =>
      c.notNull().references("reports.id").onDelete("cascade"),
    )
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("due_at", "integer", (c) => c.notNull())
    .addColumn("sent_at", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("reminders_pk", ["report_id", "kind", "due_at"])
    .execute();
  // Each clock is read only for reports still waiting on it: small partial
  // indexes the scheduler walks by date.
  const clocks: [string, string, string][] = [
    ["reports_ack_clock", "ack_due_at", "state = 'submitted'"],
    ["reports_triage_clock", "triage_due_at", "state = 'acknowledged'"],
    [
      "reports_disclosure_clock",
      "disclosure_due_at",
      "state in ('vendor_notified', 'fix_in_progress', 'fixed')",
    ],
    ["reports_info_clock", "info_requested_at", "state = 'needs_info'"],
  ];
  for (const [name, column, where] of clocks)
    await db.schema
      .createIndex(name)
      .on("reports")
      .column(column)
      .where(sql.raw<boolean>(where))
      .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const name of [
    "reports_ack_clock",
    "reports_triage_clock",
    "reports_disclosure_clock",
    "reports_info_clock",
  ])
    await db.schema.dropIndex(name).execute();
  await db.schema.dropTable("reminders").execute();
  await db.schema
    .alterTable("reports")
    .dropColumn("info_requested_at")
    .execute();
}

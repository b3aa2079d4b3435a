// Frozen in time: a migration imports no app code.
// When each staff member last opened each report: the queue marks what
// changed since (or was never opened). One row per person and report,
// overwritten on every visit.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("report_reads")
    .addColumn("user_id", "integer", (c) =>
      c.notNull().references("users.id").onDelete("cascade"),
    )
    .addColumn("report_id", "integer", (c) =>
      c.notNull().references("reports.id").onDelete("cascade"),
    )
    .addColumn("read_at", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("report_reads_pk", ["user_id", "report_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("report_reads").execute();
}

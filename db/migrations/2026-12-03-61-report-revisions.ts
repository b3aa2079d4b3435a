// Frozen in time: a migration imports no app code.
// Until a triager acknowledges a report, its researcher may correct it
// (title, asset, text). Each edit keeps the version it replaced here, for
// CERT staff: what the researcher first wrote is never lost. event_id is the
// timeline entry of the edit, which links to it.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("report_revisions")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("report_id", "integer", (c) =>
      c.notNull().references("reports.id").onDelete("cascade"),
    )
    .addColumn("event_id", "integer", (c) =>
      c.notNull().references("report_events.id").onDelete("cascade"),
    )
    .addColumn("edited_by", "integer", (c) =>
      c.notNull().references("users.id"),
    )
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("asset", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("steps", "text", (c) => c.notNull())
    .addColumn("impact", "text", (c) => c.notNull())
    // When the version was replaced.
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("report_revisions_report")
    .on("report_revisions")
    .columns(["report_id", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("report_revisions").execute();
}

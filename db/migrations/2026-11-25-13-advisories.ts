// Frozen in time: a migration imports no app code.
// A public advisory for a report: written by a triager (the researcher's raw
// report is never published), visible to everyone once the report is
// disclosed.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("advisories")
    .addColumn("report_id", "integer", (c) =>
      c.primaryKey().references("reports.id").onDelete("cascade"),
    )
    .addColumn("summary", "text", (c) => c.notNull())
    .addColumn("cve_id", "text")
    .addColumn("updated_at", "integer", (c) => c.notNull())
    .addColumn("published_at", "integer")
    .execute();
  await db.schema
    .createIndex("advisories_published")
    .on("advisories")
    .columns(["published_at", "report_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("advisories").execute();
}

// Frozen in time: imports no app code.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("organizations")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("public_id", "text", (c) => c.notNull().unique())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  if (postgres(db))
    await sql`create unique index organizations_name on organizations (lower(name))`.execute(
      db,
    );
  else
    await sql`create unique index organizations_name on organizations (name collate nocase)`.execute(
      db,
    );

  await db.schema
    .createTable("org_members")
    .addColumn("org_id", "integer", (c) =>
      c.notNull().references("organizations.id").onDelete("cascade"),
    )
    .addColumn("user_id", "integer", (c) =>
      c.notNull().references("users.id").onDelete("cascade"),
    )
    .addPrimaryKeyConstraint("org_members_pk", ["org_id", "user_id"])
    .execute();
  await db.schema
    .createIndex("org_members_user")
    .on("org_members")
    .column("user_id")
    .execute();

  await db.schema
    .createTable("reports")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("public_id", "text", (c) => c.notNull().unique())
    .addColumn("reporter_id", "integer", (c) =>
      c.notNull().references("users.id"),
    )
    .addColumn("organization_id", "integer", (c) =>
      c.references("organizations.id"),
    )
    .addColumn("suggested_org_name", "text")
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("asset", "text", (c) => c.notNull())
    .addColumn("cwe", "text", (c) => c.notNull())
    .addColumn("cvss_vector", "text")
    .addColumn("cvss_score", "real")
    .addColumn("severity", "text")
    .addColumn("description", "text", (c) => c.notNull())
    .addColumn("steps", "text", (c) => c.notNull())
    .addColumn("impact", "text", (c) => c.notNull())
    .addColumn("data_exposed", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("records_affected", "integer")
    .addColumn("credit_kind", "text", (c) =>
      c.notNull().check(sql`credit_kind in ('name','handle','anonymous')`),
    )
    .addColumn("credit_handle", "text")
    .addColumn("reveal_identity", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("state_before_info", "text")
    .addColumn("resolution", "text")
    .addColumn("duplicate_of_id", "integer", (c) => c.references("reports.id"))
    .addColumn("assignee_id", "integer", (c) => c.references("users.id"))
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("updated_at", "integer", (c) => c.notNull())
    .addColumn("ack_due_at", "integer")
    .addColumn("triage_due_at", "integer")
    .addColumn("vendor_notified_at", "integer")
    .addColumn("disclosure_due_at", "integer")
    .addColumn("closed_at", "integer")
    .execute();
  // The queue pages by (updated_at, id) within filters; researchers list their own.
  await db.schema
    .createIndex("reports_queue")
    .on("reports")
    .columns(["updated_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_state_queue")
    .on("reports")
    .columns(["state", "updated_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_reporter")
    .on("reports")
    .columns(["reporter_id", "updated_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_org")
    .on("reports")
    .columns(["organization_id", "updated_at", "id"])
    .execute();
  await db.schema
    .createIndex("reports_assignee")
    .on("reports")
    .columns(["assignee_id", "updated_at", "id"])
    .execute();

  await db.schema
    .createTable("report_events")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("report_id", "integer", (c) =>
      c.notNull().references("reports.id"),
    )
    .addColumn("actor_id", "integer", (c) => c.references("users.id"))
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("action", "text")
    .addColumn("from_state", "text")
    .addColumn("to_state", "text")
    .addColumn("visibility", "text", (c) =>
      c.notNull().check(sql`visibility in ('public','internal')`),
    )
    .addColumn("body", "text")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("report_events_report")
    .on("report_events")
    .columns(["report_id", "id"])
    .execute();

  // Files are stored by content hash under DATA_DIR; the uploaded name is only
  // kept (sanitized) for display. report_id is null while a file waits on a
  // form that failed validation.
  await db.schema
    .createTable("attachments")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("public_id", "text", (c) => c.notNull().unique())
    .addColumn("report_id", "integer", (c) => c.references("reports.id"))
    .addColumn("owner_id", "integer", (c) => c.notNull().references("users.id"))
    .addColumn("sha256", "text", (c) => c.notNull())
    .addColumn("media_type", "text", (c) => c.notNull())
    .addColumn("size", "integer", (c) => c.notNull())
    .addColumn("file_name", "text", (c) => c.notNull())
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("attachments_report")
    .on("attachments")
    .column("report_id")
    .execute();
  await db.schema
    .createIndex("attachments_owner")
    .on("attachments")
    .column("owner_id")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of [
    "attachments",
    "report_events",
    "reports",
    "org_members",
    "organizations",
  ]) {
    await db.schema.dropTable(t).execute();
  }
}

// Frozen in time: imports no app code.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  // The transactional outbox: rows are written in the same transaction as the
  // change they announce, and delivered by the worker after commit.
  await db.schema
    .createTable("outbox")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("message_id", "text", (c) => c.notNull().unique())
    .addColumn("report_id", "integer", (c) => c.references("reports.id"))
    .addColumn("to_user_id", "integer", (c) => c.references("users.id"))
    .addColumn("to_address", "text", (c) => c.notNull())
    .addColumn("template", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("text_body", "text", (c) => c.notNull())
    .addColumn("html_body", "text", (c) => c.notNull())
    .addColumn("thread_id", "text")
    .addColumn("status", "text", (c) =>
      c
        .notNull()
        .defaultTo("queued")
        .check(sql`status in ('queued','sending','sent','failed')`),
    )
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "integer", (c) => c.notNull())
    .addColumn("lease_until", "integer")
    .addColumn("last_error", "text")
    .addColumn("smtp_response", "text")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("sent_at", "integer")
    .execute();
  await db.schema
    .createIndex("outbox_due")
    .on("outbox")
    .columns(["status", "next_attempt_at"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("outbox").execute();
}

// Frozen in time: a migration imports no app code.
// Mail received by the desk (src/inbound): every message is stored with what
// the ingestion path decided, so none is ever lost; and the reply tokens that
// notifications carry in Reply-To, stored hashed, one per (user, report).
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("inbound_messages")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("message_id", "text", (c) => c.notNull().unique())
    .addColumn("received_at", "integer", (c) => c.notNull())
    .addColumn("envelope_from", "text", (c) => c.notNull())
    /** JSON array of the RCPT TO addresses. */
    .addColumn("recipients", "text", (c) => c.notNull())
    .addColumn("from_address", "text", (c) => c.notNull())
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("raw", "blob", (c) => c.notNull())
    .addColumn("status", "text", (c) =>
      c
        .notNull()
        .defaultTo("received")
        .check(
          sql`status in ('received','posted','held','ignored','discarded')`,
        ),
    )
    .addColumn("reason", "text")
    .addColumn("report_id", "integer", (c) => c.references("reports.id"))
    .addColumn("user_id", "integer", (c) => c.references("users.id"))
    /** The timeline entry the message became, if it was posted as one. */
    .addColumn("event_id", "integer")
    .addColumn("encrypted", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("signed_by", "text")
    .addColumn("dmarc", "text")
    .addColumn("decided_at", "integer")
    .addColumn("decided_by", "integer", (c) => c.references("users.id"))
    .execute();
  await db.schema
    .createIndex("inbound_messages_status")
    .on("inbound_messages")
    .columns(["status", "received_at"])
    .execute();
  await db.schema
    .createIndex("inbound_messages_event")
    .on("inbound_messages")
    .column("event_id")
    .execute();
  await db.schema
    .createTable("reply_tokens")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("user_id", "integer", (c) =>
      c.notNull().references("users.id").onDelete("cascade"),
    )
    .addColumn("report_id", "integer", (c) =>
      c.notNull().references("reports.id").onDelete("cascade"),
    )
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("reply_tokens_user_report")
    .on("reply_tokens")
    .columns(["user_id", "report_id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("reply_tokens").execute();
  await db.schema.dropTable("inbound_messages").execute();
}

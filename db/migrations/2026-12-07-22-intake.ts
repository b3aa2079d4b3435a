// Frozen in time: a migration imports no app code.
// Reports by email: a report mailed to the intake address belongs to a
// system account (disabled, no password, never listed) until the sender
// claims it with the one-time link of their receipt. One row per report
// filed by email: the sender's address, the claim token and the token that
// lets replies to the receipt continue the thread, both stored hashed.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("users")
    .addColumn("system_account", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable("email_reports")
    .addColumn("report_id", "integer", (c) =>
      c.primaryKey().references("reports.id").onDelete("cascade"),
    )
    .addColumn("sender", "text", (c) => c.notNull())
    .addColumn("claim_token_hash", "text", (c) => c.notNull().unique())
    .addColumn("claim_expires_at", "integer", (c) => c.notNull())
    .addColumn("reply_token_hash", "text", (c) => c.notNull().unique())
    .addColumn("claimed_at", "integer")
    .addColumn("claimed_by", "integer", (c) => c.references("users.id"))
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  // The receipt of a report by email is answered to the intake address with
  // its token: its own Reply-To.
  await db.schema.alterTable("outbox").addColumn("reply_to", "text").execute();
  // The rate limits: per sender and overall, over the last hour.
  await db.schema
    .createIndex("email_reports_sender")
    .on("email_reports")
    .columns(["sender", "created_at"])
    .execute();
  await db.schema
    .createIndex("email_reports_created")
    .on("email_reports")
    .column("created_at")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("email_reports").execute();
  await db.schema.alterTable("outbox").dropColumn("reply_to").execute();
  await db.schema.alterTable("users").dropColumn("system_account").execute();
}

// Frozen in time: a migration imports no app code.
// One message for many recipients (a new report's notice to the whole triage
// team): written in the transaction of the change it announces, like any
// outbox row, and turned into one outbox row per recipient by the mail worker
// after commit, so a submission no longer renders and writes forty messages.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("outbox_fanouts")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("report_id", "integer", (c) => c.references("reports.id"))
    .addColumn("template", "text", (c) => c.notNull())
    // The template's data, the same for every recipient (JSON).
    .addColumn("data", "text", (c) => c.notNull())
    // The recipients chosen when it happened, in order (JSON array of user IDs).
    .addColumn("user_ids", "text", (c) => c.notNull())
    .addColumn("recipient_count", "integer", (c) => c.notNull())
    .addColumn("thread_id", "text")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("outbox_fanouts").execute();
}

// Frozen in time: a migration imports no app code.
// Bounces (RFC 3464 delivery reports, matched by the VERP envelope sender):
// the outbox message a report is about is marked bounced, and an address
// that keeps bouncing is flagged on its account.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("outbox")
    .addColumn("bounced_at", "integer")
    .execute();
  await db.schema
    .alterTable("outbox")
    .addColumn("bounce_status", "text")
    .execute();
  await db.schema
    .alterTable("outbox")
    .addColumn("bounce_reason", "text")
    .execute();
  // Counting one address's recent hard bounces.
  await db.schema
    .createIndex("outbox_bounced_address")
    .on("outbox")
    .columns(["to_address", "bounced_at"])
    .where(sql.ref("bounced_at"), "is not", null)
    .execute();
  await db.schema
    .alterTable("users")
    .addColumn("mail_bouncing_since", "integer")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("users")
    .dropColumn("mail_bouncing_since")
    .execute();
  await db.schema.dropIndex("outbox_bounced_address").execute();
  for (const column of ["bounce_reason", "bounce_status", "bounced_at"])
    await db.schema.alterTable("outbox").dropColumn(column).execute();
}

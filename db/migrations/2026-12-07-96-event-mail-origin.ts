// Frozen in time: a migration imports no app code.
// A timeline entry that arrived by email (a reply that became a comment or
// an answer) keeps where it came from: the mail's Message-ID (staff follow it
// to the message as received, on the Inbound mail page), whether it was
// OpenPGP-encrypted to the desk, and the fingerprint of the sender's key
// whose signature verified.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("report_events")
    .addColumn("mail_message_id", "text")
    .execute();
  await db.schema
    .alterTable("report_events")
    .addColumn("mail_encrypted", "integer", (c) =>
      c
        .notNull()
        .defaultTo(0)
        .check(sql`mail_encrypted in (0, 1)`),
    )
    .execute();
  await db.schema
    .alterTable("report_events")
    .addColumn("mail_signed_by", "text")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ["mail_signed_by", "mail_encrypted", "mail_message_id"])
    await db.schema.alterTable("report_events").dropColumn(column).execute();
}

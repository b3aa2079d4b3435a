// Frozen in time: a migration imports no app code.
// A user's OpenPGP public key (one per account): mail to them is encrypted
// to it. And the timeline entry an outgoing message announces, so the mail
// worker can put its text in the encrypted mail at delivery time, read under
// the recipient's policy then, without the outbox ever holding it in clear.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("user_pgp_keys")
    .addColumn("user_id", "integer", (c) =>
      c.primaryKey().references("users.id").onDelete("cascade"),
    )
    .addColumn("armored", "text", (c) => c.notNull())
    .addColumn("fingerprint", "text", (c) => c.notNull())
    .addColumn("expires_at", "integer")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  // A plain reference, no foreign key: a message whose entry is gone is
  // still delivered, without the entry's text (src/mail/sealed.ts).
  for (const table of ["outbox", "outbox_fanouts"])
    await db.schema
      .alterTable(table)
      .addColumn("event_id", "integer")
      .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["outbox", "outbox_fanouts"])
    await db.schema.alterTable(table).dropColumn("event_id").execute();
  await db.schema.dropTable("user_pgp_keys").execute();
}

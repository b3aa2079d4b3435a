// Frozen in time: a migration imports no app code.
// Two-factor sign-in, recovery codes, token payloads (a new email address
// waiting for verification) and what the account page shows of each session.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("users")
    .addColumn("totp_secret", "text")
    .execute();
  await db.schema
    .alterTable("users")
    .addColumn("totp_enabled_at", "integer")
    .execute();
  // The last TOTP time step accepted: a code is never accepted twice.
  await db.schema
    .alterTable("users")
    .addColumn("totp_last_step", "integer")
    .execute();

  await db.schema
    .createTable("recovery_codes")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("user_id", "integer", (c) =>
      c.notNull().references("users.id").onDelete("cascade"),
    )
    .addColumn("code_hash", "text", (c) => c.notNull())
    .addColumn("used_at", "integer")
    .execute();
  await db.schema
    .createIndex("recovery_codes_user")
    .on("recovery_codes")
    .column("user_id")
    .execute();

  await db.schema.alterTable("tokens").addColumn("payload", "text").execute();

  for (const column of ["ip", "user_agent"]) {
    await db.schema.alterTable("sessions").addColumn(column, "text").execute();
  }
  for (const column of ["created_at", "last_seen_at"]) {
    await db.schema
      .alterTable("sessions")
      .addColumn(column, "integer")
      .execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("recovery_codes").execute();
  for (const column of ["ip", "user_agent", "created_at", "last_seen_at"]) {
    await db.schema.alterTable("sessions").dropColumn(column).execute();
  }
  await db.schema.alterTable("tokens").dropColumn("payload").execute();
  for (const column of ["totp_secret", "totp_enabled_at", "totp_last_step"]) {
    await db.schema.alterTable("users").dropColumn(column).execute();
  }
}

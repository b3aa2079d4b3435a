// Frozen in time: a migration imports no app code, so later changes to the
// app cannot change what an old migration does.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("users")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("public_id", "text", (c) => c.notNull().unique())
    .addColumn("email", "text", (c) => c.notNull().unique())
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("role", "text", (c) =>
      c
        .notNull()
        .check(sql`role in ('researcher','org_contact','triager','admin')`),
    )
    .addColumn("password_hash", "text")
    .addColumn("notify", "text", (c) =>
      c
        .notNull()
        .defaultTo("all")
        .check(sql`notify in ('all','state','none')`),
    )
    .addColumn("disabled_at", "integer")
    .addColumn("email_verified_at", "integer")
    .addColumn("password_changed_at", "integer")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("sessions")
    .addColumn("sid", "text", (c) => c.primaryKey())
    .addColumn("user_id", "integer", (c) =>
      c.references("users.id").onDelete("cascade"),
    )
    .addColumn("data", "text", (c) => c.notNull())
    .addColumn("expires_at", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("sessions_user")
    .on("sessions")
    .column("user_id")
    .execute();
  await db.schema
    .createIndex("sessions_expiry")
    .on("sessions")
    .column("expires_at")
    .execute();

  // One-time links (setup, set password, invitations): only a hash is stored.
  await db.schema
    .createTable("tokens")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("user_id", "integer", (c) =>
      c.references("users.id").onDelete("cascade"),
    )
    .addColumn("expires_at", "integer", (c) => c.notNull())
    .addColumn("used_at", "integer")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("tokens").execute();
  await db.schema.dropTable("sessions").execute();
  await db.schema.dropTable("users").execute();
}

// Frozen in time: imports no app code.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  // The tamper-evident audit log. Each row carries the SHA-256 of its own
  // content and of the row before it, so an edit, a deletion or a reordering
  // breaks the chain where it happened.
  //
  // actor_id deliberately has no foreign key: a cascade or "set null" on a
  // user would be an UPDATE/DELETE here, and history must not depend on the
  // users table staying as it was.
  await db.schema
    .createTable("audit_log")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("at", "integer", (c) => c.notNull())
    .addColumn("actor_id", "integer")
    .addColumn("actor_label", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("target_type", "text")
    .addColumn("target_id", "text")
    .addColumn("ip", "text")
    .addColumn("user_agent", "text")
    .addColumn("details", "text", (c) => c.notNull().defaultTo("{}"))
    .addColumn("prev_hash", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .execute();
  // Two writers that read the same head would fork the chain; a unique
  // prev_hash makes the second one fail instead of silently forking.
  await db.schema
    .createIndex("audit_log_prev_hash")
    .on("audit_log")
    .column("prev_hash")
    .unique()
    .execute();
  // The admin page filters by one of these and pages by id, newest first;
  // "who viewed this report" reads by target.
  await db.schema
    .createIndex("audit_log_action")
    .on("audit_log")
    .columns(["action", "id"])
    .execute();
  await db.schema
    .createIndex("audit_log_actor")
    .on("audit_log")
    .columns(["actor_id", "id"])
    .execute();
  await db.schema
    .createIndex("audit_log_target")
    .on("audit_log")
    .columns(["target_id", "id"])
    .execute();
  await db.schema
    .createIndex("audit_log_at")
    .on("audit_log")
    .columns(["at", "id"])
    .execute();

  // Append-only even against a bug in the app: the database itself refuses
  // to change or remove an entry. (Someone with the file can drop these; the
  // hash chain is what catches that.)
  if (postgres(db)) {
    await sql`
      create function audit_log_append_only() returns trigger
      language plpgsql as $$
      begin
        raise exception 'audit_log is append-only';
      end $$
    `.execute(db);
    for (const event of ["update", "delete"])
      await sql`
        create trigger ${sql.raw(`audit_log_no_${event}`)}
        before ${sql.raw(event)} on audit_log
        for each row execute function audit_log_append_only()
      `.execute(db);
    await sql`
      create trigger audit_log_no_truncate before truncate on audit_log
      for each statement execute function audit_log_append_only()
    `.execute(db);
    return;
  }
  await sql`
    create trigger audit_log_no_update before update on audit_log
    begin
      select raise(abort, 'audit_log is append-only');
    end
  `.execute(db);
  await sql`
    create trigger audit_log_no_delete before delete on audit_log
    begin
      select raise(abort, 'audit_log is append-only');
    end
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (postgres(db)) {
    await db.schema.dropTable("audit_log").execute();
    await sql`drop function audit_log_append_only()`.execute(db);
    return;
  }
  await sql`drop trigger if exists audit_log_no_delete`.execute(db);
  await sql`drop trigger if exists audit_log_no_update`.execute(db);
  await db.schema.dropTable("audit_log").execute();
}

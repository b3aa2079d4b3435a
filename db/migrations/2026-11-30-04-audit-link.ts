// Frozen in time: a migration imports no app code.
// The audit chain's links checked by the database itself, in place of the
// unique index on prev_hash. That index stopped a fork (two entries on the
// same head) but not a gap or a wrong link, and as prev_hash is random each
// append wrote to a random page of it: at a quarter of a million entries an
// append with its commit took 175–193 µs with the index and 122–126 µs with
// this trigger (bench/README.md). The trigger refuses any entry that is not
// the next id after the last one and linked to that one's hash (the genesis
// link for the first), so no fork, gap or stray link can be written.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

const GENESIS_HASH = "0".repeat(64);

export async function up(db: Kysely<any>): Promise<void> {
  if (postgres(db)) {
    // Two instances appending at once both pass this check; the primary key
    // then refuses the second (the same id), so the chain still cannot fork.
    await sql`
      create function audit_log_linked() returns trigger
      language plpgsql as $$
      begin
        if new.id is distinct from (select coalesce(max(id), 0) + 1 from audit_log)
          or new.prev_hash is distinct from coalesce(
            (select hash from audit_log where id = new.id - 1),
            ${sql.lit(GENESIS_HASH)})
        then
          raise exception 'audit_log entries extend the chain: the next id, linked to the last hash';
        end if;
        return new;
      end $$
    `.execute(db);
    await sql`
      create trigger audit_log_linked before insert on audit_log
      for each row execute function audit_log_linked()
    `.execute(db);
    await sql`drop index if exists audit_log_prev_hash`.execute(db);
    return;
  }
  await sql`
    create trigger audit_log_linked before insert on audit_log
    when new.id is not (select coalesce(max(id), 0) + 1 from audit_log)
      or new.prev_hash is not coalesce(
        (select hash from audit_log where id = new.id - 1),
        ${sql.lit(GENESIS_HASH)})
    begin
      select raise(abort, 'audit_log entries extend the chain: the next id, linked to the last hash');
    end
  `.execute(db);
  await sql`drop index if exists audit_log_prev_hash`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`create unique index if not exists audit_log_prev_hash on audit_log (prev_hash)`.execute(
    db,
  );
  if (postgres(db)) {
    await sql`drop trigger if exists audit_log_linked on audit_log`.execute(db);
    await sql`drop function if exists audit_log_linked()`.execute(db);
    return;
  }
  await sql`drop trigger if exists audit_log_linked`.execute(db);
}

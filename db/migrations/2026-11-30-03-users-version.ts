// Frozen in time: a migration imports no app code.
// A counter that moves whenever any account is added, changed or removed, by
// any connection. The app keeps the list of active staff until it moves:
// before, the list was kept until the next write of any kind, so each report
// filed (and each report viewed, which writes its audit entry) read it again.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

/** PostgreSQL: the same triggers, calling one function that moves the counter. */
async function upPostgres(db: Kysely<any>) {
  await sql`create table users_version (
    id integer primary key check (id = 1),
    version bigint not null
  )`.execute(db);
  await sql`insert into users_version (id, version) values (1, 0)`.execute(db);
  await sql`create function users_version_bump() returns trigger
    language plpgsql as $$
    begin
      ${BUMP}
      return null;
    end $$`.execute(db);
  for (const event of ["insert", "update", "delete"])
    await sql`create trigger ${sql.raw(`users_version_${event}`)}
      after ${sql.raw(event)} on users
      for each row execute function users_version_bump()`.execute(db);
}

const BUMP = sql.raw(
  "update users_version set version = version + 1 where id = 1;",
);

export async function up(db: Kysely<any>): Promise<void> {
  if (postgres(db)) return upPostgres(db);
  await sql`create table users_version (
    id integer primary key check (id = 1),
    version integer not null
  )`.execute(db);
  await sql`insert into users_version (id, version) values (1, 0)`.execute(db);
  for (const event of ["insert", "update", "delete"])
    await sql`create trigger ${sql.raw(`users_version_${event}`)}
      after ${sql.raw(event)} on users begin ${BUMP} end`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (postgres(db)) {
    for (const event of ["insert", "update", "delete"])
      await sql`drop trigger if exists ${sql.raw(`users_version_${event}`)} on users`.execute(
        db,
      );
    await sql`drop function if exists users_version_bump()`.execute(db);
    await sql`drop table if exists users_version`.execute(db);
    return;
  }
  for (const event of ["insert", "update", "delete"])
    await sql`drop trigger if exists ${sql.raw(`users_version_${event}`)}`.execute(
      db,
    );
  await sql`drop table if exists users_version`.execute(db);
}

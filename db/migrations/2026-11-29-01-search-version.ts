// Frozen in time: a migration imports no app code.
// A counter that moves whenever the full-text index of reports may change
// (the same events as the reports_fts triggers of migration 11). Search keeps
// each prefix's indexed words until it moves; before, any write at all (a
// session touch, the audit entry of a report view) dropped them.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

/** PostgreSQL: the same triggers, calling one function that moves the counter. */
async function upPostgres(db: Kysely<any>) {
  await sql`create table search_index_version (
    id integer primary key check (id = 1),
    version bigint not null
  )`.execute(db);
  await sql`insert into search_index_version (id, version) values (1, 0)`.execute(
    db,
  );
  await sql`create function search_index_version_bump() returns trigger
    language plpgsql as $$
    begin
      ${BUMP}
      return null;
    end $$`.execute(db);
  const triggers: [string, string][] = [
    ["search_version_insert", "insert on reports"],
    [
      "search_version_update",
      "update of title, asset, description, steps, impact, organization_id, suggested_org_name on reports",
    ],
    ["search_version_delete", "delete on reports"],
    ["search_version_org_rename", "update of name on organizations"],
  ];
  for (const [name, event] of triggers)
    await sql`create trigger ${sql.raw(name)} after ${sql.raw(event)}
      for each row execute function search_index_version_bump()`.execute(db);
}

const BUMP = sql.raw(
  "update search_index_version set version = version + 1 where id = 1;",
);

export async function up(db: Kysely<any>): Promise<void> {
  if (postgres(db)) return upPostgres(db);
  await sql`create table search_index_version (
    id integer primary key check (id = 1),
    version integer not null
  )`.execute(db);
  await sql`insert into search_index_version (id, version) values (1, 0)`.execute(
    db,
  );
  await sql`create trigger search_version_insert after insert on reports begin ${BUMP} end`.execute(
    db,
  );
  await sql`create trigger search_version_update
    after update of title, asset, description, steps, impact, organization_id, suggested_org_name
    on reports begin ${BUMP} end`.execute(db);
  await sql`create trigger search_version_delete after delete on reports begin ${BUMP} end`.execute(
    db,
  );
  await sql`create trigger search_version_org_rename after update of name on organizations begin ${BUMP} end`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  if (postgres(db)) {
    for (const [trigger, table] of [
      ["search_version_insert", "reports"],
      ["search_version_update", "reports"],
      ["search_version_delete", "reports"],
      ["search_version_org_rename", "organizations"],
    ])
      await sql`drop trigger if exists ${sql.raw(trigger!)} on ${sql.raw(table!)}`.execute(
        db,
      );
    await sql`drop function if exists search_index_version_bump()`.execute(db);
    await sql`drop table if exists search_index_version`.execute(db);
    return;
  }
  for (const trigger of [
    "search_version_insert",
    "search_version_update",
    "search_version_delete",
    "search_version_org_rename",
  ])
    await sql`drop trigger if exists ${sql.raw(trigger)}`.execute(db);
  await sql`drop table if exists search_index_version`.execute(db);
}

// Frozen in time: a migration imports no app code.
// Reports are added to the full-text index in batches instead of in the
// transaction that writes them. Indexing one report per transaction made
// FTS5 write a new index segment at every commit and keep merging them: at a
// million reports 0.6–1.8 ms of a submission's commit, the largest cost of
// filing a report. The triggers now only note the report in search_pending;
// the app indexes what is noted before any search reads the index and every
// second (src/reports/list-repository.ts, indexPendingReports), so searches
// still see every report. search_index_version moves when a batch is indexed.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * PostgreSQL: the same triggers, as trigger functions. Its search index
 * never had triggers of its own (migration 2026-11-25-11), so only the
 * counter's go; the counter's delete trigger stays, as on SQLite.
 */
async function upPostgres(db: Kysely<any>) {
  await sql`create table search_pending (report_id bigint primary key)`.execute(
    db,
  );
  for (const [trigger, table] of [
    ["search_version_insert", "reports"],
    ["search_version_update", "reports"],
    ["search_version_org_rename", "organizations"],
  ])
    await sql`drop trigger if exists ${sql.raw(trigger!)} on ${sql.raw(table!)}`.execute(
      db,
    );
  await sql`create function search_pending_note() returns trigger
    language plpgsql as $$
    begin
      insert into search_pending (report_id) values (new.id) on conflict do nothing;
      return null;
    end $$`.execute(db);
  await sql`create function search_pending_note_org() returns trigger
    language plpgsql as $$
    begin
      insert into search_pending (report_id)
        select id from reports where organization_id = new.id
        on conflict do nothing;
      return null;
    end $$`.execute(db);
  await sql`create function search_pending_forget() returns trigger
    language plpgsql as $$
    begin
      delete from search_pending where report_id = old.id;
      return null;
    end $$`.execute(db);
  const triggers: [string, string, string][] = [
    ["search_pending_insert", "insert on reports", "search_pending_note"],
    [
      "search_pending_update",
      `update of ${INDEXED_COLUMNS} on reports`,
      "search_pending_note",
    ],
    [
      "search_pending_org_rename",
      "update of name on organizations",
      "search_pending_note_org",
    ],
    ["search_pending_delete", "delete on reports", "search_pending_forget"],
  ];
  for (const [name, event, fn] of triggers)
    await sql`create trigger ${sql.raw(name)} after ${sql.raw(event)}
      for each row execute function ${sql.raw(fn)}()`.execute(db);
}

async function downPostgres(db: Kysely<any>) {
  await sql`delete from reports_fts where rowid in (select report_id from search_pending)`.execute(
    db,
  );
  await sql`insert into reports_fts (rowid, document)
    select r.id,
      setweight(to_tsvector('simple', regexp_replace(r.public_id || ' ' || r.title, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
      setweight(to_tsvector('simple', regexp_replace(coalesce(o.name, r.suggested_org_name, '') || ' ' || r.asset, '[^[:alnum:]]+', ' ', 'g')), 'B') ||
      setweight(to_tsvector('simple', regexp_replace(r.description || ' ' || r.steps || ' ' || r.impact, '[^[:alnum:]]+', ' ', 'g')), 'C')
    from reports r left join organizations o on o.id = r.organization_id
    where r.id in (select report_id from search_pending)`.execute(db);
  for (const [trigger, table] of [
    ["search_pending_insert", "reports"],
    ["search_pending_update", "reports"],
    ["search_pending_org_rename", "organizations"],
    ["search_pending_delete", "reports"],
  ])
    await sql`drop trigger if exists ${sql.raw(trigger!)} on ${sql.raw(table!)}`.execute(
      db,
    );
  for (const fn of [
    "search_pending_note",
    "search_pending_note_org",
    "search_pending_forget",
  ])
    await sql`drop function if exists ${sql.raw(fn)}()`.execute(db);
  await sql`drop table search_pending`.execute(db);
  const triggers: [string, string][] = [
    ["search_version_insert", "insert on reports"],
    ["search_version_update", `update of ${INDEXED_COLUMNS} on reports`],
    ["search_version_org_rename", "update of name on organizations"],
  ];
  for (const [name, event] of triggers)
    await sql`create trigger ${sql.raw(name)} after ${sql.raw(event)}
      for each row execute function search_index_version_bump()`.execute(db);
}

const INDEXED_COLUMNS =
  "title, asset, description, steps, impact, organization_id, suggested_org_name";

/** A report as the index holds it (as in migration 2026-11-25-11-search). */
const ROW = (r: string) =>
  sql.raw(`
  ${r}.id, ${r}.public_id, ${r}.title,
  coalesce((select name from organizations where id = ${r}.organization_id), ${r}.suggested_org_name, ''),
  ${r}.asset,
  ${r}.description || ' ' || ${r}.steps || ' ' || ${r}.impact`);

const BUMP = sql.raw(
  "update search_index_version set version = version + 1 where id = 1;",
);

const drop = async (db: Kysely<any>, ...triggers: string[]) => {
  for (const trigger of triggers)
    await sql`drop trigger if exists ${sql.raw(trigger)}`.execute(db);
};

export async function up(db: Kysely<any>): Promise<void> {
  if (postgres(db)) return upPostgres(db);
  await sql`create table search_pending (report_id integer primary key)`.execute(
    db,
  );
  await drop(
    db,
    "reports_fts_insert",
    "reports_fts_update",
    "reports_fts_org_rename",
    "search_version_insert",
    "search_version_update",
    "search_version_org_rename",
  );
  await sql`create trigger search_pending_insert after insert on reports begin
    insert or ignore into search_pending (report_id) values (new.id);
  end`.execute(db);
  await sql`create trigger search_pending_update
    after update of ${sql.raw(INDEXED_COLUMNS)} on reports begin
    insert or ignore into search_pending (report_id) values (new.id);
  end`.execute(db);
  // A renamed organization is found under its new name.
  await sql`create trigger search_pending_org_rename after update of name on organizations begin
    insert or ignore into search_pending (report_id)
      select id from reports where organization_id = new.id;
  end`.execute(db);
  // Deleting stays immediate (reports_fts_delete and search_version_delete
  // are kept); nothing is left to index.
  await sql`create trigger search_pending_delete after delete on reports begin
    delete from search_pending where report_id = old.id;
  end`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (postgres(db)) return downPostgres(db);
  await sql`delete from reports_fts where rowid in (select report_id from search_pending)`.execute(
    db,
  );
  await sql`insert into reports_fts (rowid, public_id, title, organization, asset, body)
    select ${ROW("o")} from reports o where o.id in (select report_id from search_pending)`.execute(
    db,
  );
  await drop(
    db,
    "search_pending_insert",
    "search_pending_update",
    "search_pending_org_rename",
    "search_pending_delete",
  );
  await sql`drop table search_pending`.execute(db);
  await sql`create trigger reports_fts_insert after insert on reports begin
    insert into reports_fts (rowid, public_id, title, organization, asset, body)
    values (${ROW("new")});
  end`.execute(db);
  await sql`create trigger reports_fts_update
    after update of ${sql.raw(INDEXED_COLUMNS)} on reports begin
    delete from reports_fts where rowid = old.id;
    insert into reports_fts (rowid, public_id, title, organization, asset, body)
    values (${ROW("new")});
  end`.execute(db);
  await sql`create trigger reports_fts_org_rename after update of name on organizations begin
    delete from reports_fts where rowid in (select id from reports where organization_id = new.id);
    insert into reports_fts (rowid, public_id, title, organization, asset, body)
      select ${ROW("o")} from reports o where o.organization_id = new.id;
  end`.execute(db);
  await sql`create trigger search_version_insert after insert on reports begin ${BUMP} end`.execute(
    db,
  );
  await sql`create trigger search_version_update
    after update of ${sql.raw(INDEXED_COLUMNS)} on reports begin ${BUMP} end`.execute(
    db,
  );
  await sql`create trigger search_version_org_rename after update of name on organizations begin ${BUMP} end`.execute(
    db,
  );
}

// Frozen in time: a migration imports no app code.
// Reports are added to the full-text index in batches instead of in the
// transaction that writes them. Indexing one report per transaction made
// FTS5 write a new index segment at every commit and keep merging them: at a
// million reports 0.6–1.8 ms of a submission's commit, the largest cost of
// filing a report. The triggers now only note the report in search_pending;
// the app indexes what is noted before any search reads the index and every
// second (src/reports/list-repository.ts, indexPendingReports), so searches
// still see every report. search_index_version moves when a batch is indexed.
import { Kysely, sql } from "kysely";

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

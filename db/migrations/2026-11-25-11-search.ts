// Frozen in time: a migration imports no app code.
// Full-text search over reports (ID, title, organization, asset, text) with
// SQLite FTS5. The index is contentless (it keeps no second copy of the
// text, only the terms) and is kept in step by triggers, so every way a
// report is written or edited updates it in the same transaction.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

/**
 * PostgreSQL: a tsvector per report in a GIN index, the report ID and title
 * weighted A, organization and asset B, the text C. Its key is called rowid
 * as FTS5's, so the app's statements on it read alike; a deleted report
 * leaves it by the foreign key. It is filled by the app from search_pending
 * (migration 2026-11-30-02, src/db/dialect.ts indexReportsStatement), so no
 * triggers write it.
 */
async function upPostgres(db: Kysely<any>) {
  await sql`create table reports_fts (
    rowid bigint primary key references reports (id) on delete cascade,
    document tsvector not null
  )`.execute(db);
  await sql`create index reports_fts_document on reports_fts using gin (document)`.execute(
    db,
  );
  await sql`insert into reports_fts (rowid, document)
    select r.id,
      setweight(to_tsvector('simple', regexp_replace(r.public_id || ' ' || r.title, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
      setweight(to_tsvector('simple', regexp_replace(coalesce(o.name, r.suggested_org_name, '') || ' ' || r.asset, '[^[:alnum:]]+', ' ', 'g')), 'B') ||
      setweight(to_tsvector('simple', regexp_replace(r.description || ' ' || r.steps || ' ' || r.impact, '[^[:alnum:]]+', ' ', 'g')), 'C')
    from reports r left join organizations o on o.id = r.organization_id`.execute(
    db,
  );
}

const ROW = (r: "new" | "o") =>
  sql.raw(`
  ${r}.id, ${r}.public_id, ${r}.title,
  coalesce((select name from organizations where id = ${r}.organization_id), ${r}.suggested_org_name, ''),
  ${r}.asset,
  ${r}.description || ' ' || ${r}.steps || ' ' || ${r}.impact`);

export async function up(db: Kysely<any>): Promise<void> {
  if (postgres(db)) return upPostgres(db);
  await sql`create virtual table reports_fts using fts5(
    public_id, title, organization, asset, body,
    content = '', contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
  )`.execute(db);
  await sql`insert into reports_fts (rowid, public_id, title, organization, asset, body)
    select ${ROW("o")} from reports o`.execute(db);
  await sql`create trigger reports_fts_insert after insert on reports begin
    insert into reports_fts (rowid, public_id, title, organization, asset, body)
    values (${ROW("new")});
  end`.execute(db);
  await sql`create trigger reports_fts_update
    after update of title, asset, description, steps, impact, organization_id, suggested_org_name
    on reports begin
    delete from reports_fts where rowid = old.id;
    insert into reports_fts (rowid, public_id, title, organization, asset, body)
    values (${ROW("new")});
  end`.execute(db);
  await sql`create trigger reports_fts_delete after delete on reports begin
    delete from reports_fts where rowid = old.id;
  end`.execute(db);
  // A renamed organization is found under its new name.
  await sql`create trigger reports_fts_org_rename after update of name on organizations begin
    delete from reports_fts where rowid in (select id from reports where organization_id = new.id);
    insert into reports_fts (rowid, public_id, title, organization, asset, body)
      select ${ROW("o")} from reports o where o.organization_id = new.id;
  end`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (postgres(db)) {
    await sql`drop table if exists reports_fts`.execute(db);
    return;
  }
  for (const trigger of [
    "reports_fts_insert",
    "reports_fts_update",
    "reports_fts_delete",
    "reports_fts_org_rename",
  ])
    await sql`drop trigger if exists ${sql.raw(trigger)}`.execute(db);
  await sql`drop table if exists reports_fts`.execute(db);
}

// Frozen in time: a migration imports no app code.
// A search for "CWE-639" finds the reports whose weakness is CWE-639: the
// report's CWE is added to the text the full-text index keeps of it (after
// description, steps and impact; src/reports/list-repository.ts indexBatch),
// so a change of CWE must note the report for indexing too, and every
// report is noted once so the index takes in the CWEs of reports filed
// before. The app indexes what is noted in batches (search_pending).
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

const drop = (db: Kysely<any>) =>
  postgres(db)
    ? sql`drop trigger if exists search_pending_update on reports`.execute(db)
    : sql`drop trigger if exists search_pending_update`.execute(db);

const trigger = (db: Kysely<any>, columns: string) =>
  postgres(db)
    ? sql`create trigger search_pending_update
    after update of ${sql.raw(columns)} on reports
    for each row execute function search_pending_note()`.execute(db)
    : sql`create trigger search_pending_update
    after update of ${sql.raw(columns)} on reports begin
    insert or ignore into search_pending (report_id) values (new.id);
  end`.execute(db);

/** Every report noted for indexing. */
const noteAll = (db: Kysely<any>) =>
  postgres(db)
    ? sql`insert into search_pending (report_id)
    select id from reports on conflict do nothing`.execute(db)
    : sql`insert or ignore into search_pending (report_id)
    select id from reports`.execute(db);

export async function up(db: Kysely<any>): Promise<void> {
  await drop(db);
  await trigger(
    db,
    "title, asset, description, steps, impact, organization_id, suggested_org_name, cwe",
  );
  await noteAll(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await drop(db);
  await trigger(
    db,
    "title, asset, description, steps, impact, organization_id, suggested_org_name",
  );
  await noteAll(db);
}

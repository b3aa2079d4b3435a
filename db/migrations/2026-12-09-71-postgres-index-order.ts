// Frozen in time: a migration imports no app code.
// Indexes that give a page its order on SQLite but not on PostgreSQL, whose
// plans sorted instead (a Sort node; the query-plan tests found them):
// - The unassigned queue (/queue?assignee=none), by last activity and by
//   due date: SQLite takes `assignee_id is null` as an equality on the first
//   column of reports_assignee / reports_assignee_due; PostgreSQL does not,
//   and read every unassigned report and sorted them. Partial indexes of the
//   unassigned give it the rows in order.
// - The outbox claim (oldest due first, then by id): SQLite's outbox_due
//   (status, next_attempt_at) ends with the rowid, the id; PostgreSQL's does
//   not, and sorted each run of messages due at the same instant by id (a
//   backlog queued in one transaction is all due at once). It gets the id.
// SQLite needs nothing.
import { Kysely, PostgresAdapter, sql } from "kysely";

/** PostgreSQL (DATABASE_URL) takes its own SQL where SQLite's differs. */
const postgres = (db: Kysely<any>) =>
  db.getExecutor().adapter instanceof PostgresAdapter;

export async function up(db: Kysely<any>): Promise<void> {
  if (!postgres(db)) return;
  await sql`create index reports_unassigned_queue
    on reports (updated_at, id) where assignee_id is null`.execute(db);
  await sql`create index reports_unassigned_due
    on reports (queue_due_at, id) where assignee_id is null`.execute(db);
  await sql`drop index outbox_due`.execute(db);
  await sql`create index outbox_due
    on outbox (status, next_attempt_at, id)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!postgres(db)) return;
  await sql`drop index outbox_due`.execute(db);
  await sql`create index outbox_due
    on outbox (status, next_attempt_at)`.execute(db);
  await sql`drop index reports_unassigned_due`.execute(db);
  await sql`drop index reports_unassigned_queue`.execute(db);
}

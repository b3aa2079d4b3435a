// Frozen in time: a migration imports no app code.
// The queue of unassigned reports (/queue?assignee=none), by last activity
// and by due date, reads its page in order from reports_assignee and
// reports_assignee_due on SQLite, which takes `assignee_id is null` as an
// equality on the index's first column. PostgreSQL does not: it read every
// unassigned report through those indexes and sorted them (a Sort node in
// the plan). These partial indexes give it the rows in the page's order.
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
}

export async function down(db: Kysely<any>): Promise<void> {
  if (!postgres(db)) return;
  await sql`drop index reports_unassigned_due`.execute(db);
  await sql`drop index reports_unassigned_queue`.execute(db);
}

// Frozen in time: a migration imports no app code.
// Rate-limit counters every instance shares (issue 24): on PostgreSQL,
// several app processes count the same sign-in failures and comments. One
// row per limit and key (an account, a network address), for one fixed
// window: its hits and when the window ends (epoch milliseconds). On SQLite
// (one process) the counters stay in memory and this table stays empty.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("rate_limit_hits")
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("hits", "integer", (c) => c.notNull())
    .addColumn("reset_at", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("rate_limit_hits_pk", ["name", "key"])
    .execute();
  // The scheduler deletes the ended windows.
  await db.schema
    .createIndex("rate_limit_hits_reset_at")
    .on("rate_limit_hits")
    .column("reset_at")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("rate_limit_hits").execute();
}

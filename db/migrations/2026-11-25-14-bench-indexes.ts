// Frozen in time: imports no app code.
import { Kysely } from "kysely";

/*
 * Found with the benchmark (bench/README.md) at a million reports, 50,000
 * researchers and 500 organizations: the queue page and every new report's
 * notification list the active staff by role, which scanned the whole users
 * table; the queue and report pages list the organizations by name, which
 * sorted them on every request (the unique index is case-insensitive, the
 * ORDER BY is not, so it could not be used).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("users_role")
    .on("users")
    .columns(["role", "id"])
    .execute();
  await db.schema
    .createIndex("organizations_by_name")
    .on("organizations")
    .column("name")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("organizations_by_name").execute();
  await db.schema.dropIndex("users_role").execute();
}

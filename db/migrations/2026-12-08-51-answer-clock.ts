// Frozen in time: a migration imports no app code.
// Each organization's answer clock (issue 23): the scheduler walks, every
// minute, the participations notified and still silent, oldest notice
// first. A small partial index holds only those.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("participations_answer_clock")
    .on("participations")
    .columns(["notified_at"])
    .where(
      sql.raw<boolean>(
        "answered_at is null and removed_at is null and notified_at is not null",
      ),
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("participations_answer_clock").execute();
}

// Frozen in time: a migration imports no app code.
// Case facts as one-way flags with the time they became true (CERT/CC's
// Vultron case states: public aware, exploit public, attacks observed), and
// the coordinator's SSVC triage decision stored as JSON.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  for (const column of [
    "public_aware_at",
    "exploit_public_at",
    "attacks_observed_at",
  ])
    await db.schema
      .alterTable("reports")
      .addColumn(column, "integer")
      .execute();
  await db.schema.alterTable("reports").addColumn("ssvc", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of [
    "public_aware_at",
    "exploit_public_at",
    "attacks_observed_at",
    "ssvc",
  ])
    await db.schema.alterTable("reports").dropColumn(column).execute();
}

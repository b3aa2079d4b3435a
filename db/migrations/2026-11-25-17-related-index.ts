// Frozen in time: a migration imports no app code.
// The triager's duplicate hint looks up the same asset at the same
// organization (reports/repository.ts findPossibleDuplicates).
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("reports_org_asset")
    .on("reports")
    .columns(["organization_id", "asset", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("reports_org_asset").execute();
}

// Frozen in time: a migration imports no app code.
// An organization's open request to move the disclosure deadline.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("reports")
    .addColumn("extension_requested_to", "integer")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("reports")
    .dropColumn("extension_requested_to")
    .execute();
}

// Frozen in time: a migration imports no app code.
// A researcher may remove a file from their report until it is acknowledged
// (a file that shows a real person's data, attached by mistake). The row and
// the file stay, for CERT staff; removed_at hides it from everyone else.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("attachments")
    .addColumn("removed_at", "integer")
    .execute();
  await db.schema
    .alterTable("attachments")
    .addColumn("removed_by", "integer", (c) => c.references("users.id"))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ["removed_by", "removed_at"])
    await db.schema.alterTable("attachments").dropColumn(column).execute();
}

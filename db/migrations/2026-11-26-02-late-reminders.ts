// Frozen in time: a migration imports no app code.
// A reminder noticed long after its moment (the app was down for weeks, or
// an old database was upgraded) is recorded as handled without mail:
// `mailed` tells the two apart.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("reminders")
    .addColumn("mailed", "integer", (c) => c.notNull().defaultTo(1))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("reminders").dropColumn("mailed").execute();
}

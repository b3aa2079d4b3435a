// Frozen in time: a migration imports no app code.
// Credit in an advisory: the people the CERT proposes to thank, each with a
// CVE credit type (JSON list), and the researcher's answer before
// publication. And the researcher's open request that the CERT disclose.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("advisories")
    .addColumn("credits", "text")
    .execute();
  await db.schema
    .alterTable("advisories")
    .addColumn("credit_answer", "text", (c) => c.notNull().defaultTo("pending"))
    .execute();
  await db.schema
    .alterTable("advisories")
    .addColumn("credit_answered_at", "integer")
    .execute();
  await db.schema
    .alterTable("reports")
    .addColumn("disclosure_requested_at", "integer")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ["credits", "credit_answer", "credit_answered_at"])
    await db.schema.alterTable("advisories").dropColumn(column).execute();
  await db.schema
    .alterTable("reports")
    .dropColumn("disclosure_requested_at")
    .execute();
}

// Frozen in time: a migration imports no app code.
// Timeline entries written to one organization (issue 23): the audience
// column's check allowed only internal, researcher and everyone, so an
// entry for "the CERT and one organization" ("org") or "the CERT, the
// researcher and one organization" ("org_researcher", with
// audience_org_id) could not be written. A column's check cannot be
// changed in place in SQLite: the column is copied to one with the wider
// check, and the old one (its check with it) dropped. No index uses it.
import { Kysely, sql } from "kysely";

async function replaceAudience(
  db: Kysely<any>,
  allowed: readonly string[],
): Promise<void> {
  const list = sql.raw(allowed.map((a) => `'${a}'`).join(","));
  await db.schema
    .alterTable("report_events")
    .addColumn("audience_next", "text", (c) =>
      c
        .notNull()
        .defaultTo("everyone")
        .check(sql`audience_next in (${list})`),
    )
    .execute();
  await sql`update report_events set audience_next = audience`.execute(db);
  await db.schema.alterTable("report_events").dropColumn("audience").execute();
  await db.schema
    .alterTable("report_events")
    .renameColumn("audience_next", "audience")
    .execute();
}

export async function up(db: Kysely<any>): Promise<void> {
  await replaceAudience(db, [
    "internal",
    "researcher",
    "org",
    "org_researcher",
    "everyone",
  ]);
}

export async function down(db: Kysely<any>): Promise<void> {
  // An entry for one organization was read by its contacts and the CERT:
  // of the three audiences of before, "everyone" loses nobody who read it.
  await sql`update report_events set audience = 'everyone'
    where audience in ('org', 'org_researcher')`.execute(db);
  await replaceAudience(db, ["internal", "researcher", "everyone"]);
}

// Frozen in time: a migration imports no app code.
// Every timeline event gets an audience, decided when it is written:
// "internal" (CERT staff), "researcher" (the researcher and the CERT) or
// "everyone" (the researcher, the CERT and the organization's contacts).
// What was said before the organization was notified stays between the
// researcher and the CERT unless a triager shares it (shared_at, shared_by).
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("report_events")
    .addColumn("audience", "text", (c) =>
      c
        .notNull()
        .defaultTo("everyone")
        .check(sql`audience in ('internal','researcher','everyone')`),
    )
    .execute();
  await db.schema
    .alterTable("report_events")
    .addColumn("shared_at", "integer")
    .execute();
  await db.schema
    .alterTable("report_events")
    .addColumn("shared_by", "integer", (c) => c.references("users.id"))
    .execute();
  await sql`update report_events set audience = 'internal'
    where visibility = 'internal'`.execute(db);
  // Before the notice: every event older than the report's first
  // notify_vendor step, or, for a report notified without one on its
  // timeline, every event older than the notice's time.
  await sql`update report_events set audience = 'researcher'
    where visibility = 'public' and (
      (select r.vendor_notified_at from reports r
        where r.id = report_events.report_id) is null
      or report_events.id < (select min(n.id) from report_events n
        where n.report_id = report_events.report_id
          and n.kind = 'transition' and n.action = 'notify_vendor')
      or (not exists (select 1 from report_events n
            where n.report_id = report_events.report_id
              and n.kind = 'transition' and n.action = 'notify_vendor')
          and report_events.created_at < (select r.vendor_notified_at
            from reports r where r.id = report_events.report_id)))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("report_events").dropColumn("shared_by").execute();
  await db.schema.alterTable("report_events").dropColumn("shared_at").execute();
  await db.schema.alterTable("report_events").dropColumn("audience").execute();
}

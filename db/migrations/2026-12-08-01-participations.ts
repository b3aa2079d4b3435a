// Frozen in time: a migration imports no app code.
// Several organizations on one case (issue 23). Each organization taking
// part in a report has a participation: its own status, statement,
// tracking ID and clocks. Every report that had an organization becomes a
// case with that one participant, its status read from the report's state.
// reports.organization_id stays, kept by the app as the first participant
// (the lead), for the one-organization filters.
import { Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("participations")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("report_id", "integer", (c) =>
      c.notNull().references("reports.id").onDelete("cascade"),
    )
    .addColumn("organization_id", "integer", (c) =>
      c.notNull().references("organizations.id"),
    )
    // not_answered, investigating, affected, not_affected, fixed, disputed
    .addColumn("status", "text", (c) => c.notNull().defaultTo("not_answered"))
    // Why the organization disputes the report (status "disputed").
    .addColumn("status_reason", "text")
    .addColumn("status_changed_at", "integer")
    // The first answer other than "not yet answered": stops its answer clock.
    .addColumn("answered_at", "integer")
    // The organization's statement and references for the advisory.
    .addColumn("statement", "text")
    .addColumn("statement_references", "text")
    .addColumn("statement_updated_at", "integer")
    // A triager approved this version of the statement for publication.
    .addColumn("statement_approved_at", "integer")
    .addColumn("statement_approved_by", "integer")
    // The organization lets the other participants read its statement before publication.
    .addColumn("statement_shared", "integer", (c) => c.notNull().defaultTo(0))
    // The organization's own tracking ID (its lists, its mail subjects).
    .addColumn("tracking_id", "text")
    .addColumn("fix_target_at", "integer")
    // The researcher (or a triager) confirmed this organization's fix.
    .addColumn("fix_verified_at", "integer")
    .addColumn("added_at", "integer", (c) => c.notNull())
    .addColumn("added_by", "integer")
    .addColumn("notified_at", "integer")
    .addColumn("removed_at", "integer")
    .addColumn("removed_by", "integer")
    .addColumn("removed_reason", "text")
    .execute();
  await db.schema
    .createIndex("participations_report_org")
    .on("participations")
    .columns(["report_id", "organization_id"])
    .unique()
    .execute();
  await db.schema
    .createIndex("participations_org_report")
    .on("participations")
    .columns(["organization_id", "report_id"])
    .execute();

  // Opened by a triager: participants see each other's names and statuses.
  await db.schema
    .alterTable("reports")
    .addColumn("case_open", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  // The one organization an "org" or "org_researcher" message is written
  // to (a researcher's message shared with one organization becomes
  // "org_researcher" for it).
  await db.schema
    .alterTable("report_events")
    .addColumn("audience_org_id", "integer")
    .execute();
  // Inside an organization: its administrators, and whether every member
  // sees every case or only the cases they are given.
  await db.schema
    .alterTable("org_members")
    .addColumn("is_admin", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable("organizations")
    .addColumn("members_see_all", "integer", (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema
    .createTable("org_case_grants")
    .addColumn("org_id", "integer", (c) =>
      c.notNull().references("organizations.id").onDelete("cascade"),
    )
    .addColumn("user_id", "integer", (c) =>
      c.notNull().references("users.id").onDelete("cascade"),
    )
    .addColumn("report_id", "integer", (c) =>
      c.notNull().references("reports.id").onDelete("cascade"),
    )
    .addColumn("granted_at", "integer", (c) => c.notNull())
    .addColumn("granted_by", "integer")
    .addPrimaryKeyConstraint("org_case_grants_pk", [
      "user_id",
      "report_id",
      "org_id",
    ])
    .execute();

  await sql`
    INSERT INTO participations
      (report_id, organization_id, status, answered_at, status_changed_at,
       fix_verified_at, added_at, notified_at)
    SELECT id, organization_id,
      CASE
        WHEN vendor_notified_at IS NULL THEN 'not_answered'
        WHEN state IN ('fixed', 'fix_verified') THEN 'fixed'
        WHEN fix_verified_at IS NOT NULL THEN 'fixed'
        WHEN state = 'closed' AND resolution = 'resolved' THEN 'fixed'
        WHEN state = 'vendor_notified' THEN 'not_answered'
        WHEN state IN ('fix_in_progress', 'disclosed', 'closed') THEN 'affected'
        ELSE 'not_answered'
      END,
      CASE
        WHEN vendor_notified_at IS NULL OR state = 'vendor_notified' THEN NULL
        ELSE updated_at
      END,
      CASE
        WHEN vendor_notified_at IS NULL OR state = 'vendor_notified' THEN NULL
        ELSE updated_at
      END,
      fix_verified_at,
      COALESCE(vendor_notified_at, updated_at),
      vendor_notified_at
    FROM reports WHERE organization_id IS NOT NULL
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("org_case_grants").execute();
  await db.schema.dropTable("participations").execute();
  await db.schema.alterTable("reports").dropColumn("case_open").execute();
  await db.schema
    .alterTable("report_events")
    .dropColumn("audience_org_id")
    .execute();
  await db.schema.alterTable("org_members").dropColumn("is_admin").execute();
  await db.schema
    .alterTable("organizations")
    .dropColumn("members_see_all")
    .execute();
}

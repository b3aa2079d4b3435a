// Frozen in time: a migration imports no app code.
// Webhooks (issue 25): the endpoints admins register, one delivery row per
// (event, endpoint) written in the transaction of the change, and the log of
// each attempt to deliver it.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("webhook_endpoints")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("public_id", "text", (c) => c.notNull().unique())
    // Who registered it and answers for it: their access bounds what it hears.
    .addColumn("owner_id", "integer", (c) => c.notNull().references("users.id"))
    // Set for an organization's endpoint: only that organization's reports.
    .addColumn("org_id", "integer", (c) => c.references("organizations.id"))
    .addColumn("url", "text", (c) => c.notNull())
    .addColumn("description", "text", (c) => c.notNull().defaultTo(""))
    // The event types it subscribes to, as a JSON array.
    .addColumn("events", "text", (c) => c.notNull())
    // "whsec_<base64>": the signing key (Standard Webhooks).
    .addColumn("secret", "text", (c) => c.notNull())
    .addColumn("enabled", "integer", (c) => c.notNull().defaultTo(1))
    .addColumn("disabled_at", "integer")
    .addColumn("disabled_reason", "text")
    .addColumn("consecutive_failures", "integer", (c) =>
      c.notNull().defaultTo(0),
    )
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("secret_rotated_at", "integer")
    .execute();

  await db.schema
    .createTable("webhook_deliveries")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("endpoint_id", "integer", (c) =>
      c.notNull().references("webhook_endpoints.id").onDelete("cascade"),
    )
    // The event's ID, sent as webhook-id: the same on every attempt.
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("event_type", "text", (c) => c.notNull())
    .addColumn("report_id", "integer")
    // The exact body sent, fixed when the event happened.
    .addColumn("payload", "text", (c) => c.notNull())
    // queued, sending (claimed, with a lease), delivered, failed.
    .addColumn("status", "text", (c) => c.notNull().defaultTo("queued"))
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("next_attempt_at", "integer", (c) => c.notNull())
    .addColumn("lease_until", "integer")
    .addColumn("claim", "text")
    .addColumn("last_status", "integer")
    .addColumn("last_error", "text")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("delivered_at", "integer")
    .execute();
  // Delivered once per event ID per endpoint.
  await db.schema
    .createIndex("webhook_deliveries_event_endpoint")
    .on("webhook_deliveries")
    .columns(["event_id", "endpoint_id"])
    .unique()
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_due")
    .on("webhook_deliveries")
    .columns(["status", "next_attempt_at"])
    .execute();
  await db.schema
    .createIndex("webhook_deliveries_endpoint")
    .on("webhook_deliveries")
    .columns(["endpoint_id", "id"])
    .execute();

  await db.schema
    .createTable("webhook_attempts")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("delivery_id", "integer", (c) =>
      c.notNull().references("webhook_deliveries.id").onDelete("cascade"),
    )
    .addColumn("at", "integer", (c) => c.notNull())
    // Null: no answer (refused before connecting, timeout, dropped connection).
    .addColumn("status_code", "integer")
    .addColumn("error", "text")
    .addColumn("duration_ms", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("webhook_attempts_delivery")
    .on("webhook_attempts")
    .columns(["delivery_id", "id"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("webhook_attempts").execute();
  await db.schema.dropTable("webhook_deliveries").execute();
  await db.schema.dropTable("webhook_endpoints").execute();
}

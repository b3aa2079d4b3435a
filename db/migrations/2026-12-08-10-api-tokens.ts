// Frozen in time: a migration imports no app code.
// Personal access tokens for the JSON API (/api/v1), and the answers to
// writes sent with an Idempotency-Key, so a retried request is answered
// once more instead of being done twice.
import { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("api_tokens")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("public_id", "text", (c) => c.notNull().unique())
    .addColumn("user_id", "integer", (c) =>
      c.notNull().references("users.id").onDelete("cascade"),
    )
    .addColumn("name", "text", (c) => c.notNull())
    // SHA-256 of the whole token, hex: the token itself is never stored.
    .addColumn("token_hash", "text", (c) => c.notNull().unique())
    // Space-separated scopes.
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("expires_at", "integer", (c) => c.notNull())
    .addColumn("last_used_at", "integer")
    .addColumn("last_used_ip", "text")
    .addColumn("revoked_at", "integer")
    .execute();
  await db.schema
    .createIndex("api_tokens_user")
    .on("api_tokens")
    .column("user_id")
    .execute();
  await db.schema
    .createTable("api_idempotency")
    .addColumn("token_id", "integer", (c) =>
      c.notNull().references("api_tokens.id").onDelete("cascade"),
    )
    .addColumn("key", "text", (c) => c.notNull())
    // What was asked (method, path, body): the same key for another request is refused.
    .addColumn("request_hash", "text", (c) => c.notNull())
    // Null while the first request is still being answered.
    .addColumn("status", "integer")
    .addColumn("headers", "text")
    .addColumn("body", "text")
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("api_idempotency_pk", ["token_id", "key"])
    .execute();
  await db.schema
    .createIndex("api_idempotency_created")
    .on("api_idempotency")
    .column("created_at")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("api_idempotency").execute();
  await db.schema.dropTable("api_tokens").execute();
}

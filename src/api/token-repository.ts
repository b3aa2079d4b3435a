import type { DbOrTx } from "../db/index.js";

/* All SQL for personal access tokens and idempotent API writes. */

export interface ApiToken {
  id: number;
  publicId: string;
  userId: number;
  name: string;
  scopes: string[];
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  revokedAt: Date | null;
}

const COLUMNS = [
  "id",
  "public_id",
  "user_id",
  "name",
  "scopes",
  "created_at",
  "expires_at",
  "last_used_at",
  "last_used_ip",
  "revoked_at",
] as const;

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

function toToken(row: {
  id: number;
  public_id: string;
  user_id: number;
  name: string;
  scopes: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
}): ApiToken {
  return {
    id: row.id,
    publicId: row.public_id,
    userId: row.user_id,
    name: row.name,
    scopes: row.scopes.split(" ").filter(Boolean),
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    lastUsedAt: date(row.last_used_at),
    lastUsedIp: row.last_used_ip,
    revokedAt: date(row.revoked_at),
  };
}

export interface NewApiToken {
  publicId: string;
  userId: number;
  name: string;
  tokenHash: string;
  scopes: readonly string[];
  createdAt: Date;
  expiresAt: Date;
}

export async function insertApiToken(
  db: DbOrTx,
  token: NewApiToken,
): Promise<ApiToken> {
  const row = await db
    .insertInto("api_tokens")
    .values({
      public_id: token.publicId,
      user_id: token.userId,
      name: token.name,
      token_hash: token.tokenHash,
      scopes: token.scopes.join(" "),
      created_at: token.createdAt.getTime(),
      expires_at: token.expiresAt.getTime(),
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toToken(row);
}

export async function findApiTokenByHash(
  db: DbOrTx,
  tokenHash: string,
): Promise<ApiToken | undefined> {
  const row = await db
    .selectFrom("api_tokens")
    .select(COLUMNS)
    .where("token_hash", "=", tokenHash)
    .executeTakeFirst();
  return row && toToken(row);
}

/** A user's tokens, newest first, revoked ones included (they are history). */
export async function listApiTokens(
  db: DbOrTx,
  userId: number,
): Promise<ApiToken[]> {
  const rows = await db
    .selectFrom("api_tokens")
    .select(COLUMNS)
    .where("user_id", "=", userId)
    .orderBy("id", "desc")
    .execute();
  return rows.map(toToken);
}

/** Revokes one of the user's live tokens; undefined when there is none by that ID. */
export async function revokeApiToken(
  db: DbOrTx,
  userId: number,
  publicId: string,
  at: Date,
): Promise<ApiToken | undefined> {
  const row = await db
    .updateTable("api_tokens")
    .set({ revoked_at: at.getTime() })
    .where("user_id", "=", userId)
    .where("public_id", "=", publicId)
    .where("revoked_at", "is", null)
    .returning(COLUMNS)
    .executeTakeFirst();
  return row && toToken(row);
}

export async function markApiTokenUsed(
  db: DbOrTx,
  id: number,
  at: Date,
  ip: string | null,
): Promise<void> {
  await db
    .updateTable("api_tokens")
    .set({ last_used_at: at.getTime(), last_used_ip: ip })
    .where("id", "=", id)
    .execute();
}

// ---- idempotency keys ----

export interface StoredAnswer {
  requestHash: string;
  /** Null: the first request with this key is still being answered. */
  status: number | null;
  headers: Record<string, string>;
  body: string | null;
}

/**
 * Claims an Idempotency-Key for a token: true when this request is the
 * first with it (a row is written, to be completed with the answer), false
 * when the key was used before (read it with findAnswer).
 */
export async function claimIdempotencyKey(
  db: DbOrTx,
  tokenId: number,
  key: string,
  requestHash: string,
  at: Date,
): Promise<boolean> {
  const result = await db
    .insertInto("api_idempotency")
    .values({
      token_id: tokenId,
      key,
      request_hash: requestHash,
      created_at: at.getTime(),
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

export async function findAnswer(
  db: DbOrTx,
  tokenId: number,
  key: string,
): Promise<StoredAnswer | undefined> {
  const row = await db
    .selectFrom("api_idempotency")
    .select(["request_hash", "status", "headers", "body"])
    .where("token_id", "=", tokenId)
    .where("key", "=", key)
    .executeTakeFirst();
  return (
    row && {
      requestHash: row.request_hash,
      status: row.status,
      headers: row.headers
        ? (JSON.parse(row.headers) as Record<string, string>)
        : {},
      body: row.body,
    }
  );
}

export async function storeAnswer(
  db: DbOrTx,
  tokenId: number,
  key: string,
  answer: { status: number; headers: Record<string, string>; body: string },
): Promise<void> {
  await db
    .updateTable("api_idempotency")
    .set({
      status: answer.status,
      headers: JSON.stringify(answer.headers),
      body: answer.body,
    })
    .where("token_id", "=", tokenId)
    .where("key", "=", key)
    .execute();
}

/** A request that failed before answering frees its key for a retry. */
export async function releaseIdempotencyKey(
  db: DbOrTx,
  tokenId: number,
  key: string,
): Promise<void> {
  await db
    .deleteFrom("api_idempotency")
    .where("token_id", "=", tokenId)
    .where("key", "=", key)
    .where("status", "is", null)
    .execute();
}

export async function pruneIdempotencyKeys(
  db: DbOrTx,
  before: Date,
): Promise<void> {
  await db
    .deleteFrom("api_idempotency")
    .where("created_at", "<", before.getTime())
    .execute();
}

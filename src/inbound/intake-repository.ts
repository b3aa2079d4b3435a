import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";

/** The reports-by-email record (src/inbound/intake.ts); tokens arrive hashed. */
export interface EmailReport {
  reportId: number;
  sender: string;
  claimExpiresAt: Date;
  claimedAt: Date | null;
  claimedBy: number | null;
  createdAt: Date;
}

const INTAKE_EMAIL_LOCAL = "intake-account";

/** The system account that holds reports by email until claimed. */
export async function findIntakeAccountId(
  db: DbOrTx,
): Promise<number | undefined> {
  const row = await db
    .selectFrom("users")
    .select("id")
    .where("system_account", "=", 1)
    .orderBy("id")
    .executeTakeFirst();
  return row?.id;
}

/**
 * Inserts the intake account: disabled, no password, an address under
 * `.invalid` (RFC 2606: never deliverable), confirmed so that it may file.
 */
export async function insertIntakeAccount(
  db: DbOrTx,
  account: { publicId: string; at: Date },
): Promise<number> {
  const at = account.at.getTime();
  const row = await db
    .insertInto("users")
    .values({
      public_id: account.publicId,
      email: `${INTAKE_EMAIL_LOCAL}@system.invalid`,
      display_name: "Reporter by email",
      role: "researcher",
      password_hash: null,
      created_at: at,
      email_verified_at: at,
      disabled_at: at,
      notify: "none",
      system_account: 1,
    })
    .onConflict((oc) => oc.column("email").doNothing())
    .returning("id")
    .executeTakeFirst();
  if (row) return row.id;
  return (await findIntakeAccountId(db))!;
}

export async function insertEmailReport(
  db: DbOrTx,
  row: {
    reportId: number;
    sender: string;
    claimTokenHash: string;
    claimExpiresAt: Date;
    replyTokenHash: string;
    at: Date;
  },
) {
  await db
    .insertInto("email_reports")
    .values({
      report_id: row.reportId,
      sender: row.sender,
      claim_token_hash: row.claimTokenHash,
      claim_expires_at: row.claimExpiresAt.getTime(),
      reply_token_hash: row.replyTokenHash,
      created_at: row.at.getTime(),
    })
    .execute();
}

type Row = {
  report_id: number;
  sender: string;
  claim_expires_at: number;
  claimed_at: number | null;
  claimed_by: number | null;
  created_at: number;
};

const toEmailReport = (r: Row): EmailReport => ({
  reportId: r.report_id,
  sender: r.sender,
  claimExpiresAt: new Date(r.claim_expires_at),
  claimedAt: r.claimed_at === null ? null : new Date(r.claimed_at),
  claimedBy: r.claimed_by,
  createdAt: new Date(r.created_at),
});

const COLUMNS = [
  "report_id",
  "sender",
  "claim_expires_at",
  "claimed_at",
  "claimed_by",
  "created_at",
] as const;

export async function findEmailReportByClaimHash(db: DbOrTx, hash: string) {
  const row = await db
    .selectFrom("email_reports")
    .select(COLUMNS)
    .where("claim_token_hash", "=", hash)
    .executeTakeFirst();
  return row && toEmailReport(row);
}

export async function findEmailReportByReplyHash(db: DbOrTx, hash: string) {
  const row = await db
    .selectFrom("email_reports")
    .select(COLUMNS)
    .where("reply_token_hash", "=", hash)
    .executeTakeFirst();
  return row && toEmailReport(row);
}

export async function findEmailReport(db: DbOrTx, reportId: number) {
  const row = (await emailReportOf(db, reportId)).rows[0];
  return row && toEmailReport(row);
}

// Read on every report page a triager opens: built once.
const emailReportOf = preparedQuery((db, reportId: number) =>
  db
    .selectFrom("email_reports")
    .select(COLUMNS)
    .where("report_id", "=", reportId),
);

/** Reports by email filed since a moment: from one sender, or from anyone. */
export async function countEmailReportsSince(
  db: DbOrTx,
  since: Date,
  sender?: string,
): Promise<number> {
  let query = db
    .selectFrom("email_reports")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("created_at", ">=", since.getTime());
  if (sender !== undefined) query = query.where("sender", "=", sender);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

/**
 * Hands an unclaimed report to an account, once: the claim row is taken
 * only while unused, and the report and its entries move from the intake
 * account to the claimer. Returns false if it was claimed meanwhile.
 */
export async function claimEmailReport(
  db: DbOrTx,
  claim: { reportId: number; intakeId: number; userId: number; at: Date },
): Promise<boolean> {
  const taken = await db
    .updateTable("email_reports")
    .set({ claimed_at: claim.at.getTime(), claimed_by: claim.userId })
    .where("report_id", "=", claim.reportId)
    .where("claimed_at", "is", null)
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) !== 1) return false;
  await db
    .updateTable("reports")
    .set({ reporter_id: claim.userId })
    .where("id", "=", claim.reportId)
    .where("reporter_id", "=", claim.intakeId)
    .execute();
  // What the sender wrote by email is theirs on the timeline too.
  await db
    .updateTable("report_events")
    .set({ actor_id: claim.userId })
    .where("report_id", "=", claim.reportId)
    .where("actor_id", "=", claim.intakeId)
    .execute();
  await db
    .updateTable("attachments")
    .set({ owner_id: claim.userId })
    .where("report_id", "=", claim.reportId)
    .where("owner_id", "=", claim.intakeId)
    .execute();
  return true;
}

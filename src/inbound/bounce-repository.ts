import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";

/** The outbox row a delivery report is about. */
export async function findOutboxForBounce(db: DbOrTx, id: number) {
  const row = await db
    .selectFrom("outbox")
    .select(["id", "to_address", "report_id"])
    .where("id", "=", id)
    .executeTakeFirst();
  return (
    row && { id: row.id, toAddress: row.to_address, reportId: row.report_id }
  );
}

export async function markOutboxBounced(
  db: DbOrTx,
  id: number,
  bounce: { at: Date | null; status: string; reason: string },
) {
  await db
    .updateTable("outbox")
    .set({
      bounced_at: bounce.at?.getTime() ?? null,
      bounce_status: bounce.status,
      bounce_reason: bounce.reason,
    })
    .where("id", "=", id)
    .execute();
}

/** Hard bounces (5.x.x) of mail to one address since a moment. */
export async function countHardBounces(
  db: DbOrTx,
  address: string,
  since: Date,
): Promise<number> {
  const row = await db
    .selectFrom("outbox")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("to_address", "=", address)
    .where("bounced_at", ">=", since.getTime())
    .where("bounce_status", "like", "5.%")
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Flags the accounts with this address, keeping an earlier flag's date. */
export async function flagBouncing(db: DbOrTx, address: string, at: Date) {
  await db
    .updateTable("users")
    .set({ mail_bouncing_since: at.getTime() })
    .where("email", "=", address.toLowerCase())
    .where("mail_bouncing_since", "is", null)
    .execute();
}

export async function clearBouncing(db: DbOrTx, address: string) {
  await db
    .updateTable("users")
    .set({ mail_bouncing_since: null })
    .where("email", "=", address.toLowerCase())
    .where("mail_bouncing_since", "is not", null)
    .execute();
}

/** An organization's contacts whose mail bounces. */
// Read on every report page a triager opens: built once per list length.
const bouncingQuery = preparedQuery((db, orgIds: readonly number[]) =>
  db
    .selectFrom("users")
    .innerJoin("org_members", "org_members.user_id", "users.id")
    .select(["users.email", "users.mail_bouncing_since", "org_members.org_id"])
    .where("org_members.org_id", "in", orgIds)
    .where("users.mail_bouncing_since", "is not", null)
    .where("users.disabled_at", "is", null)
    .orderBy("users.email"),
);

export async function bouncingContactsOf(db: DbOrTx, orgIds: number[]) {
  if (orgIds.length === 0) return [];
  const { rows } = await bouncingQuery(db, orgIds);
  return rows.map((r) => ({
    orgId: r.org_id,
    email: r.email,
    since: new Date(r.mail_bouncing_since!),
  }));
}

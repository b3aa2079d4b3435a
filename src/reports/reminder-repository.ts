import type { DbOrTx } from "../db/index.js";
import { findReportById } from "./repository.js";
import type { Report } from "./types.js";

/** The clocks the scheduler watches, each with the state that stops it. */
export type Clock = "ack" | "triage" | "disclosure" | "info";

const CLOCKS = {
  ack: { column: "ack_due_at", states: ["submitted"] },
  triage: { column: "triage_due_at", states: ["acknowledged"] },
  disclosure: {
    column: "disclosure_due_at",
    states: ["vendor_notified", "fix_in_progress", "fixed"],
  },
  info: { column: "info_requested_at", states: ["needs_info"] },
} as const;

/**
 * Reports still waiting on a clock whose time is at or before `upTo` and
 * that have not had this reminder for this deadline yet, oldest first, in
 * batches (the partial indexes of migration 12 serve it).
 */
export async function findReportsNeedingReminder(
  db: DbOrTx,
  clock: Clock,
  kind: string,
  upTo: number,
  limit: number,
): Promise<Report[]> {
  const { column, states } = CLOCKS[clock];
  const rows = await db
    .selectFrom("reports as r")
    .select("r.id")
    .where("r.state", "in", [...states])
    .where(`r.${column}`, "<=", upTo)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom("reminders as m")
            .select("m.report_id")
            .whereRef("m.report_id", "=", "r.id")
            .where("m.kind", "=", kind)
            .whereRef("m.due_at", "=", `r.${column}`),
        ),
      ),
    )
    .orderBy(`r.${column}`)
    .limit(limit)
    .execute();
  const reports: Report[] = [];
  for (const { id } of rows) {
    const report = await findReportById(db, id);
    if (report) reports.push(report);
  }
  return reports;
}

/**
 * Records a reminder as sent; false when it was already (by an earlier run,
 * or another process), so each reminder goes out once.
 */
export async function claimReminder(
  db: DbOrTx,
  reportId: number,
  kind: string,
  dueAt: number,
  at: Date,
): Promise<boolean> {
  const result = await db
    .insertInto("reminders")
    .values({ report_id: reportId, kind, due_at: dueAt, sent_at: at.getTime() })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

export async function listReminders(db: DbOrTx, reportId: number) {
  return db
    .selectFrom("reminders")
    .select(["kind", "due_at", "sent_at"])
    .where("report_id", "=", reportId)
    .orderBy("sent_at")
    .execute();
}

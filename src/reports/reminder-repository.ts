import { sql } from "kysely";
import { indexedBy } from "../db/dialect.js";
import type { DbOrTx } from "../db/index.js";
import { findReportById } from "./repository.js";
import { CLOCKS, ORG_ANSWER_CLOCK } from "./clocks.js";
import type { Report } from "./types.js";
import type { State } from "./workflow.js";

/**
 * The clocks the scheduler watches: the column it walks (the due date, or
 * for a request for information the moment it was made) and that column's
 * partial index over the clock's states (clocks.ts).
 */
const WATCHED = {
  ack: { column: "ack_due_at", index: "reports_ack_clock" },
  triage: { column: "triage_due_at", index: "reports_triage_clock" },
  disclosure: {
    column: "disclosure_due_at",
    index: "reports_disclosure_clock",
  },
  info: { column: "info_requested_at", index: "reports_info_clock" },
} as const;
export type Clock = keyof typeof WATCHED;

/**
 * `r.state` in the clock's states, as SQL text with the states written
 * literally, as in the partial indexes' definitions (migrations 05 and 12),
 * or SQLite cannot prove an index applies.
 */
export function stateInLiteral(states: readonly State[]) {
  return sql.raw<boolean>(
    states.length === 1
      ? `r.state = '${states[0]}'`
      : `r.state in (${states.map((s) => `'${s}'`).join(", ")})`,
  );
}

/**
 * Reports still waiting on a clock whose time is at or before `upTo` and
 * that have not had this reminder for this deadline yet, oldest first, in
 * batches, walking the clock's partial index of migration 12. The states are
 * written literally and the index named: with the states as parameters
 * SQLite cannot use a partial index, and without statistics it preferred the
 * state index and read every report in those states (0.2–0.5 s, on the event
 * loop, for each of the scheduler's eight queries a minute, at a million
 * reports; 15 ms this way).
 */
export async function findReportsNeedingReminder(
  db: DbOrTx,
  clock: Clock,
  kind: string,
  upTo: number,
  limit: number,
): Promise<Report[]> {
  const { column, index } = WATCHED[clock];
  const col = sql.raw(`r.${column}`);
  const inStates = stateInLiteral(CLOCKS[clock].runsIn);
  const { rows } = await sql<{ id: number }>`
    select r.id from reports as r ${indexedBy(db, index)}
    where ${inStates} and ${col} <= ${upTo}
      and not exists (
        select 1 from reminders as m
        where m.report_id = r.id and m.kind = ${kind} and m.due_at = ${col})
    order by ${col}
    limit ${limit}`.execute(db);
  const reports: Report[] = [];
  for (const { id } of rows) {
    const report = await findReportById(db, id);
    if (report) reports.push(report);
  }
  return reports;
}

/**
 * Records a reminder as handled (mailed, or skipped as too late); false when
 * it was already (by an earlier run, or another process), so each reminder
 * goes out once.
 */
export async function claimReminder(
  db: DbOrTx,
  reportId: number,
  kind: string,
  dueAt: number,
  at: Date,
  mailed = true,
): Promise<boolean> {
  const result = await db
    .insertInto("reminders")
    .values({
      report_id: reportId,
      kind,
      due_at: dueAt,
      sent_at: at.getTime(),
      mailed: mailed ? 1 : 0,
    })
    .onConflict((oc) => oc.doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
}

/** One organization on a case whose answer is due and not yet reminded (reminders.ts). */
export interface OrgAnswerDue {
  reportId: number;
  organizationId: number;
  organizationName: string;
  notifiedAt: Date;
}

/** The reminders row's kind for one organization's answer: the key holds the organization. */
export const orgAnswerKind = (organizationId: number) =>
  `org_answer:${organizationId}`;

/**
 * Participations notified before `notifiedUpTo`, still silent (no
 * answer), still on the case, on a report in the clock's states, and not yet
 * reminded for this notice, oldest first, in batches.
 */
export async function findOrgAnswersNeedingReminder(
  db: DbOrTx,
  notifiedUpTo: number,
  limit: number,
): Promise<OrgAnswerDue[]> {
  const inStates = stateInLiteral(ORG_ANSWER_CLOCK.runsIn);
  const { rows } = await sql<{
    report_id: number;
    organization_id: number;
    name: string;
    notified_at: number;
  }>`
    select p.report_id, p.organization_id, o.name, p.notified_at
    from participations as p
    join reports as r on r.id = p.report_id
    join organizations as o on o.id = p.organization_id
    where p.answered_at is null and p.removed_at is null
      and p.notified_at is not null and p.notified_at < ${notifiedUpTo}
      and ${inStates}
      and not exists (
        select 1 from reminders as m
        where m.report_id = p.report_id
          and m.kind = 'org_answer:' || p.organization_id
          and m.due_at = p.notified_at)
    order by p.notified_at
    limit ${limit}`.execute(db);
  return rows.map((r) => ({
    reportId: r.report_id,
    organizationId: r.organization_id,
    organizationName: r.name,
    notifiedAt: new Date(r.notified_at),
  }));
}

export async function listReminders(db: DbOrTx, reportId: number) {
  return db
    .selectFrom("reminders")
    .select(["kind", "due_at", "sent_at", "mailed"])
    .where("report_id", "=", reportId)
    .orderBy("sent_at")
    .execute();
}

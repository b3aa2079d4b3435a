/**
 * The report's clocks as one pure table: for each, the states it runs in,
 * the moment it counts from and the setting that gives its length. The
 * report page, the queue's overdue filter, the reminders' SQL, the
 * statistics and the test fixtures all read it. No I/O here.
 *
 * A clock runs only in its states. In any other it is stopped: no page
 * says it is due, no queue flags it, no reminder goes out. Two decisions:
 * - Triage counts from the acknowledgment (the setting reads "triage an
 *   acknowledged report within"), so it runs only while acknowledged. A
 *   report nobody has acknowledged is late for acknowledgment, not for
 *   triage. Filing sets a triage date already, as if acknowledged at once:
 *   a report triaged without acknowledgment keeps it, for the statistics.
 * - Disclosure stops when the fix is verified: from then on the only step
 *   left is the CERT's (close or publish), not the organization's.
 */
import { DAY, HOUR } from "../clock.js";
import type { Config } from "../config.js";
import type { Report } from "./types.js";
import type { State } from "./workflow.js";

export type ClockSettings = Config["clocks"];

export const CLOCK_NAMES = [
  "ack",
  "triage",
  "fix",
  "disclosure",
  "info",
] as const;
export type ClockName = (typeof CLOCK_NAMES)[number];

/** What a clock reads from a report. */
export type ClockFacts = Pick<
  Report,
  | "state"
  | "severity"
  | "ackDueAt"
  | "triageDueAt"
  | "disclosureDueAt"
  | "vendorNotifiedAt"
  | "infoRequestedAt"
>;

export interface ClockDef {
  /** Its name at the start of a sentence: "Triage overdue by 2 days". */
  label: string;
  runsIn: readonly State[];
  /** The moment it counts from, in words (the README's table). */
  countsFrom: string;
  /** Its length from the settings; null when it has none (no severity). */
  days: (
    settings: ClockSettings,
    severity: Report["severity"],
  ) => number | null;
  /**
   * Where its due date comes from: kept on the report when the clock
   * starts (a later change of setting leaves it), or computed on reading
   * from the moment it started.
   */
  due:
    | { kept: "ackDueAt" | "triageDueAt" | "disclosureDueAt" }
    | { from: "vendorNotifiedAt" | "infoRequestedAt" };
}

export const CLOCKS: Record<ClockName, ClockDef> = {
  ack: {
    label: "Acknowledgment",
    runsIn: ["submitted"],
    countsFrom: "submission",
    days: (s) => s.ackDueDays,
    due: { kept: "ackDueAt" },
  },
  triage: {
    label: "Triage",
    runsIn: ["acknowledged"],
    countsFrom: "acknowledgment",
    days: (s) => s.triageDueDays,
    due: { kept: "triageDueAt" },
  },
  fix: {
    label: "Fix target",
    runsIn: ["vendor_notified", "fix_in_progress"],
    countsFrom: "the organization's notice",
    days: (s, severity) =>
      severity && severity !== "none" ? s.remediationDays[severity] : null,
    due: { from: "vendorNotifiedAt" },
  },
  disclosure: {
    label: "Disclosure",
    runsIn: ["vendor_notified", "fix_in_progress", "fixed"],
    countsFrom: "the organization's notice",
    days: (s) => s.disclosureDays,
    due: { kept: "disclosureDueAt" },
  },
  // Its reminder comes after infoReminderDays; at its due date the report
  // closes as invalid.
  info: {
    label: "Answer",
    runsIn: ["needs_info"],
    countsFrom: "the request for information",
    days: (s) => s.infoExpiryDays,
    due: { from: "infoRequestedAt" },
  },
};

/** The stored "next deadline" of a report on no running clock: sorts after every date. */
export const NO_DEADLINE = 8_640_000_000_000_000;

/**
 * The soonest due date among the clocks running in the report's state (the
 * queue's "due" order and column), or null when none runs.
 */
export function nextDeadline(
  report: ClockFacts,
  settings: ClockSettings,
): { clock: ClockName; at: Date } | null {
  let next: { clock: ClockName; at: Date } | null = null;
  for (const clock of CLOCK_NAMES) {
    if (!isRunning(clock, report.state)) continue;
    const at = dueAt(clock, report, settings);
    if (at && (!next || at.getTime() < next.at.getTime())) next = { clock, at };
  }
  return next;
}

/** The clocks the CERT itself must meet: the queue flags them when late. */
export const CERT_CLOCKS = ["ack", "triage"] as const satisfies ClockName[];

export function isRunning(clock: ClockName, state: State): boolean {
  return CLOCKS[clock].runsIn.includes(state);
}

/** The due date of a clock starting at `start`, by the settings of now. */
export function dueFrom(
  clock: ClockName,
  start: Date,
  settings: ClockSettings,
  severity: Report["severity"] = null,
): Date | null {
  const days = CLOCKS[clock].days(settings, severity);
  return days === null ? null : new Date(start.getTime() + days * DAY);
}

/** When the report's clock is due, whether or not it runs now. */
export function dueAt(
  clock: ClockName,
  report: ClockFacts,
  settings: ClockSettings,
): Date | null {
  const { due } = CLOCKS[clock];
  if ("kept" in due) return report[due.kept];
  const start = report[due.from];
  return start && dueFrom(clock, start, settings, report.severity);
}

function plural(n: number, word: string) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * A span in whole units, always rounded down: "2 days", "5 hours", "less
 * than an hour". 2 days and 20 hours left is "due in 2 days" (never more
 * time than there is), 3 days and 5 hours late "overdue by 3 days".
 */
export function spanText(ms: number): string {
  if (ms >= DAY) return plural(Math.floor(ms / DAY), "day");
  if (ms >= HOUR) return plural(Math.floor(ms / HOUR), "hour");
  return "less than an hour";
}

export interface DueText {
  overdue: boolean;
  /** "Triage due in 3 days", "Disclosure overdue by 2 days". */
  text: string;
}

export function dueText(clock: ClockName, due: Date, now: Date): DueText {
  const late = now.getTime() - due.getTime();
  const overdue = late > 0;
  const { label } = CLOCKS[clock];
  return {
    overdue,
    text: overdue
      ? `${label} overdue by ${spanText(late)}`
      : `${label} due in ${spanText(-late)}`,
  };
}

/**
 * Each organization's answer, a clock per participation (not per report,
 * so not in CLOCKS): it counts from that organization's notice, for
 * `orgAnswerDays`, and stops at its first answer (any status past "not yet
 * answered": answered_at), when it leaves the case, or when the report is
 * in none of the states where organizations are expected to speak (the
 * disclosure clock's). Silence is not "not affected": a silent
 * organization is overdue, reminded once, and counted in the queue.
 */
export const ORG_ANSWER_CLOCK = {
  label: "Organization's answer",
  runsIn: CLOCKS.disclosure.runsIn,
  countsFrom: "that organization's notice",
  days: (s: ClockSettings) => s.orgAnswerDays,
} as const;

/** What the answer clock reads of one participation. */
export interface OrgAnswerFacts {
  notifiedAt: Date | null;
  answeredAt: Date | null;
  removedAt?: Date | null;
}

/** When the organization's answer is due, or null while its clock does not run. */
export function orgAnswerDue(
  state: State,
  participation: OrgAnswerFacts,
  settings: ClockSettings,
): Date | null {
  if (
    !ORG_ANSWER_CLOCK.runsIn.includes(state) ||
    participation.notifiedAt === null ||
    participation.answeredAt !== null ||
    (participation.removedAt ?? null) !== null
  )
    return null;
  return new Date(
    participation.notifiedAt.getTime() + ORG_ANSWER_CLOCK.days(settings) * DAY,
  );
}

/** Overdue now: its clock runs and its due date has passed. */
export function orgAnswerOverdue(
  state: State,
  participation: OrgAnswerFacts,
  settings: ClockSettings,
  now: Date,
): boolean {
  const due = orgAnswerDue(state, participation, settings);
  return due !== null && due.getTime() < now.getTime();
}

import type { Logger } from "pino";
import { whileHoldingLockIfFree } from "../db/dialect.js";
import type { DbOrTx } from "../db/index.js";
import { DAY } from "../clock.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { repeat } from "../repeat.js";
import {
  notifyReportEvent,
  REMINDER_MAIL,
  type ReminderKind,
} from "../mail/notifications.js";
import {
  claimReminder,
  findOrgAnswersNeedingReminder,
  findReportsNeedingReminder,
  orgAnswerKind,
  type Clock,
} from "./reminder-repository.js";
import { ORG_ANSWER_CLOCK } from "./clocks.js";
import { findReportById } from "./repository.js";
import { deleteAbandonedUploads } from "./attachments.js";
import { pruneExpiredSessions } from "../auth/session-store.js";
import { pruneRateLimitCounters } from "../http/rate-limits.js";
import { applyTransition } from "./service.js";
import type { Report } from "./types.js";
import { planTransition, type Audience } from "./workflow.js";

/*
 * The scheduler: a loop in the app process (no cron) that mails what is due.
 * Each reminder is claimed in the reminders table in the same transaction as
 * its outbox rows, so it goes out exactly once even across restarts or with
 * two processes; a run only does what is due at the injected clock's "now",
 * so tests move the clock and run it.
 */

const BATCH = 200;

/**
 * A reminder noticed more than this long after its moment is recorded
 * without mail: after weeks of downtime, or when an old database is upgraded,
 * a flood of stale "due in 7 days" mail helps nobody (the queue and report
 * pages show what is overdue anyway). Closing an unanswered request still
 * happens, with its notice.
 */
export const LATE_REMINDER_CUTOFF_MS = 7 * DAY;

interface Rule {
  kind: ReminderKind;
  clock: Clock;
  /** How long before (negative: after) the clock's time it is due. */
  leadMs: (deps: Pick<Deps, "settings">) => number;
  audiences: readonly Audience[];
  /** Reminders for the same deadline that this one makes pointless. */
  supersedes?: readonly ReminderKind[];
}

// Order matters: the latest disclosure reminder first, so one that comes
// late (the app was down) is sent alone and the earlier ones are skipped.
const RULES: readonly Rule[] = [
  { kind: "ack_overdue", clock: "ack", leadMs: () => 0, audiences: ["triage"] },
  {
    kind: "triage_overdue",
    clock: "triage",
    leadMs: () => 0,
    audiences: ["triage"],
  },
  {
    kind: "disclosure_passed",
    clock: "disclosure",
    leadMs: () => 0,
    audiences: ["org", "triage"],
    supersedes: ["disclosure_1", "disclosure_7", "disclosure_30"],
  },
  {
    kind: "disclosure_1",
    clock: "disclosure",
    leadMs: () => DAY,
    audiences: ["org", "triage"],
    supersedes: ["disclosure_7", "disclosure_30"],
  },
  {
    kind: "disclosure_7",
    clock: "disclosure",
    leadMs: () => 7 * DAY,
    audiences: ["org", "triage"],
    supersedes: ["disclosure_30"],
  },
  {
    kind: "disclosure_30",
    clock: "disclosure",
    leadMs: () => 30 * DAY,
    audiences: ["org", "triage"],
  },
  {
    kind: "info_expired",
    clock: "info",
    leadMs: (d) => -d.settings.clocks().infoExpiryDays * DAY,
    // Mailed as the workflow step it takes (changes.ts: expire_info).
    audiences: [],
    supersedes: ["info_reminder"],
  },
  {
    kind: "info_reminder",
    clock: "info",
    leadMs: (d) => -d.settings.clocks().infoReminderDays * DAY,
    audiences: ["reporter"],
  },
];

function clockTime(report: Report, clock: Clock): Date | null {
  switch (clock) {
    case "ack":
      return report.ackDueAt;
    case "triage":
      return report.triageDueAt;
    case "disclosure":
      return report.disclosureDueAt;
    case "info":
      return report.infoRequestedAt;
  }
}

function detailFor(rule: Rule, time: Date): string {
  switch (rule.clock) {
    case "ack":
      return `Acknowledgment was due ${formatDateTime(time)}.`;
    case "triage":
      return `Triage was due ${formatDateTime(time)}.`;
    case "disclosure":
      return `Disclosure deadline: ${formatDateTime(time)}.`;
    case "info":
      return `The information was requested ${formatDateTime(time)}.`;
  }
}

/**
 * A request for information unanswered too long: the app itself takes the
 * workflow's expire_info step, which closes the report as invalid.
 */
async function closeUnanswered(
  tx: DbOrTx,
  deps: Pick<Deps, "db" | "clock" | "config" | "settings">,
  report: Report,
  now: Date,
  mailDetail: string,
): Promise<boolean> {
  const decision = planTransition(
    report,
    "system",
    "expire_info",
    {
      message:
        "Closed automatically: the request for information went unanswered.",
    },
    now,
  );
  if (!decision.ok) return false;
  return applyTransition(tx, deps, {
    report,
    plan: decision.plan,
    actor: null,
    at: now,
    request: null,
    mailDetail,
  });
}

/** Sends every reminder due now; returns how many went out. */
export async function runDueReminders(
  deps: Pick<Deps, "db" | "clock" | "config" | "settings">,
): Promise<number> {
  const now = deps.clock.now();
  let sent = 0;
  for (const rule of RULES) {
    for (;;) {
      const lead = rule.leadMs(deps);
      const upTo = now.getTime() + lead;
      const due = await findReportsNeedingReminder(
        deps.db,
        rule.clock,
        rule.kind,
        upTo,
        BATCH,
      );
      for (const report of due) {
        const time = clockTime(report, rule.clock)!;
        const late =
          rule.kind !== "info_expired" &&
          now.getTime() - (time.getTime() - lead) > LATE_REMINDER_CUTOFF_MS;
        const mailed = await deps.db.transaction().execute(async (tx) => {
          if (
            !(await claimReminder(
              tx,
              report.id,
              rule.kind,
              time.getTime(),
              now,
              !late,
            ))
          )
            return false;
          for (const earlier of rule.supersedes ?? [])
            await claimReminder(
              tx,
              report.id,
              earlier,
              time.getTime(),
              now,
              false,
            );
          if (late) return false;
          const kind = rule.kind;
          if (kind === "info_expired")
            return closeUnanswered(
              tx,
              deps,
              report,
              now,
              detailFor(rule, time),
            );
          const current = (await findReportById(tx, report.id))!;
          await notifyReportEvent(tx, deps, {
            kind,
            report: current,
            actorId: null,
            audiences: rule.audiences,
            mail: REMINDER_MAIL[kind],
            detail: detailFor(rule, time),
          });
          return true;
        });
        if (mailed) sent++;
      }
      if (due.length < BATCH) break;
    }
  }
  return sent + (await remindSilentOrganizations(deps, now));
}

/**
 * One reminder per participation whose answer is overdue, to that
 * organization's contacts and the triage side, once. The reminders table
 * is keyed by report, kind and due moment: the kind names the organization
 * ("org_answer:<id>", no new column: the key already says "once per
 * organization and notice") and the moment is its notice, so a change of
 * the setting does not remind again, and an organization removed and added
 * again is reminded of its new notice. The mail is written as to "the CERT
 * and that organization", so the policy's filter keeps every other
 * organization's contacts (and the researcher) out of it.
 */
async function remindSilentOrganizations(
  deps: Pick<Deps, "db" | "clock" | "config" | "settings">,
  now: Date,
): Promise<number> {
  const length = ORG_ANSWER_CLOCK.days(deps.settings.clocks()) * DAY;
  let sent = 0;
  for (;;) {
    const due = await findOrgAnswersNeedingReminder(
      deps.db,
      now.getTime() - length,
      BATCH,
    );
    for (const silent of due) {
      const dueAt = new Date(silent.notifiedAt.getTime() + length);
      const late = now.getTime() - dueAt.getTime() > LATE_REMINDER_CUTOFF_MS;
      const mailed = await deps.db.transaction().execute(async (tx) => {
        if (
          !(await claimReminder(
            tx,
            silent.reportId,
            orgAnswerKind(silent.organizationId),
            silent.notifiedAt.getTime(),
            now,
            !late,
          ))
        )
          return false;
        if (late) return false;
        const current = (await findReportById(tx, silent.reportId))!;
        await notifyReportEvent(tx, deps, {
          kind: "org_answer",
          report: current,
          actorId: null,
          eventAudience: {
            audience: "org",
            audienceOrgId: silent.organizationId,
          },
          audiences: ["org", "triage"],
          mail: REMINDER_MAIL.org_answer,
          detail: `${silent.organizationName} was notified ${formatDateTime(silent.notifiedAt)}; its answer was due ${formatDateTime(dueAt)}.`,
        });
        return true;
      });
      if (mailed) sent++;
    }
    if (due.length < BATCH) break;
  }
  return sent;
}

/** Runs the scheduler every `schedulerIntervalMs` until stopped; a run never overlaps the next. */
export function startScheduler(
  deps: Pick<Deps, "db" | "clock" | "config" | "settings">,
  logger: Logger,
) {
  return repeat(
    deps.config.schedulerIntervalMs,
    // Several instances (PostgreSQL): one runs a round, the others skip it.
    async () => {
      await whileHoldingLockIfFree(deps.db, "scheduler", async () => {
        const n = await runDueReminders(deps);
        if (n) logger.info({ reminders: n }, "reminders sent");
        const removed = await deleteAbandonedUploads(deps);
        if (removed) logger.info({ removed }, "abandoned uploads deleted");
        await pruneExpiredSessions(deps);
        await pruneRateLimitCounters(deps);
      });
    },
    (err) => logger.error({ err }, "reminder run failed"),
  );
}

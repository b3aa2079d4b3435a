import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { DAY, HOUR } from "../../src/clock.js";
import {
  CLOCK_NAMES,
  dueAt,
  dueFrom,
  dueText,
  isRunning,
  spanText,
  type ClockFacts,
  type ClockName,
  type ClockSettings,
} from "../../src/reports/clocks.js";
import { STATES, type State } from "../../src/reports/workflow.js";

/**
 * The expected table, written out by hand from DESIGN.md and the README's
 * disclosure-policy table (not derived from clocks.ts): clock → the states
 * it runs in.
 */
const RUNS_IN: Record<ClockName, State[]> = {
  ack: ["submitted"],
  // From the acknowledgment: a report not yet acknowledged is late for
  // acknowledgment only.
  triage: ["acknowledged"],
  fix: ["vendor_notified", "fix_in_progress"],
  // Stops when the fix is verified.
  disclosure: ["vendor_notified", "fix_in_progress", "fixed"],
  info: ["needs_info"],
};

const SETTINGS: ClockSettings = {
  ackDueDays: 3,
  triageDueDays: 10,
  disclosureDays: 90,
  infoReminderDays: 7,
  infoExpiryDays: 30,
  remediationDays: { critical: 7, high: 30, medium: 90, low: 120 },
  orgAnswerDays: 7,
};

const T0 = new Date("2026-03-02T09:00:00Z");
const plus = (days: number) => new Date(T0.getTime() + days * DAY);

describe("clocks (pure)", () => {
  describe("which clock runs in which state", () => {
    for (const clock of CLOCK_NAMES)
      for (const state of STATES)
        it(`${clock} ${RUNS_IN[clock].includes(state) ? "runs" : "stops"} in ${state}`, () => {
          assert.equal(isRunning(clock, state), RUNS_IN[clock].includes(state));
        });
  });

  describe("due dates from the settings", () => {
    const cases: [ClockName, string | null, number | null][] = [
      ["ack", null, 3],
      ["triage", null, 10],
      ["disclosure", null, 90],
      ["info", null, 30],
      ["fix", "critical", 7],
      ["fix", "high", 30],
      ["fix", "medium", 90],
      ["fix", "low", 120],
      ["fix", "none", null],
      ["fix", null, null],
    ];
    for (const [clock, severity, days] of cases)
      it(`${clock}${severity === null ? "" : ` (${severity})`}: ${days ?? "no"} days`, () => {
        assert.deepEqual(
          dueFrom(clock, T0, SETTINGS, severity as ClockFacts["severity"]),
          days === null ? null : plus(days),
        );
      });
  });

  describe("a report's due date: kept when the clock started, or computed", () => {
    const report: ClockFacts = {
      state: "fix_in_progress",
      severity: "high",
      ackDueAt: plus(3),
      triageDueAt: plus(12),
      disclosureDueAt: plus(100),
      vendorNotifiedAt: plus(5),
      infoRequestedAt: plus(1),
    };
    const cases: [ClockName, Date][] = [
      ["ack", plus(3)],
      ["triage", plus(12)],
      // Kept: a deadline moved by a triager is not the setting's.
      ["disclosure", plus(100)],
      ["fix", plus(5 + 30)],
      ["info", plus(1 + 30)],
    ];
    for (const [clock, expected] of cases)
      it(clock, () => {
        assert.deepEqual(dueAt(clock, report, SETTINGS), expected);
      });
    it("no start, no date", () => {
      const unstarted = { ...report, vendorNotifiedAt: null };
      assert.equal(dueAt("fix", unstarted, SETTINGS), null);
    });
  });

  describe("in plain words, always rounded down", () => {
    const cases: [ClockName, number, string, boolean][] = [
      ["ack", 3 * DAY, "Acknowledgment due in 3 days", false],
      ["triage", 2 * DAY + 20 * HOUR, "Triage due in 2 days", false],
      ["disclosure", DAY, "Disclosure due in 1 day", false],
      ["fix", 5 * HOUR + 59 * 60_000, "Fix target due in 5 hours", false],
      ["ack", 0, "Acknowledgment due in less than an hour", false],
      ["ack", -1, "Acknowledgment overdue by less than an hour", true],
      ["ack", -12 * HOUR, "Acknowledgment overdue by 12 hours", true],
      ["triage", -(DAY + 3 * HOUR), "Triage overdue by 1 day", true],
      ["fix", -(2 * DAY + 23 * HOUR), "Fix target overdue by 2 days", true],
    ];
    for (const [clock, left, text, overdue] of cases)
      it(text, () => {
        const due = new Date(T0.getTime() + left);
        assert.deepEqual(dueText(clock, due, T0), { overdue, text });
      });
    it("spans", () => {
      assert.equal(spanText(HOUR), "1 hour");
      assert.equal(spanText(2 * HOUR), "2 hours");
      assert.equal(spanText(59 * 60_000), "less than an hour");
    });
  });
});

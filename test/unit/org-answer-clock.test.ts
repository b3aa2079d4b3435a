import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  orgAnswerDue,
  orgAnswerOverdue,
  type ClockSettings,
} from "../../src/reports/clocks.js";

const DAY = 86_400_000;
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

describe("an organization's answer clock (pure)", () => {
  const silent = { notifiedAt: T0, answeredAt: null };

  it("counts from that organization's notice, for the setting's days", () => {
    assert.deepEqual(
      orgAnswerDue("vendor_notified", silent, SETTINGS),
      plus(7),
    );
    assert.deepEqual(
      orgAnswerDue("fix_in_progress", silent, {
        ...SETTINGS,
        orgAnswerDays: 14,
      }),
      plus(14),
    );
  });

  it("is overdue only after its due moment", () => {
    assert.equal(
      orgAnswerOverdue("vendor_notified", silent, SETTINGS, plus(7)),
      false,
    );
    assert.equal(
      orgAnswerOverdue(
        "vendor_notified",
        silent,
        SETTINGS,
        new Date(plus(7).getTime() + 1),
      ),
      true,
    );
  });

  it("does not run before the notice, after an answer, once removed, or outside the organizations' states", () => {
    assert.equal(
      orgAnswerDue("triaged", { notifiedAt: null, answeredAt: null }, SETTINGS),
      null,
    );
    assert.equal(
      orgAnswerDue(
        "vendor_notified",
        { notifiedAt: T0, answeredAt: plus(1) },
        SETTINGS,
      ),
      null,
    );
    assert.equal(
      orgAnswerDue(
        "vendor_notified",
        { notifiedAt: T0, answeredAt: null, removedAt: plus(1) },
        SETTINGS,
      ),
      null,
    );
    for (const state of [
      "closed",
      "disclosed",
      "fix_verified",
      "triaged",
    ] as const)
      assert.equal(
        orgAnswerOverdue(state, silent, SETTINGS, plus(30)),
        false,
        state,
      );
    assert.equal(orgAnswerOverdue("fixed", silent, SETTINGS, plus(30)), true);
  });
});

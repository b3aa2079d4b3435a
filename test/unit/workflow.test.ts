import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { Relation } from "../../src/auth/policy.js";
import {
  availableTransitions,
  planTransition,
  STATES,
  TRANSITION_NAMES,
  type State,
  type TransitionName,
  type WorkflowReport,
} from "../../src/reports/workflow.js";

const RELATIONS: readonly Relation[] = [
  "staff",
  "reporter",
  "org_contact",
  "none",
];

/**
 * The expected table, written out by hand from DESIGN.md (not derived from
 * workflow.ts): transition → [states it starts from, relations that may take it].
 */
const OPEN: State[] = [
  "submitted",
  "acknowledged",
  "needs_info",
  "triaged",
  "vendor_notified",
  "fix_in_progress",
  "fixed",
  "fix_verified",
];
const EXPECTED: Record<TransitionName, [State[], Relation[]]> = {
  acknowledge: [["submitted"], ["staff"]],
  request_info: [["submitted", "acknowledged", "triaged"], ["staff"]],
  provide_info: [["needs_info"], ["reporter"]],
  triage: [["submitted", "acknowledged"], ["staff"]],
  notify_vendor: [["triaged"], ["staff"]],
  vendor_acknowledge: [["vendor_notified"], ["org_contact", "staff"]],
  mark_fixed: [
    ["vendor_notified", "fix_in_progress"],
    ["org_contact", "staff"],
  ],
  verify_fix: [["fixed"], ["reporter", "staff"]],
  reject_fix: [["fixed"], ["reporter", "staff"]],
  close: [OPEN, ["staff"]],
  withdraw: [
    ["submitted", "acknowledged", "needs_info", "triaged"],
    ["reporter"],
  ],
  publish: [["fix_verified", "closed"], ["staff"]],
  reopen: [["closed"], ["staff"]],
};

function report(
  state: State,
  overrides: Partial<WorkflowReport> = {},
): WorkflowReport {
  return {
    state,
    stateBeforeInfo: state === "needs_info" ? "acknowledged" : null,
    organizationId: 7,
    resolution: state === "closed" ? "resolved" : null,
    ...overrides,
  };
}

/** Input that satisfies every transition's own requirements. */
const complete = { message: "because", resolution: "resolved" as const };

describe("workflow: every state × relation × transition", () => {
  for (const name of TRANSITION_NAMES) {
    const [from, by] = EXPECTED[name];
    for (const state of STATES) {
      for (const relation of RELATIONS) {
        const allowed = from.includes(state) && by.includes(relation);
        it(`${relation} ${allowed ? "may" : "may not"} ${name} from ${state}`, () => {
          const result = planTransition(
            report(state),
            relation,
            name,
            complete,
          );
          assert.equal(result.ok, allowed);
          const offered = availableTransitions(report(state), relation).some(
            (t) => t.name === name,
          );
          assert.equal(
            offered,
            allowed,
            "the buttons shown match what is allowed",
          );
        });
      }
    }
  }
});

describe("workflow: what each transition needs and does", () => {
  it("leads where DESIGN.md says", () => {
    const to = (
      name: TransitionName,
      from: State,
      relation: Relation = "staff",
    ) => {
      const r = planTransition(report(from), relation, name, complete);
      assert.ok(r.ok);
      return r.plan.to;
    };
    assert.equal(to("acknowledge", "submitted"), "acknowledged");
    assert.equal(to("request_info", "triaged"), "needs_info");
    assert.equal(to("triage", "acknowledged"), "triaged");
    assert.equal(to("notify_vendor", "triaged"), "vendor_notified");
    assert.equal(
      to("vendor_acknowledge", "vendor_notified", "org_contact"),
      "fix_in_progress",
    );
    assert.equal(to("mark_fixed", "fix_in_progress", "org_contact"), "fixed");
    assert.equal(to("verify_fix", "fixed", "reporter"), "fix_verified");
    assert.equal(to("reject_fix", "fixed", "reporter"), "fix_in_progress");
    assert.equal(to("close", "fix_verified"), "closed");
    assert.equal(to("withdraw", "submitted", "reporter"), "closed");
    assert.equal(to("publish", "fix_verified"), "disclosed");
    assert.equal(to("reopen", "closed"), "triaged");
  });

  it("returns an answered request for information to the state before it", () => {
    const asked = planTransition(report("triaged"), "staff", "request_info", {
      message: "?",
    });
    assert.ok(asked.ok);
    assert.equal(asked.plan.stateBeforeInfo, "triaged");
    const answered = planTransition(
      report("needs_info", { stateBeforeInfo: "triaged" }),
      "reporter",
      "provide_info",
      { message: "here" },
    );
    assert.ok(answered.ok);
    assert.equal(answered.plan.to, "triaged");
    assert.equal(answered.plan.stateBeforeInfo, null);
  });

  it("requires a message where the step needs one", () => {
    for (const [name, state, relation] of [
      ["request_info", "submitted", "staff"],
      ["provide_info", "needs_info", "reporter"],
      ["reject_fix", "fixed", "reporter"],
      ["reopen", "closed", "staff"],
    ] as const) {
      const r = planTransition(report(state), relation, name, {
        message: "   ",
      });
      assert.equal(r.ok, false, name);
      if (!r.ok) assert.equal(r.field, "message");
    }
  });

  it("closes only with a resolution, and a duplicate only with its original", () => {
    const none = planTransition(report("triaged"), "staff", "close", {});
    assert.ok(!none.ok && none.field === "resolution");
    const withdrawn = planTransition(report("triaged"), "staff", "close", {
      resolution: "withdrawn",
    });
    assert.ok(!withdrawn.ok, "only the researcher withdraws");
    const dup = planTransition(report("triaged"), "staff", "close", {
      resolution: "duplicate",
    });
    assert.ok(!dup.ok && dup.field === "duplicateOf");
    const named = planTransition(report("triaged"), "staff", "close", {
      resolution: "duplicate",
      duplicateOfId: 41,
    });
    assert.ok(named.ok);
    assert.equal(named.plan.duplicateOfId, 41);
    assert.equal(named.plan.resolution, "duplicate");
  });

  it("marks a withdrawal as withdrawn and clears the resolution on reopen", () => {
    const w = planTransition(
      report("acknowledged"),
      "reporter",
      "withdraw",
      {},
    );
    assert.ok(w.ok && w.plan.resolution === "withdrawn");
    const r = planTransition(report("closed"), "staff", "reopen", {
      message: "new evidence",
    });
    assert.ok(r.ok && r.plan.resolution === null);
  });

  it("needs the organization before triage and notification, and starts the clock on notification", () => {
    const noOrg = planTransition(
      report("acknowledged", { organizationId: null }),
      "staff",
      "triage",
      {},
    );
    assert.ok(!noOrg.ok && noOrg.field === "organization");
    const notify = planTransition(
      report("triaged"),
      "staff",
      "notify_vendor",
      {},
    );
    assert.ok(notify.ok && notify.plan.startsDisclosureClock);
    const ack = planTransition(report("submitted"), "staff", "acknowledge", {});
    assert.ok(ack.ok && !ack.plan.startsDisclosureClock);
  });

  it("publishes a closed report only when it was resolved", () => {
    for (const resolution of [
      "invalid",
      "duplicate",
      "wont_fix",
      "withdrawn",
      "out_of_scope",
    ] as const) {
      const r = planTransition(
        report("closed", { resolution }),
        "staff",
        "publish",
        {},
      );
      assert.equal(r.ok, false, resolution);
    }
  });

  it("notifies the organization only from notification on", () => {
    for (const name of ["acknowledge", "request_info", "triage"] as const) {
      const state = name === "acknowledge" ? "submitted" : "acknowledged";
      const r = planTransition(report(state), "staff", name, complete);
      assert.ok(r.ok);
      assert.ok(!r.plan.notify.includes("org"), name);
    }
  });

  it("publishes early, before the fix is verified, only once the public is aware", () => {
    for (const state of [
      "vendor_notified",
      "fix_in_progress",
      "fixed",
    ] as const) {
      const base = {
        state,
        stateBeforeInfo: null,
        organizationId: 1,
        resolution: null,
      };
      assert.equal(planTransition(base, "staff", "publish").ok, false, state);
      const aware = {
        ...base,
        publicAwareAt: new Date("2026-03-01T00:00:00Z"),
      };
      assert.equal(planTransition(aware, "staff", "publish").ok, true, state);
      assert.equal(planTransition(aware, "org_contact", "publish").ok, false);
      assert.equal(planTransition(aware, "reporter", "publish").ok, false);
    }
    const submitted = {
      state: "submitted" as const,
      stateBeforeInfo: null,
      organizationId: 1,
      resolution: null,
      publicAwareAt: new Date(),
    };
    assert.equal(planTransition(submitted, "staff", "publish").ok, false);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "mocha";
import type { Relation } from "../../src/auth/policy.js";
import {
  advisoryInPlay,
  availableTransitions,
  planTransition,
  publicationBlocker,
  STATES,
  TRANSITION_NAMES,
  TRANSITIONS,
  type State,
  type TransitionInput,
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
  // Taken by the app itself, never by a person (below).
  expire_info: [["needs_info"], []],
};

const NOW = new Date("2026-06-01T12:00:00Z");
const BEFORE = new Date("2026-03-01T12:00:00Z");
const LATER = new Date("2026-08-30T12:00:00Z");
const NOTIFIED: State[] = [
  "vendor_notified",
  "fix_in_progress",
  "fixed",
  "fix_verified",
  "closed",
];

/** A report with the history its state implies; the deadline still running. */
function report(
  state: State,
  overrides: Partial<WorkflowReport> = {},
): WorkflowReport {
  const notified = NOTIFIED.includes(state);
  const verified = state === "fix_verified" || state === "closed";
  return {
    state,
    stateBeforeInfo: state === "needs_info" ? "acknowledged" : null,
    organizationId: 7,
    severity: "high",
    resolution: state === "closed" ? "resolved" : null,
    vendorNotifiedAt: notified ? BEFORE : null,
    disclosureDueAt: notified ? LATER : null,
    fixVerifiedAt: verified ? BEFORE : null,
    publicAwareAt: null,
    ...overrides,
  };
}

const plan = (
  r: WorkflowReport,
  relation: Relation,
  name: TransitionName,
  // Publishing asks for a confirmation; the rules below are about the rest.
  input: TransitionInput = { confirmed: true },
) => planTransition(r, relation, name, input, NOW);

/** Input that satisfies every transition's own requirements. */
const complete = {
  message: "because",
  resolution: "wont_fix" as const,
  confirmed: true,
};

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
            NOW,
          );
          assert.equal(result.ok, allowed);
          const offered = availableTransitions(
            report(state),
            relation,
            NOW,
          ).some((t) => t.name === name);
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
      const r = plan(report(from), relation, name, complete);
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

  it("lets only the app itself close a request for information that went unanswered, as invalid", () => {
    const r = planTransition(
      report("needs_info"),
      "system",
      "expire_info",
      {},
      NOW,
    );
    assert.ok(r.ok);
    assert.equal(r.plan.to, "closed");
    assert.equal(r.plan.resolution, "invalid");
    assert.equal(r.plan.stateBeforeInfo, null);
    for (const state of STATES.filter((s) => s !== "needs_info"))
      assert.equal(
        planTransition(report(state), "system", "expire_info", {}, NOW).ok,
        false,
        state,
      );
    // The app takes no step of a person's.
    assert.equal(
      planTransition(report("needs_info"), "system", "close", complete, NOW).ok,
      false,
    );
  });

  it("returns an answered request for information to the state before it", () => {
    const asked = plan(report("triaged"), "staff", "request_info", {
      message: "?",
    });
    assert.ok(asked.ok);
    assert.equal(asked.plan.stateBeforeInfo, "triaged");
    const answered = plan(
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
      const r = plan(report(state), relation, name, {
        message: "   ",
      });
      assert.equal(r.ok, false, name);
      if (!r.ok) assert.equal(r.field, "message");
    }
  });

  it("closes only with a resolution, and a duplicate only with its original", () => {
    const none = plan(report("triaged"), "staff", "close", {});
    assert.ok(!none.ok && none.field === "resolution");
    const withdrawn = plan(report("triaged"), "staff", "close", {
      resolution: "withdrawn",
    });
    assert.ok(!withdrawn.ok, "only the researcher withdraws");
    const dup = plan(report("triaged"), "staff", "close", {
      resolution: "duplicate",
    });
    assert.ok(!dup.ok && dup.field === "duplicateOf");
    const named = plan(report("triaged"), "staff", "close", {
      resolution: "duplicate",
      duplicateOfId: 41,
    });
    assert.ok(named.ok);
    assert.equal(named.plan.duplicateOfId, 41);
    assert.equal(named.plan.resolution, "duplicate");
  });

  it("marks a withdrawal as withdrawn and clears the resolution on reopen", () => {
    const w = plan(report("acknowledged"), "reporter", "withdraw", {});
    assert.ok(w.ok && w.plan.resolution === "withdrawn");
    const r = plan(report("closed"), "staff", "reopen", {
      message: "new evidence",
    });
    assert.ok(r.ok && r.plan.resolution === null);
  });

  it("needs the organization before triage and notification, and starts the clock on notification", () => {
    const noOrg = plan(
      report("acknowledged", { organizationId: null }),
      "staff",
      "triage",
      {},
    );
    assert.ok(!noOrg.ok && noOrg.field === "organization");
    const notify = plan(report("triaged"), "staff", "notify_vendor", {});
    assert.ok(notify.ok && notify.plan.startsDisclosureClock);
    const ack = plan(report("submitted"), "staff", "acknowledge", {});
    assert.ok(ack.ok && !ack.plan.startsDisclosureClock);
  });

  it("needs a severity before triage, named like the organization, and not again to notify", () => {
    const unscored = plan(
      report("acknowledged", { severity: null }),
      "staff",
      "triage",
      {},
    );
    assert.ok(!unscored.ok);
    assert.equal(unscored.field, "cvss");
    assert.match(unscored.error, /severity/);
    const neither = plan(
      report("submitted", { severity: null, organizationId: null }),
      "staff",
      "triage",
      {},
    );
    assert.ok(!neither.ok && neither.field === "organization");
    assert.ok(plan(report("acknowledged"), "staff", "triage", {}).ok);
    assert.ok(
      plan(report("triaged", { severity: null }), "staff", "notify_vendor", {})
        .ok,
      "a reopened report keeps going with what it has",
    );
  });

  it("publishes only with an explicit confirmation: it cannot be undone", () => {
    const unconfirmed = plan(report("fix_verified"), "staff", "publish", {});
    assert.ok(!unconfirmed.ok && unconfirmed.field === "confirm");
    assert.ok(
      plan(report("fix_verified"), "staff", "publish", { confirmed: true }).ok,
    );
    assert.ok(
      plan(report("fix_verified"), "staff", "close", {
        resolution: "wont_fix",
      }).ok,
      "closing is dangerous, not irreversible: it can be reopened",
    );
  });

  it("marks the steps that end, undo or expose a case as dangerous", () => {
    const dangerous = TRANSITION_NAMES.filter((n) => TRANSITIONS[n].danger);
    assert.deepEqual(dangerous, ["close", "withdraw", "publish", "reopen"]);
    assert.deepEqual(
      TRANSITION_NAMES.filter((n) => TRANSITIONS[n].irreversible),
      ["publish"],
    );
  });

  it("has an advisory in play only from triage on, and not for a report closed as never published", () => {
    const cases: [State, Partial<WorkflowReport>, boolean][] = [
      ["submitted", {}, false],
      ["acknowledged", {}, false],
      ["needs_info", {}, false],
      ["triaged", {}, true],
      ["vendor_notified", {}, true],
      ["fix_verified", {}, true],
      ["closed", { resolution: "resolved" }, true],
      ["closed", { resolution: "wont_fix" }, true],
      ["closed", { resolution: "invalid" }, false],
      ["closed", { resolution: "wont_fix", vendorNotifiedAt: null }, false],
      ["disclosed", {}, true],
    ];
    for (const [state, overrides, expected] of cases)
      assert.equal(
        advisoryInPlay(report(state, overrides)),
        expected,
        `${state} ${JSON.stringify(overrides)}`,
      );
  });

  it("publishes a closed report only when it was resolved or won't be fixed", () => {
    for (const resolution of [
      "invalid",
      "duplicate",
      "withdrawn",
      "out_of_scope",
    ] as const) {
      const r = plan(report("closed", { resolution }), "staff", "publish");
      assert.equal(r.ok, false, resolution);
    }
  });

  it("notifies the organization only from notification on", () => {
    for (const name of ["acknowledge", "request_info", "triage"] as const) {
      const state = name === "acknowledge" ? "submitted" : "acknowledged";
      const r = plan(report(state), "staff", name, complete);
      assert.ok(r.ok);
      assert.ok(!r.plan.notify.includes("org"), name);
    }
  });

  it("publishes early, before the fix is verified, only once the public is aware or the deadline passed", () => {
    for (const state of [
      "vendor_notified",
      "fix_in_progress",
      "fixed",
    ] as const) {
      const base = report(state);
      assert.equal(plan(base, "staff", "publish").ok, false, state);
      const aware = { ...base, publicAwareAt: BEFORE };
      assert.equal(plan(aware, "staff", "publish").ok, true, state);
      assert.equal(plan(aware, "org_contact", "publish").ok, false);
      assert.equal(plan(aware, "reporter", "publish").ok, false);
      const due = { ...base, disclosureDueAt: BEFORE };
      assert.equal(plan(due, "staff", "publish").ok, true, state);
    }
    const submitted = report("submitted", { publicAwareAt: new Date() });
    assert.equal(plan(submitted, "staff", "publish").ok, false);
  });
});

describe("workflow: what publication and a resolved close rest on", () => {
  it("closes as resolved only once the fix was verified", () => {
    for (const state of OPEN.filter((s) => s !== "fix_verified")) {
      const r = plan(report(state), "staff", "close", {
        resolution: "resolved",
      });
      assert.ok(!r.ok, state);
      if (!r.ok) {
        assert.equal(r.field, "resolution");
        assert.match(r.error, /verified/);
      }
      assert.ok(
        plan(report(state), "staff", "close", { resolution: "wont_fix" }).ok,
        state,
      );
    }
    assert.ok(
      plan(report("fix_verified"), "staff", "close", { resolution: "resolved" })
        .ok,
    );
    // A report reopened after its fix was verified has it verified again first.
    assert.ok(
      !plan(report("triaged", { fixVerifiedAt: null }), "staff", "close", {
        resolution: "resolved",
      }).ok,
    );
  });

  it("records when the fix was verified, and forgets it on reopen", () => {
    const verified = plan(report("fixed"), "reporter", "verify_fix");
    assert.ok(verified.ok && verified.plan.fixVerified === "now");
    const reopened = plan(report("closed"), "staff", "reopen", {
      message: "it came back",
    });
    assert.ok(reopened.ok && reopened.plan.fixVerified === "clear");
    const other = plan(report("fixed"), "staff", "reject_fix", {
      message: "still there",
    });
    assert.ok(other.ok && other.plan.fixVerified === "keep");
  });

  // [resolution, notified, fix verified, deadline passed, public aware] → may publish
  const closedCases: [
    WorkflowReport["resolution"],
    boolean,
    boolean,
    boolean,
    boolean,
    boolean,
  ][] = [
    ["resolved", true, true, false, false, true],
    ["wont_fix", false, false, false, false, false],
    ["wont_fix", false, false, false, true, false],
    ["wont_fix", true, false, false, false, false],
    ["wont_fix", true, false, true, false, true],
    ["wont_fix", true, false, false, true, true],
    // Closed as resolved before this rule, from a state the fix never reached.
    ["resolved", false, false, false, false, false],
    ["resolved", true, false, false, false, false],
    ["invalid", true, false, true, true, false],
    ["duplicate", true, false, true, true, false],
    ["out_of_scope", true, false, true, true, false],
    ["withdrawn", false, false, false, true, false],
  ];
  for (const [resolution, notified, verified, due, aware, ok] of closedCases) {
    it(`${ok ? "publishes" : "does not publish"} a closed ${resolution} report (notified ${notified}, fix verified ${verified}, deadline passed ${due}, public aware ${aware})`, () => {
      const r = report("closed", {
        resolution,
        vendorNotifiedAt: notified ? BEFORE : null,
        disclosureDueAt: notified ? (due ? BEFORE : LATER) : null,
        fixVerifiedAt: verified ? BEFORE : null,
        publicAwareAt: aware ? BEFORE : null,
      });
      assert.equal(plan(r, "staff", "publish").ok, ok);
      assert.equal(
        availableTransitions(r, "staff", NOW).some((t) => t.name === "publish"),
        ok,
      );
      assert.equal(publicationBlocker(r, NOW) === null, ok);
    });
  }

  it("does not publish what the organization was never told of", () => {
    const r = report("fix_verified", {
      vendorNotifiedAt: null,
      disclosureDueAt: null,
    });
    assert.equal(plan(r, "staff", "publish").ok, false);
    assert.match(publicationBlocker(r, NOW) ?? "", /notified/);
  });

  it("says why a report cannot be published yet", () => {
    assert.match(
      publicationBlocker(report("fix_in_progress"), NOW) ?? "",
      /deadline/,
    );
    assert.match(
      publicationBlocker(report("closed", { resolution: "invalid" }), NOW) ??
        "",
      /Invalid/,
    );
    assert.equal(publicationBlocker(report("fix_verified"), NOW), null);
  });

  it("lets the researcher withdraw only until the organization was notified, also after a reopen", () => {
    assert.ok(plan(report("triaged"), "reporter", "withdraw").ok);
    const reopened = report("triaged", { vendorNotifiedAt: BEFORE });
    assert.equal(plan(reopened, "reporter", "withdraw").ok, false);
    assert.ok(
      !availableTransitions(reopened, "reporter", NOW).some(
        (t) => t.name === "withdraw",
      ),
    );
  });
});

import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  CHANGES,
  timelineSentence,
  type ChangeDef,
  type ChangeName,
} from "../../src/reports/changes.js";
import type { EventKind } from "../../src/reports/types.js";
import { TRANSITION_NAMES, TRANSITIONS } from "../../src/reports/workflow.js";

const rows = Object.entries(CHANGES) as [ChangeName, ChangeDef][];

/**
 * What the timeline says of each entry, written out by hand: the report
 * page's words, including entries written before expire_info existed (the
 * scheduler's close was stored as "close").
 */
const TIMELINE: [EventKind, string | null, string][] = [
  ["submitted", null, "submitted the report"],
  ["transition", "acknowledge", "acknowledged the report"],
  ["transition", "request_info", "asked the researcher for more information"],
  ["transition", "provide_info", "answered the request for information"],
  ["transition", "triage", "validated the report"],
  ["transition", "notify_vendor", "notified the affected organization"],
  [
    "transition",
    "vendor_acknowledge",
    "acknowledged the report for the organization; a fix is in progress",
  ],
  ["transition", "mark_fixed", "marked the fix as deployed"],
  ["transition", "verify_fix", "confirmed the fix"],
  ["transition", "reject_fix", "reported that the vulnerability is not fixed"],
  ["transition", "close", "closed the report"],
  ["transition", "withdraw", "withdrew the report"],
  ["transition", "publish", "published the report as a public advisory"],
  ["transition", "reopen", "reopened the report"],
  ["transition", "expire_info", "closed the report"],
  ["comment", null, "commented"],
  ["note", null, "added an internal note"],
  [
    "share",
    null,
    "shared an earlier message between the researcher and the CERT with the organization",
  ],
  ["field_change", null, "changed the triage details"],
  ["assignment", null, "changed the assignment"],
  ["attachment", null, "attached files"],
  ["deadline", "changed", "moved the disclosure deadline"],
  ["deadline", "extension_requested", "asked for more time before disclosure"],
  ["deadline", "extension_granted", "granted the extension"],
  ["deadline", "extension_refused", "refused the extension"],
  ["credit", "proposed", "proposed the credit for the advisory"],
  ["credit", "accepted", "accepted the credit"],
  ["credit", "declined", "declined the credit"],
  ["disclosure_request", "requested", "asked for disclosure"],
  ["disclosure_request", "declined", "answered the request for disclosure"],
  ["transition", "no_such_step", "updated the report"],
];

describe("changes: the record of every change", () => {
  for (const [kind, action, sentence] of TIMELINE)
    it(`the timeline says "${sentence}" of a ${kind} entry${action ? ` (${action})` : ""}`, () => {
      assert.equal(timelineSentence(kind, action), sentence);
    });

  for (const name of TRANSITION_NAMES)
    it(`the workflow step ${name} is a public state change, heard by whom the workflow names`, () => {
      const def: ChangeDef = CHANGES[name];
      assert.equal(def.kind, "transition");
      assert.equal(def.action, name);
      assert.equal(def.visibility, "public");
      assert.equal(def.audit, "report.state_changed");
      assert.deepEqual(def.notify, TRANSITIONS[name].notify);
      assert.ok(def.mail, "every step is mailed");
    });

  it("audits every change, except a proposed credit (audited with the advisory saved with it)", () => {
    assert.deepEqual(
      rows.filter(([, def]) => def.audit === null).map(([name]) => name),
      ["credit_proposed"],
    );
  });

  for (const [name, def] of rows)
    it(`${name}: mailed exactly when someone hears of it, and an internal entry only to CERT staff`, () => {
      assert.equal(def.mail !== null, def.notify.length > 0);
      // Staff read internal entries (their sealed mail may carry the text).
      if (def.visibility === "internal")
        assert.ok(
          def.notify.every((a) => a === "assignee" || a === "triage"),
          `${name} mails ${def.notify.join(", ")}`,
        );
    });

  it("changes that write the same entry read the same on the timeline", () => {
    for (const [name, def] of rows)
      assert.equal(
        timelineSentence(def.kind, def.action ?? null),
        def.timeline,
        name,
      );
  });

  it("puts no placeholder or user text in a subject: fixed words only", () => {
    for (const [name, def] of rows) {
      const words = def.mail
        ? [def.mail, ...Object.values(def.mail.to ?? {})]
        : [];
      for (const { subject } of words)
        assert.match(subject, /^[A-Z][A-Za-z ,:']+$/, name);
    }
  });
});

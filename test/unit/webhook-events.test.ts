import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { Webhook } from "standardwebhooks";
import { CHANGES } from "../../src/reports/changes.js";
import { TRANSITIONS } from "../../src/reports/workflow.js";
import { signature } from "../../src/webhooks/delivery.js";
import { eventsOfChange, eventPayload } from "../../src/webhooks/events.js";
import { newWebhookSecret } from "../../src/webhooks/service.js";

describe("webhook events", () => {
  it("every workflow step raises report.state_changed; publishing also advisory.published", () => {
    for (const name of Object.keys(TRANSITIONS)) {
      const events = eventsOfChange(
        name,
        CHANGES[name as keyof typeof CHANGES].kind,
      );
      assert.ok(events.includes("report.state_changed"), name);
    }
    assert.deepEqual(eventsOfChange("publish", "transition"), [
      "report.state_changed",
      "advisory.published",
    ]);
  });

  it("maps the other changes, and raises nothing for the rest", () => {
    assert.deepEqual(eventsOfChange("submitted", "submitted"), [
      "report.created",
    ]);
    assert.deepEqual(eventsOfChange("comment", "comment"), ["comment.added"]);
    assert.deepEqual(eventsOfChange("note", "note"), ["comment.added"]);
    assert.deepEqual(eventsOfChange("deadline_changed", "deadline"), [
      "report.deadline_changed",
    ]);
    for (const name of [
      "triage_changed",
      "assigned",
      "files_attached",
      "share",
    ])
      assert.deepEqual(
        eventsOfChange(name, CHANGES[name as keyof typeof CHANGES].kind),
        [],
        name,
      );
  });

  it("a payload names the report by ID and link only", () => {
    const at = new Date("2026-03-02T09:00:00Z");
    const body = eventPayload({
      type: "comment.added",
      change: "comment",
      report: {
        publicId: "DD-ABCD-EFGH",
        state: "triaged",
        disclosureDueAt: null,
        createdAt: at,
        resolution: null,
      },
      at,
      timelineEntryId: 12,
      audience: "everyone",
      organizationPublicId: null,
      baseUrl: "https://desk.example.org",
    });
    assert.deepEqual(body, {
      type: "comment.added",
      timestamp: "2026-03-02T09:00:00.000Z",
      data: {
        report_id: "DD-ABCD-EFGH",
        report_url: "https://desk.example.org/reports/DD-ABCD-EFGH",
        state: "triaged",
        organization_id: null,
        timeline_entry_id: 12,
        kind: "comment",
        audience: "everyone",
      },
    });
  });

  it("signs as the standardwebhooks package does", () => {
    const secret = newWebhookSecret();
    const at = new Date(Math.floor(Date.now() / 1000) * 1000);
    const body = '{"type":"report.created"}';
    assert.equal(
      signature(secret, "msg_1", at.getTime() / 1000, body),
      new Webhook(secret).sign("msg_1", at, body),
    );
  });
});

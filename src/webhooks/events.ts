/**
 * The events a webhook endpoint may subscribe to, which change of a report
 * (reports/changes.ts) raises which, and the thin payload each carries: IDs,
 * states, times and links, never anything a person wrote (no title, no
 * vulnerability text, no comment body). Pure: no I/O.
 */
import type { Report, EventAudience } from "../reports/types.js";
import type { State } from "../reports/workflow.js";

export const WEBHOOK_EVENTS = [
  "report.created",
  "report.state_changed",
  "comment.added",
  "report.deadline_changed",
  "advisory.published",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export function isWebhookEvent(value: unknown): value is WebhookEvent {
  return (
    typeof value === "string" &&
    (WEBHOOK_EVENTS as readonly string[]).includes(value)
  );
}

/** For the form and the README. */
export const WEBHOOK_EVENT_LABELS: Record<WebhookEvent, string> = {
  "report.created": "Report created",
  "report.state_changed": "State changed (a workflow step)",
  "comment.added":
    "Comment added (with its audience; internal notes only to staff-owned endpoints)",
  "report.deadline_changed": "Disclosure deadline changed",
  "advisory.published": "Advisory published",
};

/**
 * The changes (CHANGES in reports/changes.ts) that raise events, beyond the
 * workflow steps (every one of which is report.state_changed).
 */
const BY_CHANGE: Record<string, readonly WebhookEvent[]> = {
  submitted: ["report.created"],
  publish: ["report.state_changed", "advisory.published"],
  comment: ["comment.added"],
  advisory_comment: ["comment.added"],
  note: ["comment.added"],
  deadline_changed: ["report.deadline_changed"],
  extension_granted: ["report.deadline_changed"],
};

/** The events a change raises. */
export function eventsOfChange(
  change: string,
  kind: string,
): readonly WebhookEvent[] {
  return (
    BY_CHANGE[change] ?? (kind === "transition" ? ["report.state_changed"] : [])
  );
}

export interface EventFacts {
  type: WebhookEvent;
  change: string;
  report: Pick<
    Report,
    "publicId" | "state" | "disclosureDueAt" | "createdAt" | "resolution"
  >;
  at: Date;
  fromState?: State;
  toState?: State;
  /** The timeline entry the event announces. */
  timelineEntryId: number;
  /** A comment's audience. */
  audience?: EventAudience;
  organizationPublicId: string | null;
  baseUrl: string;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/**
 * The JSON body sent (Standard Webhooks' shape: type, timestamp, data).
 * Only our own values: IDs, states, times, links.
 */
export function eventPayload(f: EventFacts): Record<string, unknown> {
  const common = {
    report_id: f.report.publicId,
    report_url: `${f.baseUrl}/reports/${f.report.publicId}`,
    state: f.report.state,
    organization_id: f.organizationPublicId,
  };
  const data: Record<string, unknown> = (() => {
    switch (f.type) {
      case "report.created":
        return { ...common, created_at: iso(f.report.createdAt) };
      case "report.state_changed":
        return {
          ...common,
          step: f.change,
          from_state: f.fromState ?? null,
          to_state: f.toState ?? f.report.state,
          resolution: f.report.resolution ?? null,
        };
      case "comment.added":
        return {
          ...common,
          timeline_entry_id: f.timelineEntryId,
          kind: f.change === "note" ? "internal_note" : "comment",
          audience: f.audience ?? null,
        };
      case "report.deadline_changed":
        return {
          ...common,
          disclosure_due_at: iso(f.report.disclosureDueAt),
        };
      case "advisory.published":
        return {
          ...common,
          advisory_url: `${f.baseUrl}/advisories/${f.report.publicId}`,
          published_at: iso(f.at),
        };
    }
  })();
  return { type: f.type, timestamp: f.at.toISOString(), data };
}

import type { DbOrTx } from "../db/index.js";
import type { Audience, State, TransitionName } from "../reports/workflow.js";
import type { MailContext } from "./outbox.js";

/** Something that happened to a report that people may need to hear about. */
export interface ReportEvent {
  kind: TransitionName | "submitted" | "comment";
  report: {
    id: number;
    publicId: string;
    state: State;
    reporterId: number;
    organizationId: number | null;
    assigneeId: number | null;
    vendorNotifiedAt: Date | null;
  };
  actorId: number;
  audiences: readonly Audience[];
}

/**
 * Writes the outbox rows announcing a report event. Called by the reports
 * service inside the transaction that records the event.
 * (Recipient resolution and templates: see the mail issue; until then no mail.)
 */
export async function notifyReportEvent(
  db: DbOrTx,
  ctx: MailContext,
  event: ReportEvent,
): Promise<void> {
  void db;
  void ctx;
  void event;
}

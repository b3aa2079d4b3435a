import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";
import type { Severity } from "./cvss.js";
import type { ClockFacts } from "./clocks.js";
import type { State } from "./workflow.js";

/*
 * The SQL behind the queue's markers: what happened on each listed report
 * since the CERT last acted, and since the viewer last opened it.
 */

export interface QueueSignals {
  state: string;
  extensionRequestedTo: Date | null;
  /** The latest event by a triager or admin. */
  staffAt: Date | null;
  /** The latest event by the report's researcher, after filing. */
  researcherAt: Date | null;
  /** The latest event by an organization's contact. */
  orgAt: Date | null;
  /** The latest event by anyone but the viewer (or the system). */
  othersAt: Date | null;
  /** When the viewer last opened the report; null: never. */
  readAt: Date | null;
}

const date = (ms: number | null) => (ms === null ? null : new Date(ms));

// Every queue page reads them for its rows: built once per page length.
const signalsQuery = preparedQuery(
  (db, publicIds: readonly string[], viewerId: number) =>
    db
      .selectFrom("reports as r")
      .leftJoin("report_events as e", "e.report_id", "r.id")
      .leftJoin("users as u", "u.id", "e.actor_id")
      .leftJoin("report_reads as rr", (join) =>
        join.onRef("rr.report_id", "=", "r.id").on("rr.user_id", "=", viewerId),
      )
      .where("r.public_id", "in", publicIds)
      .groupBy("r.id")
      .select((eb) => [
        "r.public_id",
        "r.state",
        "r.extension_requested_to",
        eb.fn.max("rr.read_at").as("read_at"),
        eb.fn
          .max(
            eb
              .case()
              .when("u.role", "in", ["triager", "admin"])
              .then(eb.ref("e.created_at"))
              .end(),
          )
          .as("staff_at"),
        eb.fn
          .max(
            eb
              .case()
              .when(
                eb.and([
                  eb("e.actor_id", "=", eb.ref("r.reporter_id")),
                  eb("e.kind", "!=", "submitted"),
                ]),
              )
              .then(eb.ref("e.created_at"))
              .end(),
          )
          .as("researcher_at"),
        eb.fn
          .max(
            eb
              .case()
              .when("u.role", "=", "org_contact")
              .then(eb.ref("e.created_at"))
              .end(),
          )
          .as("org_at"),
        eb.fn
          .max(
            eb
              .case()
              .when(
                eb.or([
                  eb("e.actor_id", "is", null),
                  eb("e.actor_id", "!=", viewerId),
                ]),
              )
              .then(eb.ref("e.created_at"))
              .end(),
          )
          .as("others_at"),
      ]),
);

/** The markers' facts for a page of reports (by public ID), for one viewer. */
export async function findQueueSignals(
  db: DbOrTx,
  publicIds: readonly string[],
  viewerId: number,
): Promise<Map<string, QueueSignals>> {
  if (publicIds.length === 0) return new Map();
  const { rows } = await signalsQuery(db, publicIds, viewerId);
  return new Map(
    rows.map((row) => [
      row.public_id,
      {
        state: row.state,
        extensionRequestedTo: date(row.extension_requested_to),
        staffAt: date(row.staff_at as number | null),
        researcherAt: date(row.researcher_at as number | null),
        orgAt: date(row.org_at as number | null),
        othersAt: date(row.others_at as number | null),
        readAt: date(row.read_at as number | null),
      },
    ]),
  );
}

/** Notes that a staff member opened the report now. */
export async function markReportRead(
  db: DbOrTx,
  userId: number,
  reportId: number,
  at: Date,
): Promise<void> {
  await markReadQuery(db, userId, reportId, at.getTime());
}

// Every report view by a signed-in user: built once.
const markReadQuery = preparedQuery(
  (db, userId: number, reportId: number, at: number) =>
    db
      .insertInto("report_reads")
      .values({ user_id: userId, report_id: reportId, read_at: at })
      .onConflict((oc) =>
        oc.columns(["user_id", "report_id"]).doUpdateSet({ read_at: at }),
      ),
);

/** What the clocks read from the reports in these states, with their kept next deadline. */
export async function clockFactsInStates(
  db: DbOrTx,
  states: readonly State[],
): Promise<(ClockFacts & { id: number; queueDueAt: number })[]> {
  if (states.length === 0) return [];
  const rows = await db
    .selectFrom("reports")
    .select([
      "id",
      "state",
      "severity",
      "ack_due_at",
      "triage_due_at",
      "disclosure_due_at",
      "vendor_notified_at",
      "info_requested_at",
      "queue_due_at",
    ])
    .where("state", "in", [...states])
    .execute();
  return rows.map((r) => ({
    id: r.id,
    state: r.state as State,
    severity: r.severity as Severity | null,
    ackDueAt: date(r.ack_due_at),
    triageDueAt: date(r.triage_due_at),
    disclosureDueAt: date(r.disclosure_due_at),
    vendorNotifiedAt: date(r.vendor_notified_at),
    infoRequestedAt: date(r.info_requested_at),
    queueDueAt: r.queue_due_at,
  }));
}

import { can, type Actor } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { SORTS } from "./cursor.js";
import { findReportListPage, type KeysetPosition } from "./list-repository.js";
import { itemView, type RawQuery } from "./list-service.js";
import {
  PARTICIPATION_STATUS_LABELS,
  type Participation,
} from "./participations.js";
import { participationsOfReports } from "./participations-repository.js";
import { parseQueueQuery } from "./queue.js";

/**
 * CSV for spreadsheets, safe against formula injection: a cell a spreadsheet
 * would run as a formula (=, +, -, @, tab, carriage return first) is
 * prefixed with an apostrophe, as OWASP recommends. Every cell is quoted.
 */
export function csvCell(value: string | number | null | undefined): string {
  let text = value === null || value === undefined ? "" : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
  return `"${text.replace(/"/g, '""')}"`;
}

export function csvRow(cells: (string | number | null | undefined)[]): string {
  return cells.map(csvCell).join(",") + "\r\n";
}

/** At most this many rows per export; the filters narrow a larger queue. */
export const EXPORT_LIMIT = 100_000;
const EXPORT_PAGE = 1000;

const iso = (d: Date | null) => (d ? d.toISOString() : "");

/**
 * The export's one cell for every organization on the case, each with its
 * status ("City Hospital (Affected); Water Works (Not yet answered)"), in
 * the order they joined; removed ones left out. The export is for staff
 * only, who read every status.
 */
export function organizationsCell(
  participations: readonly Pick<
    Participation,
    "organizationName" | "status" | "notifiedAt"
  >[],
): string {
  return participations
    .map(
      (p) =>
        `${p.organizationName} (${p.notifiedAt === null ? "Not notified yet" : PARTICIPATION_STATUS_LABELS[p.status]})`,
    )
    .join("; ");
}

/**
 * The queue as CSV with the same filters as the page, in pages of a
 * thousand by keyset so memory stays flat. Audited before the first byte.
 */
export async function* exportQueueCsv(
  deps: Deps,
  actor: Actor | null,
  query: RawQuery,
  request: AuditRequestContext | null,
): AsyncGenerator<string> {
  if (!actor || !can(actor, "queue:view")) throw new NotFoundError();
  const { filters, values, keep } = await parseQueueQuery(deps, actor, query);
  const { sort, direction } = SORTS[values.sort];
  await recordAudit(deps.db, {
    action: "export.csv",
    actor,
    target: { type: "export", id: "queue" },
    details: Object.fromEntries(
      Object.entries(keep).filter(([, v]) => v !== ""),
    ),
    request,
    at: deps.clock.now(),
  });
  yield csvRow([
    "ID",
    "Title",
    "State",
    "Severity",
    "CVSS score",
    "CWE",
    "Lead organization",
    "Assignee",
    "Researcher",
    "Submitted",
    "Last activity",
    "Acknowledgment due",
    "Triage due",
    "Organization notified",
    "Disclosure due",
    "Overdue",
    "Organizations (status)",
  ]);
  const now = deps.clock.now();
  let after: KeysetPosition | undefined;
  let written = 0;
  while (written < EXPORT_LIMIT) {
    const page = await findReportListPage(deps.db, {
      scope: { kind: "all" },
      filters,
      sort,
      direction,
      after,
      limit: Math.min(EXPORT_PAGE, EXPORT_LIMIT - written),
    });
    const participations = await participationsOfReports(
      deps.db,
      page.items.map((i) => i.id),
    );
    let chunk = "";
    for (const item of page.items) {
      const view = itemView(actor, item, now);
      chunk += csvRow([
        item.publicId,
        item.title,
        view.stateLabel,
        view.severityLabel,
        item.cvssScore,
        item.cwe,
        view.organization,
        item.assigneeName,
        view.reporter,
        iso(item.createdAt),
        iso(item.updatedAt),
        iso(item.ackDueAt),
        iso(item.triageDueAt),
        iso(item.vendorNotifiedAt),
        iso(item.disclosureDueAt),
        view.overdue.join("; "),
        organizationsCell(participations.get(item.id) ?? []),
      ]);
    }
    written += page.items.length;
    if (chunk) yield chunk;
    if (!page.next) break;
    after = { value: page.next.value, id: page.next.id };
  }
}

import type { Logger } from "pino";
import { can, isStaffRole, type Actor } from "../auth/policy.js";
import { recordAudit } from "../audit/service.js";
import type { AuditRequestContext } from "../audit/types.js";
import { csvRow } from "./csv.js";
import { isSeverity, SEVERITIES, SEVERITY_LABELS } from "./cvss.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { keptOptions, type SelectOption } from "../http/option-tags.js";
import { normalizeReportId } from "../ids.js";
import { repeat } from "../repeat.js";
import {
  findOrganizationByPublicId,
  listOrganizations,
} from "../orgs/repository.js";
import { findUserByPublicId, listActiveStaff } from "../users/repository.js";
import {
  findCursorId,
  findReportListPage,
  indexPendingReports,
  toIndexedSearchQuery,
  type KeysetPosition,
  type ListFilters,
  type ListScope,
  type ListSort,
  type ReportListItem,
  type SortDirection,
} from "./list-repository.js";
import { isState, STATE_INFO, STATES, type State } from "./workflow.js";

export const PAGE_SIZE = 25;

/** How often reports filed or edited are added to the full-text index. */
export const SEARCH_INDEX_INTERVAL_MS = 1000;

/**
 * Keeps the full-text index close behind the reports (a search indexes what
 * is still waiting before it reads, so this only keeps that wait short).
 */
export function startSearchIndexer(deps: Pick<Deps, "db">, logger: Logger) {
  return repeat(
    SEARCH_INDEX_INTERVAL_MS,
    async () => void (await indexPendingReports(deps.db)),
    (err) => logger.error({ err }, "search indexing failed"),
  );
}

export const SORTS = {
  activity_desc: {
    sort: "activity",
    direction: "desc",
    label: "Last activity, newest first",
  },
  activity_asc: {
    sort: "activity",
    direction: "asc",
    label: "Last activity, oldest first",
  },
  submitted_asc: {
    sort: "submitted",
    direction: "asc",
    label: "Submission date, oldest first",
  },
  submitted_desc: {
    sort: "submitted",
    direction: "desc",
    label: "Submission date, newest first",
  },
} as const satisfies Record<
  string,
  { sort: ListSort; direction: SortDirection; label: string }
>;
export type SortKey = keyof typeof SORTS;
const DEFAULT_SORT: SortKey = "activity_desc";

/** A search's one order (list-repository.ts says why); not offered on lists. */
const LIST_ORDERS = {
  ...SORTS,
  filing_desc: { sort: "filing", direction: "desc", label: "Newest first" },
} as const satisfies Record<
  string,
  { sort: ListSort; direction: SortDirection; label: string }
>;
type ListOrderKey = keyof typeof LIST_ORDERS;

/** Raw query-string values, as Express hands them over. */
export type RawQuery = Record<string, unknown>;

function one(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}

// ---- cursors ----
// Opaque to the user; carries the sort it belongs to, the sort value and the
// report's public ID (internal ids never appear in a URL).

function encodeCursor(
  sort: ListOrderKey,
  value: number,
  publicId: string,
): string {
  // In filing order the sort value is the internal id: left out.
  const shown = LIST_ORDERS[sort].sort === "filing" ? 0 : value;
  return Buffer.from(`${sort}|${shown}|${publicId}`).toString("base64url");
}

function decodeCursor(
  raw: string,
  sort: ListOrderKey,
): { value: number; publicId: string } | null {
  if (!raw || raw.length > 100) return null;
  const parts = Buffer.from(raw, "base64url").toString("utf8").split("|");
  if (parts.length !== 3 || parts[0] !== sort) return null;
  const value = Number(parts[1]);
  const publicId = normalizeReportId(parts[2] ?? "");
  if (!Number.isSafeInteger(value) || !publicId) return null;
  return { value, publicId };
}

async function resolveCursor(
  deps: Deps,
  scope: ListScope,
  raw: string,
  sort: ListOrderKey,
): Promise<{ after?: KeysetPosition; invalid: boolean }> {
  if (!raw) return { invalid: false };
  const cursor = decodeCursor(raw, sort);
  const id = cursor && (await findCursorId(deps.db, scope, cursor.publicId));
  if (!cursor || !id) return { invalid: true };
  const value = LIST_ORDERS[sort].sort === "filing" ? id : cursor.value;
  return { after: { value, id }, invalid: false };
}

// ---- due dates in plain words ----

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function plural(n: number, word: string) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** "2 days", "5 hours", "less than an hour". */
export function lateness(ms: number): string {
  if (ms >= DAY) return plural(Math.floor(ms / DAY), "day");
  if (ms >= HOUR) return plural(Math.floor(ms / HOUR), "hour");
  return "less than an hour";
}

/** Whether a step is still awaited: acknowledgment until acknowledged, triage until triaged. */
const WAITING_FOR_ACK: readonly State[] = ["submitted"];
const WAITING_FOR_TRIAGE: readonly State[] = ["submitted", "acknowledged"];

export interface DueView {
  text: string;
  overdue: string | null;
}

function due(
  step: "acknowledgment" | "triage",
  at: Date | null,
  waiting: boolean,
  now: Date,
): DueView | null {
  if (!waiting || !at) return null;
  const late = now.getTime() - at.getTime();
  return {
    text: formatDateTime(at),
    overdue: late > 0 ? `${step} overdue by ${lateness(late)}` : null,
  };
}

export interface ListItemView {
  publicId: string;
  href: string;
  title: string;
  state: State;
  stateLabel: string;
  severity: string | null;
  severityLabel: string | null;
  cvssScore: number | null;
  cwe: string;
  organization: string | null;
  assignee: string | null;
  /** Null where the viewer may not learn who reported it. */
  reporter: string | null;
  submitted: string;
  lastActivity: string;
  notified: string | null;
  disclosureDue: string | null;
  ackDue: DueView | null;
  triageDue: DueView | null;
  overdue: string[];
  /** When the researcher asked for disclosure, while the CERT has not answered. */
  disclosureRequested: string | null;
}

function itemView(actor: Actor, item: ReportListItem, now: Date): ListItemView {
  const ackDue = due(
    "acknowledgment",
    item.ackDueAt,
    WAITING_FOR_ACK.includes(item.state),
    now,
  );
  const triageDue = due(
    "triage",
    item.triageDueAt,
    WAITING_FOR_TRIAGE.includes(item.state),
    now,
  );
  const facts = {
    reporterId: item.reporterId,
    organizationId: item.organizationId,
    vendorNotifiedAt: item.vendorNotifiedAt,
    revealIdentity: item.revealIdentity,
  };
  return {
    publicId: item.publicId,
    href: `/reports/${item.publicId}`,
    title: item.title,
    state: item.state,
    stateLabel: STATE_INFO[item.state].label,
    severity: item.severity,
    severityLabel: item.severity ? SEVERITY_LABELS[item.severity] : null,
    cvssScore: item.cvssScore,
    cwe: item.cwe,
    organization:
      item.organizationName ??
      (item.suggestedOrgName ? `${item.suggestedOrgName} (suggested)` : null),
    assignee: item.assigneeName,
    reporter: can(actor, "report:see_reporter", facts)
      ? item.reporterName
      : null,
    submitted: formatDateTime(item.createdAt),
    lastActivity: formatDateTime(item.updatedAt),
    notified: item.vendorNotifiedAt
      ? formatDateTime(item.vendorNotifiedAt)
      : null,
    disclosureDue: item.disclosureDueAt
      ? formatDateTime(item.disclosureDueAt)
      : null,
    ackDue,
    triageDue,
    overdue: [ackDue?.overdue, triageDue?.overdue].filter(
      (s): s is string => !!s,
    ),
    disclosureRequested:
      item.disclosureRequestedAt && item.state !== "disclosed"
        ? formatDateTime(item.disclosureRequestedAt)
        : null,
  };
}

export interface ListPageView {
  items: ListItemView[];
  /** Query string of the next page, or null on the last one. */
  nextHref: string | null;
  /** Set when the list does not start at the beginning. */
  firstHref: string | null;
  notices: string[];
}

/** A path with the non-empty parameters as its query string. */
function withQuery(path: string, params: Record<string, string>): string {
  const qs = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== ""),
  ).toString();
  return qs ? `${path}?${qs}` : path;
}

async function listPage(
  deps: Deps,
  actor: Actor,
  path: string,
  scope: ListScope,
  filters: ListFilters,
  sortKey: ListOrderKey,
  rawCursor: string,
  keep: Record<string, string>,
  notices: string[],
): Promise<ListPageView> {
  const { sort, direction } = LIST_ORDERS[sortKey];
  const cursor = await resolveCursor(deps, scope, rawCursor, sortKey);
  if (cursor.invalid)
    notices.push("That page link is no longer valid; showing the first page.");
  const page = await findReportListPage(deps.db, {
    scope,
    filters,
    sort,
    direction,
    after: cursor.after,
    limit: PAGE_SIZE,
  });
  const now = deps.clock.now();
  // Defence in depth: the query is scoped already; the policy has the last word.
  const items = page.items.filter((item) =>
    can(actor, "report:view", {
      reporterId: item.reporterId,
      organizationId: item.organizationId,
      vendorNotifiedAt: item.vendorNotifiedAt,
      revealIdentity: item.revealIdentity,
    }),
  );
  const href = (extra: Record<string, string>) =>
    withQuery(path, { ...keep, ...extra });
  return {
    items: items.map((item) => itemView(actor, item, now)),
    nextHref: page.next
      ? href({
          cursor: encodeCursor(sortKey, page.next.value, page.next.publicId),
        })
      : null,
    firstHref: cursor.after ? href({}) : null,
    notices,
  };
}

/** A researcher's own reports, latest activity first. */
export async function myReports(
  deps: Deps,
  actor: Actor | null,
  query: RawQuery,
): Promise<ListPageView> {
  if (!actor || !can(actor, "report:list_own")) throw new NotFoundError();
  return listPage(
    deps,
    actor,
    "/reports",
    { kind: "reporter", reporterId: actor.id },
    {},
    DEFAULT_SORT,
    one(query.cursor),
    {},
    [],
  );
}

/** Reports forwarded to the contact's organizations (from vendor_notified on). */
export async function organizationReports(
  deps: Deps,
  actor: Actor | null,
  query: RawQuery,
): Promise<ListPageView> {
  if (!actor || !can(actor, "report:list_org")) throw new NotFoundError();
  return listPage(
    deps,
    actor,
    "/org/reports",
    { kind: "organizations", organizationIds: actor.orgIds },
    {},
    DEFAULT_SORT,
    one(query.cursor),
    {},
    [],
  );
}

/** At most this many words of a search are used; more only slows it down. */
const SEARCH_TERMS = 12;

/**
 * Turns what a person typed into a safe FTS5 query: words only (letters and
 * digits), each quoted and matched as a prefix, all of them required. FTS5
 * syntax typed by the user (NEAR, column filters, quotes) is thus plain text.
 * Returns null when nothing searchable is left.
 */
export function toSearchQuery(input: string): string | null {
  const words = searchWords(input);
  if (words.length === 0) return null;
  return words.map((w) => `"${w}"*`).join(" ");
}

/** The words of a search (letters and digits only), as toSearchQuery uses them. */
export function searchWords(input: string): string[] {
  return (input.normalize("NFKC").match(/[\p{L}\p{N}]+/gu) ?? [])
    .map((w) => w.slice(0, 64))
    .slice(0, SEARCH_TERMS);
}

/**
 * Words of a title worth comparing (four letters or more), as an FTS5 query
 * on the title column matching any of them: the triager's duplicate hint.
 */
export function toSimilarTitleQuery(title: string): string | null {
  const words = [
    ...new Set(
      (
        title
          .normalize("NFKC")
          .toLowerCase()
          .match(/[\p{L}\p{N}]{4,}/gu) ?? []
      ).map((w) => w.slice(0, 64)),
    ),
  ].slice(0, 8);
  if (words.length === 0) return null;
  return `title : (${words.map((w) => `"${w}"`).join(" OR ")})`;
}

/** Whose reports an actor's search and lists may contain, by the policy. */
function visibleScope(actor: Actor): ListScope | null {
  if (can(actor, "queue:view")) return { kind: "all" };
  if (can(actor, "report:list_org"))
    return { kind: "organizations", organizationIds: actor.orgIds };
  if (can(actor, "report:list_own"))
    return { kind: "reporter", reporterId: actor.id };
  return null;
}

export interface SearchView extends ListPageView {
  q: string;
  searched: boolean;
}

/**
 * Full-text search over ID, title, organization, asset and text, newest
 * filed first, within exactly the reports the actor may see.
 */
export async function searchReports(
  deps: Deps,
  actor: Actor | null,
  query: RawQuery,
): Promise<SearchView> {
  if (!actor || !can(actor, "report:search")) throw new NotFoundError();
  const scope = visibleScope(actor);
  if (!scope) throw new NotFoundError();
  const q = one(query.q).slice(0, 200);
  const words = searchWords(q);
  if (words.length === 0) {
    return {
      q,
      searched: false,
      items: [],
      nextHref: null,
      firstHref: null,
      notices: q.trim()
        ? ["Type at least one word or number to search for."]
        : [],
    };
  }
  const page = await listPage(
    deps,
    actor,
    "/search",
    scope,
    { text: await toIndexedSearchQuery(deps.db, words) },
    "filing_desc",
    one(query.cursor),
    { q },
    [],
  );
  return { q, searched: true, ...page };
}

export interface QueueView extends ListPageView {
  /** The filters as applied (unknown values dropped), for the form. */
  values: {
    state: string;
    org: string;
    severity: string;
    cwe: string;
    assignee: string;
    overdue: boolean;
    sort: SortKey;
  };
  options: {
    states: readonly SelectOption[];
    orgs: readonly SelectOption[];
    severities: readonly SelectOption[];
    assignees: readonly SelectOption[];
    sorts: readonly SelectOption[];
  };
  filtered: boolean;
  /** The same filters as a CSV download. */
  exportHref: string;
}

const CWE_PATTERN = /^CWE-\d{1,6}$/;

interface QueueQuery {
  filters: ListFilters;
  values: QueueView["values"];
  keep: Record<string, string>;
  notices: string[];
}

/** Reads the queue's filters from the query string; unknown values are dropped with a notice. */
async function parseQueueQuery(
  deps: Deps,
  actor: Actor,
  query: RawQuery,
): Promise<QueueQuery> {
  const notices: string[] = [];
  const filters: ListFilters = {};
  const values: QueueView["values"] = {
    state: "",
    org: "",
    severity: "",
    cwe: "",
    assignee: "",
    overdue: false,
    sort: DEFAULT_SORT,
  };

  const state = one(query.state);
  if (state) {
    if (isState(state)) {
      filters.state = state;
      values.state = state;
    } else notices.push(`Unknown state “${state}” was ignored.`);
  }

  const orgId = one(query.org);
  if (orgId) {
    const org = await findOrganizationByPublicId(deps.db, orgId);
    if (org) {
      filters.organizationId = org.id;
      values.org = org.publicId;
    } else notices.push("Unknown organization was ignored.");
  }

  const severity = one(query.severity).toLowerCase();
  if (severity) {
    if (isSeverity(severity)) {
      filters.severity = severity;
      values.severity = severity;
    } else notices.push(`Unknown severity “${severity}” was ignored.`);
  }

  const cwe = one(query.cwe)
    .toUpperCase()
    .replace(/^(\d+)$/, "CWE-$1");
  if (cwe) {
    if (CWE_PATTERN.test(cwe) || cwe === "OTHER") {
      filters.cwe = cwe === "OTHER" ? "other" : cwe;
      values.cwe = filters.cwe;
    } else
      notices.push(
        `“${cwe}” is not a CWE identifier (like CWE-639) and was ignored.`,
      );
  }

  const assignee = one(query.assignee);
  if (assignee === "me") {
    filters.assignee = { kind: "user", userId: actor.id };
    values.assignee = "me";
  } else if (assignee === "unassigned") {
    filters.assignee = { kind: "unassigned" };
    values.assignee = "unassigned";
  } else if (assignee) {
    const user = await findUserByPublicId(deps.db, assignee);
    if (user && isStaffRole(user.role)) {
      filters.assignee = { kind: "user", userId: user.id };
      values.assignee = user.publicId;
    } else notices.push("Unknown assignee was ignored.");
  }

  const overdue = one(query.overdue);
  if (overdue === "1" || overdue === "on" || overdue === "true") {
    filters.overdueAt = deps.clock.now();
    values.overdue = true;
  }

  const sort = one(query.sort);
  if (sort) {
    if (sort in SORTS) values.sort = sort as SortKey;
    else notices.push("Unknown sort order was ignored.");
  }

  const keep: Record<string, string> = {
    state: values.state,
    org: values.org,
    severity: values.severity,
    cwe: values.cwe,
    assignee: values.assignee,
    overdue: values.overdue ? "1" : "",
    sort: values.sort === DEFAULT_SORT ? "" : values.sort,
  };
  return { filters, values, keep, notices };
}

/** The triage queue: every report, filtered and sorted, paged by keyset. */
export async function triageQueue(
  deps: Deps,
  actor: Actor | null,
  query: RawQuery,
): Promise<QueueView> {
  if (!actor || !can(actor, "queue:view")) throw new NotFoundError();
  const { filters, values, keep, notices } = await parseQueueQuery(
    deps,
    actor,
    query,
  );
  const page = await listPage(
    deps,
    actor,
    "/queue",
    { kind: "all" },
    filters,
    values.sort,
    one(query.cursor),
    keep,
    notices,
  );

  const [orgs, staff] = await Promise.all([
    listOrganizations(deps.db),
    listActiveStaff(deps.db, deps.db),
  ]);
  return {
    ...page,
    values,
    filtered: Object.values(filters).some((v) => v !== undefined),
    exportHref: withQuery("/queue/export.csv", keep),
    options: {
      states: [
        { value: "", label: "Any state" },
        ...STATES.map((s) => ({ value: s, label: STATE_INFO[s].label })),
      ],
      orgs: keptOptions(orgs, "filter", () => [
        { value: "", label: "Any organization" },
        ...orgs.map((o) => ({ value: o.publicId, label: o.name })),
      ]),
      severities: [
        { value: "", label: "Any severity" },
        ...SEVERITIES.map((s) => ({ value: s, label: SEVERITY_LABELS[s] })),
      ],
      assignees: [
        { value: "", label: "Anyone" },
        { value: "me", label: "Assigned to me" },
        { value: "unassigned", label: "Unassigned" },
        ...staff
          .filter((u) => u.id !== actor.id)
          .map((u) => ({ value: u.publicId, label: u.displayName })),
      ],
      sorts: Object.entries(SORTS).map(([value, s]) => ({
        value,
        label: s.label,
      })),
    },
  };
}

/** At most this many rows per export; the filters narrow a larger queue. */
export const EXPORT_LIMIT = 100_000;
const EXPORT_PAGE = 1000;

const iso = (d: Date | null) => (d ? d.toISOString() : "");

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
    "Organization",
    "Assignee",
    "Researcher",
    "Submitted",
    "Last activity",
    "Acknowledgment due",
    "Triage due",
    "Organization notified",
    "Disclosure due",
    "Overdue",
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
      ]);
    }
    written += page.items.length;
    if (chunk) yield chunk;
    if (!page.next) break;
    after = { value: page.next.value, id: page.next.id };
  }
}

import { can, isStaffRole, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { keptOptions, type SelectOption } from "../http/option-tags.js";
import {
  findOrganizationByPublicId,
  listOrganizations,
} from "../orgs/repository.js";
import { findUserByPublicId, listActiveStaff } from "../users/repository.js";
import { QUEUE_DEFAULT_SORT, SORTS, type SortKey } from "./cursor.js";
import { isSeverity, SEVERITIES, SEVERITY_LABELS } from "./cvss.js";
import { formatDateTime } from "../format.js";
import type { ListFilters } from "./list-repository.js";
import {
  clockFactsInStates,
  findQueueSignals,
  markReportRead,
  type QueueSignals,
} from "./queue-repository.js";
import { setQueueDue } from "./repository.js";
import {
  CLOCK_NAMES,
  CLOCKS,
  isRunning,
  nextDeadline,
  NO_DEADLINE,
  type ClockSettings,
} from "./clocks.js";
import type { Report } from "./types.js";
import {
  listPage,
  one,
  withQuery,
  type ListItemView,
  type ListPageView,
  type RawQuery,
} from "./list-service.js";
import {
  isState,
  OPEN_STATES,
  STATE_INFO,
  STATES,
  statesWaitingOn,
  WAITING_ON,
  type State,
  type WaitingParty,
} from "./workflow.js";
import type { FieldErrors } from "../http/validation.js";
import { BUILT_IN_VIEWS, myViews, ownView } from "./saved-views.js";

export interface QueueViewLink {
  name: string;
  href: string;
  /** The list shows this view now. */
  active: boolean;
  /** A saved view's ID (for its delete form); null for the built-in ones. */
  publicId: string | null;
}

/** The "Save this view" form as submitted, when it was refused. */
export interface SaveViewForm {
  values: { name?: unknown };
  errors: FieldErrors;
}

/* The triage queue: every report, filtered by what the triager asks for. */

export interface QueueView extends ListPageView {
  /** The filters as applied (unknown values dropped), for the form. */
  values: {
    state: string;
    org: string;
    severity: string;
    cwe: string;
    assignee: string;
    waiting: string;
    overdue: boolean;
    sort: SortKey;
  };
  /** The built-in views, then the viewer's own. */
  builtInViews: QueueViewLink[];
  savedViews: QueueViewLink[];
  /** The filters as hidden fields of the "Save this view" form. */
  viewFields: { name: string; value: string }[];
  saveForm: SaveViewForm;
  options: {
    states: readonly SelectOption[];
    orgs: readonly SelectOption[];
    severities: readonly SelectOption[];
    assignees: readonly SelectOption[];
    waiting: readonly SelectOption[];
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
export async function parseQueueQuery(
  deps: Deps,
  actor: Actor,
  query: RawQuery,
): Promise<QueueQuery> {
  const notices: string[] = [];
  const filters: ListFilters = {};
  const values: QueueView["values"] = {
    state: "open",
    org: "",
    severity: "",
    cwe: "",
    assignee: "",
    waiting: "",
    overdue: false,
    sort: QUEUE_DEFAULT_SORT,
  };

  // Open reports unless asked otherwise: the closed and disclosed ones are done.
  const state = one(query.state);
  if (state === "any") values.state = "any";
  else if (state && state !== "open") {
    if (isState(state)) {
      filters.state = state;
      values.state = state;
    } else notices.push(`Unknown state “${state}” was ignored.`);
  }
  if (values.state === "open") filters.states = OPEN_STATES;

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

  // Whose step is next (workflow.ts WAITING_ON), within the state asked for.
  const waiting = one(query.waiting);
  if (waiting) {
    if (Object.values(WAITING_ON).includes(waiting as WaitingParty)) {
      values.waiting = waiting;
      filters.states = statesWaitingOn(waiting as WaitingParty);
    } else notices.push("Unknown “waiting for” value was ignored.");
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
    state: values.state === "open" ? "" : values.state,
    org: values.org,
    severity: values.severity,
    cwe: values.cwe,
    assignee: values.assignee,
    waiting: values.waiting,
    overdue: values.overdue ? "1" : "",
    sort: values.sort === QUEUE_DEFAULT_SORT ? "" : values.sort,
  };
  return { filters, values, keep, notices };
}

/** The triage queue: every report, filtered and sorted, paged by keyset. */
export async function triageQueue(
  deps: Deps,
  actor: Actor | null,
  rawQuery: RawQuery,
  saveForm: SaveViewForm = { values: {}, errors: {} },
): Promise<QueueView> {
  if (!actor || !can(actor, "queue:view")) throw new NotFoundError();
  // A saved view is its filters; anybody else's view ID is a 404.
  const viewId = one(rawQuery.view);
  const view = viewId ? await ownView(deps, actor, viewId) : null;
  const query: RawQuery = view
    ? {
        ...Object.fromEntries(new URLSearchParams(view.query)),
        cursor: rawQuery.cursor,
      }
    : rawQuery;
  const parsed = await parseQueueQuery(deps, actor, query);
  const { filters, values, notices } = parsed;
  const keep = { ...parsed.keep, view: view?.publicId ?? "" };
  const filterQuery = new URLSearchParams(
    Object.entries(parsed.keep).filter(([, v]) => v !== ""),
  ).toString();
  const page = await listPage(deps, actor, {
    path: "/queue",
    scope: { kind: "all" },
    filters,
    order: values.sort,
    cursor: one(query.cursor),
    keep,
    notices,
  });

  const [orgs, staff, saved, signals] = await Promise.all([
    listOrganizations(deps.db),
    listActiveStaff(deps.db, deps.db),
    myViews(deps, actor),
    findQueueSignals(
      deps.db,
      page.items.map((i) => i.publicId),
      actor.id,
    ),
  ]);
  return {
    ...page,
    // The rows are this page's own: each gets its markers in place.
    items: page.items.map((item) => {
      const s = signals.get(item.publicId);
      if (s) item.markers.push(...markersOf(s));
      return item;
    }),
    values,
    filtered:
      values.waiting !== "" ||
      Object.entries(filters).some(
        ([k, v]) => k !== "states" && v !== undefined,
      ),
    exportHref: withQuery("/queue/export.csv", parsed.keep),
    builtInViews: BUILT_IN_VIEWS.map((v) => ({
      name: v.name,
      href: `/queue?${v.query}`,
      active: !view && v.query === filterQuery,
      publicId: null,
    })),
    savedViews: saved.map((v) => ({
      name: v.name,
      href: `/queue?view=${v.publicId}`,
      active: v.publicId === view?.publicId,
      publicId: v.publicId,
    })),
    viewFields: Object.entries(parsed.keep)
      .filter(([, v]) => v !== "")
      .map(([name, value]) => ({ name, value })),
    saveForm,
    options: {
      states: [
        { value: "open", label: "Open" },
        { value: "any", label: "Any state" },
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
      waiting: [
        { value: "", label: "Anyone" },
        { value: "cert", label: "The CERT" },
        { value: "researcher", label: "The researcher" },
        { value: "organization", label: "The organization" },
      ],
      sorts: Object.entries(SORTS).map(([value, s]) => ({
        value,
        label: s.label,
      })),
    },
  };
}

/**
 * What needs the triager now besides the clocks: an open request for more
 * time, the researcher or the organization having written since the CERT's
 * last step, and what changed since the viewer last opened the report.
 */
export function markersOf(s: QueueSignals): ListItemView["markers"] {
  const markers: ListItemView["markers"] = [];
  if (s.extensionRequestedTo && isRunning("disclosure", s.state as State))
    markers.push({
      kind: "extension",
      label: "Extension asked",
      detail: `The organization asks for more time, until ${formatDateTime(s.extensionRequestedTo)}`,
    });
  const afterStaff = (at: Date | null) =>
    !!at && (!s.staffAt || at.getTime() > s.staffAt.getTime());
  if (afterStaff(s.researcherAt))
    markers.push({
      kind: "researcher",
      label: "Researcher answered",
      detail: "The researcher wrote after the CERT's last step",
    });
  if (afterStaff(s.orgAt))
    markers.push({
      kind: "org",
      label: "Organization answered",
      detail: "The organization wrote after the CERT's last step",
    });
  if (!s.readAt)
    markers.push({
      kind: "unread",
      label: "Unread",
      detail: "You have not opened this report yet",
    });
  else if (s.othersAt && s.othersAt.getTime() > s.readAt.getTime())
    markers.push({
      kind: "unread",
      label: "Unread",
      detail: "Changed since you last opened it",
    });
  return markers;
}

/** A staff member opened the report: the queue's "unread" counts from now. */
export async function noteReportRead(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor,
  report: Pick<Report, "id">,
): Promise<void> {
  if (can(actor, "queue:view"))
    await markReportRead(deps.db, actor.id, report.id, deps.clock.now());
}

/**
 * The fix target and the answer's expiry are computed from the settings of
 * the day (clocks.ts): when an admin changes them, the queue's kept next
 * deadline of the reports on those clocks follows. Returns how many moved.
 */
export async function refreshComputedQueueDue(
  deps: Pick<Deps, "db">,
  settings: ClockSettings,
): Promise<number> {
  const states = [
    ...new Set(
      CLOCK_NAMES.filter((c) => "from" in CLOCKS[c].due).flatMap(
        (c) => CLOCKS[c].runsIn,
      ),
    ),
  ];
  return deps.db.transaction().execute(async (tx) => {
    let moved = 0;
    for (const report of await clockFactsInStates(tx, states)) {
      const next = nextDeadline(report, settings)?.at ?? null;
      if ((next?.getTime() ?? NO_DEADLINE) === report.queueDueAt) continue;
      await setQueueDue(tx, report.id, next);
      moved++;
    }
    return moved;
  });
}

import type { Logger } from "pino";
import {
  advisoryIsPublic,
  can,
  relationTo,
  standsFor,
  type Actor,
} from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { repeat } from "../repeat.js";
import { SEVERITY_LABELS } from "./cvss.js";
import {
  DEFAULT_SORT,
  encodeCursor,
  LIST_ORDERS,
  resolveCursor,
  type ListOrderKey,
} from "./cursor.js";
import {
  findReportListPage,
  findSearchableTexts,
  indexPendingReports,
  toIndexedPhraseQuery,
  toIndexedSearchQuery,
  type SearchableText,
  type ListFilters,
  type ListScope,
  type ReportListItem,
} from "./list-repository.js";
import {
  answerCountsFor,
  type AnswerCounts,
} from "./participations-repository.js";
import { DAY } from "../clock.js";
import {
  ORG_ANSWER_CLOCK,
  CERT_CLOCKS,
  CLOCK_NAMES,
  dueText,
  isRunning,
  spanText,
  type ClockName,
} from "./clocks.js";
import { findReportByPublicId } from "./repository.js";
import { searchTarget, type SearchTerm } from "./search-query.js";
import {
  snippetOf,
  type Snippet,
  type SnippetField,
} from "./search-snippet.js";
import { accessFacts } from "./types.js";
import {
  RESEARCHER_TURN,
  STATE_INFO,
  waitingForResearcher,
  type State,
} from "./workflow.js";

/*
 * The report lists as pages: a researcher's own, an organization's and the
 * search results (the triage queue adds its filters in queue.ts), each
 * within exactly the reports the viewer may see.
 */

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

/** Raw query-string values, as Express hands them over. */
export type RawQuery = Record<string, unknown>;

export function one(value: unknown): string {
  return typeof value === "string" ? value.trim() : "";
}

// ---- due dates in plain words ----

export interface DueView {
  text: string;
  /** "acknowledgment overdue by 2 days": the list's cells start lower case. */
  overdue: string | null;
}

function due(
  clock: (typeof CERT_CLOCKS)[number],
  at: Date | null,
  state: State,
  now: Date,
): DueView | null {
  if (!at || !isRunning(clock, state)) return null;
  const { overdue, text } = dueText(clock, at, now);
  return {
    text: formatDateTime(at),
    overdue: overdue ? text[0]!.toLowerCase() + text.slice(1) : null,
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
  /** The next deadline, short for a one-line row ("in 3 days", "2 days late"). */
  nextDue: NextDueView | null;
  /** What needs the triager now, in words (the queue's markers). */
  markers: MarkerView[];
}

export interface NextDueView {
  text: string;
  /** The whole sentence: "Triage due in 3 days". */
  title: string;
  overdue: boolean;
}

export interface MarkerView {
  kind: string;
  label: string;
  detail: string;
}

/**
 * The row's organization is the case's lead; on a case with several, an
 * organization reads its own part, never another organization's name.
 */
function leadIsAnotherOrganization(actor: Actor, item: ReportListItem) {
  if (item.organizationId === null) return false;
  const facts = accessFacts(item);
  return (
    relationTo(actor, facts) === "org_contact" &&
    !standsFor(actor, facts).includes(item.organizationId)
  );
}

export function itemView(
  actor: Actor,
  item: ReportListItem,
  now: Date,
  answers?: AnswerCounts,
  answerDays?: number,
): ListItemView {
  const ackDue = due("ack", item.ackDueAt, item.state, now);
  const triageDue = due("triage", item.triageDueAt, item.state, now);
  const overdue = [ackDue?.overdue, triageDue?.overdue].filter(
    (s): s is string => !!s,
  );
  const next = nextDue(item, now);
  const disclosureRequested =
    item.disclosureRequestedAt && item.state !== "disclosed"
      ? formatDateTime(item.disclosureRequestedAt)
      : null;
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
    organization: leadIsAnotherOrganization(actor, item)
      ? "Your organization"
      : (item.organizationName ??
        (item.suggestedOrgName
          ? `${item.suggestedOrgName} (suggested)`
          : null)),
    assignee: item.assigneeName,
    reporter: can(actor, "report:see_reporter", accessFacts(item))
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
    overdue,
    disclosureRequested,
    nextDue: next,
    markers: [
      ...(overdue.length === 0 && next?.overdue
        ? [{ kind: "overdue", label: "Overdue", detail: next.title }]
        : []),
      ...overdue.map((o) => ({
        kind: "overdue",
        label: "Overdue",
        detail: o[0]!.toUpperCase() + o.slice(1),
      })),
      ...answerMarkers(item, answers, answerDays),
      ...(disclosureRequested
        ? [
            {
              kind: "asked",
              label: "Disclosure asked",
              detail: `Disclosure requested ${disclosureRequested}`,
            },
          ]
        : []),
    ],
  };
}

/**
 * "3 of 12 answered" and "2 overdue": the organizations notified on the
 * case, how many answered, and how many let their answer clock run out
 * (only while it runs: clocks.ts ORG_ANSWER_CLOCK). Staff only: an
 * organization learns nothing of the others from its list.
 */
function answerMarkers(
  item: ReportListItem,
  answers: AnswerCounts | undefined,
  answerDays: number | undefined,
): MarkerView[] {
  if (!answers || answers.notified === 0) return [];
  const markers: MarkerView[] = [
    {
      kind: "answers",
      label: `${answers.answered} of ${answers.notified} answered`,
      detail: `${answers.answered} of the ${answers.notified} organizations notified ${answers.answered === 1 ? "has" : "have"} answered`,
    },
  ];
  if (answers.silentSince > 0 && ORG_ANSWER_CLOCK.runsIn.includes(item.state))
    markers.push({
      kind: "overdue",
      label: `${answers.silentSince} overdue`,
      detail: `${answers.silentSince} ${answers.silentSince === 1 ? "organization has" : "organizations have"} not answered within ${answerDays ?? "the"} days of ${answers.silentSince === 1 ? "its" : "their"} notice`,
    });
  return markers;
}

/** The report's next deadline, as kept for the queue's order. */
function nextDue(item: ReportListItem, now: Date): NextDueView | null {
  const at = item.queueDueAt;
  if (!at) return null;
  // Which running clock it is: the kept disclosure date, else the only other.
  const running = CLOCK_NAMES.filter((c) => isRunning(c, item.state));
  const clock =
    running.find(
      (c) =>
        c === "disclosure" && item.disclosureDueAt?.getTime() === at.getTime(),
    ) ??
    running.find((c) => c !== "disclosure") ??
    running[0];
  return clock ? shortDue(clock, at, now) : null;
}

const short = (ms: number) => (ms < 3_600_000 ? "< 1 hour" : spanText(ms));

export function shortDue(clock: ClockName, at: Date, now: Date): NextDueView {
  const late = now.getTime() - at.getTime();
  const { text } = dueText(clock, at, now);
  return {
    // Short enough for the column: "2 days late", "in 3 hours", "in < 1 hour".
    text: late > 0 ? `${short(late)} late` : `in ${short(-late)}`,
    title: `${text} (${formatDateTime(at)})`,
    overdue: late > 0,
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
export function withQuery(
  path: string,
  params: Record<string, string>,
): string {
  const qs = new URLSearchParams(
    Object.entries(params).filter(([, v]) => v !== ""),
  ).toString();
  return qs ? `${path}?${qs}` : path;
}

/** Where a list page is and what it holds, before paging. */
interface ListPageRequest {
  path: string;
  scope: ListScope;
  filters?: ListFilters;
  order?: ListOrderKey;
  /** The raw cursor from the query string. */
  cursor: string;
  /** Query parameters every link of the list keeps. */
  keep?: Record<string, string>;
  notices?: string[];
  /** What the policy must also allow on each listed report (besides report:view). */
  allowed?: (item: ReportListItem) => boolean;
}

export async function listPage(
  deps: Deps,
  actor: Actor,
  {
    path,
    scope,
    filters = {},
    order = DEFAULT_SORT,
    cursor: rawCursor,
    keep = {},
    notices = [],
    allowed = () => true,
  }: ListPageRequest,
): Promise<ListPageView> {
  const { sort, direction } = LIST_ORDERS[order];
  const cursor = await resolveCursor(deps.db, scope, rawCursor, order);
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
  const items = page.items.filter(
    (item) => can(actor, "report:view", accessFacts(item)) && allowed(item),
  );
  const href = (extra: Record<string, string>) =>
    withQuery(path, { ...keep, ...extra });
  // The organizations' answers, for the staff's lists: one query for the page.
  const answerDays = deps.settings.clocks().orgAnswerDays;
  const answers = can(actor, "queue:view")
    ? await answerCountsFor(
        deps.db,
        items.map((item) => item.id),
        new Date(now.getTime() - answerDays * DAY),
      )
    : new Map<number, AnswerCounts>();
  return {
    items: items.map((item) =>
      itemView(actor, item, now, answers.get(item.id), answerDays),
    ),
    nextHref: page.next
      ? href({
          cursor: encodeCursor(order, page.next.value, page.next.publicId),
        })
      : null,
    firstHref: cursor.after ? href({}) : null,
    notices,
  };
}

/** How many reports waiting for the researcher "My reports" lists first. */
export const WAITING_LIMIT = 50;

export type MyListItemView = ListItemView & {
  /** What the researcher is asked to do; null when nothing waits for them. */
  waitingFor: string | null;
};

export interface MyReportsView extends ListPageView {
  items: MyListItemView[];
  /** The reports waiting for the researcher, first on the page. */
  waiting: MyListItemView[];
}

/**
 * A researcher's own reports, latest activity first, after the ones that
 * wait for them (workflow.ts waitingForResearcher), marked in both lists.
 */
export async function myReports(
  deps: Deps,
  actor: Actor | null,
  query: RawQuery,
): Promise<MyReportsView> {
  if (!actor || !can(actor, "report:list_own")) throw new NotFoundError();
  const scope: ListScope = { kind: "reporter", reporterId: actor.id };
  const { sort, direction } = LIST_ORDERS[DEFAULT_SORT];
  const [page, waitingPage] = await Promise.all([
    listPage(deps, actor, {
      path: "/reports",
      scope,
      cursor: one(query.cursor),
    }),
    findReportListPage(deps.db, {
      scope,
      filters: { waitingInStates: Object.keys(RESEARCHER_TURN) as State[] },
      sort,
      direction,
      limit: WAITING_LIMIT,
    }),
  ]);
  const now = deps.clock.now();
  // Every row found matched the rule; one outside the states matched on its credit.
  const waitingFor = new Map(
    waitingPage.items
      .filter((item) => can(actor, "report:view", accessFacts(item)))
      .map((item) => [
        item.publicId,
        {
          item,
          waitingFor: waitingForResearcher({
            state: item.state,
            creditAnswerPending: true,
          })!,
        },
      ]),
  );
  return {
    ...page,
    waiting: [...waitingFor.values()].map(({ item, waitingFor }) => ({
      ...itemView(actor, item, now),
      waitingFor,
    })),
    items: page.items.map((item) => ({
      ...item,
      waitingFor: waitingFor.get(item.publicId)?.waitingFor ?? null,
    })),
  };
}

/** Reports forwarded to the contact's organizations (from vendor_notified on). */
export async function organizationReports(
  deps: Deps,
  actor: Actor | null,
  query: RawQuery,
): Promise<ListPageView> {
  if (!actor || !can(actor, "report:list_org")) throw new NotFoundError();
  return listPage(deps, actor, {
    path: "/org/reports",
    scope: orgScope(actor),
    cursor: one(query.cursor),
  });
}

/** Whose reports an actor's search and lists may contain, by the policy. */
export function visibleScope(actor: Actor): ListScope | null {
  if (can(actor, "queue:view")) return { kind: "all" };
  if (can(actor, "report:list_org")) return orgScope(actor);
  if (can(actor, "report:list_own"))
    return { kind: "reporter", reporterId: actor.id };
  return null;
}

export interface SearchItemView extends ListItemView {
  /** Where the search matched, from what the searcher may read; null: nothing to show. */
  snippet: Snippet | null;
}

export interface SearchView extends Omit<ListPageView, "items"> {
  q: string;
  searched: boolean;
  items: SearchItemView[];
  /** An exact report ID the searcher may see: its page, opened instead. */
  redirect?: string;
}

/**
 * The fields a search excerpt may come from, as the policy lets the searcher
 * read them, in the order they are tried (the text first: the title and
 * organization are in the row already).
 */
function snippetFields(actor: Actor, text: SearchableText): SnippetField[] {
  if (!can(actor, "report:view", accessFacts(text))) return [];
  return [
    { label: "Description", text: text.description },
    { label: "Steps to reproduce", text: text.steps },
    { label: "Impact", text: text.impact },
    { label: "Asset", text: text.asset },
    { label: "Weakness", text: text.cwe },
    { label: "Title", text: text.title },
    { label: "Organization", text: text.organization },
  ];
}

/**
 * Full-text search over ID, title, organization, asset, text and CWE, newest
 * filed first, within exactly the reports the actor may see. An exact
 * report ID opens the report if the actor may see it, and otherwise finds
 * nothing, exactly like an ID that does not exist; a CVE ID finds the report
 * whose advisory names it (a draft's only for the staff who write it).
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
  const target = searchTarget(q);
  const nothingFound = (searched: boolean, notices: string[] = []) => ({
    q,
    searched,
    items: [],
    nextHref: null,
    firstHref: null,
    notices,
  });
  if (target.kind === "nothing")
    return nothingFound(
      false,
      q ? ["Type at least one word or number to search for."] : [],
    );
  if (target.kind === "report") {
    const report = await findReportByPublicId(deps.db, target.publicId);
    return report && can(actor, "report:view", accessFacts(report))
      ? { ...nothingFound(true), redirect: `/reports/${report.publicId}` }
      : nothingFound(true);
  }
  const request = {
    path: "/search",
    scope,
    order: "filing_desc" as const,
    cursor: one(query.cursor),
    keep: { q },
  };
  if (target.kind === "cve") {
    const page = await listPage(deps, actor, {
      ...request,
      filters: {
        cveId: target.cveId,
        // Until published, an advisory (and its CVE ID) is the staff's draft.
        ...(scope.kind !== "all" && { state: "disclosed" as const }),
      },
      allowed: (item) =>
        advisoryIsPublic(item) ||
        can(actor, "report:write_advisory", accessFacts(item)),
    });
    return {
      q,
      searched: true,
      ...page,
      items: page.items.map((item) => ({
        ...item,
        snippet: {
          label: "Advisory",
          segments: [{ text: target.cveId, match: true }],
        },
      })),
    };
  }
  const text =
    target.kind === "cwe"
      ? await toIndexedPhraseQuery(deps.db, target.match)
      : await toIndexedSearchQuery(deps.db, target.words);
  const page = await listPage(deps, actor, {
    ...request,
    filters: { text },
  });
  return {
    q,
    searched: true,
    ...page,
    items: await withSnippets(deps, actor, page.items, target.terms),
  };
}

/** Each listed report with the excerpt of where the search matched. */
async function withSnippets(
  deps: Deps,
  actor: Actor,
  items: ListItemView[],
  terms: SearchTerm[],
): Promise<SearchItemView[]> {
  const texts = new Map(
    (
      await findSearchableTexts(
        deps.db,
        items.map((i) => i.publicId),
      )
    ).map((t) => [t.publicId, t]),
  );
  return items.map((item) => {
    const text = texts.get(item.publicId);
    return {
      ...item,
      snippet: text ? snippetOf(terms, snippetFields(actor, text)) : null,
    };
  });
}

/** An org contact's cases: policy.ts standsFor, as a list's scope. */
function orgScope(actor: Actor): ListScope {
  return {
    kind: "organizations",
    organizationIds: actor.orgIds,
    limitedOrgIds: actor.limitedOrgIds ?? [],
    userId: actor.id,
  };
}

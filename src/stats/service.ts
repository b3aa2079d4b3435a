import { can, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { SEVERITIES, SEVERITY_LABELS, type Severity } from "../reports/cvss.js";
import { CWE_OTHER, cweLabel } from "../reports/cwe.js";
import { STATES, STATE_INFO, type State } from "../reports/workflow.js";
import {
  countAllReports,
  countReportsByState,
  countReportsBySeverity,
  countReportsCreatedIn,
  maxReportId,
  publishedAdvisoryFacts,
  reportMilestonesInIdRange,
  topOrganizations,
  topReportedCwes,
  type Bucket,
  type OrganizationCount,
  type PublishedAdvisoryFacts,
  type ReportMilestones,
} from "./repository.js";

/** Statistics are computed at most once a minute; every page view in between reads memory. */
export const STATS_CACHE_MS = 60_000;
export const MONTHS_SHOWN = 24;
export const TOP_CWES = 10;
export const TOP_ORGANIZATIONS = 20;
/**
 * Reports read per query when deriving timings. Between batches the event
 * loop gets a turn, so a recomputation at a million reports never holds up
 * other requests for more than one batch.
 */
const ID_BATCH = 5_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

// ---------------------------------------------------------------- numbers

/** Median and 90th percentile of durations (ms), linearly interpolated between ranks. */
export interface Distribution {
  n: number;
  median: number | null;
  p90: number | null;
}

export function percentile(
  sorted: ArrayLike<number>,
  p: number,
): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const rank = (n - 1) * p;
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo]! + (rank - lo) * (sorted[hi]! - sorted[lo]!);
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = Float64Array.from(values).sort();
  return {
    n: sorted.length,
    median: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
  };
}

export const TIMINGS = ["acknowledge", "triage", "fix", "disclose"] as const;
export type Timing = (typeof TIMINGS)[number];
export type TimingSet = Record<Timing, Distribution>;

export const DEADLINES = ["acknowledge", "triage", "disclosure"] as const;
export type Deadline = (typeof DEADLINES)[number];
export interface DeadlineShare {
  met: number;
  /** Reports whose deadline was met or missed (not those still running). */
  assessed: number;
}

class TimingCollector {
  readonly values: Record<Timing, number[]> = {
    acknowledge: [],
    triage: [],
    fix: [],
    disclose: [],
  };
  add(timing: Timing, from: number | null, to: number | null) {
    if (from !== null && to !== null && to >= from)
      this.values[timing].push(to - from);
  }
  result(): TimingSet {
    return {
      acknowledge: distribution(this.values.acknowledge),
      triage: distribution(this.values.triage),
      fix: distribution(this.values.fix),
      disclose: distribution(this.values.disclose),
    };
  }
}

function earliest(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

/** Met, missed, or still running (null) at `now`. */
function deadlineOutcome(
  due: number | null,
  doneAt: number | null,
  now: number,
): boolean | null {
  if (due === null) return null;
  if (doneAt !== null) return doneAt <= due;
  return due < now ? false : null;
}

export interface StatsSnapshot {
  computedAt: Date;
  total: number;
  months: { start: Date; count: number }[];
  states: Bucket[];
  severities: Bucket[];
  cwes: Bucket[];
  organizations: OrganizationCount[];
  timings: TimingSet;
  organizationTimings: Map<number, TimingSet>;
  deadlines: Record<Deadline, DeadlineShare>;
}

function monthStarts(now: Date): Date[] {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  return Array.from(
    { length: MONTHS_SHOWN + 1 },
    (_, i) => new Date(Date.UTC(y, m - MONTHS_SHOWN + 1 + i, 1)),
  );
}

const yieldToEventLoop = () =>
  new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Everything both pages show, from aggregate queries and one pass over the
 * reports' milestones in ID batches.
 *
 * - time to acknowledge: submission → first response (acknowledged, asked
 *   for information, triaged or closed);
 * - time to triage: submission → first triaged;
 * - time to fix: organization notified → first marked fixed;
 * - time to disclose: submission → published.
 * Deadlines: acknowledgment met if the first response came by its due date;
 * triage met if the report was triaged (or closed) by its due date;
 * disclosure met if the fix was deployed by the disclosure deadline. A
 * deadline still running is not counted either way.
 */
export async function computeStats(
  deps: Pick<Deps, "db">,
  now: Date,
): Promise<StatsSnapshot> {
  const { db } = deps;
  const starts = monthStarts(now);
  const ranges = starts.slice(0, -1).map((start, i) => ({
    from: start.getTime(),
    until: starts[i + 1]!.getTime(),
  }));
  const monthCounts = await countReportsCreatedIn(db, ranges);
  const total = await countAllReports(db);
  const states = await countReportsByState(db);
  const severities = await countReportsBySeverity(db);
  const cwes = await topReportedCwes(db, TOP_CWES);
  const organizations = await topOrganizations(db, TOP_ORGANIZATIONS);

  const overall = new TimingCollector();
  const perOrg = new Map<number, TimingCollector>(
    organizations.map((o) => [o.organizationId, new TimingCollector()]),
  );
  const deadlines: Record<Deadline, DeadlineShare> = {
    acknowledge: { met: 0, assessed: 0 },
    triage: { met: 0, assessed: 0 },
    disclosure: { met: 0, assessed: 0 },
  };
  const count = (deadline: Deadline, outcome: boolean | null) => {
    if (outcome === null) return;
    deadlines[deadline].assessed += 1;
    if (outcome) deadlines[deadline].met += 1;
  };
  const nowMs = now.getTime();
  const take = (r: ReportMilestones) => {
    const collectors = [overall];
    const org =
      r.organizationId === null ? undefined : perOrg.get(r.organizationId);
    if (org) collectors.push(org);
    for (const c of collectors) {
      c.add("acknowledge", r.createdAt, r.respondedAt);
      c.add("triage", r.createdAt, r.triagedAt);
      c.add("fix", r.vendorNotifiedAt, r.fixedAt);
      c.add("disclose", r.createdAt, r.disclosedAt);
    }
    count("acknowledge", deadlineOutcome(r.ackDueAt, r.respondedAt, nowMs));
    count(
      "triage",
      deadlineOutcome(r.triageDueAt, earliest(r.triagedAt, r.closedAt), nowMs),
    );
    count("disclosure", deadlineOutcome(r.disclosureDueAt, r.fixedAt, nowMs));
  };
  const lastId = await maxReportId(db);
  for (let from = 1; from <= lastId; from += ID_BATCH) {
    const batch = await reportMilestonesInIdRange(
      db,
      from,
      from + ID_BATCH - 1,
    );
    for (const r of batch) take(r);
    await yieldToEventLoop();
  }

  return {
    computedAt: now,
    total,
    months: ranges.map((r, i) => ({
      start: new Date(r.from),
      count: monthCounts[i]!,
    })),
    states,
    severities,
    cwes,
    organizations,
    timings: overall.result(),
    organizationTimings: new Map(
      [...perOrg].map(([id, c]) => [id, c.result()]),
    ),
    deadlines,
  };
}

// ---------------------------------------------------------------- cache

interface CacheEntry<T> {
  snapshot?: T;
  expiresAt: number;
  pending?: Promise<T>;
}
/** One cache per database and page, so tests with their own database never share one. */
const staffCache = new WeakMap<object, CacheEntry<StatsSnapshot>>();
const publicCache = new WeakMap<object, CacheEntry<PublicStatsSnapshot>>();

type CacheDeps = Pick<Deps, "db" | "clock"> & Partial<Pick<Deps, "logger">>;

/**
 * Statistics recomputed when older than a minute by the app's clock.
 * Concurrent requests share one computation. Once there are numbers, they are
 * served while newer ones are computed (the page says when they were), so
 * only the very first visit waits for a computation; at a million reports
 * that takes seconds.
 */
function cached<T>(
  cache: WeakMap<object, CacheEntry<T>>,
  deps: CacheDeps,
  compute: (now: Date) => Promise<T>,
): Promise<T> {
  const now = deps.clock.now();
  let entry = cache.get(deps.db);
  if (!entry) cache.set(deps.db, (entry = { expiresAt: 0 }));
  if (entry.snapshot && now.getTime() < entry.expiresAt)
    return Promise.resolve(entry.snapshot);
  if (!entry.pending) {
    const current = entry;
    const pending = compute(now);
    current.pending = pending;
    void pending
      .then(
        (snapshot) => {
          current.snapshot = snapshot;
          current.expiresAt = now.getTime() + STATS_CACHE_MS;
        },
        // Whoever waits on it gets the error; with older numbers there is
        // nobody waiting, and the next visit tries again.
        (err: unknown) => deps.logger?.error({ err }, "statistics failed"),
      )
      .finally(() => {
        if (current.pending === pending) current.pending = undefined;
      });
  }
  return entry.snapshot ? Promise.resolve(entry.snapshot) : entry.pending!;
}

/** The staff statistics, over every report. */
export function currentStats(deps: CacheDeps): Promise<StatsSnapshot> {
  return cached(staffCache, deps, (now) => computeStats(deps, now));
}

/** The public statistics, over the published advisories only. */
export function currentPublicStats(
  deps: CacheDeps,
): Promise<PublicStatsSnapshot> {
  return cached(publicCache, deps, (now) => computePublicStats(deps, now));
}

// ---------------------------------------------------------------- public

export const PUBLIC_TIMINGS = ["acknowledge", "fix", "publish"] as const;
export type PublicTiming = (typeof PUBLIC_TIMINGS)[number];

/**
 * What the public page shows: facts of the published advisories and nothing
 * else. Every figure here can be worked out from the advisories' own pages,
 * and no report still being handled, closed without an advisory or not yet
 * published counts towards any of them, so neither one page nor the
 * difference between two (before and after a report is filed, triaged or
 * closed) tells anything about such a report.
 */
export interface PublicStatsSnapshot {
  computedAt: Date;
  total: number;
  /** From the year of the first publication to this year. */
  years: { year: number; count: number }[];
  severities: Bucket[];
  cwes: Bucket[];
  timings: Record<PublicTiming, Distribution>;
}

function tally(keys: readonly (string | null)[]): Bucket[] {
  const counts = new Map<string | null, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return [...counts].map(([key, count]) => ({ key, count }));
}

/**
 * Times as each advisory's timeline shows them:
 * - time to acknowledge: reported → acknowledged by the CERT;
 * - time to fix: organization notified → fixed;
 * - time to publish: reported → published.
 */
export async function computePublicStats(
  deps: Pick<Deps, "db">,
  now: Date,
): Promise<PublicStatsSnapshot> {
  const advisories = await publishedAdvisoryFacts(deps.db);
  const perYear = new Map<number, number>();
  for (const a of advisories) {
    const year = new Date(a.publishedAt).getUTCFullYear();
    perYear.set(year, (perYear.get(year) ?? 0) + 1);
  }
  const first = Math.min(...perYear.keys());
  const last = Math.max(now.getUTCFullYear(), ...perYear.keys());
  const years =
    perYear.size === 0
      ? []
      : Array.from({ length: last - first + 1 }, (_, i) => ({
          year: first + i,
          count: perYear.get(first + i) ?? 0,
        }));
  const durations = (
    from: keyof PublishedAdvisoryFacts,
    to: keyof PublishedAdvisoryFacts,
  ) =>
    distribution(
      advisories.flatMap((a) => {
        const [start, end] = [a[from], a[to]];
        return typeof start === "number" &&
          typeof end === "number" &&
          end >= start
          ? [end - start]
          : [];
      }),
    );
  return {
    computedAt: now,
    total: advisories.length,
    years,
    severities: tally(advisories.map((a) => a.severity)),
    cwes: tally(advisories.map((a) => a.cwe))
      .sort((a, b) => b.count - a.count || (a.key! < b.key! ? -1 : 1))
      .slice(0, TOP_CWES),
    timings: {
      acknowledge: durations("reportedAt", "acknowledgedAt"),
      fix: durations("vendorNotifiedAt", "fixedAt"),
      publish: durations("reportedAt", "publishedAt"),
    },
  };
}

// ---------------------------------------------------------------- view models

export interface ChartBar {
  label: string;
  valueText: string;
  /** Geometry in the chart's viewBox units; width 0 draws no bar. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Baseline of the row's texts. */
  textY: number;
  valueX: number;
}

export interface BarChart {
  id: string;
  title: string;
  /** Read by screen readers in place of the drawing: every bar in words. */
  description: string;
  width: number;
  height: number;
  labelX: number;
  bars: ChartBar[];
  /** The same numbers as a table. */
  table: {
    caption: string;
    labelHeader: string;
    valueHeader: string;
    rows: { label: string; valueText: string }[];
  };
}

export interface ChartItem {
  /** Short, for the drawing. */
  label: string;
  /** Full, for the table. */
  tableLabel?: string;
  value: number;
}

const CHART_WIDTH = 400;
const LABEL_WIDTH = 150;
const VALUE_WIDTH = 90;
const ROW_HEIGHT = 22;
const BAR_HEIGHT = 14;
const MAX_LABEL = 22;

function shortLabel(text: string): string {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

function countText(item: ChartItem): string {
  return item.value.toLocaleString("en-GB");
}

/** Horizontal bars, one row per item, with the label left and the number right of each bar. */
export function barChart(
  id: string,
  title: string,
  valueHeader: string,
  labelHeader: string,
  items: readonly ChartItem[],
): BarChart {
  const barArea = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const max = Math.max(0, ...items.map((i) => i.value));
  const bars = items.map((item, row) => {
    const y = 4 + row * ROW_HEIGHT;
    const width =
      max === 0 || item.value <= 0
        ? 0
        : Math.max(1, Math.round((item.value / max) * barArea * 10) / 10);
    return {
      label: shortLabel(item.label),
      valueText: countText(item),
      x: LABEL_WIDTH,
      y: y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
      width,
      height: BAR_HEIGHT,
      textY: y + ROW_HEIGHT / 2 + 5,
      valueX: LABEL_WIDTH + width + 6,
    };
  });
  const rows = items.map((item) => ({
    label: item.tableLabel ?? item.label,
    valueText: countText(item),
  }));
  return {
    id,
    title,
    description:
      items.length === 0
        ? `No ${valueHeader.toLowerCase()} yet.`
        : `Bar chart of ${valueHeader.toLowerCase()}: ` +
          rows.map((r) => `${r.label}, ${r.valueText}`).join("; ") +
          ".",
    width: CHART_WIDTH,
    height: 8 + Math.max(1, items.length) * ROW_HEIGHT,
    labelX: LABEL_WIDTH - 8,
    bars,
    table: { caption: title, labelHeader, valueHeader, rows },
  };
}

/** "5 hours", "1 day", "2.5 days". */
export function durationText(ms: number | null): string {
  if (ms === null) return "none yet";
  const round = (v: number) => Math.round(v * 10) / 10;
  if (ms < DAY) {
    const hours = round(ms / HOUR);
    return `${hours} ${hours === 1 ? "hour" : "hours"}`;
  }
  const days = round(ms / DAY);
  return `${days} ${days === 1 ? "day" : "days"}`;
}

const TIMING_INFO: Record<Timing, { label: string; explanation: string }> = {
  acknowledge: {
    label: "Time to acknowledge",
    explanation: "From submission to the first answer by the CERT.",
  },
  triage: {
    label: "Time to triage",
    explanation: "From submission to the report being validated.",
  },
  fix: {
    label: "Time to fix",
    explanation:
      "From the organization being notified to the fix being deployed.",
  },
  disclose: {
    label: "Time to disclose",
    explanation: "From submission to publication as an advisory.",
  },
};

const DEADLINE_INFO: Record<Deadline, { label: string; explanation: string }> =
  {
    acknowledge: {
      label: "Acknowledgment due",
      explanation: "Answered by the acknowledgment due date.",
    },
    triage: {
      label: "Triage due",
      explanation: "Validated or closed by the triage due date.",
    },
    disclosure: {
      label: "Disclosure deadline",
      explanation: "Fix deployed by the disclosure deadline.",
    },
  };

export interface TimingRow {
  label: string;
  explanation: string;
  countText: string;
  medianText: string;
  p90Text: string;
}

export interface DeadlineRow {
  label: string;
  explanation: string;
  shareText: string;
  metText: string;
  assessedText: string;
}

function timingRow(
  info: { label: string; explanation: string },
  d: Distribution,
): TimingRow {
  return {
    ...info,
    countText: d.n.toLocaleString("en-GB"),
    medianText: durationText(d.median),
    p90Text: durationText(d.p90),
  };
}

function deadlineRows(
  deadlines: Record<Deadline, DeadlineShare>,
): DeadlineRow[] {
  return DEADLINES.map((d) => {
    const { met, assessed } = deadlines[d];
    return {
      ...DEADLINE_INFO[d],
      shareText:
        assessed === 0 ? "none yet" : `${Math.round((met / assessed) * 100)}%`,
      metText: met.toLocaleString("en-GB"),
      assessedText: assessed.toLocaleString("en-GB"),
    };
  });
}

const SEVERITY_ORDER: readonly (Severity | null)[] = [...SEVERITIES, null];

function item(label: string, value: number, tableLabel?: string): ChartItem {
  return { label, tableLabel, value };
}

const monthFormat = new Intl.DateTimeFormat("en-GB", {
  month: "short",
  year: "numeric",
  timeZone: "UTC",
});

function countOf(buckets: readonly Bucket[], key: string | null): number {
  return buckets.find((b) => b.key === key)?.count ?? 0;
}

export interface StatsView {
  title: string;
  computedAtText: string;
  computedAtIso: string;
  totalText: string;
  charts: {
    months: BarChart;
    states: BarChart;
    severities: BarChart;
    cwes: BarChart;
  };
  timings: TimingRow[];
  deadlines: DeadlineRow[];
}

export interface StaffStatsView extends StatsView {
  organizationsChart: BarChart;
  organizations: {
    name: string;
    countText: string;
    timings: { label: string; medianText: string; p90Text: string }[];
  }[];
  timingLabels: string[];
}

function computedAt(at: Date) {
  const iso = at.toISOString();
  return {
    computedAtIso: iso,
    computedAtText: `${iso.slice(0, 16).replace("T", " ")} UTC`,
  };
}

function cweItems(cwes: readonly Bucket[]): ChartItem[] {
  return cwes.map((b) =>
    item(
      b.key === CWE_OTHER ? "Other" : (b.key ?? ""),
      b.count,
      cweLabel(b.key ?? ""),
    ),
  );
}

function statsView(snapshot: StatsSnapshot, title: string): StatsView {
  const months = snapshot.months.map((m) =>
    item(monthFormat.format(m.start), m.count),
  );
  const states = STATES.map((s: State) =>
    item(STATE_INFO[s].label, countOf(snapshot.states, s)),
  );
  const severities = SEVERITY_ORDER.map((s) =>
    item(
      s === null ? "Not rated yet" : SEVERITY_LABELS[s],
      countOf(snapshot.severities, s),
    ),
  );
  return {
    title,
    ...computedAt(snapshot.computedAt),
    totalText: snapshot.total.toLocaleString("en-GB"),
    charts: {
      months: barChart(
        "chart-months",
        `Reports per month, last ${MONTHS_SHOWN} months`,
        "Reports",
        "Month",
        months,
      ),
      states: barChart(
        "chart-states",
        "Reports by state",
        "Reports",
        "State",
        states,
      ),
      severities: barChart(
        "chart-severities",
        "Reports by severity",
        "Reports",
        "Severity",
        severities,
      ),
      cwes: barChart(
        "chart-cwes",
        `Most reported weaknesses (top ${TOP_CWES})`,
        "Reports",
        "Weakness",
        cweItems(snapshot.cwes),
      ),
    },
    timings: TIMINGS.map((t) => timingRow(TIMING_INFO[t], snapshot.timings[t])),
    deadlines: deadlineRows(snapshot.deadlines),
  };
}

const PUBLIC_TIMING_INFO: Record<
  PublicTiming,
  { label: string; explanation: string }
> = {
  acknowledge: {
    label: "Time to acknowledge",
    explanation: "From the report to the CERT acknowledging it.",
  },
  fix: {
    label: "Time to fix",
    explanation: "From the organization being notified to the fix.",
  },
  publish: {
    label: "Time to publish",
    explanation: "From the report to the advisory being published.",
  },
};

export interface PublicStatsView {
  title: string;
  computedAtText: string;
  computedAtIso: string;
  totalText: string;
  charts: { years: BarChart; severities: BarChart; cwes: BarChart };
  timings: TimingRow[];
}

/** The public page: published advisories only, no organization. */
export async function publicStatsView(
  deps: Pick<Deps, "db" | "clock">,
): Promise<PublicStatsView> {
  const snapshot = await currentPublicStats(deps);
  const severities = SEVERITY_ORDER.map((s) =>
    item(
      s === null ? "Not scored" : SEVERITY_LABELS[s],
      countOf(snapshot.severities, s),
    ),
  );
  return {
    title: "Statistics",
    ...computedAt(snapshot.computedAt),
    totalText: snapshot.total.toLocaleString("en-GB"),
    charts: {
      years: barChart(
        "chart-years",
        "Advisories published per year",
        "Advisories",
        "Year",
        snapshot.years.map((y) => item(String(y.year), y.count)),
      ),
      severities: barChart(
        "chart-severities",
        "Advisories by severity",
        "Advisories",
        "Severity",
        severities,
      ),
      cwes: barChart(
        "chart-cwes",
        `Weaknesses in advisories (top ${TOP_CWES})`,
        "Advisories",
        "Weakness",
        cweItems(snapshot.cwes),
      ),
    },
    timings: PUBLIC_TIMINGS.map((t) =>
      timingRow(PUBLIC_TIMING_INFO[t], snapshot.timings[t]),
    ),
  };
}

/** The staff page: exact numbers, and by organization. */
export async function staffStatsView(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor | null,
): Promise<StaffStatsView> {
  if (!can(actor, "stats:view_staff")) throw new NotFoundError();
  const snapshot = await currentStats(deps);
  const base = statsView(snapshot, "Statistics for staff");
  return {
    ...base,
    organizationsChart: barChart(
      "chart-organizations",
      `Organizations with the most reports (top ${TOP_ORGANIZATIONS})`,
      "Reports",
      "Organization",
      snapshot.organizations.map((o) => item(o.name, o.count)),
    ),
    timingLabels: TIMINGS.map((t) => TIMING_INFO[t].label),
    organizations: snapshot.organizations.map((o) => {
      const timings = snapshot.organizationTimings.get(o.organizationId)!;
      return {
        name: o.name,
        countText: o.count.toLocaleString("en-GB"),
        timings: TIMINGS.map((t) => ({
          label: TIMING_INFO[t].label,
          medianText: durationText(timings[t].median),
          p90Text: durationText(timings[t].p90),
        })),
      };
    }),
  };
}

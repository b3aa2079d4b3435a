import { can, type Actor } from "../auth/policy.js";
import { DAY, HOUR } from "../clock.js";
import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import {
  countAllReports,
  countReportsBy,
  countReportsCreatedIn,
  maxReportId,
  participationsInIdRange,
  publishedAdvisoryFacts,
  reportMilestonesInIdRange,
  topOrganizations,
  topReportedCwes,
  type Bucket,
  type OrganizationCount,
  type ParticipationMilestones,
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

/** Per organization, also the time to its own answer (one per participation). */
export const ORGANIZATION_TIMINGS = [
  "answer",
  "acknowledge",
  "triage",
  "fix",
  "disclose",
] as const;
export type OrganizationTiming = (typeof ORGANIZATION_TIMINGS)[number];
export type OrganizationTimingSet = Record<OrganizationTiming, Distribution>;

/** One organization's figures: its participations, how many fixed, its timings. */
export interface OrganizationFigures {
  fixed: number;
  timings: OrganizationTimingSet;
}

export const DEADLINES = ["acknowledge", "triage", "disclosure"] as const;
export type Deadline = (typeof DEADLINES)[number];
export interface DeadlineShare {
  met: number;
  /** Reports whose deadline was met or missed (not those still running). */
  assessed: number;
}

class TimingCollector {
  readonly values: Record<OrganizationTiming, number[]> = {
    answer: [],
    acknowledge: [],
    triage: [],
    fix: [],
    disclose: [],
  };
  fixed = 0;
  add(timing: OrganizationTiming, from: number | null, to: number | null) {
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
  organizationResult(): OrganizationFigures {
    return {
      fixed: this.fixed,
      timings: {
        answer: distribution(this.values.answer),
        ...this.result(),
      },
    };
  }
}

/**
 * When one organization said fixed on a report: its participation's own
 * change to "fixed". A report with one organization that never answered
 * for itself (worked with the report's own steps, or from before several
 * organizations could take part) keeps the report's fixed milestone.
 */
export function participationFixedAt(
  p: ParticipationMilestones,
  report: Pick<ReportMilestones, "fixedAt">,
  participants: number,
): number | null {
  if (p.status === "fixed") return p.statusChangedAt ?? report.fixedAt;
  if (participants === 1 && p.status === "not_answered") return report.fixedAt;
  return null;
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
  /** Participations per organization, most first: a report counts once for each of its organizations. */
  organizations: OrganizationCount[];
  /** Counted once per report, whatever the number of organizations. */
  timings: TimingSet;
  /** Counted once per participation of each organization listed. */
  organizationFigures: Map<number, OrganizationFigures>;
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
 * Per organization (one count per participation, so a report with three
 * organizations counts once for each; removed participations do not):
 * - time to answer: the organization notified → its first answer;
 * - time to fix: the organization notified → it said fixed
 *   (participationFixedAt);
 * - the CERT's steps (acknowledge, triage, disclose) of the reports it
 *   takes part in; fixed: its participations that said fixed.
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
  const states = await countReportsBy(db, "state");
  const severities = await countReportsBy(db, "severity");
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
  const take = (
    r: ReportMilestones,
    participations: readonly ParticipationMilestones[],
  ) => {
    overall.add("acknowledge", r.createdAt, r.respondedAt);
    overall.add("triage", r.createdAt, r.triagedAt);
    overall.add("fix", r.vendorNotifiedAt, r.fixedAt);
    overall.add("disclose", r.createdAt, r.disclosedAt);
    for (const p of participations) {
      const org = perOrg.get(p.organizationId);
      if (!org) continue;
      const fixedAt = participationFixedAt(p, r, participations.length);
      if (fixedAt !== null) org.fixed += 1;
      org.add("answer", p.notifiedAt, p.answeredAt);
      org.add("acknowledge", r.createdAt, r.respondedAt);
      org.add("triage", r.createdAt, r.triagedAt);
      org.add("fix", p.notifiedAt ?? r.vendorNotifiedAt, fixedAt);
      org.add("disclose", r.createdAt, r.disclosedAt);
    }
    count("acknowledge", deadlineOutcome(r.ackDueAt, r.respondedAt, nowMs));
    // The triage clock starts at the first answer (reports/clocks.ts): a
    // report nobody answered missed its acknowledgment, not its triage.
    if (r.respondedAt !== null)
      count(
        "triage",
        deadlineOutcome(
          r.triageDueAt,
          earliest(r.triagedAt, r.closedAt),
          nowMs,
        ),
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
    const byReport = new Map<number, ParticipationMilestones[]>();
    for (const p of await participationsInIdRange(
      db,
      from,
      from + ID_BATCH - 1,
    )) {
      const list = byReport.get(p.reportId) ?? [];
      list.push(p);
      byReport.set(p.reportId, list);
    }
    for (const r of batch) take(r, byReport.get(r.id) ?? []);
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
    organizationFigures: new Map(
      [...perOrg].map(([id, c]) => [id, c.organizationResult()]),
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

/** The staff statistics, over every report, for those the policy lets see them. */
export async function staffStats(
  deps: CacheDeps,
  actor: Actor | null,
): Promise<StatsSnapshot> {
  if (!can(actor, "stats:view_staff")) throw new NotFoundError();
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

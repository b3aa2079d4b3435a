import { DAY, HOUR } from "../clock.js";
import { SEVERITIES, SEVERITY_LABELS, type Severity } from "../reports/cvss.js";
import { CWE_OTHER, cweLabel } from "../reports/cwe.js";
import { STATES, STATE_INFO, type State } from "../reports/workflow.js";
import { barChart, type BarChart, type ChartItem } from "./charts.js";
import type { Bucket } from "./repository.js";
import {
  DEADLINES,
  MONTHS_SHOWN,
  ORGANIZATION_TIMINGS,
  PUBLIC_TIMINGS,
  TIMINGS,
  TOP_CWES,
  TOP_ORGANIZATIONS,
  type Deadline,
  type DeadlineShare,
  type Distribution,
  type OrganizationTiming,
  type PublicStatsSnapshot,
  type PublicTiming,
  type StatsSnapshot,
  type Timing,
} from "./service.js";

/* The statistics pages' view models: words and charts from a snapshot, no I/O. */

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

const ORGANIZATION_TIMING_INFO: Record<
  OrganizationTiming,
  { label: string; explanation: string }
> = {
  answer: {
    label: "Time to answer",
    explanation:
      "From the organization being notified to its first answer (investigating, affected, not affected, fixed or disputed).",
  },
  ...TIMING_INFO,
  fix: {
    label: "Time to fix",
    explanation:
      "From the organization being notified to it saying its fix is deployed.",
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
    fixedText: string;
    timings: { label: string; medianText: string; p90Text: string }[];
  }[];
  timingLabels: string[];
  timingExplanations: { label: string; explanation: string }[];
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
export function publicStatsPage(
  snapshot: PublicStatsSnapshot,
): PublicStatsView {
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
export function staffStatsPage(snapshot: StatsSnapshot): StaffStatsView {
  const base = statsView(snapshot, "Statistics for staff");
  return {
    ...base,
    organizationsChart: barChart(
      "chart-organizations",
      `Organizations taking part in the most reports (top ${TOP_ORGANIZATIONS})`,
      "Reports",
      "Organization",
      snapshot.organizations.map((o) => item(o.name, o.count)),
    ),
    timingLabels: ORGANIZATION_TIMINGS.map(
      (t) => ORGANIZATION_TIMING_INFO[t].label,
    ),
    timingExplanations: ORGANIZATION_TIMINGS.map(
      (t) => ORGANIZATION_TIMING_INFO[t],
    ),
    organizations: snapshot.organizations.map((o) => {
      const { fixed, timings } = snapshot.organizationFigures.get(
        o.organizationId,
      )!;
      return {
        name: o.name,
        countText: o.count.toLocaleString("en-GB"),
        fixedText: fixed.toLocaleString("en-GB"),
        timings: ORGANIZATION_TIMINGS.map((t) => ({
          label: ORGANIZATION_TIMING_INFO[t].label,
          medianText: durationText(timings[t].median),
          p90Text: durationText(timings[t].p90),
        })),
      };
    }),
  };
}

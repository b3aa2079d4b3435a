import { z } from "zod";
import { can, type Actor } from "../auth/policy.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { DONE, type Outcome } from "../http/validation.js";
import { recordChange } from "./changes.js";
import {
  markCaseFact,
  saveSsvcDecision,
  type CaseFactColumn,
} from "./repository.js";
import { accessFacts, type Report } from "./types.js";

/*
 * What is true about a case beyond its state: CERT/CC's Vultron case facts
 * (one-way: once the public is aware it stays aware) and the coordinator's
 * SSVC triage decision (Decline, Track or Coordinate).
 */

export const CASE_FACTS = {
  public_aware: {
    column: "public_aware_at",
    label: "The public is aware of the vulnerability",
  },
  exploit_public: {
    column: "exploit_public_at",
    label: "An exploit is public",
  },
  attacks_observed: {
    column: "attacks_observed_at",
    label: "Attacks have been observed",
  },
} as const satisfies Record<string, { column: CaseFactColumn; label: string }>;
type CaseFact = keyof typeof CASE_FACTS;
const FACT_NAMES = Object.keys(CASE_FACTS) as [CaseFact, ...CaseFact[]];

/** SSVC v2 coordinator triage decision points and their values. */
export const SSVC_POINTS = {
  reportPublic: { label: "Report public", values: ["yes", "no"] },
  supplierContacted: { label: "Supplier contacted", values: ["yes", "no"] },
  reportCredibility: {
    label: "Report credibility",
    values: ["credible", "not credible"],
  },
  supplierCardinality: {
    label: "Supplier cardinality",
    values: ["one", "multiple"],
  },
  supplierEngagement: {
    label: "Supplier engagement",
    values: ["active", "unresponsive"],
  },
  utility: {
    label: "Utility",
    values: ["laborious", "efficient", "super effective"],
  },
  publicSafetyImpact: {
    label: "Public safety impact",
    values: ["minimal", "significant"],
  },
} as const;
export const SSVC_OUTCOMES = ["decline", "track", "coordinate"] as const;
const OUTCOME_LABELS = {
  decline: "Decline",
  track: "Track",
  coordinate: "Coordinate",
};

type PointKey = keyof typeof SSVC_POINTS;
const choice = (key: PointKey) =>
  z.enum(SSVC_POINTS[key].values as unknown as [string, ...string[]], {
    error: `Choose a value for ${SSVC_POINTS[key].label.toLowerCase()}.`,
  });

export const ssvcSchema = z.object({
  reportPublic: choice("reportPublic"),
  supplierContacted: choice("supplierContacted"),
  reportCredibility: choice("reportCredibility"),
  supplierCardinality: choice("supplierCardinality"),
  supplierEngagement: choice("supplierEngagement"),
  utility: choice("utility"),
  publicSafetyImpact: choice("publicSafetyImpact"),
  outcome: z.enum(SSVC_OUTCOMES, { error: "Choose the outcome." }),
});
export type SsvcDecision = z.infer<typeof ssvcSchema>;

export const caseFactSchema = z.object({
  fact: z.enum(FACT_NAMES, { error: "Unknown case fact." }),
});

function requireCaseFacts(actor: Actor, report: Report) {
  if (!can(actor, "report:record_case_facts", accessFacts(report)))
    throw new NotFoundError();
}

/** Marks a case fact true, now and for good; on the public timeline. */
export async function recordCaseFact(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: z.infer<typeof caseFactSchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<void>> {
  requireCaseFacts(actor, report);
  const fact = CASE_FACTS[input.fact];
  const now = deps.clock.now();
  const marked = await deps.db.transaction().execute(async (tx) => {
    if (!(await markCaseFact(tx, report.id, fact.column, now))) return false;
    await recordChange(tx, deps, {
      change: "case_fact",
      report,
      actor,
      at: now,
      request,
      body: `Case fact: ${fact.label.toLowerCase()}.`,
      details: { fact: input.fact },
    });
    return true;
  });
  if (!marked)
    return {
      ok: false,
      errors: { fact: "That fact is already recorded." },
      values: {},
    };
  return DONE;
}

export async function recordSsvc(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  decision: SsvcDecision,
  request: AuditRequestContext | null = null,
): Promise<Outcome<void>> {
  requireCaseFacts(actor, report);
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await saveSsvcDecision(tx, report.id, JSON.stringify(decision), now);
    await recordChange(tx, deps, {
      change: "ssvc_saved",
      report,
      actor,
      at: now,
      request,
      body: `SSVC coordinator triage: **${OUTCOME_LABELS[decision.outcome]}**.`,
      details: { outcome: decision.outcome },
    });
  });
  return DONE;
}

/** What the report page shows of the case facts and (for staff) the SSVC decision. */
export function caseView(actor: Actor, report: Report) {
  const staff = can(actor, "report:record_case_facts", accessFacts(report));
  const times: Record<CaseFact, Date | null> = {
    public_aware: report.publicAwareAt,
    exploit_public: report.exploitPublicAt,
    attacks_observed: report.attacksObservedAt,
  };
  const facts = FACT_NAMES.map((name) => ({
    name,
    label: CASE_FACTS[name].label,
    since: times[name] ? formatDateTime(times[name]) : null,
  }));
  let ssvc: SsvcDecision | null = null;
  if (report.ssvc) {
    const parsed = ssvcSchema.safeParse(JSON.parse(report.ssvc));
    ssvc = parsed.success ? parsed.data : null;
  }
  return {
    facts,
    // Once the public knows, the embargo is over and early disclosure is open.
    embargoEnded: report.publicAwareAt !== null,
    staff,
    ssvc: staff
      ? {
          points: (Object.keys(SSVC_POINTS) as PointKey[]).map((key) => ({
            key,
            label: SSVC_POINTS[key].label,
            options: [
              { value: "", label: "Choose…" },
              ...SSVC_POINTS[key].values.map((v) => ({ value: v, label: v })),
            ],
            value: ssvc?.[key] ?? "",
          })),
          outcomeOptions: [
            { value: "", label: "Choose…" },
            ...SSVC_OUTCOMES.map((o) => ({
              value: o,
              label: OUTCOME_LABELS[o],
            })),
          ],
          outcome: ssvc?.outcome ?? "",
          outcomeLabel: ssvc ? OUTCOME_LABELS[ssvc.outcome] : null,
        }
      : null,
  };
}

/**
 * One action on many reports at once, from the queue's checkboxes: assign,
 * acknowledge, set the severity, close as a duplicate. Nothing is partial:
 * every report is checked first (it exists for this user, the policy lets
 * them act on it, the workflow allows the step), and only when all pass are
 * the changes written, in one transaction. Each report's change is the very
 * one its own page makes (assignment.ts, service.ts: applyTransition,
 * setSeverityIn), with its own timeline entry, audit entry and mail.
 */
import { can, relationTo, type Actor } from "../auth/policy.js";
import type { AuditRequestContext } from "../audit/types.js";
import type { Deps } from "../deps.js";
import type { SelectOption } from "../http/option-tags.js";
import type { FieldErrors } from "../http/validation.js";
import { normalizeReportId } from "../ids.js";
import type { User } from "../users/types.js";
import { assigneeOptions, assignIn, resolveAssignee } from "./assignment.js";
import {
  isSeverity,
  SEVERITIES,
  SEVERITY_LABELS,
  type Severity,
} from "./cvss.js";
import { findReportByPublicId } from "./repository.js";
import { applyTransition, setSeverityIn, severityRefusal } from "./service.js";
import { accessFacts, type Report } from "./types.js";
import { planTransition, STATE_INFO, type TransitionPlan } from "./workflow.js";

export const MAX_BULK = 100;

export const BULK_ACTIONS = {
  assign: "Assign",
  acknowledge: "Acknowledge",
  severity: "Set the severity",
  duplicate: "Close as duplicate",
} as const;
export type BulkAction = keyof typeof BULK_ACTIONS;

const isBulkAction = (v: unknown): v is BulkAction =>
  typeof v === "string" && Object.hasOwn(BULK_ACTIONS, v);

/** The form as sent: the queue's checkboxes, or this confirmation page. */
export interface BulkForm {
  ids: string[];
  action?: string;
  assignee_id?: string;
  severity?: string;
  duplicate_of?: string;
  message?: string;
  confirm: boolean;
}

const one = (v: unknown): string | undefined =>
  typeof v === "string"
    ? v
    : Array.isArray(v) && typeof v[0] === "string"
      ? v[0]
      : undefined;

export function bulkForm(body: unknown): BulkForm {
  const b = (body ?? {}) as Record<string, unknown>;
  const raw = b.ids;
  const ids = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw])
    .filter((s): s is string => typeof s === "string")
    .map((s) => s.trim().slice(0, 40))
    .filter((s) => s !== "");
  const text = (name: string, max: number) => {
    const v = one(b[name]);
    return v === undefined ? undefined : v.trim().slice(0, max);
  };
  return {
    ids,
    action: text("action", 20),
    assignee_id: text("assignee_id", 40),
    severity: text("severity", 20),
    duplicate_of: text("duplicate_of", 40),
    message: one(b.message)?.slice(0, 20_000),
    confirm: one(b.confirm) === "yes",
  };
}

/** One selected report as the confirmation page lists it. */
export interface BulkRow {
  /** The ID as typed when it names no report this user may see. */
  id: string;
  title: string | null;
  change: string | null;
  problem: string | null;
}

type Step =
  | { kind: "assign"; report: Report; assignee: User | null }
  | {
      kind: "transition";
      report: Report;
      plan: TransitionPlan;
      duplicateOf?: string;
    }
  | { kind: "severity"; report: Report; severity: Severity };

export interface BulkCheck {
  action: BulkAction | null;
  /** The action's fields, valid and complete: nothing left to ask. */
  complete: boolean;
  values: Record<string, string>;
  errors: FieldErrors;
  rows: BulkRow[];
  steps: Step[];
}

const NOT_FOUND = "Not found.";
const stateLabel = (r: Report) => STATE_INFO[r.state].label;

/**
 * Checks the whole selection without writing anything: the action's fields,
 * then each report. A report this user may not see reads "Not found.", the
 * same as one that does not exist.
 */
export async function checkBulk(
  deps: Deps,
  actor: Actor,
  form: BulkForm,
): Promise<BulkCheck> {
  const errors: FieldErrors = {};
  const values: Record<string, string> = {};
  const action = isBulkAction(form.action) ? form.action : null;
  if (form.action !== undefined && form.action !== "" && !action)
    errors.action = "Choose one of the actions.";
  if (action) values.action = action;
  const now = deps.clock.now();

  // The action's own fields; a missing one is asked for, a wrong one refused.
  let assignee: User | null | undefined;
  let severity: Severity | undefined;
  let original: Report | undefined;
  if (action === "assign" && form.assignee_id !== undefined) {
    values.assignee_id = form.assignee_id;
    const found = await resolveAssignee(deps.db, deps, form.assignee_id);
    if (found.ok) assignee = found.user;
    else errors.assignee_id = found.error;
  }
  if (action === "severity" && form.severity) {
    values.severity = form.severity;
    if (isSeverity(form.severity)) severity = form.severity;
    else errors.severity = "Choose a severity from the list.";
  }
  if (action === "duplicate" && form.duplicate_of) {
    values.duplicate_of = form.duplicate_of;
    const id = normalizeReportId(form.duplicate_of);
    const found = id ? await findReportByPublicId(deps.db, id) : undefined;
    if (!found || !can(actor, "report:view", accessFacts(found)))
      errors.duplicate_of =
        "Enter the ID of an existing report, like DD-7K2Q-9M4D.";
    else original = found;
  }
  if ((action === "acknowledge" || action === "duplicate") && form.message)
    values.message = form.message;
  const complete =
    action !== null &&
    Object.keys(errors).length === 0 &&
    (action === "assign"
      ? assignee !== undefined
      : action === "severity"
        ? severity !== undefined
        : action === "duplicate"
          ? original !== undefined
          : true);

  const rows: BulkRow[] = [];
  const steps: Step[] = [];
  const seen = new Set<string>();
  for (const typed of form.ids) {
    const publicId = normalizeReportId(typed);
    if (publicId && seen.has(publicId)) continue;
    if (publicId) seen.add(publicId);
    const report = publicId
      ? await findReportByPublicId(deps.db, publicId)
      : undefined;
    if (!report || !can(actor, "report:view", accessFacts(report))) {
      rows.push({ id: typed, title: null, change: null, problem: NOT_FOUND });
      continue;
    }
    const row: BulkRow = {
      id: report.publicId,
      title: report.title,
      change: null,
      problem: null,
    };
    rows.push(row);
    if (!action) continue;
    const relation = relationTo(actor, accessFacts(report));
    const facts = accessFacts(report);
    if (action === "assign") {
      if (!can(actor, "report:assign", facts)) {
        row.problem = "You may not assign this report.";
        continue;
      }
      if (assignee === undefined) continue;
      if ((assignee?.id ?? null) === report.assigneeId) {
        row.change = "No change: already so.";
        continue;
      }
      row.change = `Assignment → ${assignee ? assignee.displayName : "Unassigned"}`;
      steps.push({ kind: "assign", report, assignee });
    } else if (action === "severity") {
      if (!can(actor, "report:edit_triage", facts)) {
        row.problem = "You may not change this report's severity.";
        continue;
      }
      if (!severity) continue;
      const refused = severityRefusal(report, severity);
      if (refused) {
        row.problem = refused;
        continue;
      }
      if (report.severity === severity) {
        row.change = "No change: already so.";
        continue;
      }
      row.change = `Severity: ${report.severity ? SEVERITY_LABELS[report.severity] : "Not rated"} → ${SEVERITY_LABELS[severity]}`;
      steps.push({ kind: "severity", report, severity });
    } else {
      if (!can(actor, "report:act", facts)) {
        row.problem = "You may not act on this report.";
        continue;
      }
      if (action === "duplicate" && original?.id === report.id) {
        row.problem =
          "It is the original itself: a report cannot duplicate itself.";
        continue;
      }
      if (action === "duplicate" && !original) continue;
      const decision = planTransition(
        report,
        relation,
        action === "acknowledge" ? "acknowledge" : "close",
        action === "acknowledge"
          ? { message: form.message }
          : {
              message: form.message,
              resolution: "duplicate",
              duplicateOfId: original!.id,
            },
        now,
      );
      if (!decision.ok) {
        row.problem = decision.error;
        continue;
      }
      const to = STATE_INFO[decision.plan.to].label;
      row.change =
        action === "duplicate"
          ? `${stateLabel(report)} → ${to} (duplicate of ${original!.publicId})`
          : `${stateLabel(report)} → ${to}`;
      steps.push({
        kind: "transition",
        report,
        plan: decision.plan,
        ...(action === "duplicate" && { duplicateOf: original!.publicId }),
      });
    }
  }
  if (original && seen.has(original.publicId))
    errors.duplicate_of =
      "The original must not be one of the selected reports.";
  if (form.ids.length === 0)
    errors.ids = "Choose at least one report in the queue.";
  return {
    action,
    complete: complete && !errors.duplicate_of,
    values,
    errors,
    rows,
    steps,
  };
}

/** True when the check found nothing in the way: the changes may be written. */
export function applicable(check: BulkCheck): boolean {
  return (
    check.complete &&
    Object.keys(check.errors).length === 0 &&
    check.rows.length > 0 &&
    check.rows.every((r) => r.problem === null)
  );
}

/** Someone changed one of the reports between the check and the write. */
export class BulkConflict extends Error {
  constructor(readonly publicId: string) {
    super("bulk conflict");
  }
}

/**
 * Writes every checked step in one transaction; any report that moved in
 * the meantime rolls all of them back (BulkConflict). Returns how many
 * reports changed.
 */
export async function applyBulk(
  deps: Deps,
  actor: Actor,
  check: BulkCheck,
  request: AuditRequestContext | null,
): Promise<number> {
  const at = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    let changed = 0;
    for (const step of check.steps) {
      const { report } = step;
      let done: boolean;
      if (step.kind === "assign") {
        done = await assignIn(tx, deps, {
          actor,
          report,
          assignee: step.assignee,
          at,
          request,
        });
      } else if (step.kind === "severity") {
        done = await setSeverityIn(tx, deps, {
          actor,
          report,
          severity: step.severity,
          at,
          request,
        });
      } else {
        done = await applyTransition(tx, deps, {
          report,
          plan: step.plan,
          actor,
          at,
          request,
          ...(step.duplicateOf && {
            audited: { duplicateOf: step.duplicateOf },
          }),
        });
        if (!done) throw new BulkConflict(report.publicId);
      }
      if (done) changed += 1;
    }
    return changed;
  });
}

/** The confirmation page's model. */
export async function bulkPage(
  deps: Deps,
  actor: Actor,
  check: BulkCheck,
  extra: { errors?: FieldErrors } = {},
) {
  const ok = check.rows.filter((r) => r.problem === null);
  const problems = check.rows.length - ok.length;
  const changing = check.steps.length;
  const severities: SelectOption[] = [
    { value: "", label: "Choose…" },
    ...SEVERITIES.map((s) => ({ value: s, label: SEVERITY_LABELS[s] })),
  ];
  const assignees: SelectOption[] = [
    { value: "", label: "Unassigned" },
    ...(await assigneeOptions(deps, actor)).slice(1),
  ];
  return {
    action: check.action,
    actionLabel: check.action ? BULK_ACTIONS[check.action] : null,
    complete: check.complete,
    values: check.values,
    // The selection's own error has no field here: it heads the page.
    errors: Object.fromEntries(
      Object.entries({ ...check.errors, ...extra.errors }).map(([k, v]) => [
        k === "ids" ? "_form" : k,
        v,
      ]),
    ),
    rows: check.rows,
    ids: check.rows.map((r) => r.id),
    okIds: ok.map((r) => r.id),
    problems,
    changing,
    canApply: applicable(check) && changing > 0,
    options: {
      actions: [
        { value: "", label: "Choose…" },
        ...Object.entries(BULK_ACTIONS).map(([value, label]) => ({
          value,
          label,
        })),
      ],
      assignees,
      severities,
    },
  };
}

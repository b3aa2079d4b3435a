import { z } from "zod";
import type { AuditRequestContext } from "../audit/types.js";
import { can, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import {
  DONE,
  isCalendarDate,
  text,
  type Outcome,
  type Refusal,
} from "../http/validation.js";
import type { DbOrTx } from "../db/index.js";
import { CHANGES, recordChange } from "./changes.js";
import {
  findReportById,
  setDisclosureDeadline,
  setExtensionRequest,
} from "./repository.js";
import { isRunning } from "./clocks.js";
import { accessFacts, type Report } from "./types.js";

/*
 * The disclosure deadline after the organization is notified: a triager
 * moves it with a reason on the timeline; the organization can ask for more
 * time, and a triager grants or refuses. Each step is on the timeline, in the
 * audit log and mailed to the people on the report.
 */

const dateField = z
  .string({ error: "Enter a date." })
  .trim()
  .refine((s) => isCalendarDate(s), {
    message: "Enter a date like 2027-03-31.",
  });

export const deadlineSchema = z.object({
  date: dateField,
  reason: text("Reason", 3, 2000),
});

export const decisionSchema = z.object({
  decision: z.enum(["grant", "refuse"], { error: "Choose grant or refuse." }),
  note: z.string().default(""),
});

/** A date typed as YYYY-MM-DD means the end of that day, UTC. */
const endOfDay = (date: string) => new Date(`${date}T23:59:00.000Z`);

function requireOn(
  actor: Actor,
  action: "report:set_deadline" | "report:request_extension",
  report: Report,
) {
  if (!can(actor, action, accessFacts(report))) throw new NotFoundError();
}

const notRunning: Refusal = {
  ok: false,
  errors: {
    _form:
      "The disclosure deadline runs only between notifying the organization and verifying the fix.",
  },
  values: {},
};

/**
 * Why the deadline cannot be moved or asked to move now, or null. The route
 * asks before reading the form: the state error wins over a field error.
 */
export const deadlineNotRunning = (report: Report): Refusal | null =>
  isRunning("disclosure", report.state) && report.disclosureDueAt
    ? null
    : notRunning;

const noRequest: Refusal = {
  ok: false,
  errors: { _form: "There is no open request for more time." },
  values: {},
};

/** Why there is no request for more time to decide on, or null (asked before the form too). */
export const noOpenExtension = (report: Report): Refusal | null =>
  report.extensionRequestedTo && isRunning("disclosure", report.state)
    ? null
    : noRequest;

type DeadlineChange =
  | "deadline_changed"
  | "extension_requested"
  | "extension_granted"
  | "extension_refused";

/** Records a step on the deadline; its mail says where the deadline stands now. */
async function record(
  deps: Pick<Deps, "db" | "clock" | "config">,
  tx: DbOrTx,
  actor: Actor,
  report: Report,
  change: DeadlineChange,
  body: string,
  request: AuditRequestContext | null,
) {
  const current = (await findReportById(tx, report.id))!;
  await recordChange(tx, deps, {
    change,
    report,
    actor,
    at: deps.clock.now(),
    request,
    body,
    details: { step: CHANGES[change].action },
    mailDetail: current.disclosureDueAt
      ? `Disclosure deadline: ${formatDateTime(current.disclosureDueAt)}.`
      : undefined,
  });
}

type DeadlineInput = z.infer<typeof deadlineSchema>;

/**
 * The shared part of moving the deadline and asking to: the policy, a
 * running clock, a valid date after `notBefore`, then `apply` in one
 * transaction with its timeline entry, audit entry and mail.
 */
async function newDeadline(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: DeadlineInput,
  step: {
    action: "report:set_deadline" | "report:request_extension";
    notBefore: (current: Date, now: Date) => Date;
    tooEarly: string;
    apply: (tx: DbOrTx, to: Date, now: Date) => Promise<void>;
    change: DeadlineChange;
    describe: (from: Date, to: Date, reason: string) => string;
  },
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  requireOn(actor, step.action, report);
  const from = report.disclosureDueAt;
  if (deadlineNotRunning(report) || !from) return notRunning;
  const to = endOfDay(input.date);
  const now = deps.clock.now();
  if (to.getTime() <= step.notBefore(from, now).getTime())
    return { ok: false, errors: { date: step.tooEarly }, values: input };
  await deps.db.transaction().execute(async (tx) => {
    await step.apply(tx, to, now);
    await record(
      deps,
      tx,
      actor,
      report,
      step.change,
      step.describe(from, to, input.reason),
      request,
    );
  });
  return DONE;
}

/** A triager moves the deadline, with the reason on the timeline. */
export function changeDeadline(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: DeadlineInput,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  return newDeadline(
    deps,
    actor,
    report,
    input,
    {
      action: "report:set_deadline",
      notBefore: (_current, now) => now,
      tooEarly: "The new deadline must be in the future.",
      apply: (tx, to, now) => setDisclosureDeadline(tx, report.id, to, now),
      change: "deadline_changed",
      describe: (from, to, reason) =>
        `From ${formatDateTime(from)} to ${formatDateTime(to)}. Reason: ${reason}`,
    },
    request,
  );
}

/** The organization asks for a later deadline; a triager decides. */
export async function requestExtension(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: DeadlineInput,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  requireOn(actor, "report:request_extension", report);
  // One open request at a time: each one mails the triage team.
  if (report.extensionRequestedTo)
    return {
      ok: false,
      errors: {
        _form: `You already asked for more time, until ${formatDateTime(report.extensionRequestedTo)}. The CERT decides that request first; you can ask again afterwards.`,
      },
      values: input,
    };
  return newDeadline(
    deps,
    actor,
    report,
    input,
    {
      action: "report:request_extension",
      notBefore: (current) => current,
      tooEarly: "Ask for a date after the current deadline.",
      apply: (tx, to, now) => setExtensionRequest(tx, report.id, to, now),
      change: "extension_requested",
      describe: (_from, to, reason) =>
        `Until ${formatDateTime(to)}. Reason: ${reason}`,
    },
    request,
  );
}

export async function decideExtension(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: z.infer<typeof decisionSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  requireOn(actor, "report:set_deadline", report);
  const requested = report.extensionRequestedTo;
  if (noOpenExtension(report) || !requested) return noRequest;
  const now = deps.clock.now();
  const reason = input.note.trim().slice(0, 2000);
  await deps.db.transaction().execute(async (tx) => {
    if (input.decision === "grant") {
      await setDisclosureDeadline(tx, report.id, requested, now);
    } else {
      await setExtensionRequest(tx, report.id, null, now);
    }
    const granted = input.decision === "grant";
    await record(
      deps,
      tx,
      actor,
      report,
      granted ? "extension_granted" : "extension_refused",
      (granted
        ? `New deadline ${formatDateTime(requested)}.`
        : `The deadline stays ${formatDateTime(report.disclosureDueAt!)}.`) +
        (reason ? ` ${reason}` : ""),
      request,
    );
  });
  return DONE;
}

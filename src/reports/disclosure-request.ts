import { z } from "zod";
import type { AuditRequestContext } from "../audit/types.js";
import { can, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import {
  DONE,
  optionalText,
  text,
  type Outcome,
  type Refusal,
} from "../http/validation.js";
import { CHANGES, recordChange } from "./changes.js";
import { setDisclosureRequest } from "./repository.js";
import { accessFacts, type Report } from "./types.js";
import type { State } from "./workflow.js";

/*
 * The researcher may ask the CERT to publish; the CERT decides: it publishes
 * (the workflow's "publish" step) or answers "not yet" with a reason. One
 * request is open at a time; each step is on the timeline, audited and mailed.
 */

/** Where publication can follow: the organization knows, or the case was resolved. */
const MAY_ASK_IN: readonly State[] = [
  "vendor_notified",
  "fix_in_progress",
  "fixed",
  "fix_verified",
];

export function mayAskForDisclosure(report: Report): boolean {
  return (
    MAY_ASK_IN.includes(report.state) ||
    (report.state === "closed" && report.resolution === "resolved")
  );
}

export const disclosureRequestSchema = z.object({
  disclosureReason: optionalText("Reason", 2000),
});
export const disclosureDecisionSchema = z.object({
  declineReason: text("Reason", 5, 2000),
});

type Step = {
  open: boolean;
  change: "disclosure_requested" | "disclosure_request_declined";
  body: string;
};

async function record(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  step: Step,
  request: AuditRequestContext | null,
): Promise<boolean> {
  const now = deps.clock.now();
  return deps.db.transaction().execute(async (tx) => {
    if (
      !(await setDisclosureRequest(tx, report.id, step.open ? now : null, now))
    )
      return false;
    await recordChange(tx, deps, {
      change: step.change,
      report,
      actor,
      at: now,
      request,
      body: step.body,
      details: { step: CHANGES[step.change].action },
    });
    return true;
  });
}

/** The researcher asks for disclosure, with an optional reason. */
export async function requestDisclosure(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: z.infer<typeof disclosureRequestSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  if (!can(actor, "report:request_disclosure", accessFacts(report)))
    throw new NotFoundError();
  const refuse = (message: string): Refusal => ({
    ok: false,
    errors: { disclosureReason: message },
    values: input,
  });
  if (!mayAskForDisclosure(report))
    return refuse(
      "You can ask for disclosure once the organization has been notified, or after the case was resolved.",
    );
  const asked = await record(
    deps,
    actor,
    report,
    {
      open: true,
      change: "disclosure_requested",
      body: input.disclosureReason
        ? `Asked the CERT to publish the advisory: ${input.disclosureReason}`
        : "Asked the CERT to publish the advisory.",
    },
    request,
  );
  return asked
    ? DONE
    : refuse("You already asked; the CERT will answer on this page.");
}

/** A triager answers "not yet", with a reason the researcher reads. */
export async function declineDisclosureRequest(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: z.infer<typeof disclosureDecisionSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  if (!can(actor, "report:answer_disclosure", accessFacts(report)))
    throw new NotFoundError();
  const declined = await record(
    deps,
    actor,
    report,
    {
      open: false,
      change: "disclosure_request_declined",
      body: `Not yet published: ${input.declineReason}`,
    },
    request,
  );
  return declined
    ? DONE
    : {
        ok: false,
        errors: {
          declineReason: "There is no open request for disclosure.",
        },
        values: input,
      };
}

/** What the report page shows of the request, to the researcher and to staff. */
export function disclosureRequestView(actor: Actor, report: Report) {
  if (report.state === "disclosed") return null;
  const facts = accessFacts(report);
  const asked = report.disclosureRequestedAt
    ? formatDateTime(report.disclosureRequestedAt)
    : null;
  if (can(actor, "report:request_disclosure", facts))
    return mayAskForDisclosure(report) || asked
      ? { role: "researcher" as const, asked }
      : null;
  if (can(actor, "report:answer_disclosure", facts) && asked)
    return { role: "staff" as const, asked };
  return null;
}

/**
 * The disclosure workflow as a pure state machine: which transitions exist,
 * from which states, who may take them, what they need and whom they notify.
 * No I/O here; reports/service.ts applies a plan inside one transaction.
 *
 * States map onto CERT/CC's Vultron report management (received → valid →
 * accepted → closed) and ISO/IEC 30111's phases (receipt, verification,
 * remediation, release); see src/reports/CONTEXT.md.
 */
import type { Relation } from "../auth/policy.js";
import type { Severity } from "./cvss.js";

export const STATES = [
  "submitted",
  "acknowledged",
  "needs_info",
  "triaged",
  "vendor_notified",
  "fix_in_progress",
  "fixed",
  "fix_verified",
  "closed",
  "disclosed",
] as const;
export type State = (typeof STATES)[number];

export const OPEN_STATES: readonly State[] = STATES.filter(
  (s) => s !== "closed" && s !== "disclosed",
);

export const RESOLUTIONS = [
  "resolved",
  "invalid",
  "duplicate",
  "out_of_scope",
  "wont_fix",
  "withdrawn",
] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

/**
 * Who hears about a change; the mail layer resolves these to people.
 * "assignee" is the report's assigned triager alone (told they were given
 * it), where "triage" falls back to the whole team when nobody is assigned.
 */
export type Audience = "reporter" | "triage" | "org" | "assignee";

/** Who takes a transition: someone standing in a relation to the report, or the app itself (the scheduler). */
export type Taker = Relation | "system";

export const TRANSITION_NAMES = [
  "acknowledge",
  "request_info",
  "provide_info",
  "triage",
  "notify_vendor",
  "vendor_acknowledge",
  "mark_fixed",
  "verify_fix",
  "reject_fix",
  "close",
  "withdraw",
  "publish",
  "reopen",
  "expire_info",
] as const;
export type TransitionName = (typeof TRANSITION_NAMES)[number];

export interface TransitionDef {
  name: TransitionName;
  /** The button's text. */
  label: string;
  from: readonly State[];
  /** "previous" returns to the state before the request for information. */
  to: State | "previous";
  by: readonly Taker[];
  message: "required" | "optional";
  /** Who hears of it; its timeline entry, audit entry and words: reports/changes.ts. */
  notify: readonly Audience[];
  /** What the report must have before the step (refused, naming it, otherwise). */
  requires?: readonly Requirement[];
  /** A step that ends, undoes or exposes the case: what it does, said before it is taken. */
  danger?: string;
  /** Cannot be taken back: the step asks for an explicit confirmation. */
  irreversible?: true;
}

/** Facts of the report a step may need first, and the refusal that names each. */
export type Requirement = "organization" | "severity";
export const REQUIREMENTS: Record<
  Requirement,
  { field: "organization" | "cvss"; error: string }
> = {
  organization: {
    field: "organization",
    error: "Set the affected organization before this step.",
  },
  severity: {
    field: "cvss",
    error:
      "Set the severity (a complete CVSS vector) before this step: a triaged report is scored.",
  },
};

/** States from which a report may be published early, once the public is aware. */
const EARLY_DISCLOSURE: readonly State[] = [
  "vendor_notified",
  "fix_in_progress",
  "fixed",
];

const OPEN_BEFORE_VENDOR: readonly State[] = [
  "submitted",
  "acknowledged",
  "needs_info",
  "triaged",
];

export const TRANSITIONS: Record<TransitionName, TransitionDef> = {
  acknowledge: {
    name: "acknowledge",
    label: "Acknowledge",
    from: ["submitted"],
    to: "acknowledged",
    by: ["staff"],
    message: "optional",
    notify: ["reporter"],
  },
  request_info: {
    name: "request_info",
    label: "Ask the researcher for information",
    from: ["submitted", "acknowledged", "triaged"],
    to: "needs_info",
    by: ["staff"],
    message: "required",
    notify: ["reporter"],
  },
  provide_info: {
    name: "provide_info",
    label: "Send the information",
    from: ["needs_info"],
    to: "previous",
    by: ["reporter"],
    message: "required",
    notify: ["triage"],
  },
  triage: {
    name: "triage",
    label: "Mark as triaged (valid)",
    from: ["submitted", "acknowledged"],
    to: "triaged",
    by: ["staff"],
    message: "optional",
    notify: ["reporter"],
    requires: ["organization", "severity"],
  },
  notify_vendor: {
    name: "notify_vendor",
    label: "Notify the organization",
    from: ["triaged"],
    to: "vendor_notified",
    by: ["staff"],
    message: "optional",
    notify: ["reporter", "org"],
    requires: ["organization"],
  },
  vendor_acknowledge: {
    name: "vendor_acknowledge",
    label: "Acknowledge and start fixing",
    from: ["vendor_notified"],
    to: "fix_in_progress",
    by: ["org_contact", "staff"],
    message: "optional",
    notify: ["reporter", "triage", "org"],
  },
  mark_fixed: {
    name: "mark_fixed",
    label: "Mark the fix as deployed",
    from: ["vendor_notified", "fix_in_progress"],
    to: "fixed",
    by: ["org_contact", "staff"],
    message: "optional",
    notify: ["reporter", "triage", "org"],
  },
  verify_fix: {
    name: "verify_fix",
    label: "Confirm the fix works",
    from: ["fixed"],
    to: "fix_verified",
    by: ["reporter", "staff"],
    message: "optional",
    notify: ["reporter", "triage", "org"],
  },
  reject_fix: {
    name: "reject_fix",
    label: "Report that it is not fixed",
    from: ["fixed"],
    to: "fix_in_progress",
    by: ["reporter", "staff"],
    message: "required",
    notify: ["reporter", "triage", "org"],
  },
  close: {
    name: "close",
    label: "Close",
    from: OPEN_STATES,
    to: "closed",
    by: ["staff"],
    message: "optional",
    notify: ["reporter", "org"],
    danger:
      "Ends the work on this report (invalid, won't fix, duplicate…); everyone on it is told.",
  },
  withdraw: {
    name: "withdraw",
    label: "Withdraw the report",
    from: OPEN_BEFORE_VENDOR,
    to: "closed",
    by: ["reporter"],
    message: "optional",
    notify: ["triage"],
    danger: "The CERT stops working on the report.",
  },
  publish: {
    name: "publish",
    label: "Publish as advisory",
    from: [...EARLY_DISCLOSURE, "fix_verified", "closed"],
    to: "disclosed",
    by: ["staff"],
    message: "optional",
    notify: ["reporter", "org"],
    danger:
      "Publishes the advisory to everyone: the public page, the feed and CSAF.",
    irreversible: true,
  },
  reopen: {
    name: "reopen",
    label: "Reopen",
    from: ["closed"],
    to: "triaged",
    by: ["staff"],
    message: "required",
    notify: ["reporter"],
    danger:
      "Opens the closed case again and clears its resolution; the researcher is told.",
  },
  // The scheduler closes a request for information left unanswered too long.
  expire_info: {
    name: "expire_info",
    label: "Close: the request for information went unanswered",
    from: ["needs_info"],
    to: "closed",
    by: ["system"],
    message: "optional",
    notify: ["reporter", "triage"],
  },
};

/**
 * What the workflow needs to know about a report: its state, and the facts
 * of its history a state alone forgets (a closed or reopened report may or
 * may not have been notified or had its fix verified).
 */
export interface WorkflowReport {
  state: State;
  stateBeforeInfo: State | null;
  organizationId: number | null;
  /** From the CVSS vector; null until it is scored. */
  severity: Severity | null;
  resolution: Resolution | null;
  /** Set at notification and kept: reopening does not untell the organization. */
  vendorNotifiedAt: Date | null;
  disclosureDueAt: Date | null;
  /** When the fix was last verified; cleared when the report is reopened. */
  fixVerifiedAt: Date | null;
  /** Case fact: once the public is aware, the embargo is over. */
  publicAwareAt: Date | null;
}

export interface TransitionInput {
  message?: string;
  resolution?: Resolution;
  /** Internal id of the original report, for a duplicate. */
  duplicateOfId?: number | null;
  /** The person confirmed an irreversible step. */
  confirmed?: boolean;
}

/** The changes a transition makes; the service writes them in one transaction. */
export interface TransitionPlan {
  transition: TransitionDef;
  from: State;
  to: State;
  stateBeforeInfo: State | null;
  resolution: Resolution | null;
  duplicateOfId: number | null;
  /** The moment the organization is notified starts the disclosure clock. */
  startsDisclosureClock: boolean;
  /** Verifying the fix records when; reopening forgets it (it must be verified again). */
  fixVerified: "now" | "clear" | "keep";
  message: string | null;
  notify: readonly Audience[];
}

export type PlanResult =
  | { ok: true; plan: TransitionPlan }
  | {
      ok: false;
      field?:
        | "message"
        | "resolution"
        | "duplicateOf"
        | "organization"
        | "cvss"
        | "confirm";
      error: string;
    };

export function isState(value: unknown): value is State {
  return (
    typeof value === "string" && (STATES as readonly string[]).includes(value)
  );
}

export function isTransitionName(value: unknown): value is TransitionName {
  return (
    typeof value === "string" &&
    (TRANSITION_NAMES as readonly string[]).includes(value)
  );
}

/** Closed reports that may become an advisory; the others name no vulnerability to fix. */
const PUBLISHABLE_RESOLUTIONS: readonly Resolution[] = ["resolved", "wont_fix"];

/** States before a report is validated: nothing about it is public or final yet. */
const BEFORE_TRIAGE: readonly State[] = [
  "submitted",
  "acknowledged",
  "needs_info",
];

/**
 * Whether an advisory can come of this report: once it is validated, and
 * not when it was closed as something that is never published. The page
 * shows the advisory form only then.
 */
export function advisoryInPlay(report: WorkflowReport): boolean {
  if (BEFORE_TRIAGE.includes(report.state)) return false;
  if (report.state === "closed")
    return (
      report.vendorNotifiedAt !== null &&
      report.resolution !== null &&
      PUBLISHABLE_RESOLUTIONS.includes(report.resolution)
    );
  return true;
}

/**
 * Why this report may not be published now, or null if it may: the
 * organization must have been told, and then the fix verified, the
 * disclosure deadline passed, or the public already aware.
 */
export function publicationBlocker(
  report: WorkflowReport,
  now: Date,
): string | null {
  if (report.state === "disclosed") return "The advisory is published.";
  if (
    report.state === "closed" &&
    (report.resolution === null ||
      !PUBLISHABLE_RESOLUTIONS.includes(report.resolution))
  )
    return `A report closed as "${RESOLUTION_LABELS[report.resolution ?? "invalid"]}" is not published.`;
  if (!TRANSITIONS.publish.from.includes(report.state))
    return "The organization has not been notified yet: publishing waits for that, and then for the fix to be verified or the disclosure deadline to pass.";
  if (!report.vendorNotifiedAt)
    return "The organization was never notified: a report is published only after the organization was told.";
  if (report.fixVerifiedAt) return null;
  if (report.disclosureDueAt && report.disclosureDueAt <= now) return null;
  if (report.publicAwareAt) return null;
  return "The fix has not been verified and the disclosure deadline has not passed. Publish early only once the public is aware (record it under Case facts).";
}

function permitted(
  def: TransitionDef,
  report: WorkflowReport,
  relation: Taker,
  now: Date,
): boolean {
  if (!def.by.includes(relation) || !def.from.includes(report.state))
    return false;
  if (def.name === "publish") return publicationBlocker(report, now) === null;
  // Withdrawal is for a report the organization never saw, even if reopened since.
  if (def.name === "withdraw") return report.vendorNotifiedAt === null;
  return true;
}

/** The transitions this relation may take now: exactly the buttons a page shows. */
export function availableTransitions(
  report: WorkflowReport,
  relation: Relation,
  now: Date,
): TransitionDef[] {
  return TRANSITION_NAMES.map((n) => TRANSITIONS[n]).filter((d) =>
    permitted(d, report, relation, now),
  );
}

/**
 * Decides a transition: refuses what this relation may not do in this state,
 * checks what it needs, and returns the changes to make.
 */
export function planTransition(
  report: WorkflowReport,
  relation: Taker,
  name: TransitionName,
  input: TransitionInput,
  now: Date,
): PlanResult {
  const def = TRANSITIONS[name];
  if (!permitted(def, report, relation, now)) {
    // Say why, to whoever may take the step at all.
    const blocker =
      name === "publish" && def.by.includes(relation)
        ? publicationBlocker(report, now)
        : null;
    return {
      ok: false,
      error:
        blocker ?? "This action is not possible in the report's current state.",
    };
  }
  const message = input.message?.trim() || null;
  if (def.message === "required" && !message) {
    return {
      ok: false,
      field: "message",
      error: "Write a message: it is required for this step.",
    };
  }
  for (const requirement of def.requires ?? []) {
    const missing =
      requirement === "organization"
        ? report.organizationId === null
        : report.severity === null;
    if (missing) return { ok: false, ...REQUIREMENTS[requirement] };
  }
  if (def.irreversible && !input.confirmed) {
    return {
      ok: false,
      field: "confirm",
      error: "Tick the box to confirm: this step cannot be undone.",
    };
  }

  let resolution: Resolution | null = report.resolution;
  let duplicateOfId: number | null = null;
  if (name === "close") {
    if (!input.resolution || input.resolution === "withdrawn") {
      return { ok: false, field: "resolution", error: "Choose a resolution." };
    }
    resolution = input.resolution;
    if (resolution === "resolved" && !report.fixVerifiedAt) {
      return {
        ok: false,
        field: "resolution",
        error:
          "Resolved means the fix was verified, and this report's fix has not been. Choose another resolution, or follow the fix until it is verified.",
      };
    }
    if (resolution === "duplicate") {
      if (!input.duplicateOfId) {
        return {
          ok: false,
          field: "duplicateOf",
          error: "A duplicate names the original report's ID.",
        };
      }
      duplicateOfId = input.duplicateOfId;
    }
  } else if (name === "withdraw") {
    resolution = "withdrawn";
  } else if (name === "expire_info") {
    resolution = "invalid";
  } else if (name === "reopen") {
    resolution = null;
  }

  const to =
    def.to === "previous" ? (report.stateBeforeInfo ?? "acknowledged") : def.to;
  return {
    ok: true,
    plan: {
      transition: def,
      from: report.state,
      to,
      stateBeforeInfo: to === "needs_info" ? report.state : null,
      resolution,
      duplicateOfId,
      startsDisclosureClock: name === "notify_vendor",
      fixVerified:
        name === "verify_fix" ? "now" : name === "reopen" ? "clear" : "keep",
      message,
      notify: def.notify,
    },
  };
}

/**
 * The states in which the report waits for its researcher, and what they are
 * asked to do. With a credit proposal they have not answered
 * (waitingForResearcher), this is the one rule for "waiting for you".
 */
export const RESEARCHER_TURN: Partial<Record<State, string>> = {
  needs_info: "Answer the CERT's question",
  fixed: "Retest the fix",
};

/** What the researcher is asked to do on a report now, or null when nothing waits for them. */
export function waitingForResearcher(report: {
  state: State;
  /** The CERT proposed a credit the researcher has not accepted or declined (before publication). */
  creditAnswerPending: boolean;
}): string | null {
  return (
    RESEARCHER_TURN[report.state] ??
    (report.creditAnswerPending ? "Accept or decline your credit" : null)
  );
}

/** Whose step is next in each state (the queue's "waiting for" views); null: nobody's. */
export const WAITING_ON: Record<
  State,
  "cert" | "researcher" | "organization" | null
> = {
  submitted: "cert",
  acknowledged: "cert",
  needs_info: "researcher",
  triaged: "cert",
  vendor_notified: "organization",
  fix_in_progress: "organization",
  fixed: "researcher",
  fix_verified: "cert",
  closed: null,
  disclosed: null,
};
export type WaitingParty = NonNullable<(typeof WAITING_ON)[State]>;

export function statesWaitingOn(party: WaitingParty): State[] {
  return STATES.filter((s) => WAITING_ON[s] === party);
}

/** Plain words for every state: what it means and what happens next, per viewer. */
export const STATE_INFO: Record<
  State,
  { label: string; meaning: string; next: Partial<Record<Relation, string>> }
> = {
  submitted: {
    label: "Submitted",
    meaning: "The report was received and has a tracking ID.",
    next: {
      reporter: "A CERT triager will read it and acknowledge it.",
      staff: "Acknowledge it, ask for information, or validate it.",
    },
  },
  acknowledged: {
    label: "Acknowledged",
    meaning: "A CERT triager has read the report.",
    next: {
      reporter:
        "The CERT is validating it: severity, weakness and the affected organization.",
      staff:
        "Validate it (set CVSS, CWE and organization) or ask for information.",
    },
  },
  needs_info: {
    label: "Needs information",
    meaning: "The CERT is waiting for an answer from the researcher.",
    next: {
      reporter:
        "Answer the CERT's question below; the report then continues where it was.",
      staff: "Waiting for the researcher's answer.",
    },
  },
  triaged: {
    label: "Triaged",
    meaning:
      "The report is valid: severity, weakness and organization are set.",
    next: {
      reporter: "The CERT will notify the affected organization.",
      staff: "Notify the organization.",
    },
  },
  vendor_notified: {
    label: "Organization notified",
    meaning:
      "The affected organization has been told; the disclosure clock runs.",
    next: {
      reporter: "The organization should acknowledge it and start fixing.",
      org_contact: "Acknowledge the report and start working on a fix.",
      staff: "Waiting for the organization to acknowledge it.",
    },
  },
  fix_in_progress: {
    label: "Fix in progress",
    meaning: "The organization is working on a fix.",
    next: {
      reporter: "You will be asked to retest once the fix is deployed.",
      org_contact: "Mark the fix as deployed when it is live.",
      staff: "Follow the fix against the disclosure deadline.",
    },
  },
  fixed: {
    label: "Fixed",
    meaning: "The organization says the fix is deployed.",
    next: {
      reporter:
        "Please retest and confirm the fix, or report that it is not fixed.",
      org_contact: "The researcher is retesting.",
      staff:
        "Waiting for the researcher to confirm the fix; you may confirm it yourself.",
    },
  },
  fix_verified: {
    label: "Fix verified",
    meaning: "The fix was confirmed.",
    next: {
      reporter:
        "The CERT will close the case or publish an advisory with your credit.",
      org_contact: "The CERT will close the case or publish an advisory.",
      staff: "Close the case or publish an advisory.",
    },
  },
  closed: {
    label: "Closed",
    meaning: "The case is closed.",
    next: {},
  },
  disclosed: {
    label: "Disclosed",
    meaning: "The case was published as a public advisory.",
    next: {},
  },
};

export const RESOLUTION_LABELS: Record<Resolution, string> = {
  resolved: "Resolved",
  invalid: "Invalid",
  duplicate: "Duplicate",
  out_of_scope: "Out of scope",
  wont_fix: "Won't fix",
  withdrawn: "Withdrawn by the researcher",
};

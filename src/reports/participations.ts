/**
 * The rules of several organizations on one case, pure (no I/O): each
 * participation's status and who may set it, and how the report's own
 * state follows from its participations (workflow.ts names the steps).
 *
 * Silence is not "not affected": every participation starts as not yet
 * answered, and a case is fixed only when no participant is left unsettled.
 */
import type { State, TransitionName } from "./workflow.js";

export const PARTICIPATION_STATUSES = [
  "not_answered",
  "investigating",
  "affected",
  "not_affected",
  "fixed",
  "disputed",
] as const;
export type ParticipationStatus = (typeof PARTICIPATION_STATUSES)[number];

export const PARTICIPATION_STATUS_LABELS: Record<ParticipationStatus, string> =
  {
    not_answered: "Not yet answered",
    investigating: "Investigating",
    affected: "Affected",
    not_affected: "Not affected",
    fixed: "Fixed",
    disputed: "Disputed",
  };

/** The statuses an organization (or a triager for it) may set; "not yet answered" is only where it starts. */
export const ANSWER_STATUSES: readonly ParticipationStatus[] =
  PARTICIPATION_STATUSES.filter((s) => s !== "not_answered");

/** An answer that ends the organization's part: nothing more is expected of it. */
export const SETTLED_STATUSES: readonly ParticipationStatus[] = [
  "fixed",
  "not_affected",
  "disputed",
];

export interface Participation {
  id: number;
  reportId: number;
  organizationId: number;
  organizationName: string;
  organizationPublicId: string;
  status: ParticipationStatus;
  /** Why the organization disputes the report. */
  statusReason: string | null;
  statusChangedAt: Date | null;
  answeredAt: Date | null;
  statement: string | null;
  statementReferences: string | null;
  statementUpdatedAt: Date | null;
  /** A triager approved the statement as it stands (an edit withdraws the approval). */
  statementApprovedAt: Date | null;
  /** The organization lets the other participants read its statement before publication. */
  statementShared: boolean;
  trackingId: string | null;
  fixTargetAt: Date | null;
  fixVerifiedAt: Date | null;
  addedAt: Date;
  notifiedAt: Date | null;
  removedAt: Date | null;
  removedReason: string | null;
}

/** What the derivation reads of each participation still on the case. */
export type ParticipationFacts = Pick<
  Participation,
  "status" | "notifiedAt" | "fixVerifiedAt"
>;

export function isParticipationStatus(v: unknown): v is ParticipationStatus {
  return (
    typeof v === "string" &&
    (PARTICIPATION_STATUSES as readonly string[]).includes(v)
  );
}

/**
 * The step the report takes by itself after a participation changed, or
 * null. Where that is the meaning, the report's state follows:
 * - organization notified: taken by the triager's "notify" (the first
 *   participant notified), never derived;
 * - fix in progress: once any notified participant says it is affected or
 *   investigating;
 * - fixed: once every notified participant has settled (fixed, not
 *   affected or disputed) and at least one fixed; one silent participant
 *   keeps the case open;
 * - fix verified: once every fixed participant's fix was confirmed.
 */
export function followingStep(
  state: State,
  participations: readonly ParticipationFacts[],
): TransitionName | null {
  const notified = participations.filter((p) => p.notifiedAt !== null);
  if (notified.length === 0) return null;
  const fixed = notified.filter((p) => p.status === "fixed");
  const allSettled = notified.every((p) => SETTLED_STATUSES.includes(p.status));
  if (
    (state === "vendor_notified" || state === "fix_in_progress") &&
    allSettled &&
    fixed.length > 0
  )
    return "mark_fixed";
  if (
    state === "vendor_notified" &&
    notified.some(
      (p) => p.status === "affected" || p.status === "investigating",
    )
  )
    return "vendor_acknowledge";
  if (
    state === "fixed" &&
    fixed.length > 0 &&
    fixed.every((p) => p.fixVerifiedAt !== null)
  )
    return "verify_fix";
  return null;
}

/** "3 of 12 answered": the queue's and the panel's count. */
export function answeredCount(participations: readonly ParticipationFacts[]): {
  answered: number;
  notified: number;
} {
  const notified = participations.filter((p) => p.notifiedAt !== null);
  return {
    answered: notified.filter((p) => p.status !== "not_answered").length,
    notified: notified.length,
  };
}

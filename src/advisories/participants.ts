/**
 * What an advisory says about each organization on the case, pure (no I/O):
 * its status in the advisory's words, and its statement and references
 * only once a triager approved them as they stand (as CERT/CC's
 * vulnerability notes publish a vendor's statement).
 */
import type {
  Participation,
  ParticipationStatus,
} from "../reports/participations.js";

/** The advisory's words for each status (CERT/CC's "Under investigation" for investigating). */
export const ADVISORY_STATUS_LABELS: Record<ParticipationStatus, string> = {
  not_answered: "Not yet answered",
  investigating: "Under investigation",
  affected: "Affected",
  not_affected: "Not affected",
  fixed: "Fixed",
  disputed: "Disputed",
};

/** One organization as an advisory (page, CSAF, CVE record) names it. */
export interface AdvisoryParticipant {
  organizationId: number;
  name: string;
  status: ParticipationStatus;
  statusLabel: string;
  /** When the organization said fixed (for CSAF's vendor_fix), if known. */
  fixedAt: Date | null;
  /** The statement and references as approved; null when not approved (or none). */
  statement: string | null;
  references: string[];
}

/**
 * A statement is published only if a triager approved it and it was not
 * edited after (an edit withdraws the approval until approved again).
 */
export function statementIsApproved(
  p: Pick<
    Participation,
    "statement" | "statementApprovedAt" | "statementUpdatedAt"
  >,
): boolean {
  return (
    !!p.statement?.trim() &&
    p.statementApprovedAt !== null &&
    (p.statementUpdatedAt === null ||
      p.statementUpdatedAt.getTime() <= p.statementApprovedAt.getTime())
  );
}

/** References as the organization wrote them: one per line, blank lines dropped. */
export function referenceLines(references: string | null): string[] {
  return (references ?? "")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/** A reference that is a web address (http or https), for links and CSAF's references; null otherwise. */
export function referenceUrl(reference: string): string | null {
  try {
    const url = new URL(reference);
    return url.protocol === "https:" || url.protocol === "http:"
      ? url.href
      : null;
  } catch {
    return null;
  }
}

/**
 * The organizations an advisory lists: every participation not removed, in
 * the order they joined the case.
 *
 * A case with one organization that never answered for itself (a report
 * worked with the report's own steps, or from before several organizations
 * could take part) keeps what the report's steps say, as advisories did
 * before: fixed once the report reached "fixed", otherwise affected. With
 * several organizations each one's own answer is all that counts: silence
 * is "Not yet answered", never "Not affected".
 */
export function advisoryParticipants(
  participations: readonly Participation[],
  reached: ReadonlyMap<string, Date>,
): AdvisoryParticipant[] {
  const onCase = participations.filter((p) => p.removedAt === null);
  const legacy = onCase.length === 1 && onCase[0]!.status === "not_answered";
  return onCase.map((p) => {
    const status: ParticipationStatus = legacy
      ? reached.has("fixed")
        ? "fixed"
        : "affected"
      : p.status;
    const approved = statementIsApproved(p);
    return {
      organizationId: p.organizationId,
      name: p.organizationName,
      status,
      statusLabel: ADVISORY_STATUS_LABELS[status],
      fixedAt:
        status !== "fixed"
          ? null
          : legacy
            ? (reached.get("fixed") ?? null)
            : (p.statusChangedAt ?? p.answeredAt),
      statement: approved ? p.statement : null,
      references: approved ? referenceLines(p.statementReferences) : [],
    };
  });
}

/** CSAF 2.0's product status for each participation status (product_status keys). */
export type CsafProductStatus =
  "known_affected" | "known_not_affected" | "fixed" | "under_investigation";

/**
 * Not yet answered and investigating are both "under investigation": the
 * organization has not said whether it is affected. Disputed is too: the
 * organization contests the report, the CERT has not accepted that it is
 * not affected, so the advisory says neither; a note says it disputes it.
 */
export const CSAF_STATUS: Record<ParticipationStatus, CsafProductStatus> = {
  not_answered: "under_investigation",
  investigating: "under_investigation",
  affected: "known_affected",
  not_affected: "known_not_affected",
  fixed: "fixed",
  disputed: "under_investigation",
};

/**
 * The CVE record's version status for each participation status. A fixed
 * organization was affected (the record is about what the flaw reached);
 * its fix is in the record's solutions. Silence, investigation and a
 * dispute are "unknown".
 */
export const CVE_STATUS: Record<
  ParticipationStatus,
  "affected" | "unaffected" | "unknown"
> = {
  not_answered: "unknown",
  investigating: "unknown",
  affected: "affected",
  not_affected: "unaffected",
  fixed: "affected",
  disputed: "unknown",
};

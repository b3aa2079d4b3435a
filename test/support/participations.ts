import type { TestContext } from "./harness.js";

const DAY = 86_400_000;

export type ParticipationFields = {
  status?: string;
  statement?: string | null;
  references?: string | null;
  /** Days after the statement was written that a triager approved it (negative: approved before the last edit). */
  approvedAfter?: number | null;
  shared?: boolean;
  notifiedAt?: number | null;
  answeredAt?: number | null;
  statusChangedAt?: number | null;
  removed?: boolean;
};

/** Adds or updates an organization's participation directly, as the case's forms would have left it. */
export async function setParticipation(
  ctx: Pick<TestContext, "db" | "clock">,
  reportId: number,
  organizationId: number,
  f: ParticipationFields,
) {
  const now = ctx.clock.now().getTime();
  const written = now - 2 * DAY;
  const values = {
    status: f.status ?? "not_answered",
    statement: f.statement ?? null,
    statement_references: f.references ?? null,
    statement_updated_at: f.statement ? written : null,
    statement_approved_at:
      f.statement && f.approvedAfter != null
        ? written + f.approvedAfter * DAY
        : null,
    statement_shared: f.shared ? 1 : 0,
    notified_at: f.notifiedAt === undefined ? now - 10 * DAY : f.notifiedAt,
    answered_at: f.answeredAt ?? null,
    status_changed_at: f.statusChangedAt ?? f.answeredAt ?? null,
    removed_at: f.removed ? now - DAY : null,
    removed_reason: f.removed ? "Not a user of the product." : null,
  };
  await ctx.db
    .insertInto("participations")
    .values({
      report_id: reportId,
      organization_id: organizationId,
      added_at: now - 10 * DAY,
      ...values,
    })
    .onConflict((oc) =>
      oc.columns(["report_id", "organization_id"]).doUpdateSet(values),
    )
    .execute();
}

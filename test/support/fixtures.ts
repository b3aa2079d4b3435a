import type { TestContext } from "./harness.js";
import { newPublicId, newReportId } from "../../src/ids.js";
import { addOrgMember, insertOrganization } from "../../src/orgs/repository.js";
import type { Organization } from "../../src/orgs/types.js";
import {
  dueFrom,
  nextDeadline,
  NO_DEADLINE,
  type ClockName,
} from "../../src/reports/clocks.js";
import type { Severity } from "../../src/reports/cvss.js";
import type { State } from "../../src/reports/workflow.js";

type Ctx = Pick<TestContext, "db" | "config" | "clock">;

let orgCounter = 0;

export async function createOrg(
  ctx: Ctx,
  name?: string,
): Promise<Organization> {
  orgCounter += 1;
  return insertOrganization(ctx.db, {
    publicId: newPublicId(),
    name: name ?? `Organization ${orgCounter}`,
    createdAt: ctx.clock.now(),
  });
}

export async function addMember(
  ctx: Ctx,
  orgId: number,
  userId: number,
): Promise<void> {
  await addOrgMember(ctx.db, orgId, userId);
}

export interface ReportFixture {
  reporterId: number;
  state?: State;
  title?: string;
  organizationId?: number | null;
  /** Defaults to "now" for states from vendor_notified on, when an organization is set. */
  vendorNotifiedAt?: Date | null;
  assigneeId?: number | null;
  severity?: string | null;
  cvssScore?: number | null;
  cwe?: string;
  revealIdentity?: boolean;
  createdAt?: Date;
  updatedAt?: Date;
}

export interface InsertedReport {
  id: number;
  publicId: string;
}

const NOTIFIED_STATES: readonly State[] = [
  "vendor_notified",
  "fix_in_progress",
  "fixed",
  "fix_verified",
];

/**
 * Inserts a report directly in a given state, with due dates computed from
 * the configured clocks as filing would. Fast, for list and access tests;
 * the filing flow itself is tested through the real form.
 */
export async function insertReport(
  ctx: Ctx,
  fixture: ReportFixture,
): Promise<InsertedReport> {
  const createdAt = fixture.createdAt ?? ctx.clock.now();
  const updatedAt = fixture.updatedAt ?? createdAt;
  const state = fixture.state ?? "submitted";
  const organizationId = fixture.organizationId ?? null;
  const vendorNotifiedAt =
    fixture.vendorNotifiedAt !== undefined
      ? fixture.vendorNotifiedAt
      : organizationId !== null && NOTIFIED_STATES.includes(state)
        ? updatedAt
        : null;
  const due = (clock: ClockName, start: Date) =>
    dueFrom(clock, start, ctx.config.clocks)!.getTime();
  const publicId = newReportId();
  const ackDueAt = due("ack", createdAt);
  const triageDueAt = due("triage", createdAt);
  const disclosureDueAt = vendorNotifiedAt
    ? due("disclosure", vendorNotifiedAt)
    : null;
  // As recordChange keeps it after every change.
  const next = nextDeadline(
    {
      state,
      severity: (fixture.severity ?? null) as Severity | null,
      ackDueAt: new Date(ackDueAt),
      triageDueAt: new Date(triageDueAt),
      disclosureDueAt:
        disclosureDueAt === null ? null : new Date(disclosureDueAt),
      vendorNotifiedAt,
      infoRequestedAt: null,
    },
    ctx.config.clocks,
  );
  const row = await ctx.db
    .insertInto("reports")
    .values({
      public_id: publicId,
      reporter_id: fixture.reporterId,
      organization_id: organizationId,
      title: fixture.title ?? `Report ${publicId}`,
      asset: "https://portal.example.test/appointments",
      cwe: fixture.cwe ?? "CWE-639",
      cvss_score: fixture.cvssScore ?? null,
      severity: fixture.severity ?? null,
      description: "An ID in the URL shows another patient's appointment.",
      steps: "1. Sign in\n2. Change the ID",
      impact: "Every patient's appointment can be read.",
      data_exposed: JSON.stringify(["health"]),
      credit_kind: "name",
      reveal_identity: fixture.revealIdentity ? 1 : 0,
      state,
      assignee_id: fixture.assigneeId ?? null,
      created_at: createdAt.getTime(),
      updated_at: updatedAt.getTime(),
      ack_due_at: ackDueAt,
      // As filing sets it: as if acknowledged at once.
      triage_due_at: triageDueAt,
      vendor_notified_at: vendorNotifiedAt?.getTime() ?? null,
      disclosure_due_at: disclosureDueAt,
      queue_due_at: next?.at.getTime() ?? NO_DEADLINE,
      closed_at:
        state === "closed" || state === "disclosed"
          ? updatedAt.getTime()
          : null,
      resolution: state === "closed" ? "resolved" : null,
      // A fixture closed as resolved had its fix verified, as the workflow requires.
      fix_verified_at:
        state === "fix_verified" || state === "closed"
          ? updatedAt.getTime()
          : null,
    })
    .returning(["id", "public_id"])
    .executeTakeFirstOrThrow();
  // The organization takes part in the case as the app's triage would set it.
  if (organizationId !== null)
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: row.id,
        organization_id: organizationId,
        added_at: createdAt.getTime(),
        notified_at: vendorNotifiedAt?.getTime() ?? null,
      })
      .execute();
  return { id: row.id, publicId: row.public_id };
}

/** An attachment row on a report (no file on disk: for access checks only). */
export async function insertAttachmentRow(
  ctx: Ctx,
  reportId: number,
  ownerId: number,
): Promise<{ id: number; publicId: string }> {
  const publicId = newPublicId();
  const row = await ctx.db
    .insertInto("attachments")
    .values({
      public_id: publicId,
      report_id: reportId,
      owner_id: ownerId,
      sha256: "0".repeat(64),
      media_type: "text/plain",
      size: 5,
      file_name: "poc.txt",
      created_at: ctx.clock.now().getTime(),
    })
    .returning(["id", "public_id"])
    .executeTakeFirstOrThrow();
  return { id: row.id, publicId: row.public_id };
}

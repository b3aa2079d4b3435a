/**
 * What the API shows of reports: the same reports, timeline audiences,
 * researcher identity and file names as the report page shows this caller
 * (page.ts), as JSON. Every function asks the policy as the page does.
 */
import { createHash } from "node:crypto";
import {
  can,
  canReadStatement,
  participantSight,
  readableEvents,
  relationTo,
  type Actor,
  type ReportAccessFacts,
} from "../auth/policy.js";
import type { Deps } from "../deps.js";
import {
  findOrganizationById,
  findOrganizationByPublicId,
  listOrganizations,
} from "../orgs/repository.js";
import { shownFileName } from "../reports/attachments.js";
import { decodeCursor, encodeCursor, LIST_ORDERS } from "../reports/cursor.js";
import {
  findCursorId,
  findReportListPage,
  type ListFilters,
  type ReportListItem,
} from "../reports/list-repository.js";
import { visibleScope } from "../reports/list-service.js";
import {
  findReportById,
  listAttachments,
  listEvents,
  userNames,
} from "../reports/repository.js";
import type { Participation } from "../reports/participations.js";
import { listParticipations } from "../reports/participations-repository.js";
import { accessFacts, type EventKind, type Report } from "../reports/types.js";
import { availableTransitions, type State } from "../reports/workflow.js";
import { ApiProblem } from "./http.js";

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The order the API lists in: least recently changed first, for syncing with updated_since. */
const API_ORDER = "activity_asc" as const;
export const API_PAGE_SIZE = 50;

export interface ListParams {
  cursor?: string;
  updatedSince?: Date;
  state?: State;
  organization?: string;
  limit: number;
}

export async function listReports(deps: Deps, actor: Actor, p: ListParams) {
  const scope = visibleScope(actor);
  if (!scope) return { items: [], next_cursor: null };
  const filters: ListFilters = {};
  if (p.state) filters.state = p.state;
  if (p.updatedSince) filters.updatedSince = p.updatedSince;
  if (p.organization) {
    const org = await findOrganizationByPublicId(deps.db, p.organization);
    // An organization nobody can match lists nothing, as one with no reports.
    filters.organizationId = org?.id ?? -1;
  }
  let after: { value: number; id: number } | undefined;
  if (p.cursor) {
    const decoded = decodeCursor(p.cursor, API_ORDER);
    const id =
      decoded && (await findCursorId(deps.db, scope, decoded.publicId));
    if (!decoded || !id)
      throw new ApiProblem(
        400,
        "The cursor is not valid: use next_cursor from a list answer as it was given.",
        { errors: { cursor: "Not a cursor of this list." } },
      );
    after = { value: decoded.value, id };
  }
  const { sort, direction } = LIST_ORDERS[API_ORDER];
  const page = await findReportListPage(deps.db, {
    scope,
    filters,
    sort,
    direction,
    after,
    limit: p.limit,
  });
  const orgIds = await organizationPublicIds(deps);
  // Defence in depth: the query is scoped already; the policy has the last word.
  const items = page.items
    .filter((item) => can(actor, "report:view", accessFacts(item)))
    .map((item) => summary(deps, item, orgIds));
  return {
    items,
    next_cursor: page.next
      ? encodeCursor(API_ORDER, page.next.value, page.next.publicId)
      : null,
  };
}

async function organizationPublicIds(deps: Deps) {
  return new Map(
    (await listOrganizations(deps.db)).map((o) => [o.id, o.publicId]),
  );
}

const reportUrl = (deps: Deps, publicId: string) =>
  `${deps.config.baseUrl}/api/v1/reports/${publicId}`;

function summary(
  deps: Deps,
  item: ReportListItem,
  orgIds: Map<number, string>,
) {
  return {
    id: item.publicId,
    title: item.title,
    state: item.state,
    severity: item.severity,
    cvss_score: item.cvssScore,
    cwe: item.cwe,
    organization:
      item.organizationId === null
        ? null
        : {
            id: orgIds.get(item.organizationId) ?? null,
            name: item.organizationName,
          },
    created_at: iso(item.createdAt)!,
    updated_at: iso(item.updatedAt)!,
    url: reportUrl(deps, item.publicId),
  };
}

/** Timeline kinds whose words are shown (as on the page: a file list or a share has none). */
const BODY_KINDS: readonly EventKind[] = [
  "comment",
  "note",
  "transition",
  "field_change",
  "assignment",
  "deadline",
  "credit",
  "disclosure_request",
];

/** One report as this caller sees it on its page, with the steps they may take now. */
export async function reportDetail(deps: Deps, actor: Actor, report: Report) {
  const facts = accessFacts(report);
  const relation = relationTo(actor, facts);
  const seesReporter = can(actor, "report:see_reporter", facts);
  const seesRemoved = can(actor, "report:view_revisions", facts);
  const [events, files, names, organization, participations] =
    await Promise.all([
      listEvents(deps.db, report.id, readableEvents(actor, facts)),
      listAttachments(deps.db, report.id),
      userNames(deps.db, [report.reporterId]),
      report.organizationId === null
        ? Promise.resolve(undefined)
        : findOrganizationById(deps.db, report.organizationId),
      listParticipations(deps.db, report.id),
    ]);
  const orgOf = new Map(
    participations.map((p) => [
      p.organizationId,
      { id: p.organizationPublicId, name: p.organizationName },
    ]),
  );
  const audienceOrganization = (orgId: number | null) =>
    orgId === null ? null : (orgOf.get(orgId) ?? null);
  const listed = files.filter((a) => a.removedAt === null || seesRemoved);
  const now = deps.clock.now();
  return {
    id: report.publicId,
    title: report.title,
    asset: report.asset,
    state: report.state,
    resolution: report.resolution,
    severity: report.severity,
    cvss_vector: report.cvssVector,
    cvss_score: report.cvssScore,
    cwe: report.cwe,
    description: report.description,
    steps: report.steps,
    impact: report.impact,
    data_exposed: report.dataExposed,
    records_affected: report.recordsAffected,
    organization: organization
      ? { id: organization.publicId, name: organization.name }
      : null,
    reporter: seesReporter ? (names.get(report.reporterId) ?? null) : null,
    created_at: iso(report.createdAt)!,
    updated_at: iso(report.updatedAt)!,
    disclosure_due_at: iso(report.disclosureDueAt),
    participants: participantsAsSeen(actor, facts, participations),
    allowed_steps: allowedSteps(report, actor, now),
    attachments: listed.map((a, i) => ({
      id: a.publicId,
      file_name: shownFileName(actor, facts, a, i + 1),
      media_type: a.mediaType,
      size: a.size,
      removed: a.removedAt !== null,
      url: `${reportUrl(deps, report.publicId)}/attachments/${a.publicId}`,
    })),
    timeline: events.map((e) => ({
      kind: e.kind,
      action: e.action,
      audience: e.audience,
      // The one organization an "org" or "org_researcher" entry is for.
      audience_organization: audienceOrganization(e.audienceOrgId),
      // An anonymous researcher stays anonymous to whoever may not know them.
      actor:
        !seesReporter && e.actorId === report.reporterId
          ? { name: "The researcher", role: null }
          : e.actorId === null
            ? { name: "Disclosure Desk", role: null }
            : { name: e.actorName, role: e.actorRole },
      from_state: e.fromState,
      to_state: e.toState,
      body: e.body !== null && BODY_KINDS.includes(e.kind) ? e.body : null,
      by_email: e.viaMail !== null,
      created_at: iso(e.createdAt)!,
    })),
  };
}

const day = (d: Date | null) => (d ? d.toISOString().slice(0, 10) : null);

/**
 * The organizations on the case as this caller may see them, as the
 * report page's participants panel shows them (policy.ts participantSight,
 * canReadStatement): staff every one; an organization's contact its own in
 * full and, once a triager opened the case, the others' names and statuses
 * (a statement only when its organization shares it); the researcher names
 * and statuses. Another organization's tracking ID, fix target, dates and
 * reason are never shown, nor anyone's contacts; an organization not yet
 * notified is the CERT's alone.
 */
export function participantsAsSeen(
  actor: Actor,
  facts: ReportAccessFacts,
  participations: readonly Participation[],
) {
  const staff = relationTo(actor, facts) === "staff";
  return participations
    .filter((p) => p.removedAt === null && (staff || p.notifiedAt !== null))
    .map((p) => ({
      p,
      sight: participantSight(actor, facts, p.organizationId),
    }))
    .filter(({ sight }) => sight !== "none")
    .map(({ p, sight }) => {
      const full = sight === "full";
      return {
        organization: { id: p.organizationPublicId, name: p.organizationName },
        status: p.status,
        // What only the CERT and the organization itself read.
        status_reason: full ? p.statusReason : null,
        notified_at: full ? iso(p.notifiedAt) : null,
        answered_at: full ? iso(p.answeredAt) : null,
        tracking_id: full ? p.trackingId : null,
        fix_target: full ? day(p.fixTargetAt) : null,
        statement:
          p.statement !== null && canReadStatement(actor, facts, p)
            ? {
                text: p.statement,
                references: full ? p.statementReferences : null,
                approved: p.statementApprovedAt !== null,
                shared: full ? p.statementShared : null,
              }
            : null,
      };
    });
}

/** The workflow steps this caller may take on the report now: the page's buttons. */
export function allowedSteps(report: Report, actor: Actor, now: Date) {
  if (!can(actor, "report:act", accessFacts(report))) return [];
  return availableTransitions(
    report,
    relationTo(actor, accessFacts(report)),
    now,
  ).map((t) => ({
    name: t.name,
    label: t.label,
    message: t.message,
    ...(t.irreversible && { irreversible: true }),
  }));
}

/** A strong validator of the representation this caller reads. */
export function etagOf(representation: unknown): string {
  return `"${createHash("sha256")
    .update(JSON.stringify(representation))
    .digest("base64url")
    .slice(0, 27)}"`;
}

/** The report as stored now (after a write), as this caller sees it. */
export async function freshDetail(deps: Deps, actor: Actor, report: Report) {
  const current = (await findReportById(deps.db, report.id))!;
  const body = await reportDetail(deps, actor, current);
  return { body, etag: etagOf(body) };
}

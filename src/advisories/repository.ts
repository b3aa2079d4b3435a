import type { DbOrTx } from "../db/index.js";
import { preparedQuery } from "../db/prepared.js";
import {
  CREDIT_TYPES,
  type AdvisoryCredit,
  type CreditAnswer,
} from "./credits.js";

export interface AdvisoryDraft {
  /** The CERT's title; the researcher's report title is never published. */
  title: string | null;
  summary: string;
  cveId: string | null;
  /** Null until the CERT first proposes credit (then the filing's choice applies). */
  credits: AdvisoryCredit[] | null;
  creditAnswer: CreditAnswer;
  creditAnsweredAt: Date | null;
  updatedAt: Date;
  publishedAt: Date | null;
}

/** Stored credits, keeping only well-formed entries (the column is JSON). */
function parseCredits(json: string | null): AdvisoryCredit[] | null {
  if (json === null) return null;
  const list: unknown = JSON.parse(json);
  if (!Array.isArray(list)) return [];
  return list.filter(
    (c): c is AdvisoryCredit =>
      typeof c?.name === "string" &&
      (CREDIT_TYPES as readonly string[]).includes(c?.type),
  );
}

// Read on every report page where an advisory can come of it: built once.
const advisoryOf = preparedQuery((db, reportId: number) =>
  db.selectFrom("advisories").selectAll().where("report_id", "=", reportId),
);

export async function findAdvisory(
  db: DbOrTx,
  reportId: number,
): Promise<AdvisoryDraft | undefined> {
  const row = (await advisoryOf(db, reportId)).rows[0];
  return (
    row && {
      title: row.title,
      summary: row.summary,
      cveId: row.cve_id,
      credits: parseCredits(row.credits),
      creditAnswer: row.credit_answer as CreditAnswer,
      creditAnsweredAt:
        row.credit_answered_at === null
          ? null
          : new Date(row.credit_answered_at),
      updatedAt: new Date(row.updated_at),
      publishedAt:
        row.published_at === null ? null : new Date(row.published_at),
    }
  );
}

/**
 * Saves the triager's draft. New credits reset the researcher's answer: they
 * accept or decline what will actually be published.
 */
export async function saveAdvisoryDraft(
  db: DbOrTx,
  reportId: number,
  draft: {
    title: string;
    summary: string;
    cveId: string | null;
    credits: AdvisoryCredit[];
    creditsChanged: boolean;
  },
  at: Date,
) {
  const values = {
    title: draft.title,
    summary: draft.summary,
    cve_id: draft.cveId,
    credits: JSON.stringify(draft.credits),
    updated_at: at.getTime(),
    ...(draft.creditsChanged && {
      credit_answer: "pending",
      credit_answered_at: null,
    }),
  };
  await db
    .insertInto("advisories")
    .values({ report_id: reportId, ...values })
    .onConflict((oc) => oc.column("report_id").doUpdateSet(values))
    .execute();
}

/** Records the researcher's answer, only while the advisory is unpublished. */
export async function answerCredit(
  db: DbOrTx,
  reportId: number,
  answer: Exclude<CreditAnswer, "pending">,
  at: Date,
): Promise<boolean> {
  const result = await db
    .updateTable("advisories")
    .set({ credit_answer: answer, credit_answered_at: at.getTime() })
    .where("report_id", "=", reportId)
    .where("published_at", "is", null)
    .where("credits", "is not", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function markAdvisoryPublished(
  db: DbOrTx,
  reportId: number,
  at: Date,
) {
  await db
    .updateTable("advisories")
    .set({ published_at: at.getTime() })
    .where("report_id", "=", reportId)
    .execute();
}

/** What a public advisory shows: never the researcher's own text. */
export interface PublishedAdvisory {
  reportId: number;
  state: string;
  publicId: string;
  /** The CERT's title (advisories.title), never the report's. */
  title: string;
  asset: string;
  cwe: string;
  cvssVector: string | null;
  cvssScore: number | null;
  severity: string | null;
  organizationName: string | null;
  organizationPublicId: string | null;
  summary: string;
  cveId: string | null;
  creditKind: string;
  creditHandle: string | null;
  reporterName: string;
  /** The credit as published: what the researcher accepted (empty if declined). */
  credits: AdvisoryCredit[];
  createdAt: Date;
  vendorNotifiedAt: Date | null;
  publishedAt: Date;
}

function publishedQuery(db: DbOrTx) {
  return db
    .selectFrom("advisories as a")
    .innerJoin("reports as r", "r.id", "a.report_id")
    .innerJoin("users as u", "u.id", "r.reporter_id")
    .leftJoin("organizations as o", "o.id", "r.organization_id")
    .select([
      "r.id as report_id",
      "r.state",
      "r.public_id",
      "a.title",
      "r.asset",
      "r.cwe",
      "r.cvss_vector",
      "r.cvss_score",
      "r.severity",
      "o.name as organization_name",
      "o.public_id as organization_public_id",
      "a.summary",
      "a.cve_id",
      "a.credits",
      "a.credit_answer",
      "r.credit_kind",
      "r.credit_handle",
      "u.display_name as reporter_name",
      "r.created_at",
      "r.vendor_notified_at",
      "a.published_at",
    ])
    .where("a.published_at", "is not", null)
    .where("a.title", "is not", null)
    .where("r.state", "=", "disclosed");
}

type Row = Awaited<
  ReturnType<ReturnType<typeof publishedQuery>["executeTakeFirstOrThrow"]>
>;

/** The researcher as finder, named as they chose when filing. */
export function creditsFromFiling(report: {
  creditKind: string;
  creditHandle: string | null;
  reporterName: string | undefined;
}): AdvisoryCredit[] {
  if (report.creditKind === "anonymous") return [];
  const name =
    report.creditKind === "handle" ? report.creditHandle : report.reporterName;
  return name ? [{ name, type: "finder" }] : [];
}

/**
 * What a published advisory credits: the list the researcher accepted, none
 * if they declined. Advisories published before credits were proposed keep
 * the researcher's choice at filing.
 */
function publishedCredits(row: Row): AdvisoryCredit[] {
  const proposed = parseCredits(row.credits);
  if (proposed === null)
    return creditsFromFiling({
      creditKind: row.credit_kind,
      creditHandle: row.credit_handle,
      reporterName: row.reporter_name,
    });
  return row.credit_answer === "accepted" ? proposed : [];
}

function toPublished(row: Row): PublishedAdvisory {
  return {
    reportId: row.report_id,
    state: row.state,
    publicId: row.public_id,
    title: row.title!,
    asset: row.asset,
    cwe: row.cwe,
    cvssVector: row.cvss_vector,
    cvssScore: row.cvss_score,
    severity: row.severity,
    organizationName: row.organization_name,
    organizationPublicId: row.organization_public_id,
    summary: row.summary,
    cveId: row.cve_id,
    creditKind: row.credit_kind,
    creditHandle: row.credit_handle,
    reporterName: row.reporter_name,
    credits: publishedCredits(row),
    createdAt: new Date(row.created_at),
    vendorNotifiedAt:
      row.vendor_notified_at === null ? null : new Date(row.vendor_notified_at),
    publishedAt: new Date(row.published_at!),
  };
}

export async function findPublishedAdvisory(
  db: DbOrTx,
  publicId: string,
): Promise<PublishedAdvisory | undefined> {
  const row = await publishedQuery(db)
    .where("r.public_id", "=", publicId)
    .executeTakeFirst();
  return row && toPublished(row);
}

/** Published advisories, newest first, optionally for one organization or CWE. */
export async function listPublishedAdvisories(
  db: DbOrTx,
  filter: { organizationId?: number; cwe?: string },
  limit: number,
): Promise<PublishedAdvisory[]> {
  let q = publishedQuery(db);
  // An organization's advisories: every case it takes part in (not removed
  // from), not only those it leads.
  if (filter.organizationId !== undefined) {
    const organizationId = filter.organizationId;
    q = q.where((eb) =>
      eb.exists(
        eb
          .selectFrom("participations as p")
          .select("p.id")
          .whereRef("p.report_id", "=", "r.id")
          .where("p.organization_id", "=", organizationId)
          .where("p.removed_at", "is", null),
      ),
    );
  }
  if (filter.cwe) q = q.where("r.cwe", "=", filter.cwe);
  const rows = await q
    .orderBy("a.published_at", "desc")
    .orderBy("a.report_id", "desc")
    .limit(limit)
    .execute();
  return rows.map(toPublished);
}

/** When a report first reached each state, from its timeline. */
export async function firstReachedStates(
  db: DbOrTx,
  reportId: number,
): Promise<Map<string, Date>> {
  const { rows } = await firstReachedQuery(db, reportId);
  return new Map(rows.map((r) => [r.to_state!, new Date(Number(r.at))]));
}

const firstReachedQuery = preparedQuery((db, reportId: number) =>
  db
    .selectFrom("report_events")
    .select(["to_state", (eb) => eb.fn.min("created_at").as("at")])
    .where("report_id", "=", reportId)
    .where("kind", "=", "transition")
    .where("to_state", "is not", null)
    .groupBy("to_state"),
);

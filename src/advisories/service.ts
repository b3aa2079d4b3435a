import { z } from "zod";
import type { AuditRequestContext } from "../audit/types.js";
import {
  advisoryIsPublic,
  can,
  canReadStatement,
  participantSight,
  type Actor,
} from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { DONE, optionalText, text, type Outcome } from "../http/validation.js";
import { normalizeReportId } from "../ids.js";
import { renderMarkdown } from "../markdown.js";
import {
  findOrganizationById,
  findOrganizationByPublicId,
  listOrganizations,
} from "../orgs/repository.js";
import { cweLabel } from "../reports/cwe.js";
import { severityLabel } from "../reports/cvss.js";
import { recordChange } from "../reports/changes.js";
import { touchReport, userNames } from "../reports/repository.js";
import { accessFacts, type Report } from "../reports/types.js";
import { publicationBlocker } from "../reports/workflow.js";
import {
  CREDIT_TYPE_LABELS,
  CREDIT_TYPES,
  type AdvisoryCredit,
  type CreditAnswer,
  type CreditType,
} from "./credits.js";
import { cweCatalogEntry } from "./cwe-names.js";
import {
  advisoryParticipants,
  referenceLines,
  referenceUrl,
  statementIsApproved,
  type AdvisoryParticipant,
} from "./participants.js";
import { listParticipations } from "../reports/participations-repository.js";
import {
  answerCredit,
  creditsFromFiling,
  findAdvisory,
  findPublishedAdvisory,
  firstReachedStates,
  listPublishedAdvisories,
  saveAdvisoryDraft,
  type AdvisoryDraft,
  type PublishedAdvisory,
} from "./repository.js";

export const CVE_PATTERN = /^CVE-\d{4}-\d{4,7}$/;

/** How many people one advisory can credit (the form's rows). */
export const MAX_CREDITS = 8;
const creditRows = Array.from({ length: MAX_CREDITS }, (_, i) => i);

const creditFields = Object.fromEntries(
  creditRows.flatMap((i) => [
    [`creditName${i}`, optionalText("A credited name", 120)],
    [`creditType${i}`, z.string().default("")],
  ]),
) as Record<string, z.ZodType<string>>;

export const advisorySchema = z
  .object({
    title: text("Advisory title", 10, 300),
    summary: text("Advisory summary", 20, 20_000),
    cveId: z
      .string()
      .default("")
      .transform((s) => s.trim().toUpperCase())
      .refine((s) => s === "" || CVE_PATTERN.test(s), {
        message: "A CVE ID looks like CVE-2026-12345.",
      }),
    ...creditFields,
  })
  .superRefine((form, ctx) => {
    const values = form as Record<string, string>;
    for (const i of creditRows) {
      const type = values[`creditType${i}`]!;
      if (values[`creditName${i}`] && !isCreditType(type))
        ctx.addIssue({
          code: "custom",
          path: [`creditType${i}`],
          message: "Choose what this person is credited for.",
        });
    }
  })
  .transform((form) => {
    const values = form as Record<string, string>;
    const credits: AdvisoryCredit[] = creditRows
      .filter((i) => values[`creditName${i}`])
      .map((i) => ({
        name: values[`creditName${i}`]!,
        type: values[`creditType${i}`] as CreditType,
      }));
    return {
      title: form.title,
      summary: form.summary,
      cveId: form.cveId,
      credits,
    };
  });

const isCreditType = (value: string): value is CreditType =>
  (CREDIT_TYPES as readonly string[]).includes(value);

const creditTypeOptions = CREDIT_TYPES.map((t) => ({
  value: t,
  label: CREDIT_TYPE_LABELS[t],
}));

const sameCredits = (a: AdvisoryCredit[] | null, b: AdvisoryCredit[]) =>
  a !== null && JSON.stringify(a) === JSON.stringify(b);

/** The credit the CERT would propose now: what was saved, or the filing's choice. */
async function proposedCredits(
  deps: Pick<Deps, "db">,
  report: Report,
  draft: AdvisoryDraft | undefined,
  reporterName?: string,
): Promise<AdvisoryCredit[]> {
  if (draft?.credits) return draft.credits;
  // The name is looked up only when the filing chose it and the caller
  // (the report page, which has it already) did not pass it.
  const name =
    reporterName ??
    (report.creditKind === "name"
      ? (await userNames(deps.db, [report.reporterId])).get(report.reporterId)
      : undefined);
  return creditsFromFiling({ ...report, reporterName: name });
}

/**
 * The title the form suggests: the weakness's catalog name and the
 * organization ("Authorization Bypass Through User-Controlled Key in
 * Example Hospital Portal"), from triage fields, never the report's title.
 */
export function suggestedTitle(
  cwe: string,
  organizationName: string | null,
): string {
  const weakness = cweCatalogEntry(cwe)?.name ?? "Vulnerability";
  return organizationName ? `${weakness} in ${organizationName}` : weakness;
}

const ANSWER_LABELS: Record<CreditAnswer, string> = {
  pending: "Waiting for the researcher to accept or decline it",
  accepted: "Accepted by the researcher",
  declined: "Declined by the researcher: the advisory will credit nobody",
};

/**
 * The organizations as the advisory would list them if published now, as
 * this actor may read them (policy participantSight, canReadStatement): what the public
 * would read (statements only once approved), narrowed to the
 * participations the actor may see. Staff read every statement with its
 * approval marked, approved or not.
 */
export async function draftParticipants(
  deps: Pick<Deps, "db">,
  actor: Actor,
  report: Report,
) {
  const facts = accessFacts(report);
  const staff = can(actor, "report:write_advisory", facts);
  const participations = (await listParticipations(deps.db, report.id)).filter(
    (p) => p.removedAt === null,
  );
  if (participations.length === 0) return [];
  const published = advisoryParticipants(
    participations,
    await firstReachedStates(deps.db, report.id),
  );
  return participations.flatMap((p, i) => {
    if (participantSight(actor, facts, p.organizationId) === "none") return [];
    const view = participantView(published[i]!);
    if (staff) {
      const approved = statementIsApproved(p);
      return [
        {
          ...view,
          statementHtml: p.statement?.trim()
            ? renderMarkdown(p.statement)
            : null,
          references: referenceLines(p.statementReferences).map((text) => ({
            text,
            href: referenceUrl(text),
          })),
          approval: !p.statement?.trim()
            ? "No statement yet."
            : approved
              ? "Statement approved: published with the advisory."
              : "Statement not approved: not published unless a triager approves it.",
        },
      ];
    }
    return [
      canReadStatement(actor, facts, p)
        ? view
        : { ...view, statementHtml: null, references: [] },
    ];
  });
}

/** The triager's draft, for the form on the report page (staff only). */
export async function advisoryDraftFor(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor,
  report: Report,
  reporterName?: string,
) {
  if (!can(actor, "report:write_advisory", accessFacts(report))) return null;
  const draft = await findAdvisory(deps.db, report.id);
  const credits = await proposedCredits(deps, report, draft, reporterName);
  // Named only when it is the one organization on the case: every
  // participant reads the draft's title, and none may learn from it that
  // another takes part.
  const organization =
    draft?.title ||
    report.organizationId === null ||
    report.participants.length > 1
      ? undefined
      : await findOrganizationById(deps.db, report.organizationId);
  const values: Record<string, string> = {
    title:
      draft?.title || suggestedTitle(report.cwe, organization?.name ?? null),
    summary: draft?.summary ?? "",
    cveId: draft?.cveId ?? "",
  };
  for (const i of creditRows) {
    values[`creditName${i}`] = credits[i]?.name ?? "";
    values[`creditType${i}`] = credits[i]?.type ?? "finder";
  }
  return {
    values,
    // Two empty rows to add people, up to the limit.
    creditRows: creditRows.slice(0, Math.min(MAX_CREDITS, credits.length + 2)),
    creditTypeOptions,
    // After publication: what the public page credits.
    credits: (draft?.publishedAt &&
    draft.credits &&
    draft.creditAnswer !== "accepted"
      ? []
      : credits
    ).map((c) => ({ ...c, typeLabel: CREDIT_TYPE_LABELS[c.type] })),
    creditAnswer: draft?.credits ? ANSWER_LABELS[draft.creditAnswer] : null,
    published: draft?.publishedAt ? formatDateTime(draft.publishedAt) : null,
    participants: await draftParticipants(deps, actor, report),
    // Why the publish step is not offered yet (the workflow's words).
    notYet: draft?.publishedAt
      ? null
      : publicationBlocker(report, deps.clock.now()),
  };
}

/**
 * Saves the summary, CVE ID and proposed credit a triager writes for
 * publication. Changed credit goes back to the researcher to accept or
 * decline; after publication the credit stays as published.
 */
export async function saveAdvisory(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: z.infer<typeof advisorySchema>,
  request: AuditRequestContext | null = null,
): Promise<Outcome<void>> {
  if (!can(actor, "report:write_advisory", accessFacts(report)))
    throw new NotFoundError();
  const now = deps.clock.now();
  const draft = await findAdvisory(deps.db, report.id);
  const credits = draft?.publishedAt
    ? (draft.credits ?? (await proposedCredits(deps, report, draft)))
    : input.credits;
  const creditsChanged = !sameCredits(draft?.credits ?? null, credits);
  await deps.db.transaction().execute(async (tx) => {
    await saveAdvisoryDraft(
      tx,
      report.id,
      {
        title: input.title,
        summary: input.summary,
        cveId: input.cveId || null,
        credits,
        creditsChanged,
      },
      now,
    );
    await recordChange(tx, deps, {
      change: "advisory_saved",
      report,
      actor,
      at: now,
      request,
      body: "Saved the advisory title and summary for publication.",
      details: { cveId: input.cveId || null, creditsChanged },
    });
    if (creditsChanged && credits.length > 0)
      await recordChange(tx, deps, {
        change: "credit_proposed",
        report,
        actor,
        at: now,
        body: "The CERT proposed the credit for the advisory; the researcher is asked to accept or decline it.",
      });
  });
  return DONE;
}

/**
 * The draft advisory as the researcher and the notified organization read it
 * before publication: title, summary, CVE ID and the credit as it would be
 * published. Null when there is no saved draft, after publication, and for
 * anyone the policy does not let read it (staff have the form instead).
 */
export async function draftAdvisoryFor(
  deps: Pick<Deps, "db">,
  actor: Actor,
  report: Report,
) {
  const facts = accessFacts(report);
  if (
    !can(actor, "report:read_draft_advisory", facts) ||
    can(actor, "report:write_advisory", facts)
  )
    return null;
  const draft = await findAdvisory(deps.db, report.id);
  if (!draft?.title || draft.publishedAt) return null;
  const credits = await proposedCredits(deps, report, draft);
  // Credit names whoever reported: the organization reads them only once
  // published (the researcher may not have revealed themselves to it).
  const seesCredit = can(actor, "report:answer_credit", facts);
  return {
    title: draft.title,
    summaryHtml: renderMarkdown(draft.summary),
    cveId: draft.cveId,
    credits: seesCredit
      ? draft.credits !== null && draft.creditAnswer === "declined"
        ? []
        : credits.map((c) => `${c.name} (${CREDIT_TYPE_LABELS[c.type]})`)
      : null,
    participants: await draftParticipants(deps, actor, report),
    creditNote: !seesCredit
      ? "The credit is shown to your organization when the advisory is published."
      : draft.credits !== null && draft.creditAnswer === "pending"
        ? "Proposed: the researcher has not yet accepted or declined it."
        : null,
    updated: formatDateTime(draft.updatedAt),
  };
}

/**
 * A comment on the draft advisory, by anyone who may read it: on the
 * timeline marked as such, for everyone on the case, and mailed.
 */
export async function commentOnDraftAdvisory(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  { body }: { body: string },
  request: AuditRequestContext | null = null,
): Promise<Outcome<void>> {
  const facts = accessFacts(report);
  if (
    !can(actor, "report:read_draft_advisory", facts) ||
    !can(actor, "report:comment", facts)
  )
    throw new NotFoundError();
  // No draft to read is no draft to comment on: the same 404.
  const draft = await findAdvisory(deps.db, report.id);
  if (!draft?.title || draft.publishedAt) throw new NotFoundError();
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await touchReport(tx, report.id, now);
    await recordChange(tx, deps, {
      change: "advisory_comment",
      report,
      actor,
      at: now,
      request,
      body,
    });
  });
  return DONE;
}

export const creditAnswerSchema = z.object({
  answer: z.enum(["accept", "decline"], {
    error: "Choose to accept or decline the credit.",
  }),
});

/**
 * The researcher's side of credit: what the CERT proposes to publish and
 * their answer, until the advisory is published. Null for everyone else
 * (an organization may not learn who reported).
 */
export async function creditProposalFor(
  deps: Pick<Deps, "db">,
  actor: Actor,
  report: Report,
) {
  if (!can(actor, "report:answer_credit", accessFacts(report))) return null;
  const draft = await findAdvisory(deps.db, report.id);
  if (!draft?.credits?.length || draft.publishedAt) return null;
  return {
    credits: draft.credits.map((c) => ({
      ...c,
      typeLabel: CREDIT_TYPE_LABELS[c.type],
    })),
    answer: draft.creditAnswer,
    answered: draft.creditAnsweredAt
      ? formatDateTime(draft.creditAnsweredAt)
      : null,
  };
}

/** The researcher accepts or declines the proposed credit (until publication). */
export async function answerCreditProposal(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
  input: z.infer<typeof creditAnswerSchema>,
  request: AuditRequestContext | null,
): Promise<Outcome<void>> {
  if (!can(actor, "report:answer_credit", accessFacts(report)))
    throw new NotFoundError();
  const answer = input.answer === "accept" ? "accepted" : "declined";
  const now = deps.clock.now();
  const answered = await deps.db.transaction().execute(async (tx) => {
    const draft = await findAdvisory(tx, report.id);
    if (!draft?.credits?.length) return false;
    if (!(await answerCredit(tx, report.id, answer, now))) return false;
    // Audited: the researcher's consent to be named in public.
    await recordChange(tx, deps, {
      change: answer === "accepted" ? "credit_accepted" : "credit_declined",
      report,
      actor,
      at: now,
      request,
      body:
        answer === "accepted"
          ? "The researcher accepted the proposed credit."
          : "The researcher declined the proposed credit: the advisory will credit nobody.",
      details: { answer },
    });
    return true;
  });
  if (!answered)
    return {
      ok: false,
      errors: {
        answer:
          "There is no credit to answer: the advisory was published or the CERT has not proposed any.",
      },
      values: {},
    };
  return DONE;
}

/**
 * Publishing waits for the researcher's answer to the credit, unless nobody
 * is credited. Returns why it must wait, or null.
 */
export async function creditBlocksPublication(
  deps: Pick<Deps, "db">,
  report: Report,
  draft: AdvisoryDraft,
): Promise<string | null> {
  const credits = await proposedCredits(deps, report, draft);
  if (credits.length === 0) return null;
  if (draft.credits === null)
    return "Save the advisory first: the researcher is then asked to accept or decline the credit.";
  if (draft.creditAnswer === "pending")
    return "The researcher has not yet accepted or declined the credit. Wait for their answer, or remove every credited name and save to publish without credit.";
  return null;
}

/** "rhea (Finder)", as the advisory page lists each credit. */
function creditLines(a: PublishedAdvisory): string[] {
  return a.credits.map((c) => `${c.name} (${CREDIT_TYPE_LABELS[c.type]})`);
}

function listItem(a: PublishedAdvisory) {
  return {
    publicId: a.publicId,
    href: `/advisories/${a.publicId}`,
    title: a.title,
    organization: a.organizationName ?? "Not named",
    cwe: a.cwe === "other" ? "Other" : a.cwe,
    severity: severityLabel(a.severity),
    cvssScore: a.cvssScore,
    cveId: a.cveId,
    published: formatDateTime(a.publishedAt),
    publishedIso: a.publishedAt.toISOString(),
  };
}

/**
 * A public advisory and when its report reached each state, for the page and
 * its downloads alike: anything not shaped like a report ID, not published
 * or not disclosed is not found, exactly like a missing ID.
 */
export async function loadPublicAdvisory(
  deps: Pick<Deps, "db">,
  rawId: string,
): Promise<{
  advisory: PublishedAdvisory;
  reached: Map<string, Date>;
  participants: AdvisoryParticipant[];
}> {
  const publicId = normalizeReportId(rawId);
  const advisory = publicId
    ? await findPublishedAdvisory(deps.db, publicId)
    : undefined;
  if (!advisory || !advisoryIsPublic(advisory)) throw new NotFoundError();
  const reached = await firstReachedStates(deps.db, advisory.reportId);
  return {
    advisory,
    reached,
    participants: advisoryParticipants(
      await listParticipations(deps.db, advisory.reportId),
      reached,
    ),
  };
}

/** An organization's line on an advisory page: status, and its statement and references once approved. */
export function participantView(p: AdvisoryParticipant) {
  return {
    name: p.name,
    status: p.status,
    statusLabel: p.statusLabel,
    statementHtml: p.statement ? renderMarkdown(p.statement) : null,
    references: p.references.map((text) => ({
      text,
      href: referenceUrl(text),
    })),
  };
}

/** One public advisory page, or not found (also for any report not yet disclosed). */
export async function advisoryPage(deps: Pick<Deps, "db">, rawId: string) {
  const { advisory, reached, participants } = await loadPublicAdvisory(
    deps,
    rawId,
  );
  const milestone = (label: string, at: Date | null | undefined) =>
    at ? { label, at: formatDateTime(at) } : null;
  return {
    ...listItem(advisory),
    asset: advisory.asset,
    cweLabel: cweLabel(advisory.cwe),
    cvssVector: advisory.cvssVector,
    summaryHtml: renderMarkdown(advisory.summary),
    credits: creditLines(advisory),
    participants: participants.map(participantView),
    timeline: [
      milestone("Reported", advisory.createdAt),
      milestone("Acknowledged by the CERT", reached.get("acknowledged")),
      milestone("Organization notified", advisory.vendorNotifiedAt),
      milestone("Fixed", reached.get("fixed")),
      milestone("Disclosed", advisory.publishedAt),
    ].filter((m) => m !== null),
  };
}

const LIST_LIMIT = 100;

export async function advisoryList(
  deps: Pick<Deps, "db">,
  query: Record<string, unknown>,
) {
  const org = typeof query.org === "string" ? query.org : "";
  const cwe = typeof query.cwe === "string" ? query.cwe.toUpperCase() : "";
  const organization = org
    ? await findOrganizationByPublicId(deps.db, org)
    : undefined;
  const advisories = await listPublishedAdvisories(
    deps.db,
    {
      ...(organization && { organizationId: organization.id }),
      ...(/^CWE-\d{1,6}$/.test(cwe) && { cwe }),
    },
    LIST_LIMIT,
  );
  const orgs = await listOrganizations(deps.db);
  return {
    items: advisories.map(listItem),
    values: {
      org: organization?.publicId ?? "",
      cwe: /^CWE-\d{1,6}$/.test(cwe) ? cwe : "",
    },
    orgOptions: [
      { value: "", label: "Any organization" },
      ...orgs.map((o) => ({ value: o.publicId, label: o.name })),
    ],
  };
}

/** The newest advisories as an Atom feed's entries. */
export async function advisoryFeed(deps: Pick<Deps, "db" | "config">) {
  const advisories = await listPublishedAdvisories(deps.db, {}, 50);
  const base = deps.config.baseUrl;
  return {
    id: `${base}/advisories`,
    self: `${base}/advisories.atom`,
    updated: (advisories[0]?.publishedAt ?? new Date(0)).toISOString(),
    entries: advisories.map((a) => ({
      id: `${base}/advisories/${a.publicId}`,
      link: `${base}/advisories/${a.publicId}`,
      title: `${a.publicId}: ${a.title}`,
      updated: a.publishedAt.toISOString(),
      summary: `${a.organizationName ?? "An organization"} · ${a.cwe}${a.cveId ? ` · ${a.cveId}` : ""}${a.cvssScore !== null ? ` · CVSS ${a.cvssScore.toFixed(1)}` : ""}`,
    })),
  };
}

/** The hall of fame: the people credited in published advisories, as they accepted. */
export async function acknowledgments(deps: Pick<Deps, "db">) {
  const advisories = await listPublishedAdvisories(deps.db, {}, 1000);
  const byName = new Map<
    string,
    {
      name: string;
      advisories: { publicId: string; href: string; title: string }[];
    }
  >();
  for (const a of advisories) {
    // People, not the tools they used; each once per advisory.
    const names = new Set(
      a.credits.filter((c) => c.type !== "tool").map((c) => c.name),
    );
    for (const name of names) {
      const entry = byName.get(name) ?? { name, advisories: [] };
      entry.advisories.push({
        publicId: a.publicId,
        href: `/advisories/${a.publicId}`,
        title: a.title,
      });
      byName.set(name, entry);
    }
  }
  return [...byName.values()].sort(
    (x, y) =>
      y.advisories.length - x.advisories.length || x.name.localeCompare(y.name),
  );
}

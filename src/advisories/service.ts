import { z } from "zod";
import { advisoryIsPublic, can, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { parseForm, text, type FormResult } from "../http/validation.js";
import { normalizeReportId } from "../ids.js";
import { renderMarkdown } from "../markdown.js";
import {
  findOrganizationByPublicId,
  listOrganizations,
} from "../orgs/repository.js";
import { cweLabel } from "../reports/cwe.js";
import { insertEvent } from "../reports/repository.js";
import { accessFacts, type Report } from "../reports/types.js";
import {
  findAdvisory,
  findPublishedAdvisory,
  firstReachedStates,
  listPublishedAdvisories,
  saveAdvisoryDraft,
  type PublishedAdvisory,
} from "./repository.js";

export const CVE_PATTERN = /^CVE-\d{4}-\d{4,7}$/;

export const advisorySchema = z.object({
  summary: text("Advisory summary", 20, 20_000),
  cveId: z
    .string()
    .default("")
    .transform((s) => s.trim().toUpperCase())
    .refine((s) => s === "" || CVE_PATTERN.test(s), {
      message: "A CVE ID looks like CVE-2026-12345.",
    }),
});

/** The triager's draft, for the form on the report page (staff only). */
export async function advisoryDraftFor(
  deps: Pick<Deps, "db">,
  actor: Actor,
  report: Report,
) {
  if (!can(actor, "report:edit_triage", accessFacts(report))) return null;
  const draft = await findAdvisory(deps.db, report.id);
  return {
    summary: draft?.summary ?? "",
    cveId: draft?.cveId ?? "",
    published: draft?.publishedAt ? formatDateTime(draft.publishedAt) : null,
  };
}

/**
 * Saves the summary and CVE ID a triager writes for publication. Asks the
 * policy before reading the form, so nobody else learns what it expects.
 */
export async function saveAdvisory(
  deps: Pick<Deps, "db" | "clock">,
  actor: Actor,
  report: Report,
  body: unknown,
): Promise<FormResult<z.infer<typeof advisorySchema>>> {
  if (!can(actor, "report:edit_triage", accessFacts(report)))
    throw new NotFoundError();
  const form = parseForm(advisorySchema, body);
  if (!form.ok) return form;
  const now = deps.clock.now();
  await deps.db.transaction().execute(async (tx) => {
    await saveAdvisoryDraft(
      tx,
      report.id,
      form.data.summary,
      form.data.cveId || null,
      now,
    );
    await insertEvent(tx, {
      reportId: report.id,
      actorId: actor.id,
      kind: "note",
      visibility: "internal",
      body: "Saved the advisory summary for publication.",
      at: now,
    });
  });
  return form;
}

function creditLine(a: PublishedAdvisory): string {
  if (a.creditKind === "anonymous")
    return "A researcher who asked to stay anonymous";
  return (a.creditKind === "handle" ? a.creditHandle : a.reporterName) ?? "";
}

function listItem(a: PublishedAdvisory) {
  return {
    publicId: a.publicId,
    href: `/advisories/${a.publicId}`,
    title: a.title,
    organization: a.organizationName ?? "Not named",
    cwe: a.cwe === "other" ? "Other" : a.cwe,
    severity: a.severity,
    cvssScore: a.cvssScore,
    cveId: a.cveId,
    published: formatDateTime(a.publishedAt),
    publishedIso: a.publishedAt.toISOString(),
  };
}

/** One public advisory page, or not found (also for any report not yet disclosed). */
export async function advisoryPage(deps: Pick<Deps, "db">, rawId: string) {
  const publicId = normalizeReportId(rawId);
  const advisory = publicId
    ? await findPublishedAdvisory(deps.db, publicId)
    : undefined;
  if (!advisory || !advisoryIsPublic(advisory)) throw new NotFoundError();
  const reached = await firstReachedStates(deps.db, advisory.reportId);
  const milestone = (label: string, at: Date | null | undefined) =>
    at ? { label, at: formatDateTime(at) } : null;
  return {
    ...listItem(advisory),
    asset: advisory.asset,
    cweLabel: cweLabel(advisory.cwe),
    cvssVector: advisory.cvssVector,
    summaryHtml: renderMarkdown(advisory.summary),
    credit: creditLine(advisory),
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

/** The hall of fame: researchers credited in published advisories, as they chose. */
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
    if (a.creditKind === "anonymous") continue;
    const name = creditLine(a);
    const entry = byName.get(name) ?? { name, advisories: [] };
    entry.advisories.push({
      publicId: a.publicId,
      href: `/advisories/${a.publicId}`,
      title: a.title,
    });
    byName.set(name, entry);
  }
  return [...byName.values()].sort(
    (x, y) =>
      y.advisories.length - x.advisories.length || x.name.localeCompare(y.name),
  );
}

import { CREDIT_TYPE_LABELS, type CreditType } from "./credits.js";
import { cvssV31Json } from "./cvss-json.js";
import { cweCatalogEntry } from "./cwe-names.js";
import { markdownToPlainText } from "./plain-text.js";
import type { PublishedAdvisory } from "./repository.js";

/** What the export knows beyond the advisory itself. */
export interface ExportContext {
  /** The app's public URL, without a trailing slash. */
  baseUrl: string;
  /** Who publishes: the CERT running the app. */
  publisherName: string;
  /** When the report first reached each workflow state (from its timeline). */
  reached: ReadonlyMap<string, Date>;
}

/** The one product an advisory is about: the affected asset. */
export const CSAF_PRODUCT_ID = "CSAFPID-0001";

/** CSAF's file-name rule (section 5.1): the tracking ID, lowercase, safe characters only. */
export function csafFileName(trackingId: string): string {
  return `${trackingId.toLowerCase().replace(/[^+\-a-z0-9]+/g, "_")}.json`;
}

export function advisoryUrl(baseUrl: string, publicId: string): string {
  return `${baseUrl}/advisories/${publicId}`;
}

/** The fix date, if the organization ever marked the report fixed. */
export function fixedAt(reached: ReadonlyMap<string, Date>): Date | null {
  return reached.get("fixed") ?? null;
}

/** Credits grouped by their role, in the order the credits list them. */
export function creditsByType(
  credits: readonly { name: string; type: CreditType }[],
): { type: CreditType; names: string[] }[] {
  const groups = new Map<CreditType, string[]>();
  for (const c of credits) {
    const names = groups.get(c.type) ?? [];
    if (!names.includes(c.name)) names.push(c.name);
    groups.set(c.type, names);
  }
  return [...groups].map(([type, names]) => ({ type, names }));
}

/**
 * A CSAF 2.0 security advisory for one published advisory. Built only from
 * what the public page shows (the triager's summary, never the researcher's
 * report), so the download discloses nothing the page does not.
 */
export function buildCsafDocument(
  advisory: PublishedAdvisory,
  ctx: ExportContext,
) {
  const released = advisory.publishedAt.toISOString();
  const summary = markdownToPlainText(advisory.summary);
  const fixed = fixedAt(ctx.reached);
  const cwe = cweCatalogEntry(advisory.cwe);
  const cvss = cvssV31Json(advisory.cvssVector);
  const product = { name: advisory.asset, product_id: CSAF_PRODUCT_ID };
  const acknowledgments = creditsByType(advisory.credits).map((g) => ({
    names: g.names,
    summary: CREDIT_TYPE_LABELS[g.type],
  }));

  return {
    document: {
      category: "csaf_security_advisory",
      csaf_version: "2.0",
      title: advisory.title,
      lang: "en",
      distribution: { tlp: { label: "WHITE" } },
      publisher: {
        category: "coordinator",
        name: ctx.publisherName,
        namespace: ctx.baseUrl,
      },
      tracking: {
        id: advisory.publicId,
        status: "final",
        version: "1",
        initial_release_date: released,
        current_release_date: released,
        revision_history: [
          { date: released, number: "1", summary: "Initial public release." },
        ],
        generator: { engine: { name: "Disclosure Desk" } },
      },
      notes: [{ category: "summary", title: "Summary", text: summary }],
      references: [
        {
          category: "self",
          summary: `Advisory ${advisory.publicId} on ${ctx.publisherName}`,
          url: advisoryUrl(ctx.baseUrl, advisory.publicId),
        },
      ],
    },
    product_tree: advisory.organizationName
      ? {
          branches: [
            {
              category: "vendor",
              name: advisory.organizationName,
              branches: [
                { category: "product_name", name: advisory.asset, product },
              ],
            },
          ],
        }
      : { full_product_names: [product] },
    vulnerabilities: [
      {
        ...(advisory.cveId
          ? { cve: advisory.cveId }
          : {
              ids: [
                { system_name: ctx.publisherName, text: advisory.publicId },
              ],
            }),
        ...(cwe && { cwe }),
        title: advisory.title,
        // Reported to the CERT: the earliest discovery date it can vouch for.
        discovery_date: advisory.createdAt.toISOString(),
        release_date: released,
        notes: [
          { category: "description", title: "Description", text: summary },
        ],
        product_status: fixed
          ? { fixed: [CSAF_PRODUCT_ID] }
          : { known_affected: [CSAF_PRODUCT_ID] },
        remediations: [
          fixed
            ? {
                category: "vendor_fix",
                date: fixed.toISOString(),
                details: `${advisory.organizationName ?? "The organization"} reported the fix deployed; no action is needed from users of the affected service.`,
                product_ids: [CSAF_PRODUCT_ID],
              }
            : {
                category: "none_available",
                details:
                  "No fix had been reported by the organization when this advisory was published.",
                product_ids: [CSAF_PRODUCT_ID],
              },
        ],
        ...(cvss && {
          scores: [{ products: [CSAF_PRODUCT_ID], cvss_v3: cvss }],
        }),
        ...(acknowledgments.length > 0 && { acknowledgments }),
      },
    ],
  };
}

import { CREDIT_TYPE_LABELS, type CreditType } from "./credits.js";
import { cvssV31Json } from "./cvss-json.js";
import { cweCatalogEntry } from "./cwe-names.js";
import {
  CSAF_STATUS,
  referenceUrl,
  type AdvisoryParticipant,
  type CsafProductStatus,
} from "./participants.js";
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
  /**
   * The organizations the advisory lists (advisoryParticipants). Absent:
   * the advisory's one organization, affected or fixed as the report's
   * steps say.
   */
  participants?: readonly AdvisoryParticipant[];
}

/** The one product an advisory is about when no organization is named: the affected asset. */
export const CSAF_PRODUCT_ID = "CSAFPID-0001";

/** Each organization's product: CSAFPID-0001, -0002, ... in the order they joined the case. */
export function csafProductId(index: number): string {
  return `CSAFPID-${String(index + 1).padStart(4, "0")}`;
}

/** CSAF's file-name rule (section 5.1): the tracking ID, lowercase, safe characters only. */
export function csafFileName(trackingId: string): string {
  return `${trackingId.toLowerCase().replace(/[^+\-a-z0-9]+/g, "_")}.json`;
}

export function advisoryUrl(baseUrl: string, publicId: string): string {
  return `${baseUrl}/advisories/${publicId}`;
}

/**
 * The organizations of an export: those given, or the advisory's one
 * organization with the status the report's steps give it.
 */
export function exportParticipants(
  advisory: PublishedAdvisory,
  ctx: ExportContext,
): readonly AdvisoryParticipant[] {
  if (ctx.participants) return ctx.participants;
  if (!advisory.organizationName) return [];
  const fixed = fixedAt(ctx.reached);
  return [
    {
      organizationId: 0,
      name: advisory.organizationName,
      status: fixed ? "fixed" : "affected",
      statusLabel: fixed ? "Fixed" : "Affected",
      fixedAt: fixed,
      statement: null,
      references: [],
    },
  ];
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
  const participants = exportParticipants(advisory, ctx);
  const products = participants.map((p, i) => ({
    participant: p,
    productId: csafProductId(i),
  }));
  // The score is the flaw's, for every product it reaches or may reach.
  const scoredIds =
    products.length > 0
      ? products
          .filter(
            (p) => CSAF_STATUS[p.participant.status] !== "known_not_affected",
          )
          .map((p) => p.productId)
      : [CSAF_PRODUCT_ID];
  const productStatus: Partial<Record<CsafProductStatus, string[]>> = {};
  if (products.length === 0)
    productStatus[fixed ? "fixed" : "known_affected"] = [CSAF_PRODUCT_ID];
  for (const { participant, productId } of products)
    (productStatus[CSAF_STATUS[participant.status]] ??= []).push(productId);
  const ofStatus = (status: CsafProductStatus) =>
    products
      .filter((p) => CSAF_STATUS[p.participant.status] === status)
      .map((p) => p.productId);
  const remediations = products.length
    ? [
        // One vendor fix per organization: each said fixed on its own date.
        ...products
          .filter((p) => p.participant.status === "fixed")
          .map((p) => ({
            category: "vendor_fix",
            ...(p.participant.fixedAt && {
              date: p.participant.fixedAt.toISOString(),
            }),
            details: `${p.participant.name} reported the fix deployed; no action is needed from users of the affected service.`,
            product_ids: [p.productId],
          })),
        ...(ofStatus("known_affected").length > 0
          ? [
              {
                category: "none_available",
                details:
                  "No fix had been reported by these organizations when this advisory was published.",
                product_ids: ofStatus("known_affected"),
              },
            ]
          : []),
      ]
    : [
        fixed
          ? {
              category: "vendor_fix",
              date: fixed.toISOString(),
              details:
                "The organization reported the fix deployed; no action is needed from users of the affected service.",
              product_ids: [CSAF_PRODUCT_ID],
            }
          : {
              category: "none_available",
              details:
                "No fix had been reported by the organization when this advisory was published.",
              product_ids: [CSAF_PRODUCT_ID],
            },
      ];
  // Each organization's approved statement, and a dispute said as such
  // (the product stays under investigation: see CSAF_STATUS).
  const participantNotes = participants.flatMap((p) => [
    ...(p.status === "disputed"
      ? [
          {
            category: "other",
            title: `Disputed by ${p.name}`,
            text: `${p.name} disputes this vulnerability report. Its product is listed as under investigation.`,
          },
        ]
      : []),
    ...(p.statement
      ? [
          {
            category: "other",
            title: `Statement by ${p.name}`,
            text: markdownToPlainText(p.statement),
          },
        ]
      : []),
  ]);
  const participantReferences = participants.flatMap((p) =>
    p.references.flatMap((r) => {
      const url = referenceUrl(r);
      return url
        ? [{ category: "external", summary: `Reference by ${p.name}`, url }]
        : [];
    }),
  );
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
        ...participantReferences,
      ],
    },
    // One branch per organization (vendor), each with the affected asset
    // as its product, so every organization has its own status.
    product_tree: products.length
      ? {
          branches: products.map(({ participant, productId }) => ({
            category: "vendor",
            name: participant.name,
            branches: [
              {
                category: "product_name",
                name: advisory.asset,
                product: {
                  name:
                    products.length === 1
                      ? advisory.asset
                      : `${advisory.asset} (${participant.name})`,
                  product_id: productId,
                },
              },
            ],
          })),
        }
      : {
          full_product_names: [
            { name: advisory.asset, product_id: CSAF_PRODUCT_ID },
          ],
        },
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
          ...participantNotes,
        ],
        product_status: productStatus,
        ...(remediations.length > 0 && { remediations }),
        ...(cvss &&
          scoredIds.length > 0 && {
            scores: [{ products: scoredIds, cvss_v3: cvss }],
          }),
        ...(acknowledgments.length > 0 && { acknowledgments }),
      },
    ],
  };
}

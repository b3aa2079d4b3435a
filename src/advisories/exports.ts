import type { Deps } from "../deps.js";
import { NotFoundError } from "../http/errors.js";
import { buildCsafDocument, csafFileName, type ExportContext } from "./csaf.js";
import { buildCveRecord } from "./cve-record.js";
import type { PublishedAdvisory } from "./repository.js";
import { loadPublicAdvisory } from "./service.js";

/** Who publishes the exports: the CERT running this app. */
export const PUBLISHER_NAME = "Disclosure Desk";

export interface AdvisoryDownload {
  fileName: string;
  /** Pretty-printed JSON, ending in a newline. */
  body: string;
}

async function publicAdvisory(
  deps: Pick<Deps, "db" | "config">,
  rawId: string,
): Promise<{ advisory: PublishedAdvisory; ctx: ExportContext }> {
  const { advisory, reached, participants } = await loadPublicAdvisory(
    deps,
    rawId,
  );
  return {
    advisory,
    ctx: {
      baseUrl: deps.config.baseUrl,
      publisherName: PUBLISHER_NAME,
      reached,
      participants,
    },
  };
}

function download(fileName: string, document: unknown): AdvisoryDownload {
  return { fileName, body: JSON.stringify(document, null, 2) + "\n" };
}

/** GET /advisories/:id/csaf.json */
export async function csafDownload(
  deps: Pick<Deps, "db" | "config">,
  rawId: string,
): Promise<AdvisoryDownload> {
  const { advisory, ctx } = await publicAdvisory(deps, rawId);
  return download(
    csafFileName(advisory.publicId),
    buildCsafDocument(advisory, ctx),
  );
}

/** GET /advisories/:id/cve.json: not found while the advisory has no CVE ID. */
export async function cveRecordDownload(
  deps: Pick<Deps, "db" | "config">,
  rawId: string,
): Promise<AdvisoryDownload> {
  const { advisory, ctx } = await publicAdvisory(deps, rawId);
  const record = buildCveRecord(advisory, ctx);
  if (!record || !advisory.cveId) throw new NotFoundError();
  return download(`${advisory.cveId}.json`, record);
}

/** The download links for the advisory page's view model. */
export function advisoryDownloads(advisory: {
  publicId: string;
  cveId: string | null;
}) {
  const base = `/advisories/${advisory.publicId}`;
  return {
    csafHref: `${base}/csaf.json`,
    cveHref: advisory.cveId ? `${base}/cve.json` : null,
  };
}

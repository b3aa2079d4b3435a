import { can, type Actor } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { formatDateTime } from "../format.js";
import { NotFoundError } from "../http/errors.js";
import { findOrganizationById } from "../orgs/repository.js";
import { cweLabel } from "./cwe.js";
import { severityLabel } from "./cvss.js";
import { userNames } from "./repository.js";
import { accessFacts, type Report } from "./types.js";

/**
 * A letter of acknowledgment the researcher can print (or save as PDF from
 * the browser) for a resolved or disclosed report: proof of their work for
 * a portfolio or an employer. It names the organization only once the case
 * is public, so a letter cannot leak an unpublished case's target.
 */
export async function acknowledgmentLetter(
  deps: Pick<Deps, "db" | "clock" | "config">,
  actor: Actor,
  report: Report,
) {
  // The policy knows the letter exists only once the case is resolved.
  if (!can(actor, "report:letter", accessFacts(report)))
    throw new NotFoundError();
  const names = await userNames(deps.db, [report.reporterId]);
  const organization =
    report.state === "disclosed" && report.organizationId
      ? await findOrganizationById(deps.db, report.organizationId)
      : undefined;
  return {
    researcher: names.get(report.reporterId) ?? "",
    publicId: report.publicId,
    weakness: cweLabel(report.cwe),
    severity: severityLabel(report.severity),
    cvssScore: report.cvssScore,
    organization: organization?.name ?? null,
    submitted: formatDateTime(report.createdAt),
    resolved: report.closedAt ? formatDateTime(report.closedAt) : null,
    // A report published after its deadline (or once public) was not fixed.
    fixVerified: report.fixVerifiedAt !== null,
    advisoryUrl:
      report.state === "disclosed"
        ? `${deps.config.baseUrl}/advisories/${report.publicId}`
        : null,
    issued: formatDateTime(deps.clock.now()),
  };
}

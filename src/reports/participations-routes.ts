/**
 * The participants panel's forms (participations-service.ts), declared on
 * the report router: each line names the policy action it needs; which
 * organization the actor may answer for, the service asks the policy.
 */
import type { Request, Response, Router } from "express";
import { z } from "zod";
import { auditContextOf } from "../audit/routes.js";
import { recordReportView } from "../audit/service.js";
import { can } from "../auth/policy.js";
import type { Deps } from "../deps.js";
import { actorOf, requireSignIn } from "../http/middleware.js";
import type { PageForm } from "./page.js";
import {
  FROM_PARTICIPANT_PAGE,
  participantForm,
  participantPage,
} from "./participants-page.js";
import {
  addParticipant,
  addParticipantSchema,
  approveStatement,
  caseOpenSchema,
  checkParticipantFix,
  detailsSchema,
  fixCheckSchema,
  removeParticipant,
  removeParticipantSchema,
  setCaseOpenness,
  setParticipantDetails,
  setParticipantStatus,
  shareStatement,
  shareStatementSchema,
  statementSchema,
  statusSchema,
  suggestOrganization,
  suggestSchema,
  writeStatement,
} from "./participations-service.js";
import type { FormPost, ReturnTo, allowedOn as AllowedOn } from "./routes.js";
import { accessFacts, type Report } from "./types.js";

export function participationRoutes(
  router: Router,
  formPost: FormPost,
  allowedOn: typeof AllowedOn,
  deps: Deps,
) {
  const signedIn = requireSignIn;
  const on = "/reports/:id/participants";
  const org = (req: { params: Record<string, unknown> }) =>
    String(req.params.org);
  const anchor = { anchor: "#participants" };

  /** One organization's own page (a case with many), with one form's errors and values. */
  const renderParticipant = async (
    req: Request,
    res: Response,
    status = 200,
    pageForm: PageForm | null = null,
  ) => {
    const actor = actorOf(req)!;
    const report = res.locals.report as Report;
    const page = await participantPage(deps, actor, report, org(req), pageForm);
    await recordReportView(
      deps,
      actor,
      { ...accessFacts(report), publicId: report.publicId },
      auditContextOf(req),
    );
    res.status(status).render("reports/participant", {
      title: `${page.row.name} on ${page.report.publicId}`,
      ...page,
    });
  };
  /**
   * A form posted from that page (its hidden `from` field; any other value
   * is the report page's) returns there, its errors shown there too.
   */
  const fromParticipantPage =
    (after: "participant" | "report" = "participant") =>
    (req: Request, res: Response): ReturnTo | null => {
      const report = res.locals.report as Report;
      if (
        req.body?.from !== FROM_PARTICIPANT_PAGE ||
        !can(actorOf(req), "report:manage_participants", accessFacts(report))
      )
        return null;
      return {
        path:
          after === "participant"
            ? `/reports/${report.publicId}/participants/${encodeURIComponent(org(req))}`
            : `/reports/${report.publicId}#participants`,
        render: renderParticipant,
      };
    };
  const back = { ...anchor, returnTo: fromParticipantPage() };

  router.get(
    `${on}/:org`,
    signedIn,
    allowedOn("report:manage_participants"),
    (req, res) => renderParticipant(req, res),
  );

  router.post(
    on,
    signedIn,
    allowedOn("report:manage_participants"),
    formPost(
      "participant-add",
      addParticipantSchema,
      addParticipant,
      (name) => `${name} is on the case.`,
      anchor,
    ),
  );
  router.post(
    "/reports/:id/case-open",
    signedIn,
    allowedOn("report:manage_participants"),
    formPost(
      "case-open",
      caseOpenSchema,
      setCaseOpenness,
      (open) =>
        open
          ? "The case is open: its organizations see each other's names and statuses."
          : "The case is closed to its participants: each sees only its own participation.",
      anchor,
    ),
  );
  router.post(
    `${on}/suggest`,
    signedIn,
    allowedOn("report:answer_as_org"),
    formPost(
      "participant-suggest",
      suggestSchema,
      suggestOrganization,
      "Your suggestion was sent to the CERT.",
      anchor,
    ),
  );
  router.post(
    `${on}/:org/remove`,
    signedIn,
    allowedOn("report:manage_participants"),
    formPost(
      (req) => participantForm("remove", org(req)),
      removeParticipantSchema,
      (d, actor, report, input, request, req) =>
        removeParticipant(d, actor, report, org(req), input, request),
      (name) => `${name} was removed from the case.`,
      { ...anchor, returnTo: fromParticipantPage("report") },
    ),
  );
  router.post(
    `${on}/:org/statement/approve`,
    signedIn,
    allowedOn("report:manage_participants"),
    formPost(
      (req) => participantForm("approve", org(req)),
      z.unknown(),
      (d, actor, report, _input, request, req) =>
        approveStatement(d, actor, report, org(req), request),
      (name) => `${name}'s statement is approved.`,
      back,
    ),
  );
  router.post(
    `${on}/:org/status`,
    signedIn,
    allowedOn("report:answer_as_org"),
    formPost(
      (req) => participantForm("status", org(req)),
      statusSchema,
      (d, actor, report, input, request, req) =>
        setParticipantStatus(d, actor, report, org(req), input, request),
      "The status is saved.",
      back,
    ),
  );
  router.post(
    `${on}/:org/statement`,
    signedIn,
    allowedOn("report:answer_as_org"),
    formPost(
      (req) => participantForm("statement", org(req)),
      statementSchema,
      (d, actor, report, input, request, req) =>
        writeStatement(d, actor, report, org(req), input, request),
      "The statement is saved; it waits for the CERT's approval.",
      back,
    ),
  );
  router.post(
    `${on}/:org/share`,
    signedIn,
    allowedOn("report:answer_as_org"),
    formPost(
      (req) => participantForm("share", org(req)),
      shareStatementSchema,
      (d, actor, report, input, request, req) =>
        shareStatement(d, actor, report, org(req), input, request),
      (shared) =>
        shared
          ? "The statement is shared with the other organizations on the case."
          : "The statement is no longer shared.",
      back,
    ),
  );
  router.post(
    `${on}/:org/details`,
    signedIn,
    allowedOn("report:answer_as_org"),
    formPost(
      (req) => participantForm("details", org(req)),
      detailsSchema,
      (d, actor, report, input, request, req) =>
        setParticipantDetails(d, actor, report, org(req), input, request),
      "The tracking ID and fix target are saved.",
      back,
    ),
  );
  router.post(
    `${on}/:org/fix`,
    signedIn,
    allowedOn("report:act"),
    formPost(
      (req) => participantForm("fix", org(req)),
      fixCheckSchema,
      (d, actor, report, input, request, req) =>
        checkParticipantFix(d, actor, report, org(req), input, request),
      (verified) =>
        verified
          ? "The fix is confirmed for this organization."
          : "Recorded: not fixed. The organization is asked to fix it again.",
      back,
    ),
  );
}

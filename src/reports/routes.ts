import {
  Router,
  type Request,
  type RequestHandler,
  type Response,
} from "express";
import { auditContextOf } from "../audit/routes.js";
import { recordReportView } from "../audit/service.js";
import type { Deps } from "../deps.js";
import { actorOf, flash, requireSignIn } from "../http/middleware.js";
import {
  formValues,
  parseForm,
  type FieldErrors,
  type FormResult,
} from "../http/validation.js";
import { can, mustVerifyEmail, type Actor } from "../auth/policy.js";
import { keptFormFor } from "../auth/kept-forms.js";
import type { AuditRequestContext } from "../audit/types.js";
import { accessFacts, type Report } from "./types.js";
import { HOUR_MS, MINUTE_MS, limiter } from "../http/rate-limits.js";
import { answerCreditProposal, saveAdvisory } from "../advisories/service.js";
import {
  declineDisclosureRequest,
  requestDisclosure,
} from "./disclosure-request.js";
import { recordCaseFact, recordSsvc } from "./case-facts.js";
import { acknowledgmentLetter } from "./letter.js";
import {
  changeDeadline,
  decideExtension,
  requestExtension,
} from "./deadlines.js";
import { NotFoundError } from "../http/errors.js";
import {
  acceptUploads,
  addComment,
  addNote,
  assignReport,
  attachFiles,
  attachmentFor,
  fileReport,
  loadReportFor,
  reportFormOptions,
  shareMessage,
  takeTransition,
  updateTriage,
  type KeptAttachment,
  type UploadedFile,
} from "./service.js";
import {
  assignSchema,
  commentSchema,
  reportFormSchema,
  transitionSchema,
  triageSchema,
} from "./forms.js";
import { reportPage, type PageForm } from "./page.js";

const uploadedFiles = (req: Request): UploadedFile[] =>
  ((req.files as Express.Multer.File[] | undefined) ?? []).map((f) => ({
    path: f.path,
    originalname: f.originalname,
  }));

const asList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter(
    (s): s is string => typeof s === "string",
  );

/** Filing, the report page and the actions on it. IDs in URLs are public report IDs. */
export function reportRoutes(deps: Deps) {
  const router = Router();

  const renderForm = async (
    res: Response,
    status: number,
    values: Record<string, unknown>,
    errors: FieldErrors,
    kept: KeptAttachment[],
    restored = false,
  ) => {
    res.status(status).render("reports/new", {
      title: "Report a vulnerability",
      values,
      errors,
      kept,
      restored,
      ...(await reportFormOptions(deps)),
    });
  };

  router.get("/reports/new", requireSignIn, async (req, res) => {
    if (mustVerifyEmail(actorOf(req)))
      return res.redirect(303, "/verify-email/needed");
    if (!can(actorOf(req), "report:create")) throw new NotFoundError();
    // A form the session expired on comes back filled in, once, to its author.
    const pending = keptFormFor(
      req.session.pendingForm,
      req.user!.id,
      deps.clock.now(),
    );
    delete req.session.pendingForm;
    const restored = pending !== undefined;
    await renderForm(
      res,
      200,
      pending ? pending.values : { creditKind: "name" },
      {},
      [],
      restored,
    );
  });

  const submitLimit = limiter(deps, {
    name: "report_submission",
    windowMs: HOUR_MS,
    limit: 30,
    message:
      "You have sent many reports in the last hour. Wait a little and send this one again; what you typed is not lost if you go back.",
  });

  router.post("/reports/new", requireSignIn, submitLimit, async (req, res) => {
    const actor = actorOf(req)!;
    if (!can(actor, "report:create")) throw new NotFoundError();
    const uploads = await acceptUploads(
      deps,
      actor,
      uploadedFiles(req),
      asList(req.body?.keptAttachments),
      req.uploadError,
      auditContextOf(req),
    );
    const body = {
      ...formValues(req.body),
      keptAttachments: uploads.kept.map((k) => k.publicId),
    };
    const form = parseForm(reportFormSchema, body);
    if (!form.ok || uploads.error) {
      const errors = form.ok ? {} : form.errors;
      if (uploads.error) errors.attachments = uploads.error;
      return renderForm(res, 422, formValues(req.body), errors, uploads.kept);
    }
    const outcome = await fileReport(
      deps,
      actor,
      form.data,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return renderForm(
        res,
        422,
        formValues(req.body),
        outcome.errors,
        uploads.kept,
      );
    flash(
      req,
      "success",
      `Report ${outcome.value.publicId} received. Keep this ID: it is how the CERT and you refer to the report.`,
    );
    res.redirect(303, `/reports/${outcome.value.publicId}`);
  });

  const renderReport = async (
    req: Request,
    res: Response,
    status = 200,
    pageForm: PageForm | null = null,
  ) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    await recordReportView(
      deps,
      actor,
      { ...accessFacts(report), publicId: report.publicId },
      auditContextOf(req),
    );
    const model = await reportPage(deps, actor, report, pageForm);
    res.status(status).render("reports/show", {
      title: `${model.report.publicId}: ${model.report.title}`,
      ...model,
    });
  };

  router.get("/reports/:id", requireSignIn, (req, res) =>
    renderReport(req, res),
  );

  router.post("/reports/:id/transition", requireSignIn, async (req, res) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    const form = parseForm(transitionSchema, req.body);
    const formName =
      typeof req.body?.name === "string" ? req.body.name.slice(0, 40) : "";
    if (!form.ok)
      return renderReport(req, res, 422, {
        form: formName,
        errors: form.errors,
        values: form.values,
      });
    const outcome = await takeTransition(
      deps,
      actor,
      report,
      form.data,
      auditContextOf(req),
    );
    if (!outcome.ok) {
      return renderReport(req, res, 422, {
        form: formName,
        errors: outcome.errors,
        values: formValues(req.body),
      });
    }
    flash(
      req,
      "success",
      `Done: the report is now “${outcome.value.state.replace(/_/g, " ")}”.`,
    );
    res.redirect(303, `/reports/${report.publicId}`);
  });

  // Each comment and extension request mails the triage team (all of it
  // while nobody is assigned): generous for real work, not for a flood.
  // Only the ones that went through count.
  const went = (_req: Request, res: Response) => res.statusCode < 400;
  const commentLimit = limiter(deps, {
    name: "comment",
    windowMs: 10 * MINUTE_MS,
    limit: 30,
    counts: went,
    message:
      "You have posted many comments in the last 10 minutes. Wait a few minutes and send this one again; your text is kept here.",
    refused: (req, res, message) =>
      renderReport(req, res, 429, {
        form: "comment",
        errors: { body: message },
        values: formValues(req.body),
      }),
  });
  const extensionLimit = limiter(deps, {
    name: "extension_request",
    windowMs: HOUR_MS,
    limit: 10,
    counts: went,
    message:
      "You have sent many requests for more time in the last hour. Wait a while and send this one again; your date and reason are kept here.",
    refused: (req, res, message) =>
      renderReport(req, res, 429, {
        form: "extension",
        errors: { _form: message },
        values: formValues(req.body),
      }),
  });

  router.post(
    "/reports/:id/comments",
    requireSignIn,
    commentLimit,
    async (req, res) => {
      const actor = actorOf(req)!;
      const report = await loadReportFor(deps, actor, String(req.params.id));
      const form = parseForm(commentSchema, req.body);
      if (!form.ok)
        return renderReport(req, res, 422, {
          form: "comment",
          errors: form.errors,
          values: form.values,
        });
      await addComment(
        deps,
        actor,
        report,
        form.data.body,
        auditContextOf(req),
      );
      flash(req, "success", "Your comment was added.");
      res.redirect(303, `/reports/${report.publicId}#timeline`);
    },
  );

  router.post("/reports/:id/notes", requireSignIn, async (req, res) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    const form = parseForm(commentSchema, req.body);
    if (!form.ok)
      return renderReport(req, res, 422, {
        form: "note",
        errors: form.errors,
        values: form.values,
      });
    await addNote(deps, actor, report, form.data.body, auditContextOf(req));
    flash(req, "success", "Internal note added.");
    res.redirect(303, `/reports/${report.publicId}#timeline`);
  });

  router.post("/reports/:id/triage", requireSignIn, async (req, res) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    const form = parseForm(triageSchema, req.body);
    if (!form.ok)
      return renderReport(req, res, 422, {
        form: "triage",
        errors: form.errors,
        values: form.values,
      });
    const outcome = await updateTriage(
      deps,
      actor,
      report,
      form.data,
      auditContextOf(req),
    );
    if (!outcome.ok) {
      return renderReport(req, res, 422, {
        form: "triage",
        errors: outcome.errors,
        values: formValues(req.body),
      });
    }
    flash(req, "success", "Triage details saved.");
    res.redirect(303, `/reports/${report.publicId}`);
  });

  router.post("/reports/:id/advisory", requireSignIn, async (req, res) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    const saved = await saveAdvisory(
      deps,
      actor,
      report,
      req.body,
      auditContextOf(req),
    );
    if (!saved.ok)
      return renderReport(req, res, 422, {
        form: "advisory",
        errors: saved.errors,
        values: saved.values,
      });
    flash(req, "success", "Advisory saved.");
    res.redirect(303, `/reports/${report.publicId}`);
  });

  // Small forms on the report page that a service checks and records:
  // the disclosure deadline, extension requests, case facts, SSVC.
  const formRoute = (
    path: string,
    form: string,
    step: (
      d: typeof deps,
      actor: Actor,
      report: Report,
      body: unknown,
      request: AuditRequestContext | null,
    ) => Promise<FormResult<unknown>>,
    done: string,
    ...limits: RequestHandler[]
  ) =>
    router.post(path, requireSignIn, ...limits, async (req, res) => {
      const actor = actorOf(req)!;
      const report = await loadReportFor(deps, actor, String(req.params.id));
      const result = await step(
        deps,
        actor,
        report,
        req.body,
        auditContextOf(req),
      );
      if (!result.ok)
        return renderReport(req, res, 422, {
          form,
          errors: result.errors,
          values: result.values,
        });
      flash(req, "success", done);
      res.redirect(303, `/reports/${report.publicId}`);
    });
  formRoute(
    "/reports/:id/deadline",
    "deadline",
    changeDeadline,
    "The disclosure deadline is moved.",
  );
  formRoute(
    "/reports/:id/extension",
    "extension",
    requestExtension,
    "Your request for more time was sent to the CERT.",
    extensionLimit,
  );
  formRoute(
    "/reports/:id/facts",
    "facts",
    recordCaseFact,
    "The case fact is recorded.",
  );
  formRoute(
    "/reports/:id/ssvc",
    "ssvc",
    recordSsvc,
    "The SSVC decision is saved.",
  );
  formRoute(
    "/reports/:id/extension/decision",
    "decision",
    decideExtension,
    "The decision on the extension is recorded.",
  );

  formRoute(
    "/reports/:id/credit",
    "credit",
    answerCreditProposal,
    "Your answer about the credit is recorded.",
  );
  formRoute(
    "/reports/:id/disclosure-request",
    "disclosureRequest",
    requestDisclosure,
    "Your request for disclosure was sent to the CERT.",
  );
  formRoute(
    "/reports/:id/disclosure-request/decline",
    "disclosureDecision",
    declineDisclosureRequest,
    "Your answer to the request for disclosure is recorded.",
  );

  formRoute(
    "/reports/:id/share",
    "share",
    shareMessage,
    "The message is shared with the organization.",
  );

  router.get("/reports/:id/letter", requireSignIn, async (req, res) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    res.render("reports/letter", {
      title: `Letter of acknowledgment for ${report.publicId}`,
      letter: await acknowledgmentLetter(deps, actor, report),
    });
  });

  router.post("/reports/:id/assign", requireSignIn, async (req, res) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    const form = parseForm(assignSchema, req.body);
    if (!form.ok)
      return renderReport(req, res, 422, {
        form: "assign",
        errors: form.errors,
        values: form.values,
      });
    await assignReport(
      deps,
      actor,
      report,
      form.data.assignee,
      auditContextOf(req),
    );
    flash(
      req,
      "success",
      form.data.assignee === "me"
        ? "The report is assigned to you."
        : "The report is unassigned.",
    );
    res.redirect(303, `/reports/${report.publicId}`);
  });

  router.post("/reports/:id/attachments", requireSignIn, async (req, res) => {
    const actor = actorOf(req)!;
    const report = await loadReportFor(deps, actor, String(req.params.id));
    const outcome = await attachFiles(
      deps,
      actor,
      report,
      uploadedFiles(req),
      req.uploadError,
      auditContextOf(req),
    );
    if (!outcome.ok)
      return renderReport(req, res, 422, {
        form: "attachments",
        errors: outcome.errors,
        values: {},
      });
    flash(
      req,
      "success",
      `${outcome.value} file${outcome.value === 1 ? "" : "s"} attached.`,
    );
    res.redirect(303, `/reports/${report.publicId}`);
  });

  router.get(
    "/reports/:id/attachments/:aid",
    requireSignIn,
    async (req, res) => {
      const file = await attachmentFor(
        deps,
        actorOf(req),
        String(req.params.id),
        String(req.params.aid),
        auditContextOf(req),
      );
      // The file is served as inert bytes: never sniffed, never scripted, never framed.
      res.set({
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
      });
      res.attachment(file.fileName);
      if (file.inline)
        res.set(
          "Content-Disposition",
          res.get("Content-Disposition")!.replace(/^attachment/, "inline"),
        );
      res.type(file.mediaType);
      res.sendFile(file.file);
    },
  );

  return router;
}

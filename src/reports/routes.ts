import { z } from "zod";
import { noteReportRead } from "./queue.js";
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
  type Outcome,
  type Refusal,
} from "../http/validation.js";
import {
  can,
  mustVerifyEmail,
  type Actor,
  type ReportAction,
} from "../auth/policy.js";
import { keptFormFor } from "../auth/kept-forms.js";
import type { AuditRequestContext } from "../audit/types.js";
import { accessFacts, type Report } from "./types.js";
import { HOUR_MS, MINUTE_MS, limiter } from "../http/rate-limits.js";
import {
  advisorySchema,
  answerCreditProposal,
  creditAnswerSchema,
  saveAdvisory,
} from "../advisories/service.js";
import {
  declineDisclosureRequest,
  disclosureDecisionSchema,
  disclosureRequestSchema,
  requestDisclosure,
} from "./disclosure-request.js";
import {
  caseFactSchema,
  recordCaseFact,
  recordSsvc,
  ssvcSchema,
} from "./case-facts.js";
import { acknowledgmentLetter } from "./letter.js";
import { STATE_INFO } from "./workflow.js";
import {
  changeDeadline,
  deadlineNotRunning,
  deadlineSchema,
  decideExtension,
  decisionSchema,
  noOpenExtension,
  requestExtension,
} from "./deadlines.js";
import { NotFoundError } from "../http/errors.js";
import {
  addComment,
  addNote,
  commentOnDraft,
  fileReport,
  loadReportFor,
  reportFormOptions,
  shareMessage,
  takeTransition,
  updateTriage,
} from "./service.js";
import {
  acceptUploads,
  attachFiles,
  attachmentFor,
  removableFiles,
  removeAttachment,
  type KeptAttachment,
  type UploadedFile,
} from "./uploads.js";
import {
  assignSchema,
  commentSchema,
  reportFormSchema,
  shareSchema,
  submissionEditSchema,
  transitionSchema,
  triageSchema,
} from "./forms.js";
import { reportPage, type PageForm } from "./page.js";
import { participationRoutes } from "./participations-routes.js";
import { assignReport } from "./assignment.js";
import {
  editClosed,
  editSubmission,
  revisionsPage,
  submissionValues,
} from "./submission-edit.js";

const uploadedFiles = (req: Request): UploadedFile[] =>
  ((req.files as Express.Multer.File[] | undefined) ?? []).map((f) => ({
    path: f.path,
    originalname: f.originalname,
  }));

const asList = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter(
    (s): s is string => typeof s === "string",
  );

/** A use case on one report, as the report page's forms call it. */
export type UseCase<Input, T> = (
  deps: Deps,
  actor: Actor,
  report: Report,
  input: Input,
  request: AuditRequestContext | null,
  req: Request,
) => Promise<Outcome<T>>;

/** The report page's form handler (reportRoutes formPost), for routes declared in other files. */
export type FormPost = <S extends z.ZodType, T>(
  form: string | ((req: Request) => string),
  schema: S,
  run: UseCase<z.infer<S>, T>,
  done: string | ((value: T, input: z.infer<S>) => string),
  options?: {
    anchor?: string;
    precondition?: (report: Report) => Refusal | null;
    returnTo?: (req: Request, res: Response) => ReturnTo | null;
  },
) => (req: Request, res: Response) => Promise<void>;

/**
 * Another page a form was posted from (a participant's own page): its errors
 * are shown there and the redirect goes back there, not to the report page.
 */
export type ReturnTo = {
  path: string;
  render: (
    req: Request,
    res: Response,
    status: number,
    pageForm: PageForm,
  ) => Promise<void>;
};

/** The report router.param("id") loaded for this request. */
const reportOf = (res: Response): Report => res.locals.report as Report;

/**
 * Names on the route line the policy action it needs on the report; without
 * it, the same 404 as a report that does not exist. The service asks again.
 * The action stays readable on the middleware (the access matrix reads it).
 */
export function allowedOn(action: ReportAction) {
  const check: RequestHandler = (req, res, next) => {
    if (!can(actorOf(req), action, accessFacts(reportOf(res))))
      throw new NotFoundError();
    next();
  };
  return Object.assign(check, { allowedAction: action });
}

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

  router.get("/reports/new", (req, res, next) => {
    if (req.user) return next();
    // A visitor is told why an account is needed (not sent to a bare sign-in
    // form), without a session: its sign-in link brings them back here.
    res.render("reports/sign-in-to-report", {
      title: "Report a vulnerability",
    });
  });
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
    // One count with the API's filings (api/routes.ts).
    shared: true,
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
      form.value,
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

  /** The report page again, with one form's errors and values (422, 429). */
  const renderReport = async (
    req: Request,
    res: Response,
    status = 200,
    pageForm: PageForm | null = null,
  ) => {
    const actor = actorOf(req)!;
    const report = reportOf(res);
    await recordReportView(
      deps,
      actor,
      { ...accessFacts(report), publicId: report.publicId },
      auditContextOf(req),
    );
    await noteReportRead(deps, actor, report);
    const model = await reportPage(deps, actor, report, pageForm);
    res.status(status).render("reports/show", {
      title: `${model.report.publicId}: ${model.report.title}`,
      ...model,
    });
  };

  // Every route with :id works on the report the signed-in user may see; any
  // other ID is the policy's 404. Signed-out visitors are left to
  // requireSignIn, which sends them to sign in.
  router.param("id", async (req, res, next, id) => {
    if (req.user)
      res.locals.report = await loadReportFor(deps, actorOf(req), String(id));
    next();
  });

  /**
   * A POST on the report page: the form parsed (422 with the form kept), the
   * use case run (422 with its message next to the field), then a flash and
   * 303 back to the report. A `precondition` on the report's state answers
   * before the form is read, so a state error wins over a field error.
   */
  const formPost =
    <S extends z.ZodType, T>(
      form: string | ((req: Request) => string),
      schema: S,
      run: UseCase<z.infer<S>, T>,
      done: string | ((value: T, input: z.infer<S>) => string),
      {
        anchor = "",
        precondition,
        returnTo,
      }: {
        anchor?: string;
        precondition?: (report: Report) => Refusal | null;
        returnTo?: (req: Request, res: Response) => ReturnTo | null;
      } = {},
    ) =>
    async (req: Request, res: Response) => {
      const formName = typeof form === "string" ? form : form(req);
      const back = returnTo?.(req, res) ?? null;
      const again = (status: number, pageForm: PageForm) =>
        back
          ? back.render(req, res, status, pageForm)
          : renderReport(req, res, status, pageForm);
      const refused = precondition?.(reportOf(res));
      if (refused)
        return again(422, {
          form: formName,
          errors: refused.errors,
          values: refused.values ?? formValues(req.body),
        });
      const parsed = parseForm(schema, req.body);
      if (!parsed.ok)
        return again(422, {
          form: formName,
          errors: parsed.errors,
          values: parsed.values,
        });
      const report = reportOf(res);
      const outcome = await run(
        deps,
        actorOf(req)!,
        report,
        parsed.value,
        auditContextOf(req),
        req,
      );
      if (!outcome.ok)
        return again(outcome.status ?? 422, {
          form: formName,
          errors: outcome.errors,
          values: outcome.values ?? formValues(req.body),
        });
      flash(
        req,
        "success",
        typeof done === "string" ? done : done(outcome.value, parsed.value),
      );
      res.redirect(303, back?.path ?? `/reports/${report.publicId}${anchor}`);
    };

  // Each comment and extension request mails the triage team (all of it
  // while nobody is assigned): generous for real work, not for a flood.
  // Only the ones that went through count.
  const went = (_req: Request, res: Response) => res.statusCode < 400;
  const commentLimit = limiter(deps, {
    name: "comment",
    windowMs: 10 * MINUTE_MS,
    limit: 30,
    counts: went,
    // One count with the API's comments (api/routes.ts).
    shared: true,
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

  const signedIn = requireSignIn;
  const onReport = "/reports/:id";
  // The organizations on the case (participations-routes.ts).
  participationRoutes(router, formPost, allowedOn, deps);

  router.get(onReport, signedIn, allowedOn("report:view"), (req, res) =>
    renderReport(req, res),
  );

  router.post(
    `${onReport}/transition`,
    signedIn,
    allowedOn("report:act"),
    formPost(
      (req) =>
        typeof req.body?.name === "string" ? req.body.name.slice(0, 40) : "",
      transitionSchema,
      takeTransition,
      (report) =>
        `Done: the report is now “${STATE_INFO[report.state].label}”.`,
    ),
  );
  router.post(
    `${onReport}/comments`,
    signedIn,
    allowedOn("report:comment"),
    commentLimit,
    formPost(
      // The answer box at the top of the page keeps its own errors and text.
      (req) => (req.body?.answer === "1" ? "answer" : "comment"),
      commentSchema,
      addComment,
      (kind) =>
        kind === "answer"
          ? "Your answer was sent to the CERT; the report continues where it was."
          : "Your comment was added.",
      { anchor: "#timeline" },
    ),
  );
  router.post(
    `${onReport}/notes`,
    signedIn,
    allowedOn("report:add_note"),
    formPost("note", commentSchema, addNote, "Internal note added.", {
      anchor: "#timeline",
    }),
  );
  router.post(
    `${onReport}/triage`,
    signedIn,
    allowedOn("report:edit_triage"),
    formPost("triage", triageSchema, updateTriage, "Triage details saved."),
  );
  router.post(
    `${onReport}/assign`,
    signedIn,
    allowedOn("report:assign"),
    formPost("assign", assignSchema, assignReport, (_, input) =>
      input.assignee_id !== undefined
        ? input.assignee_id === ""
          ? "The report is unassigned."
          : "The assignment is saved."
        : input.assignee === "me"
          ? "The report is assigned to you."
          : "The report is unassigned.",
    ),
  );

  router.post(
    `${onReport}/advisory`,
    signedIn,
    allowedOn("report:write_advisory"),
    formPost("advisory", advisorySchema, saveAdvisory, "Advisory saved."),
  );
  router.post(
    `${onReport}/draft-advisory/comments`,
    signedIn,
    allowedOn("report:read_draft_advisory"),
    commentLimit,
    formPost(
      "draftComment",
      commentSchema,
      commentOnDraft,
      (kind) =>
        kind === "answer"
          ? "Your comment was sent to the CERT as your answer to its question; the report continues where it was."
          : "Your comment on the draft advisory was added.",
      { anchor: "#timeline" },
    ),
  );
  router.post(
    `${onReport}/deadline`,
    signedIn,
    allowedOn("report:set_deadline"),
    formPost(
      "deadline",
      deadlineSchema,
      changeDeadline,
      "The disclosure deadline is moved.",
      { precondition: deadlineNotRunning },
    ),
  );
  router.post(
    `${onReport}/extension`,
    signedIn,
    allowedOn("report:request_extension"),
    extensionLimit,
    formPost(
      "extension",
      deadlineSchema,
      requestExtension,
      "Your request for more time was sent to the CERT.",
      { precondition: deadlineNotRunning },
    ),
  );
  router.post(
    `${onReport}/extension/decision`,
    signedIn,
    allowedOn("report:set_deadline"),
    formPost(
      "decision",
      decisionSchema,
      decideExtension,
      "The decision on the extension is recorded.",
      { precondition: noOpenExtension },
    ),
  );
  router.post(
    `${onReport}/facts`,
    signedIn,
    allowedOn("report:record_case_facts"),
    formPost(
      "facts",
      caseFactSchema,
      recordCaseFact,
      "The case fact is recorded.",
    ),
  );
  router.post(
    `${onReport}/ssvc`,
    signedIn,
    allowedOn("report:record_case_facts"),
    formPost("ssvc", ssvcSchema, recordSsvc, "The SSVC decision is saved."),
  );
  router.post(
    `${onReport}/credit`,
    signedIn,
    allowedOn("report:answer_credit"),
    formPost(
      "credit",
      creditAnswerSchema,
      answerCreditProposal,
      "Your answer about the credit is recorded.",
    ),
  );
  router.post(
    `${onReport}/disclosure-request`,
    signedIn,
    allowedOn("report:request_disclosure"),
    formPost(
      "disclosureRequest",
      disclosureRequestSchema,
      requestDisclosure,
      "Your request for disclosure was sent to the CERT.",
    ),
  );
  router.post(
    `${onReport}/disclosure-request/decline`,
    signedIn,
    allowedOn("report:answer_disclosure"),
    formPost(
      "disclosureDecision",
      disclosureDecisionSchema,
      declineDisclosureRequest,
      "Your answer to the request for disclosure is recorded.",
    ),
  );
  router.post(
    `${onReport}/share`,
    signedIn,
    allowedOn("report:share_message"),
    formPost(
      "share",
      shareSchema,
      shareMessage,
      "The message is shared with the organization.",
    ),
  );

  // Correcting the report before acknowledgment (submission-edit.ts). Its
  // reporter is told when edits have closed, with what they typed (409);
  // anyone else gets the policy's 404.
  const editable = Object.assign(
    ((req, res, next) => {
      res.locals.editClosed = editClosed(actorOf(req)!, reportOf(res));
      next();
    }) as RequestHandler,
    { allowedAction: "report:edit_submission" as ReportAction },
  );
  const renderEdit = async (
    req: Request,
    res: Response,
    status: number,
    values: Record<string, unknown>,
    errors: FieldErrors,
  ) => {
    const report = reportOf(res);
    res.status(status).render("reports/edit", {
      title: `Edit ${report.publicId}`,
      report: { publicId: report.publicId },
      values,
      errors,
      closed: res.locals.editClosed !== null,
      files: await removableFiles(deps, actorOf(req)!, report),
    });
  };
  router.get(`${onReport}/edit`, signedIn, editable, async (req, res) => {
    const closed = res.locals.editClosed as Refusal | null;
    await renderEdit(
      req,
      res,
      closed ? 409 : 200,
      submissionValues(reportOf(res)),
      closed?.errors ?? {},
    );
  });
  router.post(`${onReport}/edit`, signedIn, editable, async (req, res) => {
    const closed = res.locals.editClosed as Refusal | null;
    if (closed)
      return renderEdit(req, res, 409, formValues(req.body), closed.errors);
    const parsed = parseForm(submissionEditSchema, req.body);
    if (!parsed.ok)
      return renderEdit(req, res, 422, parsed.values, parsed.errors);
    const report = reportOf(res);
    const outcome = await editSubmission(
      deps,
      actorOf(req)!,
      report,
      parsed.value,
      auditContextOf(req),
    );
    if (!outcome.ok) {
      res.locals.editClosed = outcome;
      return renderEdit(req, res, 409, formValues(req.body), outcome.errors);
    }
    flash(
      req,
      "success",
      outcome.value
        ? "Your report was updated; the CERT sees that you edited it."
        : "Nothing was changed.",
    );
    res.redirect(303, `/reports/${report.publicId}`);
  });
  // The researcher takes back one of their files until acknowledgment
  // (uploads.ts): refused with why after it (409), the policy's 404 to others.
  router.post(
    `${onReport}/attachments/:aid/remove`,
    signedIn,
    editable,
    formPost(
      "attachments",
      z.unknown(),
      (d, actor, report, _input, request, req) =>
        removeAttachment(d, actor, report, String(req.params.aid), request),
      (fileName) =>
        `${fileName} was removed from the report. The CERT keeps it on record, as it does earlier versions of your text.`,
      { anchor: "#files-title" },
    ),
  );
  router.get(
    `${onReport}/revisions`,
    signedIn,
    allowedOn("report:view_revisions"),
    async (req, res) => {
      const page = await revisionsPage(deps, actorOf(req)!, reportOf(res));
      res.render("reports/revisions", {
        title: `Earlier versions of ${page.report.publicId}`,
        ...page,
      });
    },
  );

  router.get(
    `${onReport}/letter`,
    signedIn,
    allowedOn("report:letter"),
    async (req, res) => {
      const report = reportOf(res);
      res.render("reports/letter", {
        title: `Letter of acknowledgment for ${report.publicId}`,
        letter: await acknowledgmentLetter(deps, actorOf(req)!, report),
      });
    },
  );

  // The files come from the multipart body (fileUploads), not from a schema.
  router.post(
    `${onReport}/attachments`,
    signedIn,
    allowedOn("report:upload"),
    formPost(
      "attachments",
      z.unknown(),
      (d, actor, report, _input, request, req) =>
        attachFiles(
          d,
          actor,
          report,
          uploadedFiles(req),
          req.uploadError,
          request,
        ),
      (count) => `${count} file${count === 1 ? "" : "s"} attached.`,
    ),
  );

  router.get(
    `${onReport}/attachments/:aid`,
    signedIn,
    allowedOn("report:view"),
    async (req, res) => {
      const file = await attachmentFor(
        deps,
        actorOf(req)!,
        reportOf(res),
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

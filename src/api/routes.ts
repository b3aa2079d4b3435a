/**
 * /api/v1: JSON over the same services and policy as the web. Each route
 * line declares the token scope it needs and the policy action it takes;
 * a report the caller may not see is the one 404 (http.ts NOT_FOUND_BODY).
 */
import express, { Router, type Request, type Response } from "express";
import { randomBytes } from "node:crypto";
import { rm, writeFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { recordReportView } from "../audit/service.js";
import type { Deps } from "../deps.js";
import { MAX_FILE_BYTES } from "../http/uploads.js";
import { HOUR_MS, MINUTE_MS } from "../http/rate-limits.js";
import { parseForm, type FieldErrors } from "../http/validation.js";
import {
  commentSchema,
  reportFormSchema,
  transitionSchema,
} from "../reports/forms.js";
import { addComment, fileReport, takeTransition } from "../reports/service.js";
import {
  detailsSchema,
  setParticipantDetails,
  setParticipantStatus,
  shareStatement,
  statementSchema,
  statusSchema,
  writeStatement,
} from "../reports/participations-service.js";
import { speaksFor } from "../auth/policy.js";
import { accessFacts } from "../reports/types.js";
import { attachFiles, attachmentFor } from "../reports/uploads.js";
import { STATES, type State } from "../reports/workflow.js";
import {
  allowed,
  apiContext,
  apiErrors,
  ApiProblem,
  bearer,
  loadedParticipation,
  loadedReport,
  needs,
  NOT_FOUND_BODY,
  onParticipant,
  onReport,
  perAccountLimit,
  perTokenLimit,
  problemAnswer,
  read,
  sendProblem,
  write,
  type ApiAnswer,
} from "./http.js";
import { openApiDocument } from "./openapi.js";
import {
  allowedSteps,
  API_PAGE_SIZE,
  etagOf,
  freshDetail,
  listReports,
  reportDetail,
} from "./service.js";

export const API_PREFIX = "/api/v1";

type Kind = "text" | "number" | "flag" | "list";

/** The API's field names: the web form's name for each, and its JSON type. */
const FILING_FIELDS: Record<string, [string, Kind]> = {
  title: ["title", "text"],
  organization: ["organization", "text"],
  new_organization: ["newOrganization", "text"],
  asset: ["asset", "text"],
  cwe: ["cwe", "text"],
  cvss: ["cvss", "text"],
  description: ["description", "text"],
  steps: ["steps", "text"],
  impact: ["impact", "text"],
  data_exposed: ["dataExposed", "list"],
  records_affected: ["recordsAffected", "number"],
  credit: ["creditKind", "text"],
  credit_handle: ["creditHandle", "text"],
  reveal_identity: ["revealIdentity", "flag"],
};

const STEP_FIELDS: Record<string, [string, Kind]> = {
  name: ["name", "text"],
  message: ["message", "text"],
  resolution: ["resolution", "text"],
  duplicate_of: ["duplicateOf", "text"],
  confirm: ["confirm", "flag"],
  cwe: ["cwe", "text"],
  cvss: ["cvss", "text"],
  organization: ["organization", "text"],
  create_suggested: ["createSuggested", "flag"],
};

const COMMENT_FIELDS: Record<string, [string, Kind]> = {
  body: ["body", "text"],
  audience: ["audience", "text"],
  organization: ["organization", "text"],
};

const STATUS_FIELDS: Record<string, [string, Kind]> = {
  status: ["status", "text"],
  reason: ["reason", "text"],
};

const STATEMENT_FIELDS: Record<string, [string, Kind]> = {
  statement: ["statement", "text"],
  references: ["references", "text"],
  shared: ["shared", "flag"],
};

const DETAILS_FIELDS: Record<string, [string, Kind]> = {
  tracking_id: ["trackingId", "text"],
  fix_target: ["fixTarget", "text"],
};

/**
 * The comment's audience as the web form sends it: the audience, and for
 * one organization its public ID after a colon ("org_researcher:<id>").
 * The service takes only a value the policy offers (audiences.ts).
 */
function commentInput(body: unknown) {
  const { audience, organization } = (
    body && typeof body === "object" && !Array.isArray(body) ? body : {}
  ) as Record<string, unknown>;
  const input = judged(commentSchema, body, COMMENT_FIELDS);
  if (organization !== undefined && organization !== null) {
    if (audience === undefined || audience === null)
      throw invalid({
        audience:
          "Give the audience (org or org_researcher) with the organization.",
      });
    input.audience = `${String(audience)}:${String(organization)}`;
  }
  return input;
}

const fitsKind = (value: unknown, kind: Kind) =>
  kind === "text"
    ? typeof value === "string"
    : kind === "number"
      ? typeof value === "number" && Number.isSafeInteger(value) && value >= 0
      : kind === "flag"
        ? typeof value === "boolean"
        : Array.isArray(value) && value.every((v) => typeof v === "string");

/**
 * A JSON body as the web form's fields, so the same schema judges it:
 * strings as they are, numbers as digits, true as a ticked box, arrays of
 * strings as repeated fields. A field the API does not know, or of the
 * wrong JSON type, is refused by name.
 */
function asForm(
  body: unknown,
  fields: Record<string, [string, Kind]>,
): { form: Record<string, unknown>; errors: FieldErrors } {
  if (!body || typeof body !== "object" || Array.isArray(body))
    throw new ApiProblem(400, "Send a JSON object as the request body.");
  const form: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const field = Object.hasOwn(fields, key) ? fields[key] : undefined;
    if (!field) {
      errors[key.slice(0, 60)] = "Unknown field.";
      continue;
    }
    const [name, kind] = field;
    if (value === null) continue;
    if (!fitsKind(value, kind)) {
      errors[key] =
        kind === "text"
          ? "This field must be a string."
          : kind === "number"
            ? "This field must be a whole number, or null."
            : kind === "flag"
              ? "This field must be true or false."
              : "This field must be an array of strings.";
      continue;
    }
    if (kind === "flag") {
      if (value === true) form[name] = "yes";
    } else if (kind === "number") form[name] = String(value);
    else form[name] = value;
  }
  return { form, errors };
}

/** The form schema's verdict, its messages under the API's field names. */
function judged<S extends z.ZodType>(
  schema: S,
  body: unknown,
  fields: Record<string, [string, Kind]>,
): z.infer<S> {
  const { form, errors } = asForm(body, fields);
  const parsed = parseForm(schema, form);
  const apiName = apiNames(fields);
  const all: FieldErrors = { ...errors };
  if (!parsed.ok)
    for (const [field, message] of Object.entries(parsed.errors))
      all[apiName[field] ?? field] ??= message;
  if (Object.keys(all).length || !parsed.ok) throw invalid(all);
  return parsed.value;
}

const AUDIENCE_REFUSED_API =
  "Not an audience you may write to on this report: researcher, org or org_researcher with an organization you may write to, or everyone (staff, or an organization once the case is open).";

const invalid = (errors: FieldErrors) =>
  new ApiProblem(422, "Some fields are not valid; see errors.", { errors });

const apiNames = (fields: Record<string, [string, Kind]>) =>
  Object.fromEntries(
    Object.entries(fields).map(([api, [web]]) => [web, api]),
  ) as Record<string, string>;

const refusedWith = (
  errors: FieldErrors,
  fields: Record<string, [string, Kind]>,
) => {
  const apiName = apiNames(fields);
  return invalid(
    Object.fromEntries(
      Object.entries(errors).map(([k, v]) => [apiName[k] ?? k, v]),
    ),
  );
};

const ISO_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

const listQuerySchema = z
  .object({
    cursor: z.string().max(200).optional(),
    updated_since: z
      .string()
      .refine(
        (s) => ISO_DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)),
        "Give a date and time like 2026-03-02T09:00:00Z.",
      )
      .optional(),
    state: z
      .enum(STATES, { error: `One of: ${STATES.join(", ")}.` })
      .optional(),
    organization: z.string().max(40).optional(),
    limit: z
      .string()
      .regex(/^\d{1,3}$/, "A whole number from 1 to 100.")
      .transform(Number)
      .refine((n) => n >= 1 && n <= 100, "A whole number from 1 to 100.")
      .optional(),
  })
  .strict();

function needJson(req: Request) {
  if (!req.is("application/json"))
    throw new ApiProblem(415, "Send the body as application/json.");
}

export function apiRoutes(deps: Deps) {
  const api = Router();
  const json = express.json({ limit: "1mb", strict: true });
  const fileBody = express.raw({ type: () => true, limit: MAX_FILE_BYTES });

  // The description of the API is public: it holds no data.
  api.get(`${API_PREFIX}/openapi.json`, (_req, res) => {
    res.json(openApiDocument(deps.config.baseUrl));
  });

  // Everything else needs a token; no session and no cookie is ever read here.
  api.use(API_PREFIX, bearer(deps), perTokenLimit(deps));

  // The web's limits on filing and commenting hold here too.
  const fileLimit = perAccountLimit(deps, {
    name: "report_submission",
    windowMs: HOUR_MS,
    limit: 30,
    message:
      "You have filed many reports in the last hour. Wait a little and send this one again.",
  });
  const commentLimit = perAccountLimit(deps, {
    name: "comment",
    windowMs: 10 * MINUTE_MS,
    limit: 30,
    message:
      "You have posted many comments in the last 10 minutes. Wait a few minutes and send this one again.",
  });

  const current = (req: Request, res: Response) =>
    reportDetail(deps, apiContext(res).caller.actor, loadedReport(res)).then(
      etagOf,
    );

  const withReport = async (
    res: Response,
    status: number,
  ): Promise<ApiAnswer> => {
    const { body, etag } = await freshDetail(
      deps,
      apiContext(res).caller.actor,
      loadedReport(res),
    );
    return { status, body, headers: { ETag: etag } };
  };

  api.get(
    `${API_PREFIX}/reports`,
    needs("reports:read"),
    read(async (req, res) => {
      const parsed = listQuerySchema.safeParse(req.query);
      if (!parsed.success) {
        const errors: FieldErrors = {};
        for (const issue of parsed.error.issues) {
          const field = String(issue.path[0] ?? "query");
          errors[field] ??=
            issue.code === "unrecognized_keys"
              ? `Unknown parameter: ${issue.keys.join(", ")}.`
              : issue.code === "invalid_type"
                ? "Give this parameter once, as text."
                : issue.message;
        }
        throw new ApiProblem(400, "Some query parameters are not valid.", {
          errors,
        });
      }
      const q = parsed.data;
      const page = await listReports(deps, apiContext(res).caller.actor, {
        cursor: q.cursor,
        updatedSince: q.updated_since ? new Date(q.updated_since) : undefined,
        state: q.state as State | undefined,
        organization: q.organization,
        limit: q.limit ?? API_PAGE_SIZE,
      });
      return { status: 200, body: page };
    }),
  );

  api.post(
    `${API_PREFIX}/reports`,
    needs("reports:write"),
    allowed("report:create"),
    fileLimit,
    json,
    write(deps, async (req, res) => {
      needJson(req);
      const { caller, request } = apiContext(res);
      const form = judged(reportFormSchema, req.body, FILING_FIELDS);
      const outcome = await fileReport(
        deps,
        caller.actor,
        { ...form, keptAttachments: [] },
        request,
      );
      if (!outcome.ok) throw refusedWith(outcome.errors, FILING_FIELDS);
      const body = await reportDetail(deps, caller.actor, outcome.value);
      return {
        status: 201,
        body,
        headers: {
          ETag: etagOf(body),
          Location: `${API_PREFIX}/reports/${outcome.value.publicId}`,
        },
      };
    }),
  );

  api.get(
    `${API_PREFIX}/reports/:id`,
    needs("reports:read"),
    onReport(deps, "report:view"),
    async (req, res) => {
      const { caller, request } = apiContext(res);
      const report = loadedReport(res);
      await recordReportView(
        deps,
        caller.actor,
        { ...accessFacts(report), publicId: report.publicId },
        request,
      );
      const body = await reportDetail(deps, caller.actor, report);
      const etag = etagOf(body);
      res.set("ETag", etag);
      if (req.get("if-none-match") === etag) return res.status(304).end();
      res.json(body);
    },
  );

  api.post(
    `${API_PREFIX}/reports/:id/comments`,
    needs("reports:write"),
    onReport(deps, "report:comment"),
    commentLimit,
    json,
    write(
      deps,
      async (req, res) => {
        needJson(req);
        const { caller, request } = apiContext(res);
        const input = commentInput(req.body);
        const outcome = await addComment(
          deps,
          caller.actor,
          loadedReport(res),
          input,
          request,
        );
        if (!outcome.ok)
          throw refusedWith(
            outcome.errors.audience
              ? { ...outcome.errors, audience: AUDIENCE_REFUSED_API }
              : outcome.errors,
            COMMENT_FIELDS,
          );
        return withReport(res, 201);
      },
      current,
    ),
  );

  api.post(
    `${API_PREFIX}/reports/:id/steps`,
    needs("workflow:write"),
    onReport(deps, "report:act"),
    json,
    write(
      deps,
      async (req, res) => {
        needJson(req);
        const { caller, request } = apiContext(res);
        const report = loadedReport(res);
        const steps = allowedSteps(report, caller.actor, deps.clock.now());
        const notNow = (detail: string) =>
          problemAnswer(409, detail, { allowed_steps: steps });
        const name = (req.body as { name?: unknown } | undefined)?.name;
        if (typeof name !== "string" || !steps.some((s) => s.name === name))
          return notNow(
            "This step cannot be taken on the report now; allowed_steps lists those that can.",
          );
        const input = judged(transitionSchema, req.body, STEP_FIELDS);
        const outcome = await takeTransition(
          deps,
          caller.actor,
          report,
          input,
          request,
        );
        if (!outcome.ok) {
          if (outcome.errors.name) return notNow(outcome.errors.name);
          throw refusedWith(outcome.errors, STEP_FIELDS);
        }
        return withReport(res, 200);
      },
      current,
    ),
  );

  api.post(
    `${API_PREFIX}/reports/:id/attachments`,
    needs("reports:write"),
    onReport(deps, "report:upload"),
    fileBody,
    write(
      deps,
      async (req, res) => {
        const { caller, request } = apiContext(res);
        const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        if (bytes.length === 0)
          throw invalid({
            file: "Send the file's bytes as the request body.",
          });
        const name = req.query.filename;
        if (name !== undefined && typeof name !== "string")
          throw invalid({ filename: "Give the file name once." });
        const tmp = path.join(deps.config.dataDir, "tmp");
        await mkdir(tmp, { recursive: true });
        const file = path.join(tmp, `api-${randomBytes(16).toString("hex")}`);
        await writeFile(file, bytes);
        try {
          const outcome = await attachFiles(
            deps,
            caller.actor,
            loadedReport(res),
            [{ path: file, originalname: (name || "upload").slice(0, 200) }],
            undefined,
            request,
          );
          if (!outcome.ok)
            throw invalid(
              Object.fromEntries(
                Object.entries(outcome.errors).map(([k, v]) => [
                  k === "attachments" ? "file" : k,
                  v,
                ]),
              ),
            );
        } finally {
          await rm(file, { force: true });
        }
        return withReport(res, 201);
      },
      current,
    ),
  );

  api.get(
    `${API_PREFIX}/reports/:id/attachments/:aid`,
    needs("reports:read"),
    onReport(deps, "report:view"),
    async (req, res) => {
      const { caller, request } = apiContext(res);
      const file = await attachmentFor(
        deps,
        caller.actor,
        loadedReport(res),
        String(req.params.aid),
        request,
      );
      // Inert bytes, as on the web: never sniffed, scripted or framed.
      res.set({
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
      });
      res.attachment(file.fileName);
      res.type(file.mediaType);
      await new Promise<void>((resolve, reject) =>
        res.sendFile(file.file, (err) => (err ? reject(err) : resolve())),
      );
    },
  );

  // An organization's own answers (participations-service.ts), for the
  // organizations the caller answers for (policy.ts canAnswerFor); any
  // other organization, forged or real, is the report's 404. A PUT that
  // changes nothing answers 200 and writes nothing.
  const onOrg = `${API_PREFIX}/reports/:id/participants/:org`;

  api.put(
    `${onOrg}/status`,
    needs("workflow:write"),
    onReport(deps, "report:answer_as_org"),
    onParticipant(deps),
    json,
    write(
      deps,
      async (req, res) => {
        needJson(req);
        const { caller, request } = apiContext(res);
        const p = loadedParticipation(res);
        const input = judged(statusSchema, req.body, STATUS_FIELDS);
        if (
          p.status === input.status &&
          (p.statusReason ?? "") === input.reason
        )
          return withReport(res, 200);
        const outcome = await setParticipantStatus(
          deps,
          caller.actor,
          loadedReport(res),
          p.organizationPublicId,
          input,
          request,
        );
        if (!outcome.ok) throw refusedWith(outcome.errors, STATUS_FIELDS);
        return withReport(res, 200);
      },
      current,
    ),
  );

  api.put(
    `${onOrg}/statement`,
    needs("reports:write"),
    onReport(deps, "report:answer_as_org"),
    onParticipant(deps),
    json,
    write(
      deps,
      async (req, res) => {
        needJson(req);
        const { caller, request } = apiContext(res);
        const report = loadedReport(res);
        const p = loadedParticipation(res);
        const input = judged(statementSchema, req.body, STATEMENT_FIELDS);
        const shared = (req.body as { shared?: unknown }).shared;
        const share =
          typeof shared === "boolean" && shared !== p.statementShared;
        // Sharing is the organization's own choice: not staff's for it.
        if (
          share &&
          !speaksFor(caller.actor, accessFacts(report), p.organizationId)
        )
          throw invalid({
            shared:
              "Only the organization's own contacts choose whether its statement is shared.",
          });
        if (
          p.statement !== input.statement ||
          (p.statementReferences ?? "") !== input.references
        ) {
          const outcome = await writeStatement(
            deps,
            caller.actor,
            report,
            p.organizationPublicId,
            input,
            request,
          );
          if (!outcome.ok) throw refusedWith(outcome.errors, STATEMENT_FIELDS);
        }
        if (share) {
          const outcome = await shareStatement(
            deps,
            caller.actor,
            report,
            p.organizationPublicId,
            { shared: shared ? "yes" : "no" },
            request,
          );
          if (!outcome.ok) throw refusedWith(outcome.errors, STATEMENT_FIELDS);
        }
        return withReport(res, 200);
      },
      current,
    ),
  );

  api.put(
    `${onOrg}/details`,
    needs("reports:write"),
    onReport(deps, "report:answer_as_org"),
    onParticipant(deps),
    json,
    write(
      deps,
      async (req, res) => {
        needJson(req);
        const { caller, request } = apiContext(res);
        const p = loadedParticipation(res);
        const input = judged(detailsSchema, req.body, DETAILS_FIELDS);
        const same =
          (input.trackingId || null) === p.trackingId &&
          (input.fixTarget || null) ===
            (p.fixTargetAt ? p.fixTargetAt.toISOString().slice(0, 10) : null);
        if (same) return withReport(res, 200);
        const outcome = await setParticipantDetails(
          deps,
          caller.actor,
          loadedReport(res),
          p.organizationPublicId,
          input,
          request,
        );
        if (!outcome.ok) throw refusedWith(outcome.errors, DETAILS_FIELDS);
        return withReport(res, 200);
      },
      current,
    ),
  );

  // Any other path under the prefix: the same 404.
  api.use(API_PREFIX, (_req, res) => sendProblem(res, NOT_FOUND_BODY));
  api.use(API_PREFIX, apiErrors(deps));
  return api;
}

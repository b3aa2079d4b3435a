/**
 * The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.
 * The API tests check every answer they get against it (test/support/api.ts).
 */
import { API_RATE_LIMIT } from "./http.js";
import { API_SCOPES, DEFAULT_EXPIRY_DAYS } from "./tokens.js";
import { EVENT_AUDIENCES, DATA_KINDS, CREDIT_KINDS } from "../reports/types.js";
import { SEVERITIES } from "../reports/cvss.js";
import { RESOLUTIONS, STATES, TRANSITION_NAMES } from "../reports/workflow.js";
import {
  ANSWER_STATUSES,
  PARTICIPATION_STATUSES,
} from "../reports/participations.js";

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const nullable = (type: string, extra: object = {}) => ({
  type: [type, "null"],
  ...extra,
});
const dateTime = { type: "string", format: "date-time" };

const problem = (description: string, schema = "Problem") => ({
  description,
  content: { "application/problem+json": { schema: ref(schema) } },
});

const rateHeaders = {
  RateLimit: {
    description:
      "The token's quota left in the current window (IETF draft-ietf-httpapi-ratelimit-headers-08).",
    schema: { type: "string" },
  },
  "RateLimit-Policy": {
    description: "The token's quota policy.",
    schema: { type: "string" },
  },
};

const etag = {
  ETag: {
    description:
      "The report's current version, for If-Match and If-None-Match.",
    schema: { type: "string" },
  },
};

/** Answers every authenticated operation may give. */
const common = {
  "401": problem(
    "No token, or one that does not work now (unknown, expired, revoked, its account disabled, or staff without two-factor sign-in).",
  ),
  "403": problem(
    "The token lacks the scope, or the account the role, for this.",
  ),
  "429": problem(
    "Too many requests from this token: see the RateLimit header.",
  ),
};

const notFound = problem(
  "No such report or file, or one the caller may not see: the same answer, byte for byte.",
);

const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "The report's public ID, like DD-7K2Q-9M4D.",
  schema: { type: "string", maxLength: 40 },
};

const idempotencyKey = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "A unique key per write: a retry with the same key gets the first answer (kept 24 hours) and does nothing twice.",
  schema: { type: "string", minLength: 1, maxLength: 200 },
};

const ifMatch = {
  name: "If-Match",
  in: "header",
  required: false,
  description:
    "The ETag the caller last read: if the report changed since, the write answers 412.",
  schema: { type: "string" },
};

const writeAnswers = {
  "400": problem("The body is not a JSON object, or a header is not valid."),
  "409": problem(
    "A request with this Idempotency-Key is still being answered, or the report changed a moment ago.",
  ),
  "413": problem("The body is too large."),
  "415": problem("The body is not application/json."),
  "422": problem(
    "Some fields are not valid (errors names them), or the Idempotency-Key was used for another request.",
  ),
};

const reportAnswer = (status: string, description: string) => ({
  [status]: {
    description,
    headers: { ...etag, ...rateHeaders },
    content: { "application/json": { schema: ref("Report") } },
  },
});

const orgParam = {
  name: "org",
  in: "path",
  required: true,
  description:
    "The organization's public ID (participants[].organization.id). Only one the caller answers for: its own organization for a contact, any on the case for CERT staff; any other is the same 404 as a missing report.",
  schema: { type: "string", maxLength: 40 },
};

/** PUT .../participants/{org}/...: an organization's own answer. */
const participantPut = (
  operationId: string,
  summary: string,
  description: string,
  schema: string,
) => ({
  put: {
    operationId,
    summary,
    description,
    parameters: [idParam, orgParam, idempotencyKey, ifMatch],
    requestBody: {
      required: true,
      content: { "application/json": { schema: ref(schema) } },
    },
    responses: {
      ...reportAnswer(
        "200",
        "Saved (or already so: nothing written); the report as it is now.",
      ),
      "404": notFound,
      "412": problem("The report changed since the If-Match ETag."),
      ...writeAnswers,
      ...common,
    },
  },
});

export function openApiDocument(baseUrl: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Disclosure Desk API",
      version: "1.0.0",
      description: `Reports, comments, files and workflow steps, over the same rules as the web: a token never does more than its user could do on the site at that moment, narrowed by its scopes. Create a personal access token on your account page (it expires after ${DEFAULT_EXPIRY_DAYS} days unless you choose otherwise) and send it as Authorization: Bearer dd_pat_…. Each token may send ${API_RATE_LIMIT} requests per 15 minutes. Errors are RFC 9457 problem details.`,
    },
    servers: [{ url: `${baseUrl}/api/v1` }],
    security: [{ bearerAuth: [] }],
    paths: {
      "/openapi.json": {
        get: {
          operationId: "getOpenApi",
          summary: "This document",
          security: [],
          responses: {
            "200": {
              description: "The OpenAPI 3.1 document.",
              content: { "application/json": { schema: { type: "object" } } },
            },
          },
        },
      },
      "/reports": {
        get: {
          operationId: "listReports",
          summary: "Reports the caller may see, least recently changed first",
          description: "Scope: reports:read.",
          parameters: [
            {
              name: "cursor",
              in: "query",
              schema: { type: "string", maxLength: 200 },
              description: "next_cursor of the previous page.",
            },
            {
              name: "updated_since",
              in: "query",
              schema: dateTime,
              description: "Only reports changed at or after this time.",
            },
            {
              name: "state",
              in: "query",
              schema: { type: "string", enum: STATES },
            },
            {
              name: "organization",
              in: "query",
              schema: { type: "string", maxLength: 40 },
              description: "An organization's ID.",
            },
            {
              name: "limit",
              in: "query",
              schema: {
                type: "integer",
                minimum: 1,
                maximum: 100,
                default: 50,
              },
            },
          ],
          responses: {
            "200": {
              description: "One page of reports.",
              headers: rateHeaders,
              content: { "application/json": { schema: ref("ReportList") } },
            },
            "400": problem("A query parameter is not valid (errors names it)."),
            ...common,
          },
        },
        post: {
          operationId: "fileReport",
          summary: "File a report (researchers)",
          description: "Scope: reports:write. Attach files afterwards.",
          parameters: [idempotencyKey],
          requestBody: {
            required: true,
            content: { "application/json": { schema: ref("NewReport") } },
          },
          responses: {
            "201": {
              description: "Filed.",
              headers: {
                ...etag,
                ...rateHeaders,
                Location: { schema: { type: "string" } },
              },
              content: { "application/json": { schema: ref("Report") } },
            },
            ...writeAnswers,
            ...common,
          },
        },
      },
      "/reports/{id}": {
        get: {
          operationId: "getReport",
          summary: "One report with its timeline, as the caller sees it",
          description: "Scope: reports:read.",
          parameters: [
            idParam,
            {
              name: "If-None-Match",
              in: "header",
              schema: { type: "string" },
            },
          ],
          responses: {
            ...reportAnswer("200", "The report."),
            "304": { description: "Not changed since the ETag given." },
            "404": notFound,
            ...common,
          },
        },
      },
      "/reports/{id}/comments": {
        post: {
          operationId: "addComment",
          summary: "Comment on the report",
          description:
            "Scope: reports:write. While the CERT waits for the researcher, the researcher's comment is their answer (the report returns to where it was).",
          parameters: [idParam, idempotencyKey, ifMatch],
          requestBody: {
            required: true,
            content: { "application/json": { schema: ref("NewComment") } },
          },
          responses: {
            ...reportAnswer("201", "Added; the report as it is now."),
            "404": notFound,
            "412": problem("The report changed since the If-Match ETag."),
            ...writeAnswers,
            ...common,
          },
        },
      },
      "/reports/{id}/steps": {
        post: {
          operationId: "takeStep",
          summary: "Take a workflow step",
          description:
            "Scope: workflow:write. The report's allowed_steps lists the steps the caller may take now.",
          parameters: [idParam, idempotencyKey, ifMatch],
          requestBody: {
            required: true,
            content: { "application/json": { schema: ref("NewStep") } },
          },
          responses: {
            ...reportAnswer("200", "Taken; the report as it is now."),
            "404": notFound,
            "409": problem(
              "The step cannot be taken now (allowed_steps lists those that can), or an Idempotency-Key is in use.",
              "StepProblem",
            ),
            "412": problem("The report changed since the If-Match ETag."),
            ...Object.fromEntries(
              Object.entries(writeAnswers).filter(([s]) => s !== "409"),
            ),
            ...common,
          },
        },
      },
      "/reports/{id}/attachments": {
        post: {
          operationId: "attachFile",
          summary: "Attach a file (the body is the file)",
          description:
            "Scope: reports:write. Images, PDF, plain text; ZIP, HAR, HTML, MP4 and WebM named as such. Hidden details (author, location) are removed; at most 10 MB.",
          parameters: [
            idParam,
            {
              name: "filename",
              in: "query",
              schema: { type: "string", maxLength: 200 },
            },
            idempotencyKey,
            ifMatch,
          ],
          requestBody: {
            required: true,
            content: {
              "application/octet-stream": {
                schema: {
                  type: "string",
                  contentMediaType: "application/octet-stream",
                },
              },
            },
          },
          responses: {
            ...reportAnswer("201", "Attached; the report as it is now."),
            "404": notFound,
            "412": problem("The report changed since the If-Match ETag."),
            ...Object.fromEntries(
              Object.entries(writeAnswers).filter(([s]) => s !== "415"),
            ),
            ...common,
          },
        },
      },
      "/reports/{id}/participants/{org}/status": participantPut(
        "setParticipantStatus",
        "Set an organization's status on the case",
        "Scope: workflow:write (the report's own step may follow, as on the web: fixed once every affected organization is). Disputed needs a reason. An organization not notified yet has no status to set (422).",
        "ParticipantStatusInput",
      ),
      "/reports/{id}/participants/{org}/statement": participantPut(
        "setParticipantStatement",
        "Write an organization's statement for the advisory",
        "Scope: reports:write. A changed statement waits for the CERT's approval again. shared (the organization's own contacts only) lets the other organizations of an opened case read it; absent, sharing stays as it is.",
        "ParticipantStatementInput",
      ),
      "/reports/{id}/participants/{org}/details": participantPut(
        "setParticipantDetails",
        "Set an organization's own tracking ID and fix target",
        "Scope: reports:write. Both are replaced: an absent or empty field clears it. The tracking ID appears in the subjects of the organization's mail.",
        "ParticipantDetailsInput",
      ),
      "/reports/{id}/attachments/{aid}": {
        get: {
          operationId: "downloadFile",
          summary: "Download a file of the report",
          description: "Scope: reports:read.",
          parameters: [
            idParam,
            {
              name: "aid",
              in: "path",
              required: true,
              schema: { type: "string", maxLength: 40 },
            },
          ],
          responses: {
            "200": {
              description:
                "The file's bytes, with its media type (a page or capture a browser could run is sent as application/octet-stream).",
              content: {
                "*/*": {
                  schema: {
                    type: "string",
                    contentMediaType: "application/octet-stream",
                  },
                },
              },
            },
            "404": notFound,
            ...common,
          },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: `A personal access token (dd_pat_…) with scopes among: ${API_SCOPES.join(", ")}.`,
        },
      },
      schemas: {
        Problem: {
          type: "object",
          required: ["type", "title", "status", "detail"],
          properties: {
            type: { type: "string" },
            title: { type: "string" },
            status: { type: "integer" },
            detail: { type: "string" },
            errors: {
              type: "object",
              description: "A message per field or parameter.",
              additionalProperties: { type: "string" },
            },
            allowed_steps: { type: "array", items: ref("Step") },
          },
          additionalProperties: false,
        },
        StepProblem: {
          allOf: [ref("Problem")],
          description:
            "allowed_steps is set when the step cannot be taken now.",
        },
        Organization: {
          type: "object",
          required: ["id", "name"],
          properties: {
            id: nullable("string"),
            name: nullable("string"),
          },
          additionalProperties: false,
        },
        ReportSummary: {
          type: "object",
          required: [
            "id",
            "title",
            "state",
            "severity",
            "cvss_score",
            "cwe",
            "organization",
            "created_at",
            "updated_at",
            "url",
          ],
          properties: {
            id: { type: "string" },
            title: { type: "string" },
            state: { type: "string", enum: STATES },
            severity: { type: ["string", "null"], enum: [...SEVERITIES, null] },
            cvss_score: nullable("number"),
            cwe: { type: "string" },
            organization: { oneOf: [ref("Organization"), { type: "null" }] },
            created_at: dateTime,
            updated_at: dateTime,
            url: { type: "string", format: "uri" },
          },
          additionalProperties: false,
        },
        ReportList: {
          type: "object",
          required: ["items", "next_cursor"],
          properties: {
            items: { type: "array", items: ref("ReportSummary") },
            next_cursor: nullable("string"),
          },
          additionalProperties: false,
        },
        Step: {
          type: "object",
          required: ["name", "label", "message"],
          properties: {
            name: { type: "string", enum: TRANSITION_NAMES },
            label: { type: "string" },
            message: { type: "string", enum: ["required", "optional"] },
            irreversible: {
              type: "boolean",
              description: "Cannot be taken back: send confirm: true.",
            },
          },
          additionalProperties: false,
        },
        Attachment: {
          type: "object",
          required: ["id", "file_name", "media_type", "size", "removed", "url"],
          properties: {
            id: { type: "string" },
            file_name: {
              type: "string",
              description:
                "A neutral name (attachment-1.png) for whoever may not know who the researcher is.",
            },
            media_type: { type: "string" },
            size: { type: "integer" },
            removed: {
              type: "boolean",
              description:
                "Removed by its researcher before acknowledgment (listed to CERT staff only).",
            },
            url: { type: "string", format: "uri" },
          },
          additionalProperties: false,
        },
        TimelineEvent: {
          type: "object",
          required: [
            "kind",
            "action",
            "audience",
            "audience_organization",
            "actor",
            "from_state",
            "to_state",
            "body",
            "by_email",
            "created_at",
          ],
          properties: {
            kind: { type: "string" },
            action: nullable("string"),
            audience: {
              type: "string",
              enum: EVENT_AUDIENCES,
              description:
                "internal: CERT staff; researcher: the researcher and the CERT; org: the CERT and one organization; org_researcher: the CERT, the researcher and one organization; everyone: everyone on the case.",
            },
            audience_organization: {
              oneOf: [ref("Organization"), { type: "null" }],
              description:
                "For org and org_researcher: the organization the entry is for.",
            },
            actor: {
              type: "object",
              required: ["name", "role"],
              properties: {
                name: nullable("string"),
                role: nullable("string"),
              },
              additionalProperties: false,
            },
            from_state: { type: ["string", "null"], enum: [...STATES, null] },
            to_state: { type: ["string", "null"], enum: [...STATES, null] },
            body: nullable("string", { description: "Markdown, as written." }),
            by_email: { type: "boolean" },
            created_at: dateTime,
          },
          additionalProperties: false,
        },
        Report: {
          type: "object",
          required: [
            "id",
            "title",
            "asset",
            "state",
            "resolution",
            "severity",
            "cvss_vector",
            "cvss_score",
            "cwe",
            "description",
            "steps",
            "impact",
            "data_exposed",
            "records_affected",
            "organization",
            "reporter",
            "created_at",
            "updated_at",
            "disclosure_due_at",
            "participants",
            "allowed_steps",
            "attachments",
            "timeline",
          ],
          properties: {
            id: { type: "string" },
            title: { type: "string" },
            asset: { type: "string" },
            state: { type: "string", enum: STATES },
            resolution: {
              type: ["string", "null"],
              enum: [...RESOLUTIONS, null],
            },
            severity: { type: ["string", "null"], enum: [...SEVERITIES, null] },
            cvss_vector: nullable("string"),
            cvss_score: nullable("number"),
            cwe: { type: "string" },
            description: { type: "string" },
            steps: { type: "string" },
            impact: { type: "string" },
            data_exposed: {
              type: "array",
              items: { type: "string", enum: DATA_KINDS },
            },
            records_affected: nullable("integer"),
            organization: { oneOf: [ref("Organization"), { type: "null" }] },
            reporter: nullable("string", {
              description:
                "The researcher's name, for whoever may know it (an organization only if the researcher allowed it).",
            }),
            created_at: dateTime,
            updated_at: dateTime,
            disclosure_due_at: nullable("string", { format: "date-time" }),
            participants: {
              type: "array",
              items: ref("Participant"),
              description:
                "The organizations on the case as the caller may see them: CERT staff every one; an organization's contact its own in full and, once a triager opened the case, the others' names and statuses; the researcher names and statuses of those notified.",
            },
            allowed_steps: { type: "array", items: ref("Step") },
            attachments: { type: "array", items: ref("Attachment") },
            timeline: { type: "array", items: ref("TimelineEvent") },
          },
          additionalProperties: false,
        },
        NewReport: {
          type: "object",
          required: [
            "title",
            "organization",
            "asset",
            "cwe",
            "description",
            "steps",
            "impact",
            "credit",
          ],
          properties: {
            title: { type: "string", minLength: 5, maxLength: 200 },
            organization: {
              type: "string",
              description:
                'An organization\'s ID, or "new" with new_organization naming it.',
            },
            new_organization: { type: "string", maxLength: 200 },
            asset: { type: "string", minLength: 2, maxLength: 500 },
            cwe: { type: "string", description: "Like CWE-639, or Other." },
            cvss: {
              type: "string",
              description: "A CVSS 3.1 or 4.0 vector, or empty.",
            },
            description: { type: "string", minLength: 20, maxLength: 50000 },
            steps: { type: "string", minLength: 5, maxLength: 50000 },
            impact: { type: "string", minLength: 5, maxLength: 20000 },
            data_exposed: {
              type: "array",
              items: { type: "string", enum: DATA_KINDS },
              maxItems: 5,
            },
            records_affected: { type: ["integer", "null"], minimum: 0 },
            credit: { type: "string", enum: CREDIT_KINDS },
            credit_handle: { type: "string", maxLength: 80 },
            reveal_identity: {
              type: "boolean",
              description: "Let the organization know who you are.",
            },
          },
          additionalProperties: false,
        },
        NewComment: {
          type: "object",
          required: ["body"],
          properties: {
            body: { type: "string", minLength: 1, maxLength: 20000 },
            audience: {
              type: "string",
              enum: ["researcher", "org", "org_researcher", "everyone"],
              description:
                "Who reads it; absent, the writer's default (as a reply by mail). org and org_researcher name one organization with organization. Only an audience the web's form would offer the caller is taken (researcher: researcher or org_researcher; an organization: org, org_researcher, everyone once the case is open; staff: any); anything else is 422.",
            },
            organization: {
              type: "string",
              maxLength: 40,
              description:
                "With audience org or org_researcher: the organization's public ID.",
            },
          },
          additionalProperties: false,
        },
        Participant: {
          type: "object",
          required: [
            "organization",
            "status",
            "status_reason",
            "notified_at",
            "answered_at",
            "tracking_id",
            "fix_target",
            "statement",
          ],
          properties: {
            organization: ref("Organization"),
            status: { type: "string", enum: PARTICIPATION_STATUSES },
            status_reason: nullable("string", {
              description:
                "Why it disputes the report (the CERT and the organization only).",
            }),
            notified_at: nullable("string", { format: "date-time" }),
            answered_at: nullable("string", { format: "date-time" }),
            tracking_id: nullable("string", {
              description: "The organization's own ID (the CERT and it only).",
            }),
            fix_target: nullable("string", { format: "date" }),
            statement: {
              oneOf: [
                { type: "null" },
                {
                  type: "object",
                  required: ["text", "references", "approved", "shared"],
                  properties: {
                    text: { type: "string" },
                    references: nullable("string"),
                    approved: { type: "boolean" },
                    shared: nullable("boolean"),
                  },
                  additionalProperties: false,
                },
              ],
              description:
                "Null when there is none or the caller may not read it (another organization's, unless the case is open and it shares it).",
            },
          },
          additionalProperties: false,
        },
        ParticipantStatusInput: {
          type: "object",
          required: ["status"],
          properties: {
            status: { type: "string", enum: ANSWER_STATUSES },
            reason: {
              type: "string",
              maxLength: 2000,
              description: "Required (3 characters or more) for disputed.",
            },
          },
          additionalProperties: false,
        },
        ParticipantStatementInput: {
          type: "object",
          required: ["statement"],
          properties: {
            statement: { type: "string", minLength: 3, maxLength: 10000 },
            references: { type: "string", maxLength: 2000 },
            shared: { type: "boolean" },
          },
          additionalProperties: false,
        },
        ParticipantDetailsInput: {
          type: "object",
          properties: {
            tracking_id: {
              type: "string",
              maxLength: 64,
              description: "Printable ASCII on one line, like PSIRT-2027-0042.",
            },
            fix_target: {
              type: "string",
              description: "A date like 2027-03-31, or empty.",
            },
          },
          additionalProperties: false,
        },
        NewStep: {
          type: "object",
          required: ["name"],
          properties: {
            name: { type: "string", enum: TRANSITION_NAMES },
            message: { type: "string", maxLength: 20000 },
            resolution: { type: "string", enum: RESOLUTIONS },
            duplicate_of: {
              type: "string",
              description: "The original report's ID (close as duplicate).",
            },
            confirm: {
              type: "boolean",
              description: "Required true for an irreversible step (publish).",
            },
            cwe: { type: "string" },
            cvss: { type: "string" },
            organization: { type: "string" },
            create_suggested: { type: "boolean" },
          },
          additionalProperties: false,
        },
      },
    },
  };
}

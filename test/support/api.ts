/**
 * A client for /api/v1 in the tests that checks EVERY answer against the
 * API's own OpenAPI document: the status must be documented for the
 * operation, and a JSON body must match its schema (ajv, JSON Schema
 * 2020-12, as OpenAPI 3.1 uses).
 */
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import supertest from "supertest";
import { createApiToken, type ApiScope } from "../../src/api/tokens.js";
import { openApiDocument } from "../../src/api/openapi.js";
import type { TestContext, TestUser } from "./harness.js";

// ajv-formats is CommonJS with a default export.
const addFormats = ((addFormatsModule as unknown as { default?: unknown })
  .default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

type Doc = ReturnType<typeof openApiDocument>;
type Operation = {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
};

const ROOT = "urn:disclosure-desk:openapi";

export class ResponseChecker {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ReturnType<Ajv2020["compile"]>>();
  readonly templates: { template: string; pattern: RegExp }[];
  /** Every operation and status seen answered, for coverage checks. */
  readonly seen = new Set<string>();

  constructor(readonly doc: Doc) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: ROOT, components: doc.components });
    this.templates = Object.keys(doc.paths).map((template) => ({
      template,
      pattern: new RegExp("^" + template.replace(/\{[^}]+\}/g, "[^/]+") + "$"),
    }));
  }

  templateOf(path: string): string | undefined {
    const bare = path.split("?")[0]!;
    return this.templates.find((t) => t.pattern.test(bare))?.template;
  }

  /** Asserts the answer is one the document describes, body and all. */
  check(
    method: string,
    path: string,
    res: {
      status: number;
      headers: Record<string, string>;
      text: string;
      body: unknown;
    },
  ) {
    const template = this.templateOf(path);
    assert.ok(template, `${path} is not in the OpenAPI document`);
    const operation = (
      this.doc.paths as unknown as Record<string, Record<string, Operation>>
    )[template]![method.toLowerCase()];
    assert.ok(
      operation,
      `${method} ${template} is not in the OpenAPI document`,
    );
    const key = `${method.toUpperCase()} ${template} ${res.status}`;
    const response = operation.responses[String(res.status)];
    assert.ok(
      response,
      `${key}: status not documented (${res.text.slice(0, 200)})`,
    );
    this.seen.add(key);
    if (!response.content) {
      assert.equal(
        res.text ?? "",
        "",
        `${key}: a body where none is documented`,
      );
      return;
    }
    const type = (res.headers["content-type"] ?? "").split(";")[0]!.trim();
    const media = response.content[type] ?? response.content["*/*"];
    assert.ok(
      media,
      `${key}: content type ${type} not documented (${Object.keys(response.content).join(", ")})`,
    );
    if (!type.endsWith("json")) return;
    let validate = this.compiled.get(`${key} ${type}`);
    if (!validate) {
      const schema = JSON.parse(
        JSON.stringify(media.schema).replaceAll(
          '"#/components/',
          `"${ROOT}#/components/`,
        ),
      ) as object;
      validate = this.ajv.compile(schema);
      this.compiled.set(`${key} ${type}`, validate);
    }
    const body = JSON.parse(res.text) as unknown;
    assert.ok(
      validate(body),
      `${key}: body does not match the document: ${this.ajv.errorsText(validate.errors)}\n${res.text.slice(0, 500)}`,
    );
  }
}

export function checkerFor(ctx: Pick<TestContext, "config">): ResponseChecker {
  return new ResponseChecker(openApiDocument(ctx.config.baseUrl));
}

export const ALL_SCOPES: ApiScope[] = [
  "reports:read",
  "reports:write",
  "workflow:write",
];

/** A working token for the user (the service's own checks apply). */
export async function tokenFor(
  ctx: TestContext,
  who: TestUser,
  scopes: ApiScope[] = ALL_SCOPES,
  expiresDays = 90,
): Promise<string> {
  const outcome = await createApiToken(
    ctx.deps,
    null,
    who.user,
    { name: "test", scopes, expiresDays },
    null,
  );
  if (!outcome.ok) throw new Error(JSON.stringify(outcome.errors));
  return outcome.value.token;
}

export interface ApiCall {
  status: number;
  headers: Record<string, string>;
  text: string;
  body: any;
}

/** Calls under /api/v1 with a token (or none), each answer checked. */
export function apiClient(
  ctx: Pick<TestContext, "app">,
  checker: ResponseChecker,
  token: string | null,
) {
  const call = async (
    method: "GET" | "POST" | "PUT",
    path: string,
    options: {
      json?: unknown;
      raw?: Buffer;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiCall> => {
    let req =
      method === "GET"
        ? supertest(ctx.app).get(`/api/v1${path}`)
        : method === "PUT"
          ? supertest(ctx.app).put(`/api/v1${path}`)
          : supertest(ctx.app).post(`/api/v1${path}`);
    if (token) req = req.set("Authorization", `Bearer ${token}`);
    for (const [k, v] of Object.entries(options.headers ?? {}))
      req = req.set(k, v);
    if (options.raw)
      req = req
        .set("Content-Type", "application/octet-stream")
        .send(options.raw);
    else if (options.json !== undefined)
      // Serialized here: supertest sends a bare string or number as is.
      req = req
        .set("Content-Type", "application/json")
        .send(JSON.stringify(options.json));
    const res = await req.buffer(true).parse((r, done) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => done(null, Buffer.concat(chunks)));
    });
    const bytes = res.body as Buffer;
    const text = bytes.toString("utf8");
    const type = String(res.headers["content-type"] ?? "");
    const out: ApiCall = {
      status: res.status,
      headers: res.headers as Record<string, string>,
      text,
      body: type.includes("json") && text ? JSON.parse(text) : bytes,
    };
    checker.check(method, path, out);
    return out;
  };
  return {
    get: (path: string, headers?: Record<string, string>) =>
      call("GET", path, { headers }),
    post: (path: string, json: unknown, headers?: Record<string, string>) =>
      call("POST", path, { json, headers }),
    put: (path: string, json: unknown, headers?: Record<string, string>) =>
      call("PUT", path, { json, headers }),
    upload: (path: string, raw: Buffer, headers?: Record<string, string>) =>
      call("POST", path, { raw, headers }),
  };
}

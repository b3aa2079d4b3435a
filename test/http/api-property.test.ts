/**
 * Property-based: random and hostile JSON, headers and bytes at every API
 * write route, by every kind of caller, each with a token holding every
 * scope its role may have. Per request: never a 5xx, an answer the OpenAPI
 * document describes, a report the caller may not see is the one 404, a
 * refused request changes nothing, and a request that changed anything was
 * allowed by the policy and the workflow, and is in the audit log with the
 * token's ID. Fixed seed (PROPERTY_SEED=n for another; PROPERTY_RUNS=n).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import fc from "fast-check";
import { tableRows } from "../support/database.js";
import {
  can,
  canAnswerFor,
  relationTo,
  writableAudiences,
  type ReportAction,
} from "../../src/auth/policy.js";
import { PARTICIPATION_STATUSES } from "../../src/reports/participations.js";
import { NOT_FOUND_BODY } from "../../src/api/http.js";
import { scopesFor } from "../../src/api/tokens.js";
import { findReportByPublicId } from "../../src/reports/repository.js";
import { accessFacts } from "../../src/reports/types.js";
import {
  availableTransitions,
  RESOLUTIONS,
  TRANSITION_NAMES,
} from "../../src/reports/workflow.js";
import { CREDIT_KINDS, DATA_KINDS } from "../../src/reports/types.js";
import { toActor } from "../../src/users/service.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  apiClient,
  checkerFor,
  tokenFor,
  type ResponseChecker,
} from "../support/api.js";

const SEED = Number(process.env.PROPERTY_SEED ?? 2525);
const RUNS = Number(process.env.PROPERTY_RUNS ?? 40);

const CALLERS = [
  "owner",
  "otherResearcher",
  "orgContact",
  "otherOrgContact",
  "triager",
  "admin",
] as const;
type Caller = (typeof CALLERS)[number];

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "<script>alert(1)</script>",
    "x".repeat(300),
  ),
);
const anyValue = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(text, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), text, { maxKeys: 2 }),
);
const field = <T>(known: fc.Arbitrary<T>) => fc.oneof(known, anyValue);

const FILING = fc.record(
  {
    title: field(fc.string({ minLength: 5, maxLength: 30 })),
    organization: field(fc.constantFrom("new", "", "nope")),
    new_organization: field(fc.string({ maxLength: 20 })),
    asset: field(fc.string({ minLength: 2, maxLength: 20 })),
    cwe: field(fc.constantFrom("CWE-639", "CWE-79", "Other", "CWE-0")),
    cvss: field(
      fc.constantFrom(
        "",
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        "CVSS:9",
      ),
    ),
    description: field(fc.string({ minLength: 20, maxLength: 60 })),
    steps: field(fc.string({ minLength: 5, maxLength: 30 })),
    impact: field(fc.string({ minLength: 5, maxLength: 30 })),
    data_exposed: field(fc.subarray([...DATA_KINDS])),
    records_affected: field(fc.integer({ min: 0, max: 10_000 })),
    credit: field(fc.constantFrom(...CREDIT_KINDS)),
    credit_handle: field(fc.string({ maxLength: 10 })),
    reveal_identity: field(fc.boolean()),
    junk: anyValue,
  },
  { requiredKeys: [] },
);
/** Organizations' public IDs, known once the fixtures exist (ORG-FORGED is none). */
const orgIds: string[] = ["ORG-FORGED"];
const orgArb = fc.constant(null).chain(() => fc.constantFrom(...orgIds));
const COMMENT = fc.oneof(
  fc.record(
    {
      body: field(fc.string({ minLength: 1, maxLength: 80 })),
      audience: field(
        fc.constantFrom(
          "researcher",
          "org",
          "org_researcher",
          "everyone",
          "internal",
        ),
      ),
      organization: field(orgArb),
    },
    {
      requiredKeys: [],
    },
  ),
  fc.record({ body: text, extra: anyValue }),
);
const PARTICIPANT_BODIES = {
  status: fc.record(
    {
      status: field(fc.constantFrom(...PARTICIPATION_STATUSES)),
      reason: field(fc.string({ maxLength: 20 })),
    },
    { requiredKeys: [] },
  ),
  statement: fc.record(
    {
      statement: field(fc.string({ minLength: 3, maxLength: 40 })),
      references: field(fc.string({ maxLength: 20 })),
      shared: field(fc.boolean()),
    },
    { requiredKeys: [] },
  ),
  details: fc.record(
    {
      tracking_id: field(
        fc.constantFrom("PSIRT-1", "", "a\nb", "[x]", "x".repeat(70)),
      ),
      fix_target: field(
        fc.constantFrom("2027-03-31", "", "31/03/2027", "2027-13-01"),
      ),
    },
    { requiredKeys: [] },
  ),
};
type ParticipantRoute = keyof typeof PARTICIPANT_BODIES;
const STEP = fc.record(
  {
    name: field(fc.constantFrom(...TRANSITION_NAMES)),
    message: field(fc.string({ maxLength: 40 })),
    resolution: field(fc.constantFrom(...RESOLUTIONS)),
    duplicate_of: field(fc.constantFrom("DD-0000-0000", "nope")),
    confirm: field(fc.boolean()),
    cwe: field(fc.constantFrom("CWE-639", "nope")),
    cvss: field(
      fc.constantFrom("", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N"),
    ),
    organization: field(fc.constantFrom("", "nope")),
    create_suggested: field(fc.boolean()),
  },
  { requiredKeys: [] },
);
/** Bodies that are not what the route reads at all. */
const NOT_AN_OBJECT = fc.oneof(
  fc.array(anyValue, { maxLength: 3 }),
  text,
  fc.integer(),
  fc.constant(null),
);
const HEADERS = fc.record(
  {
    "Idempotency-Key": fc.oneof(
      fc.string({ minLength: 1, maxLength: 20 }),
      fc.constantFrom("k1", "k2", "x".repeat(250)),
    ),
    "If-Match": fc.oneof(fc.string({ maxLength: 30 }), fc.constant("*")),
  },
  { requiredKeys: [] },
);

describe("API property tests: random input at every write route", function () {
  this.timeout(600_000);
  let ctx: TestContext;
  let checker: ResponseChecker;
  const users = {} as Record<Caller, TestUser>;
  const tokens = {} as Record<Caller, { token: string; id: string }>;
  const reportIds: string[] = [];

  async function state() {
    const dump: Record<string, unknown> = {};
    for (const table of [
      "reports",
      "report_events",
      "attachments",
      "organizations",
      "participations",
      "users",
      "outbox",
    ])
      dump[table] = await tableRows(ctx.db, table);
    return dump;
  }
  const lastAuditId = async () =>
    (
      await ctx.db
        .selectFrom("audit_log")
        .select((eb) => eb.fn.max("id").as("id"))
        .executeTakeFirstOrThrow()
    ).id ?? 0;

  before(async () => {
    ctx = await createTestContext({ env: { RATE_LIMITS: "false" } });
    checker = checkerFor(ctx);
    const org = await createOrg(ctx, "Org A");
    const otherOrg = await createOrg(ctx, "Org B");
    orgIds.push(org.publicId, otherOrg.publicId);
    users.owner = await createUser(ctx, "researcher");
    users.otherResearcher = await createUser(ctx, "researcher");
    users.orgContact = await createUser(ctx, "org_contact", {
      orgIds: [org.id],
    });
    users.otherOrgContact = await createUser(ctx, "org_contact", {
      orgIds: [otherOrg.id],
    });
    users.triager = await createUser(ctx, "triager");
    users.admin = await createUser(ctx, "admin");
    for (const name of CALLERS) {
      const token = await tokenFor(
        ctx,
        users[name],
        scopesFor(users[name].user.role),
      );
      const id = (
        await ctx.db
          .selectFrom("api_tokens")
          .select("public_id")
          .where("user_id", "=", users[name].user.id)
          .orderBy("id", "desc")
          .executeTakeFirstOrThrow()
      ).public_id;
      tokens[name] = { token, id };
    }
    for (const s of [
      "submitted",
      "acknowledged",
      "triaged",
      "vendor_notified",
      "fixed",
      "closed",
    ] as const) {
      const r = await insertReport(ctx, {
        reporterId: users.owner.user.id,
        state: s,
        organizationId: s === "submitted" ? null : org.id,
        severity: "high",
      });
      reportIds.push(r.publicId);
      // Org B takes part in the notified case too: two organizations on it.
      if (s === "vendor_notified")
        await ctx.db
          .insertInto("participations")
          .values({
            report_id: r.id,
            organization_id: otherOrg.id,
            added_at: ctx.clock.now().getTime(),
            notified_at: ctx.clock.now().getTime(),
          })
          .execute();
    }
  });
  after(() => ctx.close());

  /** One request and the oracle over what it did. */
  async function check(
    caller: Caller,
    route:
      | "file"
      | "comments"
      | "steps"
      | "attachments"
      | `participants/${string}/${ParticipantRoute}`,
    reportId: string,
    body: unknown,
    headers: Record<string, string>,
    raw?: Buffer,
  ) {
    const api = apiClient(ctx, checker, tokens[caller].token);
    const actor = toActor(users[caller].user);
    const before = await findReportByPublicId(ctx.db, reportId);
    const beforeState = await state();
    const auditBefore = await lastAuditId();
    const now = ctx.clock.now();
    const path =
      route === "file" ? "/reports" : `/reports/${reportId}/${route}`;
    const res =
      route === "attachments"
        ? await api.upload(
            `${path}?filename=f.txt`,
            raw ?? Buffer.alloc(0),
            headers,
          )
        : route.startsWith("participants/")
          ? await api.put(path, body, headers)
          : await api.post(path, body, headers);
    assert.ok(res.status < 500, `${caller} ${path}: ${res.status} ${res.text}`);
    assert.doesNotMatch(res.text, /at \w+ \(|node_modules/, "no stack trace");
    const changed =
      JSON.stringify(await state()) !== JSON.stringify(beforeState);
    const action: ReportAction | null =
      route === "comments"
        ? "report:comment"
        : route === "steps"
          ? "report:act"
          : route === "attachments"
            ? "report:upload"
            : route.startsWith("participants/")
              ? "report:answer_as_org"
              : null;
    if (action) {
      const facts = accessFacts(before!);
      if (!can(actor, "report:view", facts) || !can(actor, action, facts)) {
        assert.equal(res.status, 404, `${caller} ${path}`);
        assert.equal(res.text, NOT_FOUND_BODY);
      }
      // Only for an organization the caller answers for: else the same 404.
      if (route.startsWith("participants/")) {
        const orgPublicId = route.split("/")[1]!;
        const orgRow = await ctx.db
          .selectFrom("organizations")
          .select("id")
          .where("public_id", "=", orgPublicId)
          .executeTakeFirst();
        if (!orgRow || !canAnswerFor(actor, facts, orgRow.id)) {
          assert.equal(res.status, 404, `${caller} ${path}`);
          assert.equal(res.text, NOT_FOUND_BODY);
        }
      }
    } else if (!can(actor, "report:create"))
      assert.equal(res.status, 403, `${caller} files`);
    if (res.status >= 300 && res.headers["idempotent-replayed"] !== "true")
      assert.ok(!changed, `${caller} ${path} ${res.status} changed state`);
    if (changed) {
      assert.ok(
        res.status < 300,
        `${caller} ${path} ${res.status} changed state`,
      );
      const entries = await ctx.db
        .selectFrom("audit_log")
        .select(["action", "details"])
        .where("id", ">", auditBefore)
        .execute();
      assert.ok(
        entries.some(
          (e) =>
            e.action !== "report.viewed" &&
            JSON.parse(e.details).api === tokens[caller].id,
        ),
        `${caller} ${path}: a change without an audit entry naming the token`,
      );
      if (route === "comments") {
        // The comment went to an audience the web's form offers the caller.
        const report = (await findReportByPublicId(ctx.db, reportId))!;
        const written = await ctx.db
          .selectFrom("report_events")
          .select(["kind", "audience", "audience_org_id"])
          .where("report_id", "=", report.id)
          .where("kind", "=", "comment")
          .orderBy("id", "desc")
          .executeTakeFirst();
        if (written && res.status === 201) {
          const offered = writableAudiences(actor, accessFacts(before!));
          assert.ok(
            offered.some(
              (o) =>
                o.audience === written.audience &&
                (written.audience_org_id === null ||
                  o.orgIds.includes(written.audience_org_id)),
            ),
            `${caller} wrote to ${written.audience} ${written.audience_org_id}`,
          );
        }
      }
      if (route === "steps") {
        const relation = relationTo(actor, accessFacts(before!));
        const name = (body as { name?: unknown }).name;
        assert.ok(
          availableTransitions(before!, relation, now).some(
            (t) => t.name === name,
          ),
          `${caller} took ${String(name)} from ${before!.state}`,
        );
      }
    }
  }

  const callerArb = fc.constantFrom(...CALLERS);
  const reportArb = () => fc.constantFrom(...reportIds);
  const run = (prop: fc.IAsyncProperty<any>) =>
    fc.assert(prop, { numRuns: RUNS, seed: SEED, endOnFailure: true });

  it("POST /reports: filing with random fields", () =>
    run(
      fc.asyncProperty(
        callerArb,
        fc.oneof(
          { weight: 4, arbitrary: FILING },
          { weight: 1, arbitrary: NOT_AN_OBJECT },
        ),
        HEADERS,
        (caller, body, headers) => check(caller, "file", "", body, headers),
      ),
    ));

  it("POST /reports/:id/comments: random comments", () =>
    run(
      fc.asyncProperty(
        callerArb,
        reportArb(),
        fc.oneof(
          { weight: 4, arbitrary: COMMENT },
          { weight: 1, arbitrary: NOT_AN_OBJECT },
        ),
        HEADERS,
        (caller, id, body, headers) =>
          check(caller, "comments", id, body, headers),
      ),
    ));

  it("POST /reports/:id/steps: random workflow steps", () =>
    run(
      fc.asyncProperty(
        callerArb,
        reportArb(),
        fc.oneof(
          { weight: 4, arbitrary: STEP },
          { weight: 1, arbitrary: NOT_AN_OBJECT },
        ),
        HEADERS,
        (caller, id, body, headers) =>
          check(caller, "steps", id, body, headers),
      ),
    ));

  it("POST /reports/:id/attachments: random bytes", () =>
    run(
      fc.asyncProperty(
        callerArb,
        reportArb(),
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .string({ minLength: 1, maxLength: 200 })
            .map((t) => new TextEncoder().encode(`log: ${t}\n`)),
        ),
        HEADERS,
        (caller, id, bytes, headers) =>
          check(caller, "attachments", id, null, headers, Buffer.from(bytes)),
      ),
    ));
  // Most draws are refused (another organization, a report not notified, a
  // field of the wrong type): more runs, so the use cases are reached too.
  it("PUT /reports/:id/participants/:org/…: random answers for random organizations", () =>
    fc.assert(
      fc.asyncProperty(
        callerArb,
        reportArb(),
        orgArb,
        fc
          .constantFrom(
            ...(Object.keys(PARTICIPANT_BODIES) as ParticipantRoute[]),
          )
          .chain((kind) =>
            fc.tuple(
              fc.constant(kind),
              fc.oneof(
                {
                  weight: 4,
                  arbitrary: PARTICIPANT_BODIES[kind] as fc.Arbitrary<unknown>,
                },
                {
                  weight: 1,
                  arbitrary: NOT_AN_OBJECT as fc.Arbitrary<unknown>,
                },
              ),
            ),
          ),
        HEADERS,
        (caller, id, org, [kind, body], headers) =>
          check(caller, `participants/${org}/${kind}`, id, body, headers),
      ),
      { numRuns: RUNS * 5, seed: SEED, endOnFailure: true },
    ));

  it("reached the use cases, not only the refusals", () => {
    for (const key of [
      "POST /reports 422",
      "POST /reports 403",
      "POST /reports/{id}/comments 201",
      "POST /reports/{id}/comments 404",
      "POST /reports/{id}/steps 200",
      "POST /reports/{id}/steps 409",
      "POST /reports/{id}/attachments 201",
      "POST /reports/{id}/attachments 422",
      "PUT /reports/{id}/participants/{org}/status 404",
      "PUT /reports/{id}/participants/{org}/statement 404",
      "PUT /reports/{id}/participants/{org}/details 404",
      "PUT /reports/{id}/participants/{org}/status 200",
      // Statement and details written: api-participants.test.ts.
      "PUT /reports/{id}/participants/{org}/details 422",
    ])
      assert.ok(
        checker.seen.has(key),
        `${key} (seen: ${[...checker.seen].join(", ")})`,
      );
  });
});

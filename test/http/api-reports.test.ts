/**
 * The JSON API over the same services and policy as the web: filing,
 * listing, one report as its caller sees it, comments, files and workflow
 * steps; idempotent writes, ETags, problem details, rate-limit headers,
 * and tokens that follow their account as it is now. Every answer is
 * checked against the OpenAPI document (test/support/api.ts).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { openApiDocument } from "../../src/api/openapi.js";
import { findReportByPublicId } from "../../src/reports/repository.js";
import { addNote } from "../../src/reports/service.js";
import { toActor } from "../../src/users/service.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  apiClient,
  checkerFor,
  tokenFor,
  type ResponseChecker,
} from "../support/api.js";

const NEW_REPORT = {
  title: "IDOR in appointment portal",
  organization: "",
  asset: "https://portal.example.test/appointments",
  cwe: "CWE-639",
  description: "Changing the appointment ID in the URL shows another patient.",
  steps: "1. Sign in\n2. Change the ID",
  impact: "Two million patients' appointments can be read.",
  data_exposed: ["health", "personal"],
  records_affected: 2000000,
  credit: "name",
  reveal_identity: false,
};

describe("API: /api/v1 reports", function () {
  this.timeout(60_000);
  let ctx: TestContext;
  let checker: ResponseChecker;
  let org: { id: number; publicId: string };
  let alice: TestUser;
  let contact: TestUser;
  let triager: TestUser;
  let aliceToken: string;
  let contactToken: string;
  let triagerToken: string;

  before(async () => {
    ctx = await createTestContext();
    checker = checkerFor(ctx);
    org = await createOrg(ctx, "Hospital Portal Ltd");
    alice = await createUser(ctx, "researcher", { displayName: "Alice Doe" });
    contact = await createUser(ctx, "org_contact", { orgIds: [org.id] });
    triager = await createUser(ctx, "triager");
    aliceToken = await tokenFor(ctx, alice);
    contactToken = await tokenFor(ctx, contact);
    triagerToken = await tokenFor(ctx, triager);
  });
  after(() => ctx.close());

  it("publishes an OpenAPI 3.1 document that an independent validator accepts", async () => {
    const res = await supertest(ctx.app).get("/api/v1/openapi.json");
    assert.equal(res.status, 200);
    assert.match(res.headers["content-type"]!, /application\/json/);
    const result = await new Validator().validate(res.body);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 1));
    assert.equal(res.body.openapi, "3.1.0");
    assert.deepEqual(res.body, openApiDocument(ctx.config.baseUrl));
  });

  it("answers without a token, or with a bad one, 401 problem details; session cookies are ignored", async () => {
    const none = await apiClient(ctx, checker, null).get("/reports");
    assert.equal(none.status, 401);
    assert.match(none.headers["content-type"]!, /^application\/problem\+json/);
    assert.equal(none.headers["www-authenticate"], 'Bearer realm="api"');
    assert.deepEqual(Object.keys(none.body).sort(), [
      "detail",
      "status",
      "title",
      "type",
    ]);
    const bad = await apiClient(ctx, checker, "dd_pat_" + "A".repeat(43)).get(
      "/reports",
    );
    assert.equal(bad.status, 401);
    assert.match(bad.headers["www-authenticate"]!, /invalid_token/);
    // A signed-in browser's cookie opens nothing on the API.
    const browser = await signedIn(ctx, alice);
    const cookie = await browser.agent.get("/api/v1/reports");
    assert.equal(cookie.status, 401);
    assert.equal(cookie.headers["set-cookie"], undefined);
  });

  let filed: string;
  it("files a report once, however often the request is retried with its Idempotency-Key", async () => {
    const api = apiClient(ctx, checker, aliceToken);
    const body = { ...NEW_REPORT, organization: org.publicId };
    const first = await api.post("/reports", body, {
      "Idempotency-Key": "file-1",
    });
    assert.equal(first.status, 201, first.text);
    filed = first.body.id;
    assert.equal(first.headers.location, `/api/v1/reports/${filed}`);
    assert.ok(first.headers.etag);
    assert.equal(first.body.state, "submitted");
    assert.equal(first.body.reporter, "Alice Doe");
    assert.deepEqual(
      first.body.allowed_steps.map((s: { name: string }) => s.name),
      ["withdraw"],
    );
    const again = await api.post("/reports", body, {
      "Idempotency-Key": "file-1",
    });
    assert.equal(again.status, 201);
    assert.equal(again.headers["idempotent-replayed"], "true");
    assert.equal(again.text, first.text);
    const count = await ctx.db
      .selectFrom("reports")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("reporter_id", "=", alice.user.id)
      .executeTakeFirstOrThrow();
    assert.equal(count.n, 1);
    const other = await api.post(
      "/reports",
      { ...body, title: "Another title here" },
      { "Idempotency-Key": "file-1" },
    );
    assert.equal(other.status, 422);
    // The filing is audited with the token it came with.
    const tokenId = (
      await ctx.db
        .selectFrom("api_tokens")
        .select("public_id")
        .where("user_id", "=", alice.user.id)
        .executeTakeFirstOrThrow()
    ).public_id;
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["details"])
      .where("action", "=", "report.filed")
      .where("target_id", "=", filed)
      .executeTakeFirstOrThrow();
    assert.equal(JSON.parse(audit.details).api, tokenId);
  });

  it("refuses a bad filing with errors by field, and one by a role that does not file", async () => {
    const api = apiClient(ctx, checker, aliceToken);
    const res = await api.post("/reports", {
      ...NEW_REPORT,
      organization: org.publicId,
      title: "x",
      cwe: 42,
      surprise: true,
    });
    assert.equal(res.status, 422);
    assert.match(res.body.errors.title, /at least 5/);
    assert.equal(res.body.errors.cwe, "This field must be a string.");
    assert.equal(res.body.errors.surprise, "Unknown field.");
    const staff = await apiClient(ctx, checker, triagerToken).post("/reports", {
      ...NEW_REPORT,
      organization: org.publicId,
    });
    assert.equal(staff.status, 403);
    const notJson = await supertest(ctx.app)
      .post("/api/v1/reports")
      .set("Authorization", `Bearer ${aliceToken}`)
      .type("form")
      .send({ title: "x" });
    checker.check("POST", "/reports", {
      status: notJson.status,
      headers: notJson.headers as Record<string, string>,
      text: notJson.text,
      body: notJson.body,
    });
    assert.equal(notJson.status, 415);
  });

  it("lists what the caller may see, with filters and a cursor", async () => {
    const bob = await createUser(ctx, "researcher");
    await insertReport(ctx, { reporterId: bob.user.id });
    const older = await insertReport(ctx, {
      reporterId: alice.user.id,
      state: "vendor_notified",
      organizationId: org.id,
      updatedAt: new Date(ctx.clock.now().getTime() - 86_400_000),
      createdAt: new Date(ctx.clock.now().getTime() - 2 * 86_400_000),
    });
    const api = apiClient(ctx, checker, aliceToken);
    const all = await api.get("/reports");
    assert.equal(all.status, 200);
    assert.deepEqual(
      all.body.items.map((i: { id: string }) => i.id),
      [older.publicId, filed],
      "her own, least recently changed first; never Bob's",
    );
    const page1 = await api.get("/reports?limit=1");
    assert.equal(page1.body.items.length, 1);
    assert.ok(page1.body.next_cursor);
    const page2 = await api.get(
      `/reports?limit=1&cursor=${encodeURIComponent(page1.body.next_cursor)}`,
    );
    assert.deepEqual(
      page2.body.items.map((i: { id: string }) => i.id),
      [filed],
    );
    const since = await api.get(
      `/reports?updated_since=${encodeURIComponent(ctx.clock.now().toISOString())}`,
    );
    assert.deepEqual(
      since.body.items.map((i: { id: string }) => i.id),
      [filed],
    );
    const byState = await api.get("/reports?state=vendor_notified");
    assert.deepEqual(
      byState.body.items.map((i: { id: string }) => i.id),
      [older.publicId],
    );
    const byOrg = await api.get(`/reports?organization=${org.publicId}`);
    assert.equal(byOrg.body.items.length, 2);
    const none = await api.get("/reports?organization=nope");
    assert.deepEqual(none.body.items, []);
    const wrong = await api.get("/reports?state=lost&colour=red");
    assert.equal(wrong.status, 400);
    assert.ok(wrong.body.errors.state);
    const badCursor = await api.get("/reports?cursor=abc");
    assert.equal(badCursor.status, 400);
    // The organization sees only what was forwarded to it.
    const theirs = await apiClient(ctx, checker, contactToken).get("/reports");
    assert.deepEqual(
      theirs.body.items.map((i: { id: string }) => i.id),
      [older.publicId],
    );
  });

  it("shows one report as its caller sees it, with an ETag", async () => {
    const api = apiClient(ctx, checker, aliceToken);
    const res = await api.get(`/reports/${filed}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers["cache-control"], "no-store");
    const again = await api.get(`/reports/${filed}`, {
      "If-None-Match": res.headers.etag!,
    });
    assert.equal(again.status, 304);
    assert.equal(res.body.timeline[0].kind, "submitted");
  });

  it("takes workflow steps: one not allowed now answers 409 with the allowed ones", async () => {
    const researcher = apiClient(ctx, checker, aliceToken);
    const refused = await researcher.post(`/reports/${filed}/steps`, {
      name: "acknowledge",
    });
    assert.equal(refused.status, 409);
    assert.deepEqual(
      refused.body.allowed_steps.map((s: { name: string }) => s.name),
      ["withdraw"],
    );
    const staff = apiClient(ctx, checker, triagerToken);
    const ack = await staff.post(`/reports/${filed}/steps`, {
      name: "acknowledge",
      message: "Thank you, we are looking at it.",
    });
    assert.equal(ack.status, 200, ack.text);
    assert.equal(ack.body.state, "acknowledged");
    const bad = await staff.post(`/reports/${filed}/steps`, {
      name: "close",
      resolution: "duplicate",
      duplicate_of: "nope",
    });
    assert.equal(bad.status, 422);
    assert.ok(bad.body.errors.duplicate_of);
  });

  it("adds comments; a stale If-Match answers 412; audiences hold on the timeline", async () => {
    const researcher = apiClient(ctx, checker, aliceToken);
    const read = await researcher.get(`/reports/${filed}`);
    const etag = read.headers.etag!;
    const staff = apiClient(ctx, checker, triagerToken);
    const note = await supertest(ctx.app)
      .get(`/api/v1/reports/${filed}`)
      .set("Authorization", `Bearer ${triagerToken}`);
    assert.equal(note.status, 200);
    const c1 = await staff.post(`/reports/${filed}/comments`, {
      body: "Could you send the request you used?",
    });
    assert.equal(c1.status, 201);
    const stale = await researcher.post(
      `/reports/${filed}/comments`,
      { body: "Here it is." },
      { "If-Match": etag },
    );
    assert.equal(stale.status, 412);
    const fresh = await researcher.get(`/reports/${filed}`);
    const ok = await researcher.post(
      `/reports/${filed}/comments`,
      { body: "Here it is." },
      { "If-Match": fresh.headers.etag! },
    );
    assert.equal(ok.status, 201, ok.text);
    assert.ok(
      ok.body.timeline.some(
        (e: { body: string | null }) => e.body === "Here it is.",
      ),
    );
    const empty = await researcher.post(`/reports/${filed}/comments`, {
      body: "   ",
    });
    assert.equal(empty.status, 422);
    assert.ok(empty.body.errors.body);
  });

  it("uploads and downloads files; an organization reads a neutral file name and no researcher name", async () => {
    const forwarded = await insertReport(ctx, {
      reporterId: alice.user.id,
      state: "vendor_notified",
      organizationId: org.id,
    });
    const researcher = apiClient(ctx, checker, aliceToken);
    const png = readFileSync(
      path.join(import.meta.dirname, "..", "fixtures", "screenshot.png"),
    );
    const up = await researcher.upload(
      `/reports/${forwarded.publicId}/attachments?filename=${encodeURIComponent("Alice Doe - PoC.png")}`,
      png,
    );
    assert.equal(up.status, 201, up.text);
    const file = up.body.attachments[0];
    assert.equal(file.file_name, "Alice Doe - PoC.png");
    const own = await researcher.get(
      `/reports/${forwarded.publicId}/attachments/${file.id}`,
    );
    assert.equal(own.status, 200);
    assert.equal(own.headers["x-content-type-options"], "nosniff");
    const theirs = apiClient(ctx, checker, contactToken);
    const seen = await theirs.get(`/reports/${forwarded.publicId}`);
    assert.equal(seen.status, 200);
    assert.equal(seen.body.reporter, null);
    assert.equal(seen.body.attachments[0].file_name, "attachment-1.png");
    assert.ok(
      seen.body.timeline.every(
        (e: { audience: string; actor: { name: string } }) =>
          e.audience === "everyone" && e.actor.name !== "Alice Doe",
      ),
    );
    const download = await theirs.get(
      `/reports/${forwarded.publicId}/attachments/${file.id}`,
    );
    assert.equal(download.status, 200);
    assert.match(download.headers["content-disposition"]!, /attachment-1\.png/);
    const empty = await researcher.upload(
      `/reports/${forwarded.publicId}/attachments`,
      Buffer.alloc(0),
    );
    assert.equal(empty.status, 422);
    const refused = await researcher.upload(
      `/reports/${forwarded.publicId}/attachments?filename=x.exe`,
      Buffer.from("MZ\x90\x00 not a file we take"),
    );
    assert.equal(refused.status, 422);
    assert.ok(refused.body.errors.file);
  });

  it("sends the IETF RateLimit headers, counted per token", async () => {
    const res = await apiClient(ctx, checker, aliceToken).get("/reports");
    assert.match(res.headers["ratelimit-policy"] ?? "", /q=600; w=900/);
    assert.match(res.headers["ratelimit"] ?? "", /r=\d+; t=\d+/);
    const other = await apiClient(ctx, checker, contactToken).get("/reports");
    const left = (h: string) => Number(/r=(\d+)/.exec(h)![1]);
    assert.ok(left(other.headers.ratelimit!) > left(res.headers.ratelimit!));
  });

  it("a token follows its account now: disabled, demoted, two-factor off, expired, revoked", async () => {
    const t = await createUser(ctx, "triager");
    const token = await tokenFor(ctx, t);
    const api = apiClient(ctx, checker, token);
    assert.equal((await api.get(`/reports/${filed}`)).status, 200);
    // Demoted to researcher: the report is not theirs, so it does not exist.
    await ctx.db
      .updateTable("users")
      .set({ role: "researcher" })
      .where("id", "=", t.user.id)
      .execute();
    const demoted = await api.get(`/reports/${filed}`);
    assert.equal(demoted.status, 404);
    await ctx.db
      .updateTable("users")
      .set({ role: "triager", totp_enabled_at: null })
      .where("id", "=", t.user.id)
      .execute();
    assert.equal((await api.get(`/reports/${filed}`)).status, 401);

    const r = await createUser(ctx, "researcher");
    const rToken = await tokenFor(ctx, r, ["reports:read"], 1);
    const rApi = apiClient(ctx, checker, rToken);
    assert.equal((await rApi.get("/reports")).status, 200);
    const write = await rApi.post("/reports", NEW_REPORT);
    assert.equal(write.status, 403, "reports:read cannot file");
    assert.match(write.headers["www-authenticate"]!, /insufficient_scope/);
    await ctx.db
      .updateTable("users")
      .set({ disabled_at: ctx.clock.now().getTime() })
      .where("id", "=", r.user.id)
      .execute();
    assert.equal((await rApi.get("/reports")).status, 401);
    await ctx.db
      .updateTable("users")
      .set({ disabled_at: null })
      .where("id", "=", r.user.id)
      .execute();
    assert.equal((await rApi.get("/reports")).status, 200);
    ctx.clock.advanceDays(1);
    assert.equal((await rApi.get("/reports")).status, 401, "expired");
  });

  it("answers a foreign report exactly like a missing one", async () => {
    const bob = await createUser(ctx, "researcher");
    const bobApi = apiClient(ctx, checker, await tokenFor(ctx, bob));
    const foreign = await bobApi.get(`/reports/${filed}`);
    const missing = await bobApi.get("/reports/DD-0000-0000");
    assert.equal(foreign.status, 404);
    assert.equal(foreign.text, missing.text);
    assert.equal(
      foreign.headers["content-type"],
      missing.headers["content-type"],
    );
    const unknown = await supertest(ctx.app)
      .get("/api/v1/nothing/here")
      .set("Authorization", `Bearer ${await tokenFor(ctx, bob)}`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.text, missing.text);
  });

  it("holds the web's limit on filing, and tells an unconfirmed researcher why", async () => {
    const busy = await createUser(ctx, "researcher");
    const api = apiClient(ctx, checker, await tokenFor(ctx, busy));
    const body = { ...NEW_REPORT, organization: org.publicId };
    for (let i = 0; i < 30; i += 1)
      assert.equal((await api.post("/reports", body)).status, 201);
    const refused = await api.post("/reports", body);
    assert.equal(refused.status, 429);
    const audited = await ctx.db
      .selectFrom("audit_log")
      .select("details")
      .where("action", "=", "auth.rate_limited")
      .where("actor_id", "=", busy.user.id)
      .execute();
    assert.equal(audited.length, 1);
    const unconfirmed = await createUser(ctx, "researcher", {
      emailVerified: false,
    });
    const res = await apiClient(
      ctx,
      checker,
      await tokenFor(ctx, unconfirmed),
    ).post("/reports", body);
    assert.equal(res.status, 403);
    assert.match(res.body.detail, /Confirm your email address/);
  });

  it("shows each caller only the timeline audiences the report page shows them", async () => {
    const forwarded = await insertReport(ctx, {
      reporterId: alice.user.id,
      state: "vendor_notified",
      organizationId: org.id,
    });
    const report = (await findReportByPublicId(ctx.db, forwarded.publicId))!;
    const staffActor = toActor(triager.user);
    await addNote(ctx.deps, staffActor, report, {
      body: "Internal: likely real.",
    });
    const staff = await apiClient(ctx, checker, triagerToken).get(
      `/reports/${forwarded.publicId}`,
    );
    const bodies = (r: { body: { timeline: { body: string | null }[] } }) =>
      r.body.timeline.map((e) => e.body);
    assert.ok(bodies(staff).includes("Internal: likely real."));
    const researcher = await apiClient(ctx, checker, aliceToken).get(
      `/reports/${forwarded.publicId}`,
    );
    const organization = await apiClient(ctx, checker, contactToken).get(
      `/reports/${forwarded.publicId}`,
    );
    for (const res of [researcher, organization]) {
      assert.equal(res.status, 200);
      assert.ok(!bodies(res).includes("Internal: likely real."));
      assert.ok(
        res.body.timeline.every(
          (e: { audience: string }) => e.audience !== "internal",
        ),
      );
    }
  });
});

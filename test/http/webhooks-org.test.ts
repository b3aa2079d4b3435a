/**
 * Webhooks of an organization's administrator: two organizations on one
 * case, org A's administrator registers a real receiver on 127.0.0.1 through
 * the form, the triager works the case through the web, and the worker
 * delivers. Every delivery is verified with the `standardwebhooks` package.
 * Org A's endpoint hears of the case, never of a comment written to org B
 * only, never of org B's own cases; demoted, its owner's endpoint gets
 * nothing more, queued deliveries included.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "mocha";
import { Webhook } from "standardwebhooks";
import {
  createWebhookWorker,
  type WebhookWorker,
} from "../../src/webhooks/delivery.js";
import { insertEndpoint } from "../../src/webhooks/repository.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  TestClock,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { WebhookReceiver } from "../support/webhook-receiver.js";

const EVENTS = ["report.state_changed", "comment.added"];

describe("webhooks of an organization's administrator", function () {
  this.timeout(60_000);
  let receiver: WebhookReceiver;
  let ctx: TestContext;
  let orgA: { id: number; publicId: string; name: string };
  let orgB: { id: number; publicId: string; name: string };
  let adminAUser: TestUser;
  let adminA: Browser;
  let contactB: Browser;
  let triager: Browser;
  let shared: { id: number; publicId: string };
  let onlyB: { id: number; publicId: string };
  const workers: WebhookWorker[] = [];

  before(async () => {
    receiver = await new WebhookReceiver().start();
  });
  after(() => receiver.stop());

  beforeEach(async () => {
    // Signatures are checked against the real time (standardwebhooks).
    ctx = await createTestContext({
      clock: new TestClock(Date.now()),
      env: { WEBHOOKS_ALLOW_LOOPBACK: "true", RATE_LIMITS: "false" },
    });
    orgA = await createOrg(ctx, "Alpha Water Works");
    orgB = await createOrg(ctx, "Beta Power Grid");
    const researcher = await createUser(ctx, "researcher");
    // Org A's administrator is a plain member of org B too: what they read
    // there must not reach org A's systems.
    adminAUser = await createUser(ctx, "org_contact", {
      orgIds: [orgA.id, orgB.id],
    });
    await ctx.db
      .updateTable("org_members")
      .set({ is_admin: 1 })
      .where("user_id", "=", adminAUser.user.id)
      .where("org_id", "=", orgA.id)
      .execute();
    const contactBUser = await createUser(ctx, "org_contact", {
      orgIds: [orgB.id],
    });
    shared = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: orgA.id,
    });
    await ctx.db
      .insertInto("participations")
      .values({
        report_id: shared.id,
        organization_id: orgB.id,
        added_at: ctx.clock.now().getTime(),
        notified_at: ctx.clock.now().getTime(),
      })
      .execute();
    onlyB = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: orgB.id,
    });
    adminA = await signedIn(ctx, adminAUser);
    contactB = await signedIn(ctx, contactBUser);
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    receiver.received.length = 0;
    receiver.next.length = 0;
    receiver.mode = "ok";
  });
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    workers.length = 0;
    await ctx.close();
  });

  function worker() {
    const w = createWebhookWorker({ ...ctx.deps, timeoutMs: 3000 });
    workers.push(w);
    return w;
  }

  async function register(organization: string) {
    await adminA.refreshCsrf("/admin/webhooks");
    return adminA.post("/admin/webhooks", {
      url: receiver.url(),
      description: "Alpha's tracker",
      events: EVENTS,
      organization,
    });
  }

  async function registered() {
    const res = await register(orgA.publicId);
    assert.equal(res.status, 303, res.text.slice(0, 500));
    const id = /\/admin\/webhooks\/(\w+)$/.exec(
      res.headers.location ?? "",
    )?.[1];
    assert.ok(id);
    const page = await adminA.agent.get(`/admin/webhooks/${id}`);
    const secret = /id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)</.exec(
      page.text,
    )?.[1];
    assert.ok(secret, "the secret is shown on the first view");
    return { id, secret };
  }

  async function comment(reportId: string, audience: string, body: string) {
    await triager.refreshCsrf(`/reports/${reportId}`);
    const res = await triager.post(`/reports/${reportId}/comments`, {
      body,
      audience,
    });
    assert.equal(res.status, 303, res.text.slice(0, 500));
  }

  async function step(reportId: string, name: string) {
    await triager.refreshCsrf(`/reports/${reportId}`);
    const res = await triager.post(`/reports/${reportId}/transition`, {
      name,
    });
    assert.equal(res.status, 303, res.text.slice(0, 500));
  }

  const deliveryRows = () =>
    ctx.db.selectFrom("webhook_deliveries").selectAll().orderBy("id").execute();

  async function demote() {
    await ctx.db
      .updateTable("org_members")
      .set({ is_admin: 0 })
      .where("user_id", "=", adminAUser.user.id)
      .where("org_id", "=", orgA.id)
      .execute();
  }

  it("the form offers only the organizations they administer; another one, or all reports, is refused next to the field", async () => {
    const page = await adminA.agent.get("/admin/webhooks");
    assert.equal(page.status, 200);
    assert.match(page.text, new RegExp(`value="${orgA.publicId}"`));
    assert.doesNotMatch(page.text, new RegExp(`value="${orgB.publicId}"`));
    assert.doesNotMatch(page.text, />All reports</);
    for (const organization of [orgB.publicId, "", "0000000000000000"]) {
      const res = await register(organization);
      assert.equal(res.status, 422, organization);
      assert.match(res.text, /id="f-organization-error"/, organization);
      assert.match(res.text, /Alpha&#39;s tracker|Alpha's tracker/);
    }
    assert.equal(
      (await ctx.db.selectFrom("webhook_endpoints").selectAll().execute())
        .length,
      0,
    );
  });

  it("org A's endpoint hears of the shared case, never of a comment to org B only, never of org B's case", async () => {
    const { secret } = await registered();
    await step(shared.publicId, "vendor_acknowledge");
    await comment(shared.publicId, `org:${orgA.publicId}`, "To Alpha.");
    await comment(shared.publicId, `org:${orgB.publicId}`, "To Beta only.");
    const note = await triager.post(`/reports/${shared.publicId}/notes`, {
      body: "CERT only.",
    });
    assert.equal(note.status, 303);
    await step(onlyB.publicId, "vendor_acknowledge");
    await comment(onlyB.publicId, `org:${orgB.publicId}`, "Beta's case.");

    const rows = await deliveryRows();
    assert.deepEqual(rows.map((r) => r.event_type).sort(), [
      "comment.added",
      "report.state_changed",
    ]);
    assert.deepEqual(await worker().runOnce(), {
      delivered: 2,
      retried: 0,
      failed: 0,
    });
    const payloads = receiver.received.map(
      (got) =>
        new Webhook(secret).verify(got.body, got.headers) as {
          type: string;
          data: Record<string, unknown>;
        },
    );
    assert.equal(payloads.length, 2);
    for (const p of payloads) {
      assert.equal(p.data.report_id, shared.publicId);
      assert.equal(p.data.organization_id, orgA.publicId);
    }
    const heard = payloads.find((p) => p.type === "comment.added")!;
    assert.equal(heard.data.audience, "org");
    for (const got of receiver.received) {
      assert.doesNotMatch(got.body, /Beta|To Alpha|CERT only/);
      assert.ok(!got.body.includes(onlyB.publicId));
      assert.ok(!got.body.includes(orgB.publicId));
    }
  });

  it("demoted, the administrator's endpoint gets nothing at once, what waited included, and its pages answer 404", async () => {
    const { id } = await registered();
    await comment(shared.publicId, `org:${orgA.publicId}`, "Before.");
    assert.equal((await deliveryRows()).length, 1, "queued before");
    await demote();
    await step(shared.publicId, "vendor_acknowledge");
    await comment(shared.publicId, `org:${orgA.publicId}`, "After.");
    assert.equal((await deliveryRows()).length, 1, "nothing new queued");
    await worker().runOnce();
    assert.equal(receiver.received.length, 0, "the queued one is not sent");
    const attempts = await ctx.db
      .selectFrom("webhook_attempts")
      .select("error")
      .execute();
    assert.ok(
      attempts.every((a) => /no longer manage/.test(a.error ?? "")),
      JSON.stringify(attempts),
    );
    const none = await adminA.agent.get("/no-such-page");
    for (const url of ["/admin/webhooks", `/admin/webhooks/${id}`]) {
      const res = await adminA.agent.get(url);
      assert.equal(res.status, 404, url);
      assert.equal(res.text, none.text, url);
    }
    const account = await adminA.agent.get("/account");
    assert.doesNotMatch(account.text, /<h2>Webhooks<\/h2>/);
  });

  it("another organization's endpoint, an admin's, or a forged ID is a 404 identical to a missing one", async () => {
    const admin = await createUser(ctx, "admin");
    const foreign = [];
    for (const orgId of [orgB.id, null]) {
      const e = await insertEndpoint(ctx.db, {
        publicId: orgId === null ? "a1b2c3d4e5f6g7h8" : "b1b2c3d4e5f6g7h8",
        ownerId: admin.user.id,
        orgId,
        url: "https://foreign.example.net/desk",
        description: "",
        events: ["report.created"],
        secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0",
        at: ctx.clock.now(),
      });
      foreign.push(e.publicId);
    }
    const missing = await adminA.agent.get("/admin/webhooks/0000000000000000");
    assert.equal(missing.status, 404);
    for (const id of foreign) {
      const res = await adminA.agent.get(`/admin/webhooks/${id}`);
      assert.equal(res.status, 404, id);
      assert.equal(res.text, missing.text, id);
      await adminA.refreshCsrf("/admin/webhooks");
      for (const action of ["disable", "enable", "rotate-secret", "delete"]) {
        const post = await adminA.post(`/admin/webhooks/${id}/${action}`);
        assert.equal(post.status, 404, `${action} ${id}`);
      }
    }
    assert.equal(
      (await ctx.db.selectFrom("webhook_endpoints").selectAll().execute())
        .length,
      2,
    );
    const list = await adminA.agent.get("/admin/webhooks");
    assert.doesNotMatch(list.text, /foreign\.example\.net/);
    // A plain member of org B has no webhooks at all.
    const none = await contactB.agent.get("/no-such-page");
    const page = await contactB.agent.get("/admin/webhooks");
    assert.equal(page.status, 404);
    assert.equal(page.text, none.text);
  });

  it("the account page lists their endpoints with state and a link; a plain member's has no Webhooks section", async () => {
    const { id } = await registered();
    const account = await adminA.agent.get("/account");
    assert.equal(account.status, 200);
    assert.match(account.text, /<h2>Webhooks<\/h2>/);
    assert.match(account.text, new RegExp(`href="/admin/webhooks/${id}"`));
    assert.match(account.text, /Alpha Water Works/);
    assert.match(account.text, /Enabled/);
    assert.match(account.text, /<h2>API tokens<\/h2>/);
    const other = await contactB.agent.get("/account");
    assert.equal(other.status, 200);
    assert.doesNotMatch(other.text, /<h2>Webhooks<\/h2>/);
  });
});

/**
 * Webhooks end to end: an admin registers a real receiver on 127.0.0.1
 * through the form, changes to reports are made through the web, and the
 * worker delivers them. Every delivery the receiver gets is verified with
 * the `standardwebhooks` package, independently of the desk's own signing.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "mocha";
import { Webhook } from "standardwebhooks";
import {
  createWebhookWorker,
  KEEP_LOG_MS,
  LEASE_MS,
  type WebhookWorker,
} from "../../src/webhooks/delivery.js";
import {
  claimDueDeliveries,
  markDelivered,
  renewClaim,
} from "../../src/webhooks/repository.js";
import type { Resolver } from "../../src/webhooks/safe-fetch.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import { setUserRole } from "../../src/users/repository.js";
import {
  insertPublishableReport,
  publishAdvisory,
} from "../support/advisories.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  TestClock,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";
import {
  WebhookReceiver,
  type ReceivedWebhook,
} from "../support/webhook-receiver.js";

const ALL_EVENTS = [
  "report.created",
  "report.state_changed",
  "comment.added",
  "report.deadline_changed",
  "advisory.published",
];

describe("webhooks", function () {
  this.timeout(60_000);
  let receiver: WebhookReceiver;
  let ctx: TestContext;
  let adminUser: TestUser;
  let admin: Browser;
  let researcher: Browser;
  const workers: WebhookWorker[] = [];

  before(async () => {
    receiver = await new WebhookReceiver().start();
  });
  after(() => receiver.stop());

  async function setUp(env: Record<string, string> = {}) {
    // Signatures are checked against the real time (standardwebhooks).
    ctx = await createTestContext({
      clock: new TestClock(Date.now()),
      env: { WEBHOOKS_ALLOW_LOOPBACK: "true", RATE_LIMITS: "false", ...env },
    });
    adminUser = await createUser(ctx, "admin");
    admin = await signedIn(ctx, adminUser);
    researcher = await signedIn(ctx, await createUser(ctx, "researcher"));
    receiver.received.length = 0;
    receiver.next.length = 0;
    receiver.mode = "ok";
  }
  beforeEach(() => setUp());
  afterEach(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    workers.length = 0;
    await ctx.close();
  });

  function worker(resolve?: Resolver) {
    const w = createWebhookWorker({
      ...ctx.deps,
      ...(resolve && { webhookResolve: resolve }),
      timeoutMs: 3000,
    });
    workers.push(w);
    return w;
  }

  /** Registers an endpoint through the form; returns its ID and the secret shown once. */
  async function register(
    url: string,
    events: string[] = ALL_EVENTS,
    extra: Record<string, string> = {},
  ) {
    await admin.refreshCsrf("/admin/webhooks");
    const res = await admin.post("/admin/webhooks", {
      url,
      description: "Our tracker",
      events,
      ...extra,
    });
    assert.equal(res.status, 303, res.text);
    const id = /\/admin\/webhooks\/(\w+)$/.exec(
      res.headers.location ?? "",
    )?.[1];
    assert.ok(id, res.headers.location);
    const page = await admin.agent.get(`/admin/webhooks/${id}`);
    const secret = /id="webhook-secret">(whsec_[A-Za-z0-9+/=]+)</.exec(
      page.text,
    )?.[1];
    assert.ok(secret, "the secret is shown on the first view");
    return { id, secret };
  }

  async function fileReport(overrides: Record<string, string> = {}) {
    await researcher.refreshCsrf("/reports/new");
    const res = await submitReport(researcher, reportFields(overrides));
    assert.equal(res.status, 303, res.text);
    return reportIdFrom(res.headers.location);
  }

  function verified(secret: string, got: ReceivedWebhook) {
    return new Webhook(secret).verify(got.body, got.headers) as {
      type: string;
      timestamp: string;
      data: Record<string, unknown>;
    };
  }

  async function deliveries() {
    return ctx.db
      .selectFrom("webhook_deliveries")
      .selectAll()
      .orderBy("id")
      .execute();
  }

  it("shows the secret once, delivers a new report signed as Standard Webhooks do, and logs it", async () => {
    const { id, secret } = await register(receiver.url());
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const again = await admin.agent.get(`/admin/webhooks/${id}`);
    assert.equal(again.status, 200);
    assert.doesNotMatch(again.text, /whsec_/, "shown once only");
    const list = await admin.agent.get("/admin/webhooks");
    assert.doesNotMatch(list.text, /whsec_/);

    const reportId = await fileReport();
    const queued = await deliveries();
    assert.equal(
      queued.length,
      1,
      "written with the report, before any worker",
    );
    assert.equal(queued[0]!.event_type, "report.created");

    assert.deepEqual(await worker().runOnce(), {
      delivered: 1,
      retried: 0,
      failed: 0,
    });
    assert.equal(receiver.received.length, 1);
    const got = receiver.received[0]!;
    const payload = verified(secret, got);
    assert.equal(payload.type, "report.created");
    assert.equal(payload.data.report_id, reportId);
    assert.equal(
      payload.data.report_url,
      `${ctx.config.baseUrl}/reports/${reportId}`,
    );
    assert.equal(payload.data.state, "submitted");
    assert.equal(got.headers["webhook-id"], queued[0]!.event_id);
    assert.equal(got.headers["content-type"], "application/json");
    // Signed with another secret, it does not verify.
    assert.throws(() =>
      verified("whsec_" + Buffer.alloc(32, 7).toString("base64"), got),
    );

    const log = await admin.agent.get(`/admin/webhooks/${id}`);
    assert.match(log.text, /HTTP 200/);
    assert.match(log.text, /report\.created/);
    assert.equal(
      (await deliveries())[0]!.status,
      "delivered",
      "delivered, and never again",
    );
    assert.deepEqual(await worker().runOnce(), {
      delivered: 0,
      retried: 0,
      failed: 0,
    });
    assert.equal(receiver.received.length, 1);
  });

  it("refuses bad input next to the field and keeps what was typed", async () => {
    await admin.refreshCsrf("/admin/webhooks");
    const cases: [Record<string, string | string[]>, string, RegExp][] = [
      [{ url: "", events: ["report.created"] }, "url", /URL is required/],
      [
        { url: "ftp://hooks.example.org/x", events: ["report.created"] },
        "url",
        /must start with https/,
      ],
      [
        { url: "https://169.254.169.254/latest", events: ["report.created"] },
        "url",
        /link-local/,
      ],
      [
        { url: "https://10.1.2.3/hook", events: ["report.created"] },
        "url",
        /private/,
      ],
      [
        {
          url: "https://user:pw@hooks.example.org/x",
          events: ["report.created"],
        },
        "url",
        /user name and password/,
      ],
      [{ url: "https://hooks.example.org/x" }, "events", /at least one event/],
      [
        { url: "https://hooks.example.org/x", events: ["report.deleted"] },
        "events",
        /from the list/,
      ],
    ];
    for (const [fields, field, message] of cases) {
      const res = await admin.post("/admin/webhooks", fields);
      assert.equal(res.status, 422, JSON.stringify(fields));
      assert.match(res.text, new RegExp(`id="f-${field}-error"`));
      assert.match(res.text, message);
      if (fields.url)
        assert.ok(
          res.text.includes(`value="${fields.url}"`),
          "what was typed is kept",
        );
    }
    const count = await ctx.db
      .selectFrom("webhook_endpoints")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 0);
  });

  it("retries after a 500 and after a dropped connection, with the same ID, until it is taken", async () => {
    const { secret } = await register(receiver.url());
    await fileReport();
    receiver.next.push("error", "drop");
    const w = worker();
    assert.deepEqual(await w.runOnce(), {
      delivered: 0,
      retried: 1,
      failed: 0,
    });
    // Not yet due: nothing is sent before the backoff ends.
    assert.deepEqual(await w.runOnce(), {
      delivered: 0,
      retried: 0,
      failed: 0,
    });
    ctx.clock.advance(60_000);
    assert.deepEqual(await w.runOnce(), {
      delivered: 0,
      retried: 1,
      failed: 0,
    });
    ctx.clock.advance(120_000);
    assert.deepEqual(await w.runOnce(), {
      delivered: 1,
      retried: 0,
      failed: 0,
    });
    assert.equal(receiver.received.length, 3);
    const ids = new Set(receiver.received.map((r) => r.headers["webhook-id"]));
    assert.equal(ids.size, 1, "one event, one ID on every attempt");
    for (const got of receiver.received) verified(secret, got);
    const [row] = await deliveries();
    assert.equal(row!.status, "delivered");
    assert.equal(row!.attempts, 3);
    const attempts = await ctx.db
      .selectFrom("webhook_attempts")
      .selectAll()
      .orderBy("id")
      .execute();
    assert.deepEqual(
      attempts.map((a) => a.status_code),
      [500, null, 200],
    );
    assert.match(attempts[1]!.error ?? "", /no answer/);
  });

  it("keeps a month of finished deliveries in the log", async () => {
    await register(receiver.url());
    await fileReport();
    await fileReport();
    assert.equal((await worker().runOnce()).delivered, 2);
    const [first, second] = await deliveries();
    // The first was made a month and a minute ago, the second just within.
    const now = ctx.clock.now().getTime();
    for (const [row, age] of [
      [first!, KEEP_LOG_MS + 60_000],
      [second!, KEEP_LOG_MS - 60_000],
    ] as const)
      await ctx.db
        .updateTable("webhook_deliveries")
        .set({ created_at: now - age })
        .where("id", "=", row.id)
        .execute();
    await worker().runOnce();
    const left = await deliveries();
    assert.deepEqual(
      left.map((d) => d.id),
      [second!.id],
    );
    const attempts = await ctx.db
      .selectFrom("webhook_attempts")
      .select("delivery_id")
      .execute();
    assert.deepEqual(
      attempts.map((a) => a.delivery_id),
      [second!.id],
      "its attempts went with it",
    );
  });

  it("delivers each event once when two workers run at the same time", async () => {
    const { secret } = await register(receiver.url());
    for (let i = 0; i < 5; i++) await fileReport();
    const [a, b] = [worker(), worker()];
    const results = await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(results[0].delivered + results[1].delivered, 5);
    assert.equal(receiver.received.length, 5);
    const ids = receiver.received.map((r) => r.headers["webhook-id"]);
    assert.equal(new Set(ids).size, 5);
    for (const got of receiver.received) verified(secret, got);
    await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(receiver.received.length, 5);
  });

  it("a delivery claimed by a worker that died is tried again when its lease ends", async () => {
    const { secret } = await register(receiver.url());
    await fileReport();
    // A worker claims it and dies before sending.
    const claimed = await claimDueDeliveries(
      ctx.db,
      ctx.clock.now(),
      LEASE_MS,
      10,
      "dead-worker",
    );
    assert.equal(claimed.length, 1);
    const w = worker();
    assert.deepEqual(await w.runOnce(), {
      delivered: 0,
      retried: 0,
      failed: 0,
    });
    ctx.clock.advance(LEASE_MS + 1000);
    assert.deepEqual(await w.runOnce(), {
      delivered: 1,
      retried: 0,
      failed: 0,
    });
    assert.equal(receiver.received.length, 1);
    verified(secret, receiver.received[0]!);
    // The dead worker, back, can neither send it nor record an outcome.
    const id = claimed[0]!.id;
    const later = new Date(ctx.clock.now().getTime() + LEASE_MS);
    assert.equal(await renewClaim(ctx.db, id, "dead-worker", later), false);
    assert.equal(
      await markDelivered(ctx.db, id, "dead-worker", later, 200),
      false,
    );
    const [row] = await deliveries();
    assert.equal(row!.status, "delivered");
    assert.equal(row!.attempts, 1);
  });

  it("disables an endpoint after failures in a row and mails its owner through the outbox", async () => {
    await ctx.close();
    await setUp({ WEBHOOKS_MAX_FAILURES: "3" });
    const { id } = await register(receiver.url());
    receiver.mode = "error";
    await fileReport();
    await fileReport();
    const w = worker();
    await w.runOnce();
    ctx.clock.advance(60_000);
    await w.runOnce();
    const endpoint = await ctx.db
      .selectFrom("webhook_endpoints")
      .selectAll()
      .executeTakeFirstOrThrow();
    assert.equal(endpoint.enabled, 0);
    assert.match(
      endpoint.disabled_reason ?? "",
      /3 delivery attempts in a row/,
    );
    assert.equal(receiver.received.length, 3, "nothing more once disabled");
    ctx.clock.advance(3_600_000);
    await w.runOnce();
    assert.equal(receiver.received.length, 3);

    const mail = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("template", "=", "webhook_disabled")
      .execute();
    assert.equal(mail.length, 1);
    assert.equal(mail[0]!.to_address, adminUser.email);
    assert.match(
      mail[0]!.text_body,
      new RegExp(`endpoint at 127\\.0\\.0\\.1:${receiver.port} was disabled`),
    );
    assert.ok(!mail[0]!.text_body.includes("/hook"), "the host only");
    assert.ok(mail[0]!.text_body.includes(`/admin/webhooks/${id}`));
    const audit = await ctx.db
      .selectFrom("audit_log")
      .select(["action", "actor_label"])
      .where("action", "=", "webhook.disabled")
      .execute();
    assert.deepEqual(audit, [
      { action: "webhook.disabled", actor_label: "system" },
    ]);

    const log = await admin.agent.get(`/admin/webhooks/${id}`);
    assert.match(log.text, /Disabled .*3 delivery attempts in a row failed/);
    assert.match(log.text, /Waiting: the endpoint is disabled/);

    // Enabled again, what waited is delivered.
    receiver.mode = "ok";
    await admin.refreshCsrf(`/admin/webhooks/${id}`);
    const enable = await admin.post(`/admin/webhooks/${id}/enable`);
    assert.equal(enable.status, 303);
    assert.equal((await w.runOnce()).delivered, 2);
  });

  it("gives up on a delivery after a day of failures and disables the endpoint", async () => {
    await register(receiver.url());
    receiver.mode = "error";
    await fileReport();
    const w = worker();
    for (let i = 0; i < 40; i++) {
      await w.runOnce();
      const [row] = await deliveries();
      if (row!.status !== "queued") break;
      ctx.clock.ms = row!.next_attempt_at;
    }
    const [row] = await deliveries();
    assert.equal(row!.status, "failed");
    assert.ok(row!.attempts > 8, `${row!.attempts} attempts`);
    const lastTry = await ctx.db
      .selectFrom("webhook_attempts")
      .select((eb) => eb.fn.max("at").as("at"))
      .executeTakeFirstOrThrow();
    assert.ok(
      Number(lastTry.at) - row!.created_at <= 24 * 3_600_000,
      "no attempt after a day",
    );
    const endpoint = await ctx.db
      .selectFrom("webhook_endpoints")
      .selectAll()
      .executeTakeFirstOrThrow();
    assert.equal(endpoint.enabled, 0);
    assert.match(endpoint.disabled_reason ?? "", /for a day/);
    const mail = await ctx.db
      .selectFrom("outbox")
      .select("to_address")
      .where("template", "=", "webhook_disabled")
      .execute();
    assert.deepEqual(mail, [{ to_address: adminUser.email }]);
  });

  it("sends nothing once the endpoint's owner is no longer an admin", async () => {
    await register(receiver.url());
    await fileReport();
    await setUserRole(ctx.db, adminUser.user.id, "triager");
    assert.deepEqual(await worker().runOnce(), {
      delivered: 0,
      retried: 1,
      failed: 0,
    });
    assert.equal(receiver.received.length, 0);
    const [attempt] = await ctx.db
      .selectFrom("webhook_attempts")
      .selectAll()
      .execute();
    assert.match(attempt!.error ?? "", /owner may no longer manage webhooks/);
    // And what happens from now on is not even queued for it.
    await fileReport();
    assert.equal((await deliveries()).length, 1);
  });

  it("does not follow a redirect: a 3xx is a failed attempt", async () => {
    await register(receiver.url());
    receiver.next.push("redirect");
    await fileReport();
    assert.deepEqual(await worker().runOnce(), {
      delivered: 0,
      retried: 1,
      failed: 0,
    });
    assert.equal(receiver.received.length, 1, "/elsewhere was never asked");
    const [attempt] = await ctx.db
      .selectFrom("webhook_attempts")
      .selectAll()
      .execute();
    assert.equal(attempt!.status_code, 302);
    assert.match(attempt!.error ?? "", /redirect, not followed/);
  });

  it("a name that resolved to a public address at registration and to loopback later is refused at delivery", async () => {
    await ctx.close();
    await setUp({ WEBHOOKS_ALLOW_LOOPBACK: "false" });
    let calls = 0;
    const rebinding: Resolver = async () =>
      calls++ === 0
        ? [{ address: "93.184.216.34", family: 4 }]
        : [{ address: "127.0.0.1", family: 4 }];
    ctx.deps.webhookResolve = rebinding;
    const { id } = await register(
      `https://rebind.example.test:${receiver.port}/hook`,
    );
    await fileReport();
    assert.deepEqual(await worker(rebinding).runOnce(), {
      delivered: 0,
      retried: 1,
      failed: 0,
    });
    assert.equal(calls, 2, "resolved at registration, and again at delivery");
    assert.equal(receiver.received.length, 0);
    const [attempt] = await ctx.db
      .selectFrom("webhook_attempts")
      .selectAll()
      .execute();
    assert.equal(attempt!.status_code, null);
    assert.match(
      attempt!.error ?? "",
      /refused: rebind\.example\.test resolves to 127\.0\.0\.1 is a loopback address/,
    );
    const log = await admin.agent.get(`/admin/webhooks/${id}`);
    assert.match(log.text, /loopback address/);
  });

  it("payloads carry IDs, states, times and links, never what anyone wrote", async () => {
    const MARK = "ZQX-marker-7731";
    const { secret } = await register(receiver.url());
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const reportId = await fileReport({
      title: `Title ${MARK}`,
      description: `Description ${MARK}`,
      steps: `Steps ${MARK}`,
      impact: `Impact ${MARK}`,
      newOrganization: `Org ${MARK}`,
      asset: `https://asset.example.test/${MARK}`,
    });
    await triager.refreshCsrf(`/reports/${reportId}`);
    const ack = await triager.post(`/reports/${reportId}/transition`, {
      name: "acknowledge",
      message: `Thanks ${MARK}`,
    });
    assert.equal(ack.status, 303, ack.text);
    await researcher.refreshCsrf(`/reports/${reportId}`);
    const comment = await researcher.post(`/reports/${reportId}/comments`, {
      body: `Comment ${MARK}`,
    });
    assert.equal(comment.status, 303);
    const note = await triager.post(`/reports/${reportId}/notes`, {
      body: `Note ${MARK}`,
    });
    assert.equal(note.status, 303);
    // A deadline moved, and an advisory published, on reports of their own.
    const org = await createOrg(ctx, "Regional Health");
    const notified = await insertReport(ctx, {
      reporterId: adminUser.user.id,
      state: "vendor_notified",
      organizationId: org.id,
    });
    const nextYear = new Date(ctx.clock.now().getTime() + 200 * 86_400_000)
      .toISOString()
      .slice(0, 10);
    await triager.refreshCsrf(`/reports/${notified.publicId}`);
    const moved = await triager.post(`/reports/${notified.publicId}/deadline`, {
      date: nextYear,
      reason: `Reason ${MARK}`,
    });
    assert.equal(moved.status, 303, moved.text);
    const publishable = await insertPublishableReport(ctx, {
      reporterId: adminUser.user.id,
      organizationId: org.id,
    });
    await publishAdvisory(triager, publishable.publicId, {
      summary: `Summary ${MARK}`,
      title: `Advisory ${MARK}`,
    });

    await worker().runOnce();
    const payloads = receiver.received.map((got) => verified(secret, got));
    const types = payloads.map((p) => p.type).sort();
    for (const type of ALL_EVENTS)
      assert.ok(types.includes(type), `${type} in ${types.join(", ")}`);
    for (const got of receiver.received)
      assert.ok(!got.body.includes(MARK), `text leaked: ${got.body}`);
    const comments = payloads.filter((p) => p.type === "comment.added");
    assert.deepEqual(
      comments.map((p) => [p.data.kind, p.data.audience]).sort(),
      [
        ["comment", "researcher"],
        ["internal_note", "internal"],
      ],
    );
    const published = payloads.find((p) => p.type === "advisory.published")!;
    assert.equal(
      published.data.advisory_url,
      `${ctx.config.baseUrl}/advisories/${publishable.publicId}`,
    );
    const deadline = payloads.find(
      (p) => p.type === "report.deadline_changed",
    )!;
    assert.match(
      String(deadline.data.disclosure_due_at),
      new RegExp(`^${nextYear}`),
    );
    assert.equal(deadline.data.organization_id, org.publicId);
  });

  it("an organization's endpoint hears only of that organization's reports", async () => {
    const orgA = await createOrg(ctx, "Org A");
    const orgB = await createOrg(ctx, "Org B");
    await register(receiver.url(), ["report.state_changed"], {
      organization: orgA.publicId,
    });
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    for (const org of [orgA, orgB]) {
      const r = await insertReport(ctx, {
        reporterId: adminUser.user.id,
        state: "vendor_notified",
        organizationId: org.id,
      });
      await triager.refreshCsrf(`/reports/${r.publicId}`);
      const res = await triager.post(`/reports/${r.publicId}/transition`, {
        name: "vendor_acknowledge",
      });
      assert.equal(res.status, 303, res.text);
    }
    const rows = await deliveries();
    assert.equal(rows.length, 1);
    assert.equal(
      JSON.parse(rows[0]!.payload).data.organization_id,
      orgA.publicId,
    );
  });

  it("rotating the secret signs from then on with the new one; a deleted endpoint gets nothing", async () => {
    const { id, secret } = await register(receiver.url());
    await admin.refreshCsrf(`/admin/webhooks/${id}`);
    const rotated = await admin.post(`/admin/webhooks/${id}/rotate-secret`);
    assert.equal(rotated.status, 303);
    const page = await admin.agent.get(`/admin/webhooks/${id}`);
    const fresh = /id="webhook-secret">(whsec_[^<]+)</.exec(page.text)?.[1];
    assert.ok(fresh && fresh !== secret);
    await fileReport();
    await worker().runOnce();
    verified(fresh, receiver.received[0]!);
    assert.throws(() => verified(secret, receiver.received[0]!));

    await admin.refreshCsrf(`/admin/webhooks/${id}`);
    const disabled = await admin.post(`/admin/webhooks/${id}/disable`);
    assert.equal(disabled.status, 303);
    await fileReport();
    await worker().runOnce();
    assert.equal(receiver.received.length, 1, "disabled: it waits");
    const deleted = await admin.post(`/admin/webhooks/${id}/delete`);
    assert.equal(deleted.status, 303);
    assert.equal((await deliveries()).length, 0);
    assert.equal((await admin.agent.get(`/admin/webhooks/${id}`)).status, 404);
    const actions = await ctx.db
      .selectFrom("audit_log")
      .select("action")
      .where("action", "like", "webhook.%")
      .orderBy("id")
      .execute();
    assert.deepEqual(
      actions.map((a) => a.action),
      [
        "webhook.created",
        "webhook.secret_rotated",
        "webhook.disabled",
        "webhook.deleted",
      ],
    );
  });

  it("is the admins' page: everybody else is answered 404, a visitor sent to sign in", async () => {
    const { id } = await register(receiver.url());
    for (const role of ["researcher", "org_contact", "triager"] as const) {
      const b = await signedIn(ctx, await createUser(ctx, role));
      const none = await b.agent.get("/no-such-page");
      for (const url of ["/admin/webhooks", `/admin/webhooks/${id}`]) {
        const res = await b.agent.get(url);
        assert.equal(res.status, 404, `${role} ${url}`);
        assert.equal(res.text, none.text);
      }
      const post = await b.post(`/admin/webhooks/${id}/delete`);
      assert.equal(post.status, 404);
      assert.doesNotMatch(
        (await b.agent.get("/account")).text,
        /href="\/admin\/webhooks"/,
      );
    }
    assert.match(
      (await admin.agent.get("/account")).text,
      /href="\/admin\/webhooks"/,
    );
    const visitor = await anonymous(ctx);
    const signIn = await visitor.agent.get(`/admin/webhooks/${id}`);
    assert.equal(signIn.status, 303);
    assert.equal(signIn.headers.location, "/login");
    assert.equal(
      (await ctx.db.selectFrom("webhook_endpoints").selectAll().execute())
        .length,
      1,
    );
  });
});

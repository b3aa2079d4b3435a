import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, it } from "mocha";
import type { Browser, BrowserContext, Page } from "playwright-core";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
} from "../support/browser.js";
import { addCommentByMail } from "../../src/reports/service.js";
import { findReportById } from "../../src/reports/repository.js";
import { toActor } from "../../src/users/service.js";
import {
  createOrg,
  insertAttachmentRow,
  insertReport,
} from "../support/fixtures.js";
import { insertHeldMail } from "../support/inbound-rows.js";
import {
  insertPublishableReport,
  publishAdvisory,
} from "../support/advisories.js";
import {
  createTestContext,
  createUser,
  signedIn,
  TestClock,
  totpCode,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { listRoutes } from "../support/routes.js";
import {
  findEndpointByPublicId,
  insertAttempt,
  insertDeliveries,
} from "../../src/webhooks/repository.js";
import { inboundMail } from "../support/inbound-mail.js";
import { handleIntakeMail } from "../../src/inbound/intake.js";

/**
 * GET routes that are not pages a person reads in a browser, each with why.
 * Every other GET route of the app must be visited below: a page added
 * later without a visit (or a line here) fails the first test.
 */
const NOT_PAGES: Record<string, string> = {
  "/healthz": "plain-text probe for load balancers",
  "/.well-known/security.txt": "plain text (RFC 9116)",
  "/security.txt": "plain text (RFC 9116)",
  "/favicon.ico": "redirect to the SVG icon",
  "/.well-known/openpgpkey.asc": "the desk's public key, plain text",
  "/pgp-key.asc": "the desk's public key, plain text",
  "/queue/export.csv": "CSV download",
  "/advisories.atom": "Atom feed",
  "/advisories/:id/csaf.json": "JSON document",
  "/advisories/:id/cve.json": "JSON document",
  "/reports/:id/attachments/:aid": "file download",
  "/admin/inbound/:id/raw": "the message as received, a download",
  "/api/v1/openapi.json": "the API's OpenAPI document, JSON",
  "/api/v1/reports": "JSON API (api-reports.test.ts)",
  "/api/v1/reports/:id": "JSON API (api-reports.test.ts)",
  "/api/v1/reports/:id/attachments/:aid": "JSON API file download",
};

/** A fenced code block with a line far wider than a phone. */
const LONG_CODE = [
  "Request that shows another patient's booking:",
  "",
  "```",
  "GET /api/v2/appointments/booking?id=1234&patient=987654321&include=diagnosis,practitioner,insurance,notes HTTP/1.1",
  "Host: portal.example.test",
  "```",
].join("\n");

const DOMAIN = "desk.example.test";

const VIEWPORTS = [
  { width: 375, height: 800 },
  { width: 1440, height: 900 },
] as const;

describe("in a real browser: every page fits a phone and a desktop, axe clean", function () {
  this.timeout(180_000);
  let ctx: TestContext;
  let server: Server;
  let baseUrl = "";
  let browser: Browser;
  const visited = new Set<string>();
  const problems: string[] = [];

  let researcher: TestUser;
  let unconfirmed: TestUser;
  let triager: TestUser;
  let admin: TestUser;
  let contact: TestUser;
  let orgAdmin: TestUser;
  let orgPublicId = "";
  let submitted = "";
  let notified = "";
  let crowded = "";
  let published = "";
  let claimPath = "";
  let inbound = { id: 0, messageId: "" };

  before(async () => {
    ctx = await createTestContext({
      clock: new TestClock(Date.now()),
      env: { MAIL_DOMAIN: DOMAIN },
    });
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();

    const org = await createOrg(ctx, "Regional Health Authority");
    orgPublicId = org.publicId;
    researcher = await createUser(ctx, "researcher", { displayName: "Rhea" });
    unconfirmed = await createUser(ctx, "researcher", {
      emailVerified: false,
    });
    triager = await createUser(ctx, "triager", { displayName: "Tom" });
    admin = await createUser(ctx, "admin", { displayName: "Ada" });
    contact = await createUser(ctx, "org_contact", {
      displayName: "Olga",
      orgIds: [org.id],
    });
    // The organization's administrator, who gave Olga the notified case.
    orgAdmin = await createUser(ctx, "org_contact", {
      displayName: "Ines",
      orgIds: [org.id],
    });
    await ctx.db
      .updateTable("org_members")
      .set({ is_admin: 1 })
      .where("user_id", "=", orgAdmin.user.id)
      .execute();
    const withCode = async (id: number) =>
      ctx.db
        .updateTable("reports")
        .set({ description: LONG_CODE, steps: LONG_CODE })
        .where("id", "=", id)
        .execute();
    const first = await insertReport(ctx, {
      reporterId: researcher.user.id,
      title: "Appointments readable by changing the booking ID",
    });
    await withCode(first.id);
    submitted = first.publicId;
    // Its researcher's files: one they may still remove (the Remove buttons
    // on the report and the edit page), one removed (marked for staff, and
    // listed on the revisions page).
    await insertAttachmentRow(ctx, first.id, researcher.user.id);
    const removed = await insertAttachmentRow(
      ctx,
      first.id,
      researcher.user.id,
    );
    await ctx.db
      .updateTable("attachments")
      .set({ removed_at: Date.now(), removed_by: researcher.user.id })
      .where("id", "=", removed.id)
      .execute();
    const second = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: org.id,
      assigneeId: triager.user.id,
      severity: "high",
      cvssScore: 7.5,
      title: "Prescriptions listed for any patient number",
    });
    await withCode(second.id);
    notified = second.publicId;
    // A case with twelve organizations: the CERT's panel has one line each.
    const crowdedReport = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "vendor_notified",
      organizationId: org.id,
      title: "Booking IDs readable in a product deployed by many portals",
    });
    crowded = crowdedReport.publicId;
    for (let i = 1; i <= 11; i++) {
      const vendor = await createOrg(ctx, `Deploying portal ${i}`);
      await ctx.db
        .insertInto("participations")
        .values({
          report_id: crowdedReport.id,
          organization_id: vendor.id,
          added_at: Date.now(),
          notified_at: Date.now(),
        })
        .execute();
    }
    await ctx.db
      .insertInto("org_case_grants")
      .values({
        org_id: org.id,
        user_id: contact.user.id,
        report_id: second.id,
        granted_at: Date.now(),
        granted_by: orgAdmin.user.id,
      })
      .execute();
    const third = await insertPublishableReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      cvssVector: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
      title: "Lab results exposed",
    });
    published = third.publicId;
    const staff = await signedIn(ctx, triager);
    await publishAdvisory(staff, published, {
      summary: `Lab results of any patient could be read.\n\n${LONG_CODE}`,
      cveId: "CVE-2026-12345",
    });
    const comment = await staff.post(`/reports/${notified}/comments`, {
      body: LONG_CODE,
      audience: "researcher",
    });
    assert.ok([303, 200].includes(comment.status), comment.text);

    // A report mailed in: its receipt carries the link that claims it.
    const sender = "finder@researcher.example.test";
    const mailed = await handleIntakeMail(
      ctx.deps,
      inboundMail({
        recipients: [`security@${DOMAIN}`],
        from: sender,
        envelopeFrom: sender,
        subject: "IDOR in the lab results portal",
        text: LONG_CODE,
      }),
    );
    assert.equal(mailed?.kind, "posted", JSON.stringify(mailed));
    const receipt = await ctx.db
      .selectFrom("outbox")
      .select("text_body")
      .where("to_address", "=", sender)
      .executeTakeFirstOrThrow();
    claimPath = /http:\/\/localhost:3000(\/claim\/[\w-]+)/.exec(
      receipt.text_body,
    )![1]!;
    // A held reply with the long unbroken lines mail has (References), and
    // its twin on the timeline as a comment by email.
    inbound = await insertHeldMail(ctx, researcher.email, second.id, [
      `References: ${Array.from({ length: 8 }, (_, i) => `<${"r".repeat(40)}${i}@mail.example.test>`).join(" ")}`,
      `X-Long-Token: ${"x".repeat(300)}`,
    ]);
    const report = (await findReportById(ctx.db, second.id))!;
    await addCommentByMail(
      ctx.deps,
      toActor(researcher.user),
      report,
      { body: "Retested from my phone: still readable." },
      {
        messageId: inbound.messageId,
        encrypted: true,
        signedBy: "0123456789ABCDEF0123456789ABCDEF01234567",
      },
    );
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
  });

  it("visits every GET route of the app or names why it is no page", () => {
    // Checked last (see the final test); this one only proves the list is sane.
    const gets = listRoutes(ctx.app).filter((r) => r.method === "GET");
    for (const path of Object.keys(NOT_PAGES))
      assert.ok(
        gets.some((r) => r.path === path),
        `${path} is listed as no page but is no route any more`,
      );
  });

  /** Checks the page open now at both widths, axe and sideways scroll. */
  async function check(page: Page, route: string, label: string) {
    visited.add(route);
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize(viewport);
      const where = `${label} at ${viewport.width}px (${page.url()})`;
      const fits = (await page.evaluate(
        "document.scrollingElement.scrollWidth <= window.innerWidth",
      )) as boolean;
      if (!fits)
        problems.push(
          `${where} scrolls sideways: ${(await sidewaysOverflow(page)).join("; ")}`,
        );
      const violations = await seriousViolations(page);
      if (violations.length)
        problems.push(`${where}: ${JSON.stringify(violations)}`);
    }
  }

  async function visit(page: Page, route: string, url: string, who: string) {
    const res = await page.goto(`${baseUrl}${url}`);
    assert.ok(res, `${who} ${url}: no response`);
    // One-time links with a stale token explain themselves (400/410); any
    // other page must really be there.
    assert.ok(
      res.status() === 200 || /stale/.test(url),
      `${who} ${url}: ${res.status()}`,
    );
    assert.ok(res.status() < 500, `${who} ${url}: ${res.status()}`);
    assert.match(
      res.headers()["content-type"] ?? "",
      /text\/html/,
      `${who} ${url} is no page`,
    );
    await check(page, route, `${who} ${url}`);
  }

  async function signIn(
    who: TestUser,
    viewport = VIEWPORTS[1],
  ): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel("Email").fill(who.email);
    await page.getByLabel("Password").fill(who.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
    if (new URL(page.url()).pathname === "/login/2fa") {
      await check(page, "/login/2fa", "two-factor challenge");
      await ctx.db
        .updateTable("users")
        .set({ totp_last_step: null })
        .where("id", "=", who.user.id)
        .execute();
      await page.getByLabel("Code").fill(totpCode(ctx, who.totpSecret!));
      await page.getByRole("button", { name: "Verify" }).click();
      await page.waitForURL((url) => url.pathname !== "/login/2fa");
    }
    return { context, page };
  }

  it("anonymous: the public pages", async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[1] });
    const page = await context.newPage();
    const pages: [string, string][] = [
      ["/", "/"],
      ["/policy", "/policy"],
      ["/login", "/login"],
      ["/register", "/register"],
      ["/password/forgot", "/password/forgot"],
      ["/reports/new", "/reports/new"],
      ["/advisories", "/advisories"],
      ["/advisories/:id", `/advisories/${published}`],
      ["/acknowledgments", "/acknowledgments"],
      ["/stats", "/stats"],
      // One-time links (from the log or a mail); a stale one is explained.
      ["/setup", "/setup?token=stale"],
      ["/password/set", "/password/set?token=stale"],
      ["/verify-email", "/verify-email?token=stale"],
      // The claim link in the receipt of a report mailed in, and a dead one.
      ["/claim/:token", claimPath],
      ["/claim/:token", "/claim/stale"],
    ];
    for (const [route, url] of pages)
      await visit(page, route, url, "anonymous");
    await context.close();
  });

  it("a researcher: their reports, the form, a report with code, the correction, the letter, the account", async () => {
    const { context, page } = await signIn(researcher);
    const pages: [string, string][] = [
      ["/reports", "/reports"],
      ["/reports/new", "/reports/new"],
      ["/reports/:id", `/reports/${submitted}`],
      ["/reports/:id", `/reports/${notified}`],
      ["/reports/:id/edit", `/reports/${submitted}/edit`],
      ["/reports/:id/letter", `/reports/${published}/letter`],
      ["/account", "/account"],
      ["/account/2fa", "/account/2fa"],
    ];
    for (const [route, url] of pages)
      await visit(page, route, url, "researcher");
    // API tokens: the form with its errors, a new token shown once, the list.
    await page.goto(`${baseUrl}/account`);
    await page.getByRole("button", { name: "Create the token" }).click();
    await page.waitForLoadState();
    await check(page, "/account", "researcher: the token form's errors");
    await page.locator("#f-name").fill("Jira sync");
    await page.locator("#f-scope-reports-read").check();
    await page.getByRole("button", { name: "Create the token" }).click();
    await page.waitForLoadState();
    assert.match(await page.locator("#new-token").inputValue(), /^dd_pat_/);
    await check(page, "/account", "researcher: a new API token, shown once");
    await visit(page, "/account", "/account", "researcher with a token");
    await context.close();

    const other = await signIn(unconfirmed);
    await visit(
      other.page,
      "/verify-email/needed",
      "/verify-email/needed",
      "unconfirmed researcher",
    );
    await other.context.close();
  });

  it("a triager: queue, search, a report, its versions, staff statistics", async () => {
    const { context, page } = await signIn(triager);
    const pages: [string, string][] = [
      ["/queue", "/queue"],
      ["/search", "/search"],
      ["/search", "/search?q=appointments"],
      ["/reports/:id", `/reports/${submitted}`],
      ["/reports/:id", `/reports/${notified}`],
      ["/reports/:id", `/reports/${published}`],
      ["/reports/:id/revisions", `/reports/${submitted}/revisions`],
      ["/reports/:id", `/reports/${crowded}`],
      [
        "/reports/:id/participants/:org",
        `/reports/${crowded}/participants/${orgPublicId}`,
      ],
      ["/stats/staff", "/stats/staff"],
      ["/admin/inbound", "/admin/inbound"],
      ["/admin/inbound", "/admin/inbound?status=all"],
      ["/admin/inbound/:id", `/admin/inbound/${inbound.id}`],
      [
        "/admin/inbound/message/:messageId",
        `/admin/inbound/message/${encodeURIComponent(inbound.messageId)}`,
      ],
      ["/account", "/account"],
      ["/account/2fa", "/account/2fa"],
    ];
    for (const [route, url] of pages) await visit(page, route, url, "triager");
    await context.close();
  });

  it("an admin: users, organizations, audit log, outbox, settings, webhooks", async () => {
    const { context, page } = await signIn(admin);
    const pages: [string, string][] = [
      ["/admin/users", "/admin/users"],
      ["/orgs", "/orgs"],
      ["/orgs/:orgPublicId", `/orgs/${orgPublicId}`],
      ["/admin/audit", "/admin/audit"],
      ["/admin/outbox", "/admin/outbox"],
      ["/admin/settings", "/admin/settings"],
      ["/reports/:id", `/reports/${notified}`],
      ["/account", "/account"],
      ["/admin/webhooks", "/admin/webhooks"],
    ];
    for (const [route, url] of pages) await visit(page, route, url, "admin");

    // A webhook endpoint: the form refused (errors next to the fields), then
    // registered; its page shows the secret once, then its delivery log.
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.waitForLoadState();
    assert.match(await page.content(), /Choose at least one event/);
    await check(page, "/admin/webhooks", "admin, the webhook form refused");
    await page
      .getByLabel("URL")
      .fill(
        "https://93.184.216.34/hooks/disclosure-desk/a-rather-long-path-segment-0123456789abcdef",
      );
    await page.getByLabel(/report\.created/).check();
    await page.getByLabel(/comment\.added/).check();
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.waitForURL(/\/admin\/webhooks\/\w+$/);
    assert.match(await page.content(), /whsec_/);
    await check(page, "/admin/webhooks/:webhookId", "admin, a new endpoint");
    const webhookId = new URL(page.url()).pathname.split("/").pop()!;
    const endpoint = (await findEndpointByPublicId(ctx.db, webhookId))!;
    await insertDeliveries(ctx.db, [
      {
        endpointId: endpoint.id,
        eventId: "msg_bM2uYkR0cN1Xl4qZ8sVw3hTj",
        eventType: "report.created",
        reportId: null,
        payload: "{}",
        at: new Date(),
      },
    ]);
    const [delivery] = await ctx.db
      .selectFrom("webhook_deliveries")
      .select("id")
      .execute();
    await insertAttempt(ctx.db, {
      deliveryId: delivery!.id,
      at: new Date(),
      statusCode: null,
      error:
        "refused: hooks.example.org resolves to fd12:3456:789a:1:2:3:4:5 is a private address",
      durationMs: 3,
    });
    await insertAttempt(ctx.db, {
      deliveryId: delivery!.id,
      at: new Date(),
      statusCode: 503,
      error: "HTTP 503",
      durationMs: 120,
    });
    await visit(
      page,
      "/admin/webhooks/:webhookId",
      `/admin/webhooks/${webhookId}`,
      "admin",
    );
    assert.doesNotMatch(await page.content(), /whsec_/);
    await context.close();
  });

  it("an organization's contact: their reports and the case", async () => {
    const { context, page } = await signIn(contact);
    const pages: [string, string][] = [
      ["/org/reports", "/org/reports"],
      ["/reports/:id", `/reports/${notified}`],
      ["/account", "/account"],
    ];
    for (const [route, url] of pages) await visit(page, route, url, "contact");
    await context.close();
  });

  it("an organization's administrator: colleagues, who sees which case, webhooks", async () => {
    const { context, page } = await signIn(orgAdmin);
    const pages: [string, string][] = [
      // Their one organization's page, reached through the menu's address.
      ["/org/members", "/org/members"],
      ["/org/:orgPublicId/members", `/org/${orgPublicId}/members`],
    ];
    for (const [route, url] of pages)
      await visit(page, route, url, "organization administrator");
    // A refused form: the message next to the field, what was typed kept.
    await page.getByLabel("Report ID").fill("DD-0000-0000");
    await page.getByRole("button", { name: "Give case" }).click();
    await page.waitForLoadState();
    assert.equal(
      await page.getByLabel("Report ID").inputValue(),
      "DD-0000-0000",
    );
    assert.match(
      (await page.locator("#f-member-error").textContent()) ?? "",
      /Choose the colleague/,
    );
    await check(
      page,
      "/org/:orgPublicId/members",
      "organization administrator, refused case",
    );
    // Their organization's webhooks, and the account page listing them.
    for (const [route, url] of [
      ["/admin/webhooks", "/admin/webhooks"],
      ["/account", "/account"],
    ] as const)
      await visit(page, route, url, "organization administrator");
    await context.close();
  });

  it("no page scrolls sideways or has a serious axe violation, and none was forgotten", () => {
    const forgotten = listRoutes(ctx.app)
      .filter((r) => r.method === "GET")
      .map((r) => r.path)
      .filter((path) => !visited.has(path) && !(path in NOT_PAGES));
    assert.deepEqual(
      forgotten,
      [],
      "visit these pages above, or list them in NOT_PAGES with a reason",
    );
    assert.deepEqual(problems, []);
  });
});

import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, it } from "mocha";
import type { Browser } from "playwright-core";
import { Webhook } from "standardwebhooks";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
  signInStaff,
} from "../support/browser.js";
import {
  createTestContext,
  createUser,
  signedIn,
  TestClock,
  totpCode,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { reportFields, submitReport } from "../support/reports.js";
import { WebhookReceiver } from "../support/webhook-receiver.js";
import { createWebhookWorker } from "../../src/webhooks/delivery.js";

/**
 * An admin registers a webhook endpoint in a real browser (a receiver on
 * 127.0.0.1), copies the secret shown once, and reads the delivery log
 * after a report is filed and delivered. `npm run screenshots` saves the
 * README's pictures of both.
 */
describe("in a real browser: an admin's webhook endpoint", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let server: Server;
  let baseUrl = "";
  let browser: Browser;
  let receiver: WebhookReceiver;
  let admin: TestUser;

  before(async () => {
    ctx = await createTestContext({
      clock: new TestClock(Date.now()),
      env: { WEBHOOKS_ALLOW_LOOPBACK: "true" },
    });
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    receiver = await new WebhookReceiver().start();
    admin = await createUser(ctx, "admin", {
      displayName: "Ada Admin",
      email: "ada@cert.example.org",
    });
  });
  after(async () => {
    await browser?.close();
    await receiver?.stop();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
  });

  it("registers an endpoint, shows its secret once, and logs the deliveries", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    await signInStaff(page, baseUrl, admin, (secret) => totpCode(ctx, secret));
    await page.getByRole("link", { name: "Webhooks" }).first().click();
    await page.waitForURL(/\/admin\/webhooks$/);

    // A URL the desk will not call: refused next to the field, kept.
    await page.getByLabel("URL").fill("https://169.254.169.254/latest");
    await page.getByLabel(/report\.created/).check();
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.locator("#f-url-error").waitFor();
    assert.match(
      (await page.locator("#f-url-error").textContent()) ?? "",
      /link-local/,
    );
    assert.equal(
      await page.getByLabel("URL").inputValue(),
      "https://169.254.169.254/latest",
    );
    assert.equal(await page.getByLabel(/report\.created/).isChecked(), true);

    await page.getByLabel("URL").fill(receiver.url("/disclosure-desk"));
    await page
      .getByLabel("Description")
      .fill("Ticket tracker of the national CERT");
    await page.getByLabel(/report\.state_changed/).check();
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.waitForURL(/\/admin\/webhooks\/\w+$/);
    const secret = (
      (await page.locator("#webhook-secret").textContent()) ?? ""
    ).trim();
    assert.match(secret, /^whsec_/);
    const endpointUrl = page.url();
    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${width} px`);
    }
    assert.deepEqual(await seriousViolations(page), []);
    if (process.env.SCREENSHOTS === "1") {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.screenshot({
        path: "docs/screenshots/admin-webhook-secret.png",
        fullPage: true,
      });
    }

    // A researcher files a report; the worker delivers it; the log shows it.
    const researcher = await signedIn(ctx, await createUser(ctx, "researcher"));
    await researcher.refreshCsrf("/reports/new");
    const filed = await submitReport(researcher, reportFields());
    assert.equal(filed.status, 303);
    receiver.next.push("error");
    const worker = createWebhookWorker(ctx.deps);
    await worker.runOnce();
    ctx.clock.advance(60_000);
    await worker.runOnce();
    await worker.stop();
    assert.equal(receiver.received.length, 2);
    for (const got of receiver.received)
      new Webhook(secret).verify(got.body, got.headers);

    await page.goto(endpointUrl);
    assert.equal(await page.locator("#webhook-secret").count(), 0);
    const log = (await page.locator("table").textContent()) ?? "";
    assert.match(log, /report\.created/);
    assert.match(log, /HTTP 500/);
    assert.match(log, /HTTP 200/);
    assert.deepEqual(await seriousViolations(page), []);
    if (process.env.SCREENSHOTS === "1")
      await page.screenshot({
        path: "docs/screenshots/admin-webhook-log.png",
        fullPage: true,
      });
    await context.close();
  });
});

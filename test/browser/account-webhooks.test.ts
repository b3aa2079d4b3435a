import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, it } from "mocha";
import type { Browser } from "playwright-core";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
} from "../support/browser.js";
import { createOrg } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  TestClock,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/**
 * An organization's administrator, in a real browser: a token made on the
 * account page, a webhook endpoint registered for their organization from
 * the account page's link, then both listed on the account page.
 * `npm run screenshots` saves the README's picture of the two sections (the
 * token replaced by a placeholder first, so no token-shaped string is
 * committed).
 */
describe("in a real browser: tokens and webhooks on an organization administrator's account page", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let server: Server;
  let baseUrl = "";
  let browser: Browser;
  let orgAdmin: TestUser;
  let org: { id: number; publicId: string };

  before(async () => {
    ctx = await createTestContext({ clock: new TestClock(Date.now()) });
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    org = await createOrg(ctx, "Alpha Water Works");
    await createOrg(ctx, "Beta Power Grid");
    orgAdmin = await createUser(ctx, "org_contact", {
      orgIds: [org.id],
      email: "psirt@alpha.example.org",
      displayName: "Alpha PSIRT",
    });
    await ctx.db
      .updateTable("org_members")
      .set({ is_admin: 1 })
      .where("user_id", "=", orgAdmin.user.id)
      .execute();
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
  });

  it("makes a token, registers their organization's endpoint, and sees both on the account page", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel("Email").fill(orgAdmin.email);
    await page.getByLabel("Password").fill(orgAdmin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname !== "/login");

    await page.goto(`${baseUrl}/account`);
    const tokens = page.locator("section#tokens");
    await tokens.getByLabel("Name").fill("Jira sync");
    await page.locator('input[name="scopes"][value="reports:read"]').check();
    await tokens.getByRole("button", { name: "Create the token" }).click();
    await page.locator("#new-token").waitFor();

    const webhooks = page.locator("section#webhooks");
    assert.match(
      (await webhooks.textContent()) ?? "",
      /You have no webhook endpoints/,
    );
    await webhooks
      .getByRole("link", { name: "Register and manage webhook endpoints" })
      .click();
    await page.waitForURL(/\/admin\/webhooks$/);
    // Only their own organization is offered.
    const options = await page
      .locator("#f-organization option")
      .allTextContents();
    assert.deepEqual(options, ["Alpha Water Works"]);
    await page
      .getByLabel("URL")
      .fill("https://93.184.216.34/hooks/disclosure-desk");
    await page.getByLabel("Description").fill("Alpha's Jira");
    await page.getByLabel(/report\.state_changed/).check();
    await page.getByLabel(/comment\.added/).check();
    await page.getByRole("button", { name: "Register endpoint" }).click();
    await page.waitForURL(/\/admin\/webhooks\/\w+$/);
    const endpointPath = new URL(page.url()).pathname;

    await page.goto(`${baseUrl}/account`);
    const listed = ((await webhooks.textContent()) ?? "").replace(/\s+/g, " ");
    assert.match(listed, /https:\/\/93\.184\.216\.34\/hooks\/disclosure-desk/);
    assert.match(listed, /Alpha Water Works/);
    assert.match(listed, /Enabled/);
    assert.equal(
      await webhooks.locator(`a[href="${endpointPath}"]`).count(),
      1,
    );
    assert.match((await tokens.textContent()) ?? "", /Jira sync/);

    if (process.env.SCREENSHOTS === "1") {
      const top = (await tokens.boundingBox())!;
      const bottom = (await webhooks.boundingBox())!;
      await page.screenshot({
        path: "docs/screenshots/account-tokens-webhooks.png",
        fullPage: true,
        clip: {
          x: top.x,
          y: top.y,
          width: Math.max(top.width, bottom.width),
          height: bottom.y + bottom.height - top.y,
        },
      });
    }

    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${width} px`);
    }
    assert.deepEqual(await seriousViolations(page), []);
    await context.close();
  });
});

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
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  TestClock,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/**
 * An organization's contact creates an API token on the account page, in a
 * real browser: a name and two scopes, the token shown once, then listed
 * with its scopes and expiry; the token from the page sets the
 * organization's status on a case through the API. `npm run screenshots`
 * saves the README's picture of the token section (the token itself
 * replaced by a placeholder first, so no token-shaped string is committed).
 */
describe("in a real browser: API tokens on the account page", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let server: Server;
  let baseUrl = "";
  let browser: Browser;
  let contact: TestUser;
  let org: { id: number; publicId: string };
  let reportId = "";

  before(async () => {
    ctx = await createTestContext({ clock: new TestClock(Date.now()) });
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    org = await createOrg(ctx, "Alpha Water Works");
    contact = await createUser(ctx, "org_contact", {
      orgIds: [org.id],
      email: "psirt@alpha.example.org",
      displayName: "Alpha PSIRT",
    });
    const researcher = await createUser(ctx, "researcher");
    reportId = (
      await insertReport(ctx, {
        reporterId: researcher.user.id,
        state: "vendor_notified",
        organizationId: org.id,
      })
    ).publicId;
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
  });

  it("a contact creates a token, sees it once, and its tools set the organization's status with it", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel("Email").fill(contact.email);
    await page.getByLabel("Password").fill(contact.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname !== "/login");
    await page.goto(`${baseUrl}/account`);
    const panel = page.locator("section#tokens");

    // No scope chosen: refused next to the field, the name kept.
    await panel.getByLabel("Name").fill("PSIRT tracker sync");
    await panel.getByRole("button", { name: "Create the token" }).click();
    await page.locator("#f-scopes-error").waitFor();
    assert.equal(
      await page.locator("section#tokens").getByLabel("Name").inputValue(),
      "PSIRT tracker sync",
    );

    await page.locator('input[name="scopes"][value="reports:read"]').check();
    await page.locator('input[name="scopes"][value="workflow:write"]').check();
    await page
      .locator("section#tokens")
      .getByLabel("Expires after (days)")
      .fill("30");
    await page
      .locator("section#tokens")
      .getByRole("button", { name: "Create the token" })
      .click();
    const shown = page.locator("#new-token");
    await shown.waitFor();
    const token = await shown.inputValue();
    assert.match(token, /^dd_pat_/);
    const text = ((await panel.textContent()) ?? "").replace(/\s+/g, " ");
    assert.match(text, /shown only this once/);
    assert.match(text, /PSIRT tracker sync/);
    assert.match(text, /workflow:write/);
    if (process.env.SCREENSHOTS === "1") {
      // As the person saw it, with a placeholder where the secret is.
      await page.evaluate(() => {
        const input = document.querySelector<HTMLInputElement>("#new-token");
        if (input) input.value = "dd_pat_" + "•".repeat(32);
      });
      await panel.screenshot({ path: "docs/screenshots/account-tokens.png" });
    }

    // The tools use it: the organization's status, as on its report page.
    const put = await fetch(
      `${baseUrl}/api/v1/reports/${reportId}/participants/${org.publicId}/status`,
      {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ status: "investigating" }),
      },
    );
    assert.equal(put.status, 200, await put.clone().text());
    const body = (await put.json()) as {
      participants: { organization: { id: string }; status: string }[];
    };
    assert.equal(body.participants[0]!.status, "investigating");

    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${width} px`);
    }
    assert.deepEqual(await seriousViolations(page), []);
    // Back on the page, the token is not shown again; the list keeps it.
    await page.goto(`${baseUrl}/account`);
    assert.equal(await page.locator("#new-token").count(), 0);
    assert.match((await panel.textContent()) ?? "", /PSIRT tracker sync/);
    await context.close();
  });
});

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
import { Gpg } from "../support/gpg.js";
import {
  createTestContext,
  createUser,
  TestClock,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/**
 * A researcher adds their OpenPGP key on the account page, in a real
 * browser: a key made by GnuPG, pasted into the `pgp_public_key` field,
 * refused with the reason when it is for another address, then saved and
 * shown with its fingerprint and expiry. `npm run screenshots` saves the
 * README's picture of it.
 */
describe("in a real browser: the OpenPGP key on the account page", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let server: Server;
  let baseUrl = "";
  let browser: Browser;
  let researcher: TestUser;
  let gpg: Gpg;
  let fingerprint = "";
  let elsewhere = "";

  before(async () => {
    ctx = await createTestContext({ clock: new TestClock(Date.now()) });
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    researcher = await createUser(ctx, "researcher", {
      email: "rita@researcher.example.org",
      displayName: "Rita",
    });
    gpg = new Gpg();
    fingerprint = gpg.generate(`Rita Researcher <${researcher.email}>`, {
      expire: "2y",
    });
    elsewhere = gpg.generate("Someone Else <someone@elsewhere.example.org>");
    ctx.clock.ms = Date.now(); // the keys are not from the future
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
    gpg?.remove();
  });

  it("a researcher pastes a gpg key, is told what is wrong with the wrong one, saves theirs and sees its fingerprint and expiry", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel("Email").fill(researcher.email);
    await page.getByLabel("Password").fill(researcher.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname !== "/login");
    await page.goto(`${baseUrl}/account`);
    const panel = page.locator("section.panel", {
      has: page.getByRole("heading", { name: "Encrypted mail (OpenPGP)" }),
    });

    // A key for another address: refused next to the field, the text kept.
    const wrong = gpg.exportPublic(elsewhere);
    await page.getByLabel("Your OpenPGP public key").fill(wrong);
    await page.getByRole("button", { name: "Save the key" }).click();
    await page.locator("#f-pgp_public_key-error").waitFor();
    assert.match(
      (await page.locator("#f-pgp_public_key-error").textContent()) ?? "",
      /no valid user ID for your address/,
    );
    assert.equal(
      (await page.getByLabel("Your OpenPGP public key").inputValue()).trim(),
      wrong.trim(),
    );

    // Their own key: saved, shown with its fingerprint and expiry.
    await page
      .getByLabel("Your OpenPGP public key")
      .fill(gpg.exportPublic(fingerprint));
    await page.getByRole("button", { name: "Save the key" }).click();
    await panel.getByText("Fingerprint").waitFor();
    const text = ((await panel.textContent()) ?? "").replace(/\s+/g, " ");
    assert.ok(
      text.includes(fingerprint.match(/.{4}/g)!.join(" ")),
      `fingerprint shown: ${text}`,
    );
    const expires = (
      (await panel.locator("dt:text-is('Expires') + dd").textContent()) ?? ""
    ).trim();
    assert.notEqual(expires, "never");
    assert.match(expires, new RegExp(String(new Date().getUTCFullYear() + 2)));
    assert.match(text, /Mail about your reports is encrypted to this key/);

    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${width} px`);
    }
    assert.deepEqual(await seriousViolations(page), []);
    if (process.env.SCREENSHOTS === "1") {
      await page.setViewportSize({ width: 1280, height: 900 });
      await panel.screenshot({ path: "docs/screenshots/account-key.png" });
    }
    await context.close();
  });
});

import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, it } from "mocha";
import type { Browser, Page } from "playwright-core";
import { ingestMail, type IngestDeps } from "../../src/inbound/ingest.js";
import { findInboundById } from "../../src/inbound/repository.js";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
} from "../support/browser.js";
import { insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  TestClock,
  totpCode,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { noDns } from "../support/inbound.js";

const DOMAIN = "desk.example.test";

/**
 * The Inbound mail page as a triager uses it, in a real browser: the held
 * list, a message, and a release confirmed by ticking the box found by its
 * label. `npm run screenshots` saves the README's pictures of it.
 */
describe("in a real browser: the Inbound mail page", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let deps: IngestDeps;
  let server: Server;
  let baseUrl = "";
  let browser: Browser;
  let page: Page;
  let triager: TestUser;
  let researcher: TestUser;
  let reportPublicId = "";
  let heldId = 0;

  async function screenshot(name: string) {
    if (process.env.SCREENSHOTS !== "1") return;
    await page.screenshot({
      path: `docs/screenshots/${name}.png`,
      fullPage: true,
    });
  }

  async function fits(label: string) {
    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${label} ${width}`);
    }
    assert.deepEqual(await seriousViolations(page), [], label);
  }

  before(async () => {
    ctx = await createTestContext({
      env: { MAIL_DOMAIN: DOMAIN },
      clock: new TestClock(Date.now()),
    });
    deps = { ...ctx.deps, dnsResolver: noDns };
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    triager = await createUser(ctx, "triager", { displayName: "Tom" });
    researcher = await createUser(ctx, "researcher", { displayName: "Rhea" });
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
      title: "Appointments readable by changing the booking ID",
    });
    reportPublicId = report.publicId;
    const { address } = await replyAddressing(
      ctx.db,
      ctx.config,
      researcher.user.id,
      report.id,
      ctx.clock.now(),
    );
    const mail = (
      from: string,
      id: string,
      subject: string,
      body: string,
      extra: string[] = [],
    ) =>
      Buffer.from(
        [
          `From: <${from}>`,
          `To: <${address}>`,
          `Subject: ${subject}`,
          `Message-ID: <${id}@mail.example.test>`,
          ...extra,
          "Content-Type: text/plain; charset=utf-8",
          "",
          body,
          "",
        ].join("\r\n"),
      );
    const receive = async (raw: Buffer, from: string) =>
      (await ingestMail(deps, raw, { from, recipients: [address] })).inboundId!;
    await receive(
      mail(
        researcher.email,
        "posted",
        "Re: [DD] More information needed",
        "The booking ID is sequential; 4712 and 4713 are two patients.",
      ),
      researcher.email,
    );
    await receive(
      mail(researcher.email, "away", "Out of office", "Back on Monday.", [
        "Auto-Submitted: auto-replied",
      ]),
      researcher.email,
    );
    heldId = await receive(
      mail(
        "rhea.private@example.org",
        "other-address",
        "Re: [DD] Fix deployed, please retest",
        "Retested from my private address: fixed.",
      ),
      "rhea.private@example.org",
    );
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
  });

  it("a triager reads the held list and a message, and releases it on their word", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    page = await context.newPage();
    await page.goto(`${baseUrl}/login`);
    await page.getByLabel("Email").fill(triager.email);
    await page.getByLabel("Password").fill(triager.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByLabel("Code").fill(totpCode(ctx, triager.totpSecret!));
    await page.getByRole("button", { name: "Verify" }).click();
    await page.waitForURL((url) => url.pathname !== "/login/2fa");

    await page.getByRole("link", { name: "Inbound mail" }).first().click();
    await page.getByRole("heading", { name: "Inbound mail" }).waitFor();
    const list = (await page.textContent("main")) ?? "";
    assert.match(list, /Re: \[DD\] Fix deployed, please retest/);
    assert.doesNotMatch(list, /Out of office/, "held mail first");
    await fits("the held list");
    await page.getByLabel("Status", { exact: true }).selectOption("all");
    await page.getByRole("button", { name: "Show messages" }).click();
    await page.getByText("Out of office").waitFor();
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot("admin-inbound");

    await page
      .getByRole("link", { name: "Re: [DD] Fix deployed, please retest" })
      .click();
    await page.getByText("Retested from my private address: fixed.").waitFor();
    await fits("a held message");
    await page.setViewportSize({ width: 1280, height: 900 });
    await screenshot("admin-inbound-message");
    await page
      .getByLabel(
        /I checked that this message really comes from the account holder/,
      )
      .check();
    await page.getByRole("button", { name: "Release" }).click();
    await page.getByText("The message was released and posted.").waitFor();
    assert.equal((await findInboundById(ctx.db, heldId))!.status, "posted");

    await page.getByRole("link", { name: reportPublicId }).first().click();
    const timeline = (await page.textContent("#timeline")) ?? "";
    assert.match(timeline, /Retested from my private address: fixed\./);
    assert.match(timeline, /By email/);
    await context.close();
  });
});

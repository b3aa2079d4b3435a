import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import type { Browser, Page } from "playwright-core";
import { databaseFile, openDatabase, type Db } from "../../src/db/index.js";
import { launchChromium, seriousViolations } from "../support/browser.js";
import { insertReport } from "../support/fixtures.js";
import {
  createUser,
  TestClock,
  testConfig,
  type TestUser,
} from "../support/harness.js";
import { startApp, type RunningApp } from "../support/server-process.js";

/**
 * A researcher whose report needs information sees it on "My reports",
 * opens the report and answers from the top of the page, in a real browser
 * against the built server, axe run on every page.
 */
describe("in a real browser: the researcher answers a request for information", function () {
  this.timeout(120_000);
  let app: RunningApp;
  let browser: Browser;
  let db: Db;
  let researcher: TestUser;
  let publicId = "";

  before(async () => {
    app = await startApp();
    browser = await launchChromium();
    ({ db } = openDatabase(databaseFile(app.dataDir)));
    const ctx = {
      db,
      config: testConfig(app.dataDir),
      clock: new TestClock(Date.now()),
    };
    researcher = await createUser(ctx, "researcher", {
      displayName: "Rhea",
    });
    const triager = await createUser(ctx, "triager");
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "needs_info",
      title: "Appointments readable by changing the booking ID",
    });
    publicId = report.publicId;
    const now = Date.now();
    await db
      .updateTable("reports")
      .set({ state_before_info: "acknowledged", info_requested_at: now })
      .where("id", "=", report.id)
      .execute();
    await db
      .insertInto("report_events")
      .values({
        report_id: report.id,
        actor_id: triager.user.id,
        kind: "transition",
        action: "request_info",
        from_state: "acknowledged",
        to_state: "needs_info",
        visibility: "public",
        audience: "researcher",
        body: "Which booking page shows another patient's appointment?",
        created_at: now,
      })
      .execute();
  });

  after(async () => {
    await db?.destroy();
    await browser?.close();
    await app?.stop();
  });

  async function accessible(page: Page, label: string) {
    const violations = await seriousViolations(page);
    assert.deepEqual(violations, [], `${label}: ${JSON.stringify(violations)}`);
  }

  it("finds the report waiting, reads the question at the top and answers it there", async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    await page.goto(`${app.baseUrl}/login`);
    await page.getByLabel("Email").fill(researcher.email);
    await page.getByLabel("Password").fill(researcher.password);
    await page.getByRole("button", { name: "Sign in" }).click();

    await page.goto(`${app.baseUrl}/reports`);
    await accessible(page, "my reports");
    const waiting = page.locator("section", {
      has: page.getByRole("heading", { name: "Waiting for you" }),
    });
    await waiting.getByText("Answer the CERT's question").waitFor();
    await waiting.getByRole("link", { name: publicId }).click();

    await page.waitForURL(new RegExp(`/reports/${publicId}$`));
    await accessible(page, "report needing information");
    const box = page.locator("section", {
      has: page.getByRole("heading", {
        name: "The CERT needs information from you",
      }),
    });
    await box
      .getByText("Which booking page shows another patient's appointment?")
      .waitFor();
    // The question comes before the details of the report.
    const order = await page.evaluate(`(() => {
      const q = document.getElementById("info-request-title");
      const d = document.getElementById("details-title");
      return !!(q.compareDocumentPosition(d) & Node.DOCUMENT_POSITION_FOLLOWING);
    })()`);
    assert.equal(order, true);

    // An empty answer is refused next to the box, on the same page.
    await box.getByRole("button", { name: "Send my answer" }).click();
    await page.locator("#f-answer-body-error").waitFor();
    await accessible(page, "answer refused");

    await page
      .getByLabel("Your answer")
      .fill("The booking page at /booking?id=1234, any signed-in patient.");
    await page.getByRole("button", { name: "Send my answer" }).click();
    await page.getByText("Your answer was sent to the CERT").waitFor();
    await accessible(page, "answered");
    assert.equal(
      await page.locator(".report-head .badge").first().textContent(),
      "Acknowledged",
    );
    assert.equal(await page.locator("#info-request-title").count(), 0);
    await page.getByText("answered the request for information").waitFor();
    await context.close();
  });
});

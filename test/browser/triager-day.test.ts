import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { databaseFile, openDatabase, type Db } from "../../src/db/index.js";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
  signInStaff,
} from "../support/browser.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createUser,
  TestClock,
  testConfig,
  totpCode,
  type TestUser,
} from "../support/harness.js";
import { startApp, type RunningApp } from "../support/server-process.js";

const DAY = 86_400_000;

/**
 * A triager's day, in a real browser against the built server: a queue of
 * 60 open reports, a built-in view, a view of their own saved and used
 * again, a bulk acknowledgment through its confirmation, and the keyboard.
 * Every page visited is axe clean and fits 375 px and 1440 px.
 */
describe("in a real browser: a triager's day with 60 reports", function () {
  this.timeout(180_000);
  let app: RunningApp;
  let browser: Browser;
  let db: Db;
  let triager: TestUser;
  let context: BrowserContext;
  let page: Page;

  /** Axe clean and no sideways scroll at phone and desktop widths. */
  async function fitsAndAccessible(label: string) {
    for (const width of [375, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${label} ${width}`);
      assert.deepEqual(await seriousViolations(page), [], `${label} ${width}`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  }

  async function screenshot(name: string) {
    if (process.env.SCREENSHOTS !== "1") return;
    await page.screenshot({ path: `docs/screenshots/${name}.png` });
  }

  const stateOf = async (publicId: string) =>
    (
      await db
        .selectFrom("reports")
        .select("state")
        .where("public_id", "=", publicId)
        .executeTakeFirstOrThrow()
    ).state;

  before(async () => {
    app = await startApp();
    browser = await launchChromium();
    ({ db } = openDatabase(databaseFile(app.dataDir)));
    const ctx = {
      db,
      config: testConfig(app.dataDir),
      clock: new TestClock(Date.now()),
    };
    const researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager", { displayName: "Tess" });
    const org = await createOrg(ctx, "Harbour Hospital");
    const states = ["submitted", "acknowledged", "triaged"] as const;
    for (let i = 0; i < 60; i++) {
      const state = states[i % states.length]!;
      await insertReport(ctx, {
        reporterId: researcher.user.id,
        state,
        organizationId: state === "triaged" ? org.id : undefined,
        severity: state === "triaged" ? "high" : undefined,
        title: `Booking ${i}: another patient's appointment shown for a changed ID`,
        createdAt: new Date(Date.now() - (i % 9) * DAY),
      });
    }
    context = await browser.newContext({
      viewport: { width: 1280, height: 800 },
    });
    page = await context.newPage();
    await signInStaff(page, app.baseUrl, triager, (secret) =>
      totpCode(ctx, secret),
    );
    await page.waitForURL(/\/queue/);
  });

  after(async () => {
    await context?.close();
    await db?.destroy();
    await browser?.close();
    await app?.stop();
  });

  it("opens on the open reports, due soonest first, with the overdue marked", async () => {
    await page.goto(`${app.baseUrl}/queue`);
    const rows = page.locator("tr.queue-row");
    assert.equal(await rows.count(), 25, "the first page of 60");
    assert.match(await page.locator("main").innerText(), /Overdue/);
    await screenshot("triager-queue");
    await fitsAndAccessible("queue");
  });

  it("uses a built-in view, then saves one of their own and finds it again", async () => {
    await page.getByRole("link", { name: "Unassigned", exact: true }).click();
    await page.waitForURL(/\/queue\?/);
    assert.equal(
      await page
        .getByRole("link", { name: "Unassigned", exact: true })
        .getAttribute("aria-current"),
      "page",
    );

    await page.goto(`${app.baseUrl}/queue`);
    await page.getByLabel("State").selectOption({ label: "Submitted" });
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/state=submitted/);
    await page.locator("details.save-view > summary").click();
    await page.getByLabel("Name of the view").fill("New reports to read");
    await page.getByRole("button", { name: "Save view" }).click();
    const mine = page.getByRole("link", { name: "New reports to read" });
    await mine.waitFor();
    await fitsAndAccessible("queue with a saved view");

    await page.goto(`${app.baseUrl}/queue`);
    await mine.click();
    await page.waitForURL(/view=/);
    assert.equal(await mine.getAttribute("aria-current"), "page");
    const states = await page.locator("tr.queue-row").allInnerTexts();
    assert.equal(states.length, 20, "the 20 submitted reports");
    assert.ok(states.every((row) => row.includes("Submitted")));
  });

  it("acknowledges three reports at once after one confirmation", async () => {
    const picked = await page
      .locator("tr.queue-row input[name=ids]")
      .evaluateAll((boxes) =>
        boxes.slice(0, 3).map((b) => (b as HTMLInputElement).value),
      );
    for (const id of picked) await page.locator(`#pick-${id}`).check();
    await page.locator("#bulk-action").selectOption("acknowledge");
    await page.getByRole("button", { name: "Review changes" }).click();
    await page.waitForURL(/\/reports\/bulk$/);
    const text = await page.locator("main").innerText();
    for (const id of picked)
      assert.ok(text.includes(`${id}: Submitted → Acknowledged`), text);
    // Nothing happens before the confirmation.
    for (const id of picked) assert.equal(await stateOf(id), "submitted");
    await screenshot("bulk-confirm");
    await fitsAndAccessible("bulk confirmation");

    await page.getByRole("button", { name: "Apply to 3 reports" }).click();
    await page.waitForURL(/\/queue$/);
    await page.getByText("Done: 3 reports acknowledged.").waitFor();
    for (const id of picked) assert.equal(await stateOf(id), "acknowledged");
    // Each report has its own timeline entry.
    const entries = await db
      .selectFrom("report_events")
      .innerJoin("reports", "reports.id", "report_events.report_id")
      .select("reports.public_id")
      .where("report_events.action", "=", "acknowledge")
      .execute();
    assert.deepEqual(
      entries.map((e) => e.public_id).sort(),
      [...picked].sort(),
    );
  });

  it("moves with j and k and opens a report with o", async () => {
    await page.goto(`${app.baseUrl}/queue`);
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    const current = await page
      .locator("tr.queue-row.current input[name=ids]")
      .inputValue();
    assert.equal(
      current,
      await page.locator("tr.queue-row input[name=ids]").first().inputValue(),
    );
    await page.keyboard.press("o");
    await page.waitForURL(new RegExp(`/reports/${current}$`));
    await fitsAndAccessible("report page (staff)");
  });
});

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
import { insertReport } from "../support/fixtures.js";
import {
  createUser,
  TestClock,
  testConfig,
  totpCode,
  type TestUser,
} from "../support/harness.js";
import { startApp, type RunningApp } from "../support/server-process.js";

/**
 * A bulk action from the queue's checkboxes, in a real browser and without
 * writing any field by hand: the confirmation page asks for the assignee,
 * shows each change, and applies them (axe clean, no sideways scroll at
 * 375 and 1440 px).
 */
describe("in a real browser: a bulk action from the queue", function () {
  this.timeout(120_000);
  let app: RunningApp;
  let browser: Browser;
  let db: Db;
  let triager: TestUser;
  let context: BrowserContext;
  let page: Page;
  const ids: string[] = [];

  const fitsAndAxeClean = async () => {
    for (const width of [375, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${width} px`);
      assert.deepEqual(await seriousViolations(page), [], `${width} px`);
    }
  };

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
    await createUser(ctx, "triager", { displayName: "Colm" });
    for (let i = 0; i < 4; i++)
      ids.push(
        (
          await insertReport(ctx, {
            reporterId: researcher.user.id,
            title: `Booking ${i} readable by changing its ID`,
          })
        ).publicId,
      );
    context = await browser.newContext({
      viewport: { width: 1440, height: 900 },
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

  it("assigns three reports to a colleague after one confirmation", async () => {
    await page.goto(`${app.baseUrl}/queue`);
    const picked = ids.slice(0, 3);
    for (const id of picked) await page.locator(`#pick-${id}`).check();
    await page.locator("#bulk-action").selectOption("assign");
    await page.getByRole("button", { name: "Review changes" }).click();
    await page.waitForURL(/\/reports\/bulk$/);

    // The queue sends no assignee: the confirmation page asks for one.
    await page.getByLabel("Assign to").selectOption({ label: "Colm" });
    await fitsAndAxeClean();
    await page.getByRole("button", { name: "Show what will change" }).click();
    const text = await page.locator("main").innerText();
    for (const id of picked)
      assert.ok(text.includes(`${id}: Assignment → Colm`), text);
    assert.ok(!text.includes(ids[3]!), "the report not ticked is left alone");
    await fitsAndAxeClean();

    await page.getByRole("button", { name: "Apply to 3 reports" }).click();
    await page.waitForURL(/\/queue$/);
    assert.match(await page.locator("main").innerText(), /3 reports assigned/);
    const rows = await db
      .selectFrom("reports")
      .innerJoin("users", "users.id", "reports.assignee_id")
      .select(["reports.public_id", "users.display_name"])
      .execute();
    assert.deepEqual(rows.map((r) => r.public_id).sort(), [...picked].sort());
    assert.ok(rows.every((r) => r.display_name === "Colm"));
  });
});

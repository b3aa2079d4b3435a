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

/** A triager working a queue of 60 open reports, in a real browser. */
describe("in a real browser: the triager's queue", function () {
  this.timeout(120_000);
  let app: RunningApp;
  let browser: Browser;
  let db: Db;
  let triager: TestUser;
  let context: BrowserContext;
  let page: Page;

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
        title: `Appointment ${i} readable by anyone who changes the booking ID in the portal's address`,
        createdAt: new Date(Date.now() - (i % 7) * DAY),
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

  it("shows at least 15 reports on a 1280×800 screen, one line each", async () => {
    await page.goto(`${app.baseUrl}/queue`);
    const inView = await page.evaluate(`(() => {
      const rows = [...document.querySelectorAll("table.queue-table tbody tr")];
      const h = window.innerHeight;
      return rows.filter((r) => {
        const b = r.getBoundingClientRect();
        return b.top >= 0 && b.bottom <= h;
      }).length;
    })()`);
    assert.ok((inView as number) >= 15, `${inView} rows in the viewport`);
    // One line per report: every row as tall as the first.
    const heights = (await page.evaluate(`[...document.querySelectorAll(
      "table.queue-table tbody tr")].map((r) => Math.round(r.getBoundingClientRect().height))`)) as number[];
    assert.equal(heights.length, 25);
    assert.ok(
      heights.every((h) => h <= 30),
      heights.join(","),
    );
    assert.deepEqual(await seriousViolations(page), []);
    assert.deepEqual(await sidewaysOverflow(page), []);
    // On a phone the table scrolls inside its own box; the page does not.
    await page.setViewportSize({ width: 375, height: 800 });
    assert.deepEqual(await sidewaysOverflow(page), []);
    assert.deepEqual(await seriousViolations(page), []);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("works from the keyboard: j/k move, ? lists the shortcuts, / searches, a assigns to me, o opens", async () => {
    await page.goto(`${app.baseUrl}/queue`);
    const current = () =>
      page.evaluate(`(() => {
        const rows = [...document.querySelectorAll("table.queue-table tr.queue-row")];
        return rows.findIndex((r) => r.classList.contains("current"));
      })()`) as Promise<number>;
    const currentId = () =>
      page.evaluate(
        `document.querySelector("tr.queue-row.current input[name=ids]").value`,
      ) as Promise<string>;

    assert.equal(await current(), -1);
    await page.keyboard.press("j");
    assert.equal(await current(), 0);
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    assert.equal(await current(), 2);
    await page.keyboard.press("k");
    assert.equal(await current(), 1);
    // The marker is visible, and the row's link has the focus.
    const marked = await page.evaluate(`(() => {
      const row = document.querySelector("tr.queue-row.current");
      return getComputedStyle(row).outlineStyle + " " +
        (document.activeElement === row.querySelector("a"));
    })()`);
    assert.equal(marked, "solid true");

    // ? opens the list of shortcuts; so does the visible button.
    await page.keyboard.press("?");
    const dialog = page.getByRole("dialog", { name: "Keyboard shortcuts" });
    await dialog.waitFor();
    await dialog.getByText("Assign the report to me").waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Keyboard shortcuts" }).click();
    await dialog.waitFor();
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "hidden" });

    // / goes to the search box; keys typed there are text, not shortcuts.
    await page.keyboard.press("/");
    assert.equal(
      await page.evaluate(`document.activeElement.id`),
      "queue-search",
    );
    await page.keyboard.type("jko");
    assert.equal(await page.inputValue("#queue-search"), "jko");
    assert.equal(await current(), 1);
    assert.ok(page.url().endsWith("/queue"));

    // a assigns the current report to me, with the CSRF token, and the queue says so.
    await page.locator("tr.queue-row.current a").first().focus();
    const id = await currentId();
    await Promise.all([page.waitForEvent("load"), page.keyboard.press("a")]);
    await page.getByText("The report is assigned to you.").waitFor();
    const assignee = await page
      .locator("tr.queue-row", { has: page.locator(`input[value="${id}"]`) })
      .locator("td")
      .nth(6)
      .textContent();
    assert.equal(assignee?.trim(), "Tess");

    // x selects the current report for a bulk action.
    await page.keyboard.press("j");
    const picked = await currentId();
    await page.keyboard.press("x");
    assert.equal(
      await page.isChecked(`input[name="ids"][value="${picked}"]`),
      true,
    );
    await page.keyboard.press("k");

    // o opens the current report.
    await page.keyboard.press("j");
    const opened = await currentId();
    await page.keyboard.press("o");
    await page.waitForURL(new RegExp(`/reports/${opened}$`));
  });

  it("saves the filtered queue as a view and opens a built-in one", async () => {
    await page.goto(`${app.baseUrl}/queue?state=acknowledged`);
    await page.getByText("Save this view").click();
    await page.getByLabel("Name of the view").fill("Acknowledged ones");
    await page.getByRole("button", { name: "Save view" }).click();
    await page.waitForURL(/\/queue\?view=[0-9a-z]+$/);
    await page.getByText("The view “Acknowledged ones” was saved.").waitFor();
    const views = page.getByRole("navigation", { name: "Views" });
    assert.equal(
      await views
        .getByRole("link", { name: "Acknowledged ones" })
        .getAttribute("aria-current"),
      "page",
    );
    const states = await page.locator("tr.queue-row .badge").allTextContents();
    assert.ok(states.length > 0);
    assert.ok(
      states.every((t) => t.trim() === "Acknowledged"),
      states.join(),
    );
    assert.deepEqual(await seriousViolations(page), []);

    await views.getByRole("link", { name: "Unassigned" }).click();
    await page.waitForURL(/assignee=unassigned/);
    assert.equal(
      await views
        .getByRole("link", { name: "Unassigned" })
        .getAttribute("aria-current"),
      "page",
    );
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import type { Browser, Page } from "playwright-core";
import { databaseFile, openDatabase, type Db } from "../../src/db/index.js";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
} from "../support/browser.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import { createUser, TestClock, testConfig } from "../support/harness.js";
import { startApp, type RunningApp } from "../support/server-process.js";

const DAY = 86_400_000;

/** The public statistics page as a person sees it, on a phone and on a desktop. */
describe("in a real browser: public statistics", function () {
  this.timeout(120_000);
  let app: RunningApp;
  let browser: Browser;
  let db: Db;

  before(async () => {
    app = await startApp();
    browser = await launchChromium();
    // Reports written straight into the running server's database (WAL),
    // before the first visit computes the statistics.
    ({ db } = openDatabase(databaseFile(app.dataDir)));
    const ctx = {
      db,
      config: testConfig(app.dataDir),
      clock: new TestClock(Date.now()),
    };
    const researcher = await createUser(ctx, "researcher");
    const org = await createOrg(ctx, "Harbour Hospital");
    const states = ["submitted", "acknowledged", "triaged", "closed"] as const;
    for (let i = 0; i < 12; i++) {
      const createdAt = new Date(Date.now() - (i * 17 + 1) * DAY);
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        organizationId: org.id,
        // Half of them published: the public page counts only those.
        state: i < 6 ? "disclosed" : states[i % states.length],
        severity: ["critical", "high", "medium", "low"][i % 4]!,
        cwe: i % 3 ? "CWE-639" : "CWE-79",
        createdAt,
      });
      if (i < 6)
        await db
          .insertInto("advisories")
          .values({
            report_id: r.id,
            summary: "Fixed.",
            updated_at: Date.now(),
            published_at: Date.now() - i * DAY,
          })
          .execute();
      if (i % 4)
        await db
          .insertInto("report_events")
          .values({
            report_id: r.id,
            actor_id: null,
            kind: "transition",
            action: "acknowledge",
            from_state: "submitted",
            to_state: "acknowledged",
            visibility: "public",
            body: null,
            created_at: createdAt.getTime() + (i % 5) * DAY,
          })
          .execute();
    }
  });

  after(async () => {
    await db?.destroy();
    await browser?.close();
    await app?.stop();
  });

  async function open(width: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 800 } });
    const res = await page.goto(`${app.baseUrl}/stats`);
    assert.equal(res?.status(), 200);
    return page;
  }

  it("has no serious accessibility violations, on a desktop and with the tables open", async () => {
    const page = await open(1280);
    assert.equal(await page.locator('svg[role="img"]').count(), 3);
    assert.deepEqual(await seriousViolations(page), []);
    for (const summary of await page.locator("details > summary").all())
      await summary.click();
    assert.deepEqual(await seriousViolations(page), []);
    assert.ok(
      !(await page.content()).includes("Harbour Hospital"),
      "no organization on the public page",
    );
    await page.close();
  });

  it("does not scroll sideways at 375 px", async () => {
    const page = await open(375);
    assert.deepEqual(await sidewaysOverflow(page), []);
    for (const summary of await page.locator("details > summary").all())
      await summary.click();
    assert.deepEqual(await sidewaysOverflow(page), []);
    assert.deepEqual(await seriousViolations(page), []);
    await page.close();
  });
});

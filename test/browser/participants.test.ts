import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { after, before, describe, it } from "mocha";
import type { Browser, Page } from "playwright-core";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
  signInStaff,
} from "../support/browser.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  TestClock,
  totpCode,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

const VIEWPORTS = [
  { width: 375, height: 800 },
  { width: 1440, height: 900 },
] as const;

/**
 * The participants panel of a three-organization case as people use it in
 * a real browser: every form open, at phone and desktop width, axe clean;
 * a triager's disputed status without a reason is refused next to the
 * field with the choice kept, then taken.
 */
describe("in a real browser: the participants panel of a three-organization case", function () {
  this.timeout(180_000);
  let ctx: TestContext;
  let server: Server;
  let baseUrl = "";
  let browser: Browser;
  let triager: TestUser;
  let contactA: TestUser;
  let researcher: TestUser;
  let id = "";
  let gammaPublicId = "";

  before(async () => {
    ctx = await createTestContext({ clock: new TestClock(Date.now()) });
    server = ctx.app.listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    const a = await createOrg(ctx, "Alpha Water Works");
    const b = await createOrg(ctx, "Beta Power Grid Regional Operations");
    const c = await createOrg(ctx, "Gamma Health Portal");
    gammaPublicId = c.publicId;
    triager = await createUser(ctx, "triager", { displayName: "Tom" });
    researcher = await createUser(ctx, "researcher", { displayName: "Rhea" });
    contactA = await createUser(ctx, "org_contact", {
      displayName: "Olga",
      orgIds: [a.id],
    });
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "fix_in_progress",
      organizationId: a.id,
      severity: "high",
      cvssScore: 8.1,
    });
    id = report.publicId;
    const now = ctx.clock.now().getTime();
    await ctx.db
      .updateTable("participations")
      .set({ status: "affected", answered_at: now, tracking_id: "AWW-2027-12" })
      .where("report_id", "=", report.id)
      .execute();
    await ctx.db
      .insertInto("participations")
      .values([
        {
          report_id: report.id,
          organization_id: b.id,
          added_at: now,
          notified_at: now,
          status: "not_affected",
          answered_at: now,
          statement: "Beta does not ship the vulnerable module in any product.",
          statement_shared: 1,
          tracking_id: "BETA-PSIRT-0077-" + "X".repeat(40),
        },
        {
          report_id: report.id,
          organization_id: c.id,
          added_at: now,
          notified_at: now,
          status: "not_answered",
          answered_at: null,
          statement: null,
          statement_shared: 0,
          tracking_id: null,
        },
      ])
      .execute();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
    await ctx?.close();
  });

  async function checkBothWidths(page: Page, label: string) {
    const problems: string[] = [];
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize(viewport);
      const overflow = await sidewaysOverflow(page);
      if (overflow.length)
        problems.push(
          `${label} at ${viewport.width}px: ${overflow.join("; ")}`,
        );
      const violations = await seriousViolations(page);
      if (violations.length)
        problems.push(
          `${label} at ${viewport.width}px: ${JSON.stringify(violations)}`,
        );
    }
    assert.deepEqual(problems, []);
  }

  it("a triager sees every participant and its forms; a dispute needs a reason", async () => {
    const context = await browser.newContext({ viewport: VIEWPORTS[0] });
    const page = await context.newPage();
    await signInStaff(page, baseUrl, triager, (s) => totpCode(ctx, s));
    await page.goto(`${baseUrl}/reports/${id}#participants`);
    const panel = page.locator("#participants");
    await assert.doesNotReject(
      panel.getByText("2 of 3 answered", { exact: false }).first().waitFor(),
    );
    await page.evaluate(
      "document.querySelectorAll('#participants details').forEach((d) => { d.open = true; })",
    );
    await checkBothWidths(page, "triager, every form open");

    const gamma = page.locator(`#participant-${gammaPublicId}`);
    await gamma.getByLabel("Status").selectOption("disputed");
    await gamma.getByRole("button", { name: "Set the status" }).click();
    await page.waitForLoadState();
    const error = page.locator(`#status-reason-${gammaPublicId}-error`);
    assert.match(
      (await error.textContent()) ?? "",
      /Say why the organization disputes/,
    );
    // The choice is kept, and the form with the error is open.
    assert.equal(
      await page.locator(`#status-${gammaPublicId}`).inputValue(),
      "disputed",
    );
    await checkBothWidths(page, "triager, a refused status");
    await page
      .locator(`#status-reason-${gammaPublicId}`)
      .fill("The portal does not use the affected endpoint.");
    await page
      .locator(`#participant-${gammaPublicId}`)
      .getByRole("button", { name: "Set the status" })
      .click();
    await page.waitForLoadState();
    assert.match(
      (await page.locator(`#participant-${gammaPublicId}`).textContent()) ?? "",
      /Disputed/,
    );
    await context.close();
  });

  it("an organization's contact sees its own participation only; the researcher every name and status", async () => {
    for (const who of [contactA, researcher]) {
      const context = await browser.newContext({ viewport: VIEWPORTS[0] });
      const page = await context.newPage();
      await page.goto(`${baseUrl}/login`);
      await page.getByLabel("Email").fill(who.email);
      await page.getByLabel("Password").fill(who.password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.waitForURL((url) => url.pathname !== "/login");
      await page.goto(`${baseUrl}/reports/${id}`);
      await page.evaluate(
        "document.querySelectorAll('#participants details').forEach((d) => { d.open = true; })",
      );
      const text = (await page.locator("#participants").textContent()) ?? "";
      if (who === contactA) {
        assert.match(text, /Alpha Water Works/);
        assert.doesNotMatch(text, /Beta Power Grid|Gamma Health Portal/);
      } else {
        assert.match(text, /Beta Power Grid/);
        assert.match(text, /Gamma Health Portal/);
        assert.doesNotMatch(text, /BETA-PSIRT|AWW-2027/);
      }
      await checkBothWidths(
        page,
        who === contactA ? "contact A" : "researcher",
      );
      await context.close();
    }
  });
});

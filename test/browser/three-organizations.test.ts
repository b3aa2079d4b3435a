import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
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

/**
 * Issue 23's "done when", in a real browser against the built server: a
 * triager runs a case that affects three organizations from notification to
 * a published advisory. Each organization answers for itself and sees only
 * its own participation; the report's state follows the three answers; the
 * researcher confirms each fix; the advisory lists every organization with
 * its status and its approved statement. Every page is axe clean and fits a
 * phone (375 px) and a desktop (1440 px).
 */
describe("in a real browser: a case with three organizations", function () {
  this.timeout(240_000);
  let app: RunningApp;
  let browser: Browser;
  let db: Db;
  const contexts: BrowserContext[] = [];
  let triager: TestUser;
  let researcher: TestUser;
  const contacts: Record<"a" | "b" | "c", TestUser> = {} as never;
  const names = {
    a: "Harbour Hospital",
    b: "Valley Clinic",
    c: "Northern Health",
  } as const;
  let reportUrl = "";
  /** The triager signs in once: a second sign-in in the same 30 s would reuse the TOTP code, which the desk refuses. */
  let triagerPage: Page;
  let researcherPage: Page;
  let publicId = "";

  async function fitsAndAccessible(page: Page, label: string) {
    for (const width of [375, 1440]) {
      await page.setViewportSize({ width, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], `${label} ${width}`);
      assert.deepEqual(await seriousViolations(page), [], `${label} ${width}`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  }

  async function screenshot(target: Page | Locator, name: string) {
    if (process.env.SCREENSHOTS !== "1") return;
    await target.screenshot({ path: `docs/screenshots/${name}.png` });
  }

  async function person(): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    contexts.push(context);
    return context.newPage();
  }

  async function signIn(who: TestUser): Promise<Page> {
    const page = await person();
    if (who.totpSecret) {
      await signInStaff(page, app.baseUrl, who, (secret) =>
        totpCode({ clock: new TestClock(Date.now()) }, secret),
      );
      return page;
    }
    await page.goto(`${app.baseUrl}/login`);
    await page.getByLabel("Email").fill(who.email);
    await page.getByLabel("Password").fill(who.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL((url) => url.pathname !== "/login");
    return page;
  }

  /** Opens a staff step in the action area and presses its button. */
  async function takeStep(
    page: Page,
    label: string,
    fill?: (step: Locator) => Promise<void>,
  ) {
    const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const step = page.locator("details.step").filter({
      has: page.locator("> summary", {
        hasText: new RegExp(`^\\s*${escaped}( dangerous)?\\s*$`),
      }),
    });
    await step.locator("> summary").click();
    if (fill) await fill(step);
    await step.getByRole("button", { name: label, exact: true }).click();
  }

  const stateOf = async () =>
    (
      await db
        .selectFrom("reports")
        .select("state")
        .where("public_id", "=", publicId)
        .executeTakeFirstOrThrow()
    ).state;

  const panel = (page: Page) => page.locator("#participants");

  /** Opens an organization's forms on the panel ("Answer for …"). */
  async function formsOf(page: Page, org: string): Promise<Locator> {
    const row = panel(page).locator("li.participant").filter({ hasText: org });
    const details = row.locator("details");
    if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open)))
      await details.locator("> summary").click();
    return row;
  }

  /** An organization's contact sets its status from its own panel. */
  async function answer(page: Page, org: string, status: string) {
    await page.goto(reportUrl);
    const row = await formsOf(page, org);
    await row.getByLabel("Status").selectOption({ label: status });
    await row.getByRole("button", { name: "Set the status" }).click();
    await page.waitForLoadState("load");
  }

  before(async () => {
    app = await startApp();
    browser = await launchChromium();
    ({ db } = openDatabase(databaseFile(app.dataDir)));
    const ctx = {
      db,
      config: testConfig(app.dataDir),
      clock: new TestClock(Date.now()),
    };
    triager = await createUser(ctx, "triager", { displayName: "Tess" });
    researcher = await createUser(ctx, "researcher", { displayName: "Rhea" });
    for (const key of ["a", "b", "c"] as const) {
      const org = await createOrg(ctx, names[key]);
      contacts[key] = await createUser(ctx, "org_contact", {
        orgIds: [org.id],
        displayName: `Contact of ${names[key]}`,
      });
    }
    const lead = await db
      .selectFrom("organizations")
      .select("id")
      .where("name", "=", names.a)
      .executeTakeFirstOrThrow();
    const report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "triaged",
      organizationId: lead.id,
      severity: "high",
      cvssScore: 7.5,
      title: "Any patient's booking readable by changing its ID",
    });
    publicId = report.publicId;
    reportUrl = `${app.baseUrl}/reports/${publicId}`;
  });

  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.stop();
  });

  it("the triager adds two more organizations and notifies all three at once", async () => {
    const page = (triagerPage = await signIn(triager));
    await page.goto(reportUrl);
    for (const key of ["b", "c"] as const) {
      await panel(page)
        .getByLabel("Add an organization")
        .selectOption({ label: names[key] });
      await panel(page)
        .getByRole("button", { name: "Add to the case" })
        .click();
      await panel(page).getByText(names[key]).first().waitFor();
    }
    await takeStep(page, "Notify the organization");
    await page.waitForLoadState("load");
    assert.equal(await stateOf(), "vendor_notified");
    const text = (await panel(page).textContent()) ?? "";
    for (const name of Object.values(names))
      assert.match(text, new RegExp(name));
    assert.match(text, /0 of 3 answered/);
    await fitsAndAccessible(page, "triager: the case with three organizations");
  });

  it("each organization answers for itself and sees no other before the case is opened", async () => {
    const a = await signIn(contacts.a);
    await answer(a, names.a, "Affected");
    // One organization affected: the case is being fixed.
    assert.equal(await stateOf(), "fix_in_progress");
    const seenByA = (await a.textContent("main")) ?? "";
    assert.doesNotMatch(seenByA, new RegExp(names.b));
    assert.doesNotMatch(seenByA, new RegExp(names.c));
    // Its statement and its own tracking ID.
    const rowA = await formsOf(a, names.a);
    await rowA
      .getByLabel("Statement for the advisory")
      .fill(
        "Fixed in Harbour Appointments 2.3.1: a booking is shown only to its patient.",
      );
    await rowA.getByRole("button", { name: "Save the statement" }).click();
    await a.waitForLoadState("load");
    await fitsAndAccessible(a, "organization A: its own participation");

    const b = await signIn(contacts.b);
    await answer(b, names.b, "Not affected");
    assert.doesNotMatch(
      (await b.textContent("main")) ?? "",
      new RegExp(names.a),
    );

    await answer(a, names.a, "Fixed");
    // One organization silent: silence is not "not affected".
    assert.equal(await stateOf(), "fix_in_progress");

    const c = await signIn(contacts.c);
    await answer(c, names.c, "Fixed");
    // Every organization settled, two fixed: the case is fixed.
    assert.equal(await stateOf(), "fixed");
    await fitsAndAccessible(c, "organization C: its own participation");
  });

  it("the researcher sees every organization's status and confirms each fix", async () => {
    const page = (researcherPage = await signIn(researcher));
    await page.goto(reportUrl);
    const text = (await panel(page).textContent()) ?? "";
    for (const name of Object.values(names))
      assert.match(text, new RegExp(name));
    assert.match(text, /Not affected/);
    await fitsAndAccessible(page, "researcher: every organization's status");
    for (const key of ["a", "c"] as const) {
      await panel(page)
        .getByRole("button", { name: `Confirm ${names[key]}'s fix` })
        .click();
      await page.waitForLoadState("load");
    }
    assert.equal(await stateOf(), "fix_verified");
  });

  it("the triager approves a statement and publishes; the advisory lists each organization", async () => {
    const page = triagerPage;
    await page.goto(reportUrl);
    const rowA = await formsOf(page, names.a);
    await rowA.getByRole("button", { name: "Approve the statement" }).click();
    await page.waitForLoadState("load");
    await screenshot(panel(page), "participants");
    await page
      .getByLabel("Advisory summary")
      .fill(
        "Booking pages accepted any booking ID. Two of the three organizations running the product fixed it; the third does not run the affected version.",
      );
    await page.getByRole("button", { name: "Save advisory" }).click();
    await page.getByText("Advisory saved.").waitFor();
    // The researcher accepts the credit the advisory proposes.
    await researcherPage.goto(reportUrl);
    await researcherPage
      .getByRole("button", { name: "Accept the credit" })
      .click();
    await researcherPage
      .getByText("Your answer about the credit is recorded")
      .waitFor();
    await page.goto(reportUrl);
    await takeStep(page, "Publish as advisory", async (step) => {
      await step.getByLabel("I understand: this cannot be undone").check();
    });
    await page.getByRole("link", { name: "the public advisory" }).waitFor();
    assert.equal(await stateOf(), "disclosed");

    const visitor = await person();
    await visitor.goto(`${app.baseUrl}/advisories/${publicId}`);
    const text = (await visitor.textContent("main")) ?? "";
    for (const name of Object.values(names))
      assert.match(text, new RegExp(name));
    assert.match(text, /Not affected/);
    assert.match(text, /Fixed in Harbour Appointments 2\.3\.1/);
    assert.doesNotMatch(text, /changing its ID/);
    await fitsAndAccessible(
      visitor,
      "the public advisory with three organizations",
    );
  });
});

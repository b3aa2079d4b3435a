import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, it } from "mocha";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { projectRoot } from "../../src/paths.js";
import {
  launchChromium,
  seriousViolations,
  sidewaysOverflow,
} from "../support/browser.js";
import { startApp, type RunningApp } from "../support/server-process.js";

const EMAIL = "rita@finder.example";
const PASSWORD = "a quiet harbour at dawn, twice";

/**
 * The CVSS calculator on the report form (public/js/cvss-calculator.js), the
 * same form without JavaScript, and the report page's print style, in
 * Chromium against the real built server.
 */
describe("in a real browser: CVSS calculator and print style", function () {
  this.timeout(120_000);
  let app: RunningApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  let page: Page;
  let reportUrl = "";

  before(async () => {
    app = await startApp();
    browser = await launchChromium();
    // The researcher comes from the admin CLI (as `npm run cli` would make
    // one), so this test does not depend on how self-registration works.
    const out = execFileSync(
      process.execPath,
      [
        "dist/src/cli.js",
        "user:create",
        "--email",
        EMAIL,
        "--role",
        "researcher",
        "--name",
        "Rita Researcher",
      ],
      {
        cwd: projectRoot,
        encoding: "utf8",
        env: {
          ...process.env,
          NODE_ENV: "test",
          DATA_DIR: app.dataDir,
          BASE_URL: app.baseUrl,
          LOG_LEVEL: "silent",
        },
      },
    );
    const link = /(http:\/\/\S+\/password\/set\?token=[\w-]+)/.exec(out)?.[1];
    assert.ok(link, `the CLI prints a set-password link:\n${out}`);
    page = await newPage();
    await page.goto(link);
    await page.getByLabel("New password").fill(PASSWORD);
    await page.getByLabel("Repeat the password").fill(PASSWORD);
    await page.getByRole("button", { name: "Set password" }).click();
    await page.waitForURL(/\/login/);
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.stop();
  });

  async function newPage(javaScriptEnabled = true): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      javaScriptEnabled,
    });
    contexts.push(context);
    return context.newPage();
  }

  async function signIn(p: Page) {
    await p.goto(`${app.baseUrl}/login`);
    await p.getByLabel("Email").fill(EMAIL);
    await p.getByLabel("Password").fill(PASSWORD);
    await p.getByRole("button", { name: "Sign in" }).click();
    await p.waitForURL((url) => url.pathname !== "/login");
  }

  async function noSeriousViolations(p: Page, where: string) {
    const violations = await seriousViolations(p);
    assert.deepEqual(violations, [], `${where}: ${JSON.stringify(violations)}`);
  }

  // A metric's radio group by its legend ("Attack vector (AV)"), then one
  // value by its label: values such as "Low" repeat across metrics.
  const metric = (name: string) =>
    page.getByRole("group", { name: new RegExp(`^${name} \\(`) });
  const pick = (name: string, value: string) =>
    metric(name).getByRole("radio", { name: value, exact: true }).check();
  const vectorField = () => page.getByLabel("CVSS vector (optional)");
  const score = () => page.locator("[aria-live='polite'].cvss-result");

  it("picking the metrics writes the vector and shows the score live", async () => {
    await signIn(page);
    await page.goto(`${app.baseUrl}/reports/new`);
    await page
      .getByRole("group", { name: "CVSS 3.1 base metrics" })
      .waitFor({ state: "visible" });
    assert.equal(await vectorField().inputValue(), "");
    assert.match(
      (await score().textContent()) ?? "",
      /Choose the metrics below or type a vector/,
    );

    await pick("Attack vector", "Network");
    await pick("Attack complexity", "Low");
    await score().filter({ hasText: "Choose 6 more metrics" }).waitFor();
    assert.equal(
      await vectorField().inputValue(),
      "",
      "no half vector is written",
    );

    await pick("Privileges required", "Low");
    await pick("User interaction", "None");
    await pick("Scope", "Unchanged");
    await pick("Confidentiality", "High");
    await pick("Integrity", "None");
    await pick("Availability", "None");
    assert.equal(
      await vectorField().inputValue(),
      "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
    );
    assert.equal(await score().textContent(), "Base score 6.5 (Medium).");

    await pick("Scope", "Changed");
    assert.equal(
      await vectorField().inputValue(),
      "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N",
    );
    assert.equal(await score().textContent(), "Base score 7.7 (High).");

    // The score is read with the field, not only announced.
    assert.match(
      (await vectorField().getAttribute("aria-describedby")) ?? "",
      /\bf-cvss-score\b/,
    );
  });

  it("is usable by keyboard: arrow keys move within a metric", async () => {
    await metric("Attack vector")
      .getByRole("radio", { name: "Network", exact: true })
      .focus();
    await page.keyboard.press("ArrowDown");
    assert.ok(
      await metric("Attack vector")
        .getByRole("radio", { name: "Adjacent", exact: true })
        .isChecked(),
    );
    assert.equal(
      await vectorField().inputValue(),
      "CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:C/C:H/I:N/A:N",
    );
    assert.equal(await score().textContent(), "Base score 6.8 (Medium).");
  });

  it("typing a vector sets the pickers; a 4.0 vector is left to the server", async () => {
    await vectorField().fill("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N");
    for (const [name, value] of [
      ["Attack vector", "Physical"],
      ["Attack complexity", "High"],
      ["Privileges required", "High"],
      ["User interaction", "Required"],
      ["Scope", "Unchanged"],
      ["Confidentiality", "Low"],
      ["Integrity", "None"],
      ["Availability", "None"],
    ] as const) {
      assert.ok(
        await metric(name)
          .getByRole("radio", { name: value, exact: true })
          .isChecked(),
        `${name}: ${value}`,
      );
    }
    assert.equal(await score().textContent(), "Base score 1.6 (Low).");

    await vectorField().fill("CVSS:3.1/AV:N/AC:L");
    assert.equal(
      await score().textContent(),
      "Not a complete CVSS 3.1 vector yet.",
    );

    await vectorField().fill(
      "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    );
    assert.equal(
      await score().textContent(),
      "CVSS 4.0 vector: the score is computed when you send.",
    );
    assert.equal(await page.locator(".cvss-calc :checked").count(), 0);
  });

  it("has no serious accessibility problem, fits a phone, and submits only the vector", async () => {
    await noSeriousViolations(page, "report form with the calculator");
    await page.setViewportSize({ width: 375, height: 800 });
    assert.deepEqual(await sidewaysOverflow(page), []);
    await page.setViewportSize({ width: 1280, height: 900 });
    // The radios have no form owner: the server receives the text field only.
    const submitted = await page.evaluate(() =>
      [
        ...new FormData(
          document.querySelector<HTMLFormElement>("form.report-form")!,
        ).keys(),
      ]
        .filter((k) => k.includes("cvss"))
        .join(","),
    );
    assert.equal(submitted, "cvss");
  });

  it("files the report with the picked vector, and the server scores it the same", async () => {
    await vectorField().fill("");
    for (const [name, value] of [
      ["Attack vector", "Network"],
      ["Attack complexity", "Low"],
      ["Privileges required", "None"],
      ["User interaction", "Required"],
      ["Scope", "Changed"],
      ["Confidentiality", "Low"],
      ["Integrity", "Low"],
      ["Availability", "None"],
    ] as const)
      await pick(name, value);
    assert.equal(await score().textContent(), "Base score 6.1 (Medium).");
    await page
      .getByLabel("Title")
      .fill("Reflected XSS in the appointment search");
    await page
      .getByLabel("Affected organization")
      .selectOption({ label: "Another organization (name it below)" });
    await page
      .getByLabel("Organization name (if not in the list)")
      .fill("National Hospital Portal");
    await page
      .getByLabel("Affected asset")
      .fill("https://appointments.hospital.example/search?q=1");
    await page.getByLabel("Weakness (CWE)").selectOption({ index: 1 });
    await page
      .getByLabel("Description")
      .fill(
        "The q parameter is echoed unescaped. See [the search page](https://appointments.hospital.example/search).",
      );
    await page
      .getByLabel("Steps to reproduce")
      .fill("1. Open /search?q=<script>alert(1)</script>");
    await page.getByLabel("Impact").fill("Session theft of any patient.");
    await page.getByLabel("Anonymously").check();
    await page.getByRole("button", { name: "Send report" }).click();
    await page.waitForURL(/\/reports\/DD-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    reportUrl = page.url();
    const facts = (await page.locator(".facts").textContent()) ?? "";
    assert.match(facts, /Medium 6\.1/);
    assert.match(
      facts,
      /CVSS:3\.1\/AV:N\/AC:L\/PR:N\/UI:R\/S:C\/C:L\/I:L\/A:N/,
    );
  });

  it("prints a report page: content only, one column, link targets written out", async () => {
    await page.goto(reportUrl);
    const comment = page.getByRole("button", { name: "Comment" });
    await comment.waitFor({ state: "visible" });
    await page.emulateMedia({ media: "print" });
    try {
      assert.equal(await comment.isVisible(), false, "the Comment button");
      assert.equal(
        await page.getByLabel("Add a comment").isVisible(),
        false,
        "the comment form",
      );
      assert.equal(
        await page.getByRole("button", { name: "Upload" }).isVisible(),
        false,
        "the upload form",
      );
      assert.equal(
        await page.getByRole("navigation", { name: "Main" }).isVisible(),
        false,
        "the site navigation",
      );
      assert.ok(
        await page
          .getByRole("heading", {
            level: 1,
            name: "Reflected XSS in the appointment search",
          })
          .isVisible(),
        "the title",
      );
      assert.ok(await page.locator(".badge").first().isVisible(), "the state");
      const style = await page.evaluate(() => {
        const badge = getComputedStyle(document.querySelector(".badge")!);
        const link =
          document.querySelector<HTMLAnchorElement>(".markdown a[href]")!;
        return {
          grid: getComputedStyle(document.querySelector(".report-grid")!)
            .display,
          badgeColor: badge.color,
          badgeBackground: badge.backgroundColor,
          bodyBackground: getComputedStyle(document.body).backgroundColor,
          linkAfter: getComputedStyle(link, "::after").content,
        };
      });
      assert.equal(style.grid, "block", "one column");
      assert.equal(style.badgeColor, "rgb(0, 0, 0)");
      assert.equal(style.badgeBackground, "rgb(255, 255, 255)");
      assert.equal(style.bodyBackground, "rgb(255, 255, 255)");
      assert.match(
        style.linkAfter,
        /https:\/\/appointments\.hospital\.example\/search/,
      );
    } finally {
      await page.emulateMedia({ media: "screen" });
    }
  });

  it("without JavaScript the form has the plain field and no pickers", async () => {
    const plain = await newPage(false);
    await signIn(plain);
    await plain.goto(`${app.baseUrl}/reports/new`);
    const field = plain.getByLabel("CVSS vector (optional)");
    assert.ok(await field.isVisible());
    assert.equal(await field.getAttribute("type"), "text");
    assert.equal(
      await plain.getByRole("group", { name: "CVSS 3.1 base metrics" }).count(),
      0,
    );
    assert.equal(await plain.locator(".cvss-field [type=radio]").count(), 0);
    assert.equal(await plain.locator("[aria-live].cvss-result").count(), 0);
    // (axe cannot run here: it needs the page's JavaScript.)
  });
});

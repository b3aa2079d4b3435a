import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { authenticator } from "otplib";
import type { Browser, BrowserContext, Locator, Page } from "playwright-core";
import { SCREENSHOT } from "../support/reports.js";
import {
  launchChromium,
  sidewaysOverflow,
  seriousViolations,
} from "../support/browser.js";
import { startApp, type RunningApp } from "../support/server-process.js";

/**
 * The story as people live it, in a real browser against the real built
 * server: each person in their own browser context, fields found by their
 * labels and buttons by their names, and axe run on every page they see.
 */
describe("in a real browser: the whole story", function () {
  this.timeout(120_000);
  let app: RunningApp;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const checked = new Set<string>();

  /**
   * Takes a step from the staff action area: opens its <details> (summary
   * "Close", or "Close dangerous"), fills what it needs, presses its button.
   */
  const takeStep = async (
    page: Page,
    label: string,
    fill?: (step: Locator) => Promise<void>,
  ) => {
    const escaped = label.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const step = page.locator("details.step").filter({
      has: page.locator("> summary", {
        hasText: new RegExp(`^\\s*${escaped}( dangerous)?\\s*$`),
      }),
    });
    await step.locator("> summary").click();
    if (fill) await fill(step);
    await step.getByRole("button", { name: label, exact: true }).click();
  };
  let reportUrl = "";

  before(async () => {
    app = await startApp();
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await app?.stop();
  });

  async function person(): Promise<Page> {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    contexts.push(context);
    return context.newPage();
  }

  /** Every page a person lands on must have no serious or critical accessibility problem. */
  async function accessible(page: Page, label: string) {
    const key = `${label} ${new URL(page.url()).pathname}`;
    if (checked.has(key)) return;
    checked.add(key);
    const violations = await seriousViolations(page);
    assert.deepEqual(violations, [], `${key}: ${JSON.stringify(violations)}`);
  }

  /**
   * `npm run screenshots` sets SCREENSHOTS=1 to save the README's pictures
   * from this run, so they always show the pages as they are.
   */
  async function screenshot(page: Page, name: string) {
    if (process.env.SCREENSHOTS !== "1") return;
    await page.screenshot({
      path: `docs/screenshots/${name}.png`,
      fullPage: true,
    });
  }

  async function waitForMail(to: string, subject: RegExp) {
    for (let i = 0; i < 100; i++) {
      const mail = app
        .mails()
        .find((m) => m.to === to && subject.test(m.subject));
      if (mail) return mail;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `no mail "${subject}" to ${to}; got ${JSON.stringify(app.mails().map((m) => [m.to, m.subject]))}`,
    );
  }

  async function setPasswordFromMail(
    page: Page,
    to: string,
    subject: RegExp,
    password: string,
  ) {
    const mail = await waitForMail(to, subject);
    const link =
      /(http:\/\/127\.0\.0\.1:\d+\/password\/set\?token=[\w-]+)/.exec(
        mail.text,
      )?.[1];
    assert.ok(link, "the mail carries a set-password link");
    await page.goto(link);
    await accessible(page, "set password");
    await page.getByLabel("New password").fill(password);
    await page.getByLabel("Repeat the password").fill(password);
    await page.getByRole("button", { name: "Set password" }).click();
    await page.getByLabel("Email").fill(to);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
  }

  /** A code from the "authenticator app"; steps ahead avoids reusing one. */
  function codeFrom(secret: string, stepsAhead = 0) {
    return authenticator
      .clone({ epoch: Date.now() + stepsAhead * 30_000 })
      .generate(secret);
  }

  /** Staff enroll in two-factor sign-in before any other page opens. */
  async function enrollTwoFactor(page: Page, label: string): Promise<string> {
    await page.waitForURL(/\/account\/2fa$/);
    await accessible(page, `${label} two-factor enrollment`);
    await page.getByRole("img", { name: /QR code/ }).waitFor();
    const secret = ((await page.textContent("#totp-secret")) ?? "").replace(
      /\s/g,
      "",
    );
    await page.getByLabel("Code from the app").fill(codeFrom(secret));
    await page
      .getByRole("button", { name: "Turn on two-factor sign-in" })
      .click();
    await page
      .getByRole("heading", { name: "Two-factor sign-in is on" })
      .waitFor();
    await accessible(page, `${label} recovery codes`);
    assert.equal(
      await page
        .getByRole("list", { name: "Recovery codes" })
        .locator("li")
        .count(),
      10,
    );
    await page
      .getByRole("link", { name: "I have saved them, continue" })
      .click();
    return secret;
  }

  let admin: Page, triager: Page, researcher: Page, contact: Page;

  it("an admin sets up the desk through the one-time link and invites staff and an organization", async () => {
    admin = await person();
    await admin.goto(app.setupLink);
    await accessible(admin, "setup");
    await admin.getByLabel("Email").fill("admin@cert.example");
    await admin.getByLabel("Display name").fill("Ada Admin");
    await admin.getByLabel("Password").fill("a steady harbour light");
    await admin.getByRole("button", { name: "Create administrator" }).click();
    await enrollTwoFactor(admin, "admin");
    await admin.waitForURL(/\/queue/);
    assert.match(
      (await admin.textContent("header")) ?? "",
      /Signed in as Ada Admin/,
    );
    await accessible(admin, "queue (empty)");

    await admin.goto(`${app.baseUrl}/admin/users`);
    await accessible(admin, "users");
    await admin.getByLabel("Email").fill("tom@cert.example");
    await admin.getByLabel("Display name").fill("Tom Triager");
    await admin.getByLabel("Role (required)").selectOption("triager");
    await admin.getByRole("button", { name: "Create account" }).click();
    await admin.getByText("Account created for tom@cert.example").waitFor();

    await admin.goto(`${app.baseUrl}/orgs`);
    await accessible(admin, "organizations");
    await admin.getByLabel("Name").fill("National Hospital Portal");
    await admin.getByRole("button", { name: "Add organization" }).click();
    // Adding an organization opens its page, where its contacts are invited.
    await admin
      .getByRole("heading", { name: "National Hospital Portal" })
      .waitFor();
    await accessible(admin, "organization");
    await admin.getByLabel("Email").fill("ops@hospital.example");
    await admin.getByLabel("Name").fill("Olga Ops");
    await admin.getByRole("button", { name: "Invite contact" }).click();
    await admin.getByText("ops@hospital.example").first().waitFor();
  });

  it("a researcher registers and files a report with a screenshot", async () => {
    researcher = await person();
    await researcher.goto(app.baseUrl);
    await accessible(researcher, "home");
    await researcher.getByRole("link", { name: "Register" }).click();
    await accessible(researcher, "register");
    await researcher.getByLabel("Email").fill("rhea@finder.example");
    await researcher.getByLabel("Display name").fill("Rhea Searcher");
    await researcher.getByLabel("Password").fill("short");
    await researcher.getByRole("button", { name: "Create account" }).click();
    // The error is next to the field, focus is on the summary, and what was typed is kept.
    await researcher.getByText("Use at least 12 characters.").first().waitFor();
    assert.equal(
      await researcher.getByLabel("Display name").inputValue(),
      "Rhea Searcher",
    );
    assert.equal(
      await researcher.evaluate(() => document.activeElement?.id),
      "error-summary",
    );
    await accessible(researcher, "register with errors");
    await researcher
      .getByLabel("Password")
      .fill("a long researcher passphrase");
    await researcher.getByRole("button", { name: "Create account" }).click();
    await researcher
      .getByRole("heading", { name: "Check your email" })
      .waitFor();
    await accessible(researcher, "check your email");

    // The confirmation link from the mail opens a page with one button.
    const mail = await waitForMail("rhea@finder.example", /Confirm your email/);
    const link = /(http:\/\/127\.0\.0\.1:\d+\/verify-email\?token=[\w-]+)/.exec(
      mail.text,
    )?.[1];
    assert.ok(link, "the mail carries a confirmation link");
    await researcher.goto(link);
    await accessible(researcher, "confirm email");
    await researcher
      .getByRole("button", { name: "Confirm my email address" })
      .click();
    await researcher.getByText("Your email address is confirmed").waitFor();
    await researcher.getByLabel("Email").fill("rhea@finder.example");
    await researcher
      .getByLabel("Password")
      .fill("a long researcher passphrase");
    await researcher.getByRole("button", { name: "Sign in" }).click();
    await researcher.waitForURL(/\/reports$/);
    await accessible(researcher, "my reports (empty)");

    await researcher
      .getByRole("link", { name: "Report a vulnerability" })
      .first()
      .click();
    await accessible(researcher, "report form");
    await researcher
      .getByLabel("Title")
      .fill("Any patient's appointment readable by changing the ID");
    await researcher
      .getByLabel("Affected organization")
      .selectOption({ label: "National Hospital Portal" });
    await researcher
      .getByLabel("Affected asset")
      .fill("https://appointments.hospital.example/booking?id=1");
    await researcher.getByLabel("Weakness (CWE)").selectOption("CWE-639");
    await researcher
      .getByLabel("CVSS vector (optional)")
      .fill("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N");
    await researcher
      .getByLabel("Description")
      .fill(
        "Changing the booking ID in the URL shows another patient's appointment.",
      );
    await researcher
      .getByLabel("Steps to reproduce")
      .fill("1. Sign in\n2. Open a booking\n3. Change the id");
    await researcher
      .getByLabel("Impact")
      .fill("About two million patients' appointments are exposed.");
    await researcher.getByLabel("Health data").check();
    await researcher
      .getByLabel("Attachments (optional)")
      .setInputFiles(SCREENSHOT);
    await researcher.getByLabel("By a handle").check();
    await researcher.getByLabel("Handle to credit").fill("rhea");
    await screenshot(researcher, "report-form");
    await researcher.getByRole("button", { name: "Send report" }).click();
    await researcher.waitForURL(/\/reports\/DD-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    reportUrl = researcher.url();
    assert.match((await researcher.textContent("main")) ?? "", /received/);
    assert.match(
      (await researcher.textContent("main")) ?? "",
      /A CERT triager will read it and acknowledge it/,
    );
    await researcher.getByRole("link", { name: "screenshot.png" }).waitFor();
    await accessible(researcher, "report page");
  });

  it("a triager signs in from the invitation mail, acknowledges, triages and forwards it", async () => {
    triager = await person();
    await setPasswordFromMail(
      triager,
      "tom@cert.example",
      /Set your Disclosure Desk password/,
      "tom's long passphrase",
    );
    const secret = await enrollTwoFactor(triager, "triager");
    await triager.waitForURL(/\/queue/);

    // Signing in again asks for the code after the password.
    await triager.getByRole("button", { name: "Sign out" }).click();
    await triager.getByLabel("Email").fill("tom@cert.example");
    await triager.getByLabel("Password").fill("tom's long passphrase");
    await triager.getByRole("button", { name: "Sign in" }).click();
    await triager.waitForURL(/\/login\/2fa$/);
    await accessible(triager, "two-factor challenge");
    // The code used to enroll is spent; the app's next one is accepted.
    await triager.getByLabel("Code").fill(codeFrom(secret, 1));
    await triager.getByRole("button", { name: "Verify" }).click();
    await triager.waitForURL(/\/queue/);
    await accessible(triager, "queue");
    await triager.getByRole("link", { name: /DD-/ }).first().click();
    await accessible(triager, "report page (staff)");
    await triager.getByRole("button", { name: "Assign to me" }).click();
    await takeStep(triager, "Acknowledge");
    await triager.getByText("Acknowledged", { exact: true }).first().waitFor();
    // The triage fields ride on the "Mark as triaged" step itself.
    await takeStep(triager, "Mark as triaged (valid)", async (step) => {
      await step
        .getByLabel("CVSS vector")
        .fill("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N");
    });
    await triager.getByText("Triaged", { exact: true }).first().waitFor();
    await takeStep(triager, "Notify the organization");
    await triager
      .getByText("Organization notified", { exact: true })
      .first()
      .waitFor();
    await accessible(triager, "report page (notified)");
  });

  it("the organization's contact follows the invitation, acknowledges and marks it fixed", async () => {
    contact = await person();
    await setPasswordFromMail(
      contact,
      "ops@hospital.example",
      /invited to Disclosure Desk/,
      "olga's long passphrase",
    );
    await contact.waitForURL(/\/org\/reports/);
    await accessible(contact, "org reports");
    await contact.getByRole("link", { name: /DD-/ }).first().click();
    await accessible(contact, "report page (org)");
    await contact
      .getByRole("button", { name: "Acknowledge and start fixing" })
      .click();
    await contact
      .getByRole("button", { name: "Mark the fix as deployed" })
      .click();
    await contact.getByText("Fixed", { exact: true }).first().waitFor();
    await screenshot(contact, "org-contact-report");
  });

  it("the researcher confirms the fix and the triager closes the case", async () => {
    await researcher.goto(reportUrl);
    assert.match(
      (await researcher.textContent("main")) ?? "",
      /Please retest and confirm the fix/,
    );
    await researcher
      .getByRole("button", { name: "Confirm the fix works" })
      .click();
    await researcher
      .getByText("Fix verified", { exact: true })
      .first()
      .waitFor();

    await triager.goto(reportUrl);
    await takeStep(triager, "Close", async (step) => {
      await step.getByLabel("Resolution").selectOption("resolved");
    });
    await triager.getByText("Resolution: Resolved").waitFor();
    await researcher.reload();
    assert.match(
      (await researcher.textContent("main")) ?? "",
      /closed the report/,
    );
    await screenshot(researcher, "researcher-report");

    await admin.goto(`${app.baseUrl}/admin/outbox`);
    await accessible(admin, "outbox");
    assert.match(
      (await admin.textContent("main")) ?? "",
      /Organization notified/,
    );
    await screenshot(admin, "admin-outbox");

    await admin.goto(`${app.baseUrl}/admin/settings`);
    await accessible(admin, "settings");
    await screenshot(admin, "admin-settings");
  });

  it("the triager publishes an advisory; anyone reads it, the thanks and the statistics", async () => {
    await triager.goto(reportUrl);
    // The title is the CERT's, suggested from the weakness and organization.
    assert.match(
      await triager.getByLabel("Advisory title").inputValue(),
      /^Authorization Bypass Through User-Controlled Key in /,
    );
    await triager
      .getByLabel("Advisory summary")
      .fill(
        "Appointment pages accepted any booking ID, so a signed-in patient could read other patients' bookings. The portal now checks that a booking belongs to the patient.",
      );
    await triager.getByLabel("CVE ID (optional)").fill("CVE-2026-40001");
    // The researcher's choice at filing is the first credit; add a colleague.
    assert.equal(await triager.getByLabel("Name 1").inputValue(), "rhea");
    await triager.getByLabel("Name 2").fill("Ana Colleague");
    await triager
      .getByLabel("Credited as")
      .nth(1)
      .selectOption({ label: "Analyst" });
    await triager.getByRole("button", { name: "Save advisory" }).click();
    await triager.getByText("Advisory saved.").waitFor();
    await accessible(triager, "report with the advisory form");

    // The researcher asks for disclosure and accepts the credit proposed.
    await researcher.goto(reportUrl);
    await researcher
      .getByLabel("Why now (optional)")
      .fill("The fix has been live for a week.");
    await researcher
      .getByRole("button", { name: "Ask for disclosure" })
      .click();
    await researcher
      .getByText("Your request for disclosure was sent")
      .waitFor();
    const proposal = (await researcher.textContent("#credit")) ?? "";
    assert.match(proposal, /rhea \(Finder\)/);
    assert.match(proposal, /Ana Colleague \(Analyst\)/);
    await accessible(researcher, "report with the credit proposal");
    await researcher.getByRole("button", { name: "Accept the credit" }).click();
    await researcher
      .getByText("Your answer about the credit is recorded")
      .waitFor();

    await triager.goto(reportUrl);
    assert.match(
      (await triager.textContent("main")) ?? "",
      /The researcher asked for disclosure/,
    );
    await takeStep(triager, "Publish as advisory", async (step) => {
      await step.getByLabel("I understand: this cannot be undone").check();
    });
    await triager.getByRole("link", { name: "the public advisory" }).waitFor();

    const visitor = await person();
    await visitor.goto(`${app.baseUrl}/advisories`);
    await accessible(visitor, "advisories");
    const id = new URL(reportUrl).pathname.split("/").pop()!;
    await visitor.getByRole("link", { name: id }).click();
    await visitor
      .getByRole("heading", {
        name: /^Authorization Bypass Through User-Controlled Key in /,
      })
      .waitFor();
    const text = (await visitor.textContent("main")) ?? "";
    assert.doesNotMatch(text, /appointment readable by changing the ID/);
    assert.match(text, /CVE-2026-40001/);
    assert.match(text, /rhea \(Finder\)/);
    assert.match(text, /Ana Colleague \(Analyst\)/);
    assert.doesNotMatch(text, /Changing the booking ID in the URL/);
    await accessible(visitor, "advisory");
    await screenshot(visitor, "advisory");
    await visitor.goto(`${app.baseUrl}/acknowledgments`);
    await accessible(visitor, "acknowledgments");
    assert.match((await visitor.textContent("main")) ?? "", /rhea/);
    await screenshot(visitor, "acknowledgments");
    await visitor.goto(`${app.baseUrl}/stats`);
    await accessible(visitor, "statistics");
    await screenshot(visitor, "stats");
  });

  it("fits a 375 px wide phone without sideways scrolling", async () => {
    for (const [page, url] of [
      [researcher, reportUrl],
      [researcher, `${app.baseUrl}/reports/new`],
      [triager, `${app.baseUrl}/queue`],
      [contact, `${app.baseUrl}/org/reports`],
      [triager, `${app.baseUrl}/search?q=appointment`],
      [contact, `${app.baseUrl}/advisories`],
    ] as const) {
      await page.setViewportSize({ width: 375, height: 800 });
      await page.goto(url);
      assert.deepEqual(await sidewaysOverflow(page), [], url);
      await page.setViewportSize({ width: 1440, height: 900 });
      assert.deepEqual(await sidewaysOverflow(page), [], url);
    }
  });

  it("a researcher does it all by keyboard alone: signs in, opens the report, comments", async () => {
    const page = await person();
    await page.goto(`${app.baseUrl}/login`);
    await screenshot(page, "sign-in");

    /** Presses Tab until the focused element fits; fails if it never does. */
    async function tabTo(description: string, condition: string) {
      for (let i = 0; i < 80; i++) {
        await page.keyboard.press("Tab");
        if (
          await page.evaluate(
            `(() => { const e = document.activeElement; return !!(${condition}); })()`,
          )
        )
          return;
      }
      assert.fail(`Tab never reached ${description}`);
    }
    const focusedText = (text: string) =>
      `e && e.textContent.trim() === ${JSON.stringify(text)}`;

    // The skip link comes first, so keyboard users can jump past the header.
    await page.keyboard.press("Tab");
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent?.trim()),
      "Skip to content",
    );
    await tabTo("the email field", `e && e.id === "f-email"`);
    await page.keyboard.type("rhea@finder.example");
    await page.keyboard.press("Tab");
    await page.keyboard.type("a long researcher passphrase");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/reports$/);
    assert.match((await page.textContent("header")) ?? "", /Rhea Searcher/);

    const reportId = new URL(reportUrl).pathname.split("/").pop()!;
    await tabTo("the report link", focusedText(reportId));
    await page.keyboard.press("Enter");
    await page.waitForURL(reportUrl);
    await tabTo("the comment field", `e && e.id === "f-body"`);
    await page.keyboard.type("Thank you, confirmed fixed from my side too.");
    await tabTo("the Comment button", focusedText("Comment"));
    await page.keyboard.press("Enter");
    await page
      .getByText("Thank you, confirmed fixed from my side too.")
      .waitFor();
    // Focus is visible wherever it lands: the outline is not removed.
    await tabTo("the first link in the page", `e && e.tagName === "A"`);
    const outline = await page.evaluate(
      () => getComputedStyle(document.activeElement!).outlineStyle,
    );
    assert.notEqual(outline, "none");
  });
});

import axe from "axe-core";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's Chromium, started the way this machine (and CI) allows. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/**
 * Runs axe-core on the page and returns the serious and critical violations.
 * axe is injected through Playwright's evaluate (the app's CSP forbids inline
 * scripts, which is the point), so no page script is added.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Once per loaded page: checking it again (another width) reuses it.
  if (!(await page.evaluate("typeof window.axe === 'object'")))
    await page.evaluate(axe.source);
  const results = await page.evaluate(() =>
    (window as unknown as { axe: typeof axe }).axe.run(document, {
      resultTypes: ["violations"],
    }),
  );
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      nodes: v.nodes.length,
    }));
}

/**
 * The elements that stick out past the right edge of the viewport (empty when
 * the page does not scroll sideways), named so a failure says what to fix.
 */
export function sidewaysOverflow(page: Page): Promise<string[]> {
  // A string, not a function: tsx would wrap inner functions in a helper
  // (__name) that does not exist inside the page.
  return page.evaluate(`(() => {
    if (document.documentElement.scrollWidth <= window.innerWidth + 1) return [];
    const describe = (e) =>
      e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + String(e.className).replace(/ /g, ".") : "");
    // What sticks out inside a box that scrolls by itself is not the culprit.
    const inScroller = (e) => {
      for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
        if (["auto", "scroll", "hidden"].includes(getComputedStyle(p).overflowX)) return true;
      return false;
    };
    return [...document.body.querySelectorAll("*")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !inScroller(e))
      .map((e) => describe(e.parentElement) + " > " + describe(e) + " (" + Math.round(e.getBoundingClientRect().right) + "px)")
      .slice(0, 10);
  })()`);
}

/**
 * Signs a staff member in through the real form and the two-factor
 * challenge, and waits for the page the desk sends them to.
 */
export async function signInStaff(
  page: Page,
  baseUrl: string,
  who: { email: string; password: string; totpSecret?: string | null },
  code: (secret: string) => string,
): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/login\/2fa$/);
  await page.getByLabel("Code").fill(code(who.totpSecret!));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL((url) => url.pathname !== "/login/2fa");
}

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  TestClock,
  type Browser,
  type TestContext,
  type TestUser,
  shown,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

const DAY = 86_400_000;

/** Every field as the page sends it, with the environment's values (3,10,7,30,90,7,30,90,120,7). */
const DEFAULT_FORM = {
  ackDueDays: "3",
  triageDueDays: "10",
  infoReminderDays: "7",
  infoExpiryDays: "30",
  disclosureDays: "90",
  remediationCritical: "7",
  remediationHigh: "30",
  remediationMedium: "90",
  remediationLow: "120",
  orgAnswerDays: "7",
};

describe("admin settings: the disclosure-policy defaults", () => {
  let dataDir: string;
  let clock: TestClock;
  let ctx: TestContext;
  let admin: TestUser;
  let adminBrowser: Browser;

  const savedRows = () =>
    ctx.db
      .selectFrom("settings")
      .selectAll()
      .orderBy("key")
      .execute()
      .then((rows) => JSON.stringify(rows));
  const settingAudits = () =>
    ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .where("action", "=", "setting.changed")
      .orderBy("id")
      .execute();

  before(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-settings-"));
    clock = new TestClock();
    ctx = await createTestContext({ dataDir, clock });
    admin = await createUser(ctx, "admin", { email: "ada@example.test" });
    adminBrowser = await signedIn(ctx, admin);
    await adminBrowser.refreshCsrf("/admin/settings");
  });
  after(async () => {
    await ctx.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("shows each value with its environment default, linked from the admin navigation", async () => {
    const res = await adminBrowser.agent.get("/admin/settings");
    assert.equal(res.status, 200);
    assert.match(res.text, /href="\/admin\/settings" aria-current="page"/);
    assert.match(
      res.text,
      /<label for="f-ackDueDays">Acknowledge a new report within \(days\)<\/label>/,
    );
    assert.match(
      res.text,
      /id="f-ackDueDays" name="ackDueDays" type="text" value="3"/,
    );
    assert.match(res.text, /The environment default \(ACK_DUE_DAYS\): 3\./);
    assert.match(
      res.text,
      /The environment default \(REMEDIATION_DAYS, low\): 120\./,
    );
    assert.match(res.text, /reports already filed keep the dates they have/);
    assert.match(res.text, /Reset all to the defaults/);
  });

  it("saves: the page shows the values, new deadlines use them at once, and one audit entry has old → new", async () => {
    const res = await adminBrowser.post("/admin/settings", {
      ...DEFAULT_FORM,
      ackDueDays: "5",
      disclosureDays: "45",
      remediationHigh: "14",
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/admin/settings");
    const page = await adminBrowser.agent.get("/admin/settings");
    assert.match(page.text, /Saved 3 changes/);
    assert.match(page.text, /name="ackDueDays" type="text" value="5"/);
    assert.match(page.text, /name="disclosureDays" type="text" value="45"/);
    assert.match(
      page.text,
      /Changed here; the environment default is 3 \(ACK_DUE_DAYS\)/,
    );
    // The public policy page says the same.
    const policy = await (await anonymous(ctx)).agent.get("/policy");
    assert.match(policy.text, /within <strong>5 days<\/strong>/);

    const audits = await settingAudits();
    assert.equal(audits.length, 1, "one entry per save");
    assert.equal(audits[0]!.actor_id, admin.user.id);
    assert.equal(audits[0]!.target_id, "clocks");
    assert.deepEqual(JSON.parse(audits[0]!.details), {
      ackDueDays: "3 (default) → 5",
      disclosureDays: "90 (default) → 45",
      remediationHigh: "30 (default) → 14",
    });
    const log = await adminBrowser.agent.get(
      "/admin/audit?action=setting.changed",
    );
    assert.match(log.text, /<code>setting.changed<\/code>/);
    assert.match(shown(log.text), /3 \(default\) → 5/);

    // A report filed now is due for acknowledgment in 5 days.
    const researcher = await createUser(ctx, "researcher");
    const rb = await signedIn(ctx, researcher);
    await rb.refreshCsrf("/reports/new");
    const filed = await submitReport(rb, reportFields());
    assert.equal(filed.status, 303);
    const row = await ctx.db
      .selectFrom("reports")
      .select(["ack_due_at", "triage_due_at"])
      .where("public_id", "=", reportIdFrom(filed.headers.location))
      .executeTakeFirstOrThrow();
    assert.equal(row.ack_due_at, clock.ms + 5 * DAY);
    assert.equal(row.triage_due_at, clock.ms + 10 * DAY, "unchanged default");

    // Forwarded now: disclosure in 45 days, a high-severity fix in 14.
    const org = await createOrg(ctx);
    const triaged = await insertReport(ctx, {
      reporterId: researcher.user.id,
      organizationId: org.id,
      state: "triaged",
      severity: "high",
      cvssScore: 7.5,
    });
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    await triager.refreshCsrf(`/reports/${triaged.publicId}`);
    const step = await triager.post(`/reports/${triaged.publicId}/transition`, {
      name: "notify_vendor",
      message: "",
    });
    assert.equal(step.status, 303);
    const notified = await ctx.db
      .selectFrom("reports")
      .select(["vendor_notified_at", "disclosure_due_at"])
      .where("id", "=", triaged.id)
      .executeTakeFirstOrThrow();
    assert.equal(notified.vendor_notified_at, clock.ms);
    assert.equal(notified.disclosure_due_at, clock.ms + 45 * DAY);
    const reportPage = await triager.agent.get(`/reports/${triaged.publicId}`);
    assert.match(reportPage.text, /Fix target due in 14 days/);
  });

  it("keeps the dates of reports already filed", async () => {
    const researcher = await createUser(ctx, "researcher");
    const before = await insertReport(ctx, { reporterId: researcher.user.id });
    const due = () =>
      ctx.db
        .selectFrom("reports")
        .select("ack_due_at")
        .where("id", "=", before.id)
        .executeTakeFirstOrThrow();
    const was = await due();
    const res = await adminBrowser.post("/admin/settings", {
      ...DEFAULT_FORM,
      ackDueDays: "20",
      disclosureDays: "45",
      remediationHigh: "14",
    });
    assert.equal(res.status, 303);
    assert.deepEqual(await due(), was);
  });

  it("survives a restart on the same data directory", async () => {
    await ctx.close(); // keeps the directory: the test owns it
    ctx = await createTestContext({ dataDir, clock });
    const clocks = ctx.deps.settings.clocks();
    assert.equal(clocks.ackDueDays, 20);
    assert.equal(clocks.disclosureDays, 45);
    assert.equal(clocks.remediationDays.high, 14);
    assert.equal(clocks.triageDueDays, 10);
    adminBrowser = await signedIn(ctx, admin);
    const page = await adminBrowser.agent.get("/admin/settings");
    assert.match(page.text, /name="ackDueDays" type="text" value="20"/);
    await adminBrowser.refreshCsrf("/admin/settings");
  });

  it("an empty field (or the default) restores the environment's value", async () => {
    const res = await adminBrowser.post("/admin/settings", {
      ...DEFAULT_FORM,
      ackDueDays: "",
      disclosureDays: "90",
      remediationHigh: "14",
    });
    assert.equal(res.status, 303);
    assert.equal(ctx.deps.settings.clocks().ackDueDays, 3);
    assert.equal(ctx.deps.settings.clocks().disclosureDays, 90);
    const keys = (
      await ctx.db.selectFrom("settings").select("key").execute()
    ).map((r) => r.key);
    assert.deepEqual(keys, ["clocks.remediationHigh"]);
    const last = (await settingAudits()).at(-1)!;
    assert.deepEqual(JSON.parse(last.details), {
      ackDueDays: "20 → 3 (default)",
      disclosureDays: "45 → 90 (default)",
    });

    // Saving again with nothing changed writes nothing.
    const count = (await settingAudits()).length;
    const again = await adminBrowser.post("/admin/settings", {
      ...DEFAULT_FORM,
      remediationHigh: "14",
    });
    assert.equal(again.status, 303);
    assert.equal((await settingAudits()).length, count);

    // The reset form sends every field empty.
    const reset = await adminBrowser.post(
      "/admin/settings",
      Object.fromEntries(Object.keys(DEFAULT_FORM).map((k) => [k, ""])),
    );
    assert.equal(reset.status, 303);
    assert.equal(await savedRows(), "[]");
    assert.equal(ctx.deps.settings.clocks().remediationDays.high, 30);
  });

  describe("bad input: 422, the message next to the field, what was typed kept, nothing changed", () => {
    const cases: [string, Record<string, string | string[]>, string, RegExp][] =
      [
        [
          "zero",
          { ackDueDays: "0" },
          "ackDueDays",
          /whole number of days from 1 to 3650/,
        ],
        [
          "negative",
          { triageDueDays: "-1" },
          "triageDueDays",
          /whole number of days/,
        ],
        [
          "too many days",
          { disclosureDays: "99999" },
          "disclosureDays",
          /from 1 to 3650/,
        ],
        [
          "not a number",
          { remediationLow: "abc" },
          "remediationLow",
          /whole number/,
        ],
        [
          "a fraction",
          { remediationCritical: "1.5" },
          "remediationCritical",
          /whole number/,
        ],
        [
          "oversized",
          { remediationMedium: "9".repeat(5000) },
          "remediationMedium",
          /whole number/,
        ],
        [
          "twice",
          { remediationHigh: ["5", "6"] },
          "remediationHigh",
          /whole number/,
        ],
        [
          "a reminder not before the expiry",
          { infoReminderDays: "30", infoExpiryDays: "30" },
          "infoReminderDays",
          /reminder must come before/,
        ],
        [
          "a reminder after the default expiry",
          { infoReminderDays: "31", infoExpiryDays: "" },
          "infoReminderDays",
          /fewer days than the 30/,
        ],
      ];
    for (const [what, fields, field, message] of cases) {
      it(what, async () => {
        // A valid change beside the bad one must not be saved either.
        const before = await savedRows();
        const audits = (await settingAudits()).length;
        const res = await adminBrowser.post("/admin/settings", {
          ...DEFAULT_FORM,
          ackDueDays: "4",
          ...fields,
        });
        assert.equal(res.status, 422);
        const error = new RegExp(
          `<p class="error" id="f-${field}-error"><span class="visually-hidden">Error:</span> [^<]*`,
        );
        const shown = error.exec(res.text)?.[0] ?? "";
        assert.match(shown, message);
        assert.match(
          res.text,
          new RegExp(`id="f-${field}"[^>]*aria-invalid="true"`),
        );
        assert.match(res.text, /class="error-summary"/);
        const typed = fields[field];
        if (typeof typed === "string" && typed.length < 100)
          assert.match(
            res.text,
            new RegExp(`name="${field}" type="text" value="${typed}"`),
          );
        if (field !== "ackDueDays")
          assert.match(
            res.text,
            /name="ackDueDays" type="text" value="4"/,
            "other values kept",
          );
        assert.equal(await savedRows(), before);
        assert.equal((await settingAudits()).length, audits);
        assert.equal(ctx.deps.settings.clocks().ackDueDays, 3);
      });
    }

    it("missing fields", async () => {
      const before = await savedRows();
      const res = await adminBrowser.post("/admin/settings", {
        ackDueDays: "4",
      });
      assert.equal(res.status, 422);
      assert.match(
        res.text,
        /id="f-triageDueDays-error"><span class="visually-hidden">Error:<\/span> Triage an acknowledged report within is missing/,
      );
      assert.match(res.text, /name="ackDueDays" type="text" value="4"/);
      assert.equal(await savedRows(), before);
      assert.equal(ctx.deps.settings.clocks().ackDueDays, 3);
    });
  });

  describe("who may", () => {
    let org: { id: number };
    before(async () => {
      org = await createOrg(ctx);
    });

    for (const role of ["triager", "researcher", "org_contact"] as const) {
      it(`a ${role} gets "not found" for GET and POST, like other admin pages, and nothing changes`, async () => {
        const b = await signedIn(
          ctx,
          await createUser(
            ctx,
            role,
            role === "org_contact" ? { orgIds: [org.id] } : {},
          ),
        );
        const outbox = await b.agent.get("/admin/outbox");
        const page = await b.agent.get("/admin/settings");
        assert.equal(page.status, outbox.status);
        assert.equal(page.status, 404);
        assert.doesNotMatch(page.text, /Acknowledge a new report/);
        const nav = await b.agent.get("/account");
        assert.doesNotMatch(nav.text, /href="\/admin\/settings"/);
        const before = await savedRows();
        const res = await b.post("/admin/settings", {
          ...DEFAULT_FORM,
          ackDueDays: "9",
        });
        assert.equal(res.status, 404);
        assert.equal(await savedRows(), before);
        assert.equal(ctx.deps.settings.clocks().ackDueDays, 3);
      });
    }

    it("an anonymous visitor is sent to sign in, as for other admin pages", async () => {
      const b = await anonymous(ctx);
      const outbox = await b.agent.get("/admin/outbox");
      const page = await b.agent.get("/admin/settings");
      assert.equal(page.status, outbox.status);
      assert.equal(page.status, 303);
      assert.equal(page.headers.location, "/login");
      const before = await savedRows();
      const res = await b.post("/admin/settings", {
        ...DEFAULT_FORM,
        ackDueDays: "9",
      });
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, "/login");
      assert.equal(await savedRows(), before);
    });

    it("a POST without a valid CSRF token is refused and changes nothing", async () => {
      const before = await savedRows();
      const audits = (await settingAudits()).length;
      for (const token of [undefined, "", "forged"]) {
        const form: Record<string, string> = {
          ...DEFAULT_FORM,
          ackDueDays: "9",
        };
        if (token !== undefined) form._csrf = token;
        const res = await adminBrowser.agent
          .post("/admin/settings")
          .type("form")
          .send(form);
        assert.equal(res.status, 403);
        assert.match(res.text, /did not come from this site/);
      }
      assert.equal(await savedRows(), before);
      assert.equal((await settingAudits()).length, audits);
      assert.equal(ctx.deps.settings.clocks().ackDueDays, 3);
    });
  });
});

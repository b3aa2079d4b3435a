/**
 * No mail path posts where the web would refuse: every role, with a reply
 * token for every kind of report (as a stale or stolen token would be),
 * replies by mail and comments through the web form; the reply is posted
 * exactly when the web form takes the comment.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { ingestMail } from "../../src/inbound/ingest.js";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import { setUserDisabled } from "../../src/users/repository.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { composeMail, noDns } from "../support/inbound.js";

describe("access matrix: replies by mail", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let users: Record<string, TestUser>;
  let reports: Record<string, { id: number; publicId: string }>;

  before(async () => {
    ctx = await createTestContext({
      env: { RATE_LIMITS: "false", MAIL_DOMAIN: "desk.example.test" },
    });
    const orgA = await createOrg(ctx, "Org A");
    const orgB = await createOrg(ctx, "Org B");
    users = {
      alice: await createUser(ctx, "researcher"),
      bob: await createUser(ctx, "researcher"),
      carol: await createUser(ctx, "researcher"),
      contactA: await createUser(ctx, "org_contact", { orgIds: [orgA.id] }),
      contactB: await createUser(ctx, "org_contact", { orgIds: [orgB.id] }),
      triager: await createUser(ctx, "triager"),
      admin: await createUser(ctx, "admin"),
      // Staff who never enrolled two-factor sign-in may not work on reports.
      triagerWithout2fa: await createUser(ctx, "triager", {
        twoFactor: false,
      }),
    };
    reports = {
      forwarded: await insertReport(ctx, {
        reporterId: users.alice!.user.id,
        state: "vendor_notified",
        organizationId: orgA.id,
      }),
      notYetForwarded: await insertReport(ctx, {
        reporterId: users.alice!.user.id,
        state: "triaged",
        organizationId: orgA.id,
      }),
      bobs: await insertReport(ctx, { reporterId: users.bob!.user.id }),
      carols: await insertReport(ctx, {
        reporterId: users.carol!.user.id,
        state: "acknowledged",
      }),
      closed: await insertReport(ctx, {
        reporterId: users.alice!.user.id,
        state: "closed",
        organizationId: orgA.id,
        vendorNotifiedAt: ctx.clock.now(),
      }),
    };
    // Carol's account is disabled after her token was issued.
    await setUserDisabled(ctx.db, users.carol!.user.id, ctx.clock.now());
  });
  after(() => ctx.close());

  async function commentCount(reportId: number, body: string) {
    const rows = await ctx.db
      .selectFrom("report_events")
      .select("id")
      .where("report_id", "=", reportId)
      .where("body", "=", body)
      .execute();
    return rows.length;
  }

  async function webComment(
    name: string,
    report: { id: number; publicId: string },
    body: string,
  ): Promise<boolean> {
    let browser;
    try {
      browser = await signedIn(ctx, users[name]!);
    } catch {
      return false; // cannot sign in (disabled): the web refuses everything
    }
    const res = await browser.post(`/reports/${report.publicId}/comments`, {
      body,
    });
    const posted = (await commentCount(report.id, body)) === 1;
    assert.equal(
      res.status === 303,
      posted,
      `${name} on ${report.publicId}: ${res.status}`,
    );
    return posted;
  }

  it("every role × every report: posted by mail exactly when the web form takes the comment", async () => {
    const table: string[] = [];
    let posted = 0;
    let refused = 0;
    for (const [name, user] of Object.entries(users)) {
      for (const [label, report] of Object.entries(reports)) {
        const { address } = await replyAddressing(
          ctx.db,
          ctx.config,
          user.user.id,
          report.id,
          ctx.clock.now(),
        );
        const mailBody = `by mail: ${name} on ${label}`;
        const raw = await composeMail({
          from: user.email,
          to: address,
          subject: "Re: report",
          text: mailBody,
        });
        const result = await ingestMail(
          { ...ctx.deps, dnsResolver: noDns },
          raw,
          { from: user.email, recipients: [address] },
        );
        const byMail = (await commentCount(report.id, mailBody)) === 1;
        assert.equal(result.outcome.kind === "posted", byMail);
        const byWeb = await webComment(
          name,
          report,
          `by web: ${name} on ${label}`,
        );
        table.push(`${name} × ${label}: web ${byWeb}, mail ${byMail}`);
        assert.equal(
          byMail,
          byWeb,
          `${name} × ${label}: the web ${byWeb ? "takes" : "refuses"} the comment, mail ${byMail ? "posted" : "held"} it`,
        );
        if (byMail) posted += 1;
        else {
          refused += 1;
          assert.equal(result.outcome.kind, "held");
        }
      }
    }
    // Both columns are exercised: the matrix is not trivially all-refused.
    assert.ok(posted >= 10 && refused >= 10, table.join("\n"));
    assert.ok(table.includes("alice × forwarded: web true, mail true"));
    assert.ok(table.includes("contactA × forwarded: web true, mail true"));
    assert.ok(
      table.includes("contactA × notYetForwarded: web false, mail false"),
    );
    assert.ok(table.includes("contactB × forwarded: web false, mail false"));
    assert.ok(table.includes("bob × forwarded: web false, mail false"));
    assert.ok(table.includes("carol × carols: web false, mail false"));
    assert.ok(
      table.includes("triagerWithout2fa × bobs: web false, mail false"),
    );
    assert.ok(table.includes("triager × bobs: web true, mail true"));
  });
});

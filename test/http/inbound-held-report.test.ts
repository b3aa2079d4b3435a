import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { ingestMail, type IngestDeps } from "../../src/inbound/ingest.js";
import { EXIT, exitCodeFor } from "../../src/inbound/receive.js";
import { replyAddressing } from "../../src/inbound/reply-tokens.js";
import { findInboundById } from "../../src/inbound/repository.js";
import { insertReport } from "../support/fixtures.js";
import { Gpg } from "../support/gpg.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { composeMail, noDns } from "../support/inbound.js";

const DOMAIN = "desk.example.test";

/**
 * A held reply whose token the desk knows is about a report: the Inbound
 * mail page names it in its Report column, so the triager deciding on the
 * message sees which case it concerns. An unknown token names none.
 */
describe("held replies record the report their token is for", () => {
  let ctx: TestContext;
  let deps: IngestDeps;
  let researcher: TestUser;
  let report: { id: number; publicId: string };
  let counter = 0;

  beforeEach(async () => {
    ctx = await createTestContext({ env: { MAIL_DOMAIN: DOMAIN } });
    deps = { ...ctx.deps, dnsResolver: noDns };
    researcher = await createUser(ctx, "researcher");
    report = await insertReport(ctx, {
      reporterId: researcher.user.id,
      state: "acknowledged",
    });
  });
  afterEach(() => ctx.close());

  async function send(from: string, to: string, text: string) {
    counter += 1;
    const raw = await composeMail({
      from,
      to,
      subject: "Re: your report",
      text,
      messageId: `<held-report-${counter}@mail.example.test>`,
    });
    const result = await ingestMail(deps, raw, { from, recipients: [to] });
    assert.equal(result.outcome.kind, "held", JSON.stringify(result.outcome));
    return (await findInboundById(ctx.db, result.inboundId!))!;
  }

  it("a forged From with a known token: held, with the token's report and user, shown on the Inbound mail page", async () => {
    const { address } = await replyAddressing(
      ctx.db,
      ctx.config,
      researcher.user.id,
      report.id,
      ctx.clock.now(),
    );
    const mallory = await createUser(ctx, "researcher");
    const held = await send(mallory.email, address, "Forged.");
    assert.equal(held.reportId, report.id);
    assert.equal(held.userId, researcher.user.id);

    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const page = shown((await triager.agent.get("/admin/inbound")).text);
    const row = page.split("<tr>").find((tr) => tr.includes(mallory.email));
    assert.ok(row, "the held message is listed");
    assert.ok(
      row.includes(
        `<a href="/reports/${report.publicId}">${report.publicId}</a>`,
      ),
      row,
    );
  });

  it("a token for a report the user lost access to: held, with that report", async () => {
    const { address } = await replyAddressing(
      ctx.db,
      ctx.config,
      researcher.user.id,
      report.id,
      ctx.clock.now(),
    );
    await ctx.db
      .updateTable("users")
      .set({ disabled_at: ctx.clock.now().getTime() })
      .where("id", "=", researcher.user.id)
      .execute();
    const held = await send(researcher.email, address, "After disabling.");
    assert.equal(held.reason, "the user's account is disabled");
    assert.equal(held.reportId, report.id);
  });

  it("a forged reply to a report by email's receipt: held, with that report", async () => {
    const finder = "finder@researcher.example.test";
    const filed = await ingestMail(
      deps,
      await composeMail({
        from: finder,
        to: ctx.config.reportAddress,
        subject: "Open redirect on the login page",
        text: "The next= parameter accepts any URL.",
      }),
      { from: finder, recipients: [ctx.config.reportAddress] },
    );
    assert.equal(filed.outcome.kind, "posted");
    const reportId = (filed.outcome as { reportId: number }).reportId;
    const receipt = await ctx.db
      .selectFrom("outbox")
      .select("reply_to")
      .where("report_id", "=", reportId)
      .where("to_address", "=", finder)
      .executeTakeFirstOrThrow();
    const held = await send(
      "mallory@elsewhere.example.test",
      receipt.reply_to!,
      "Forged follow-up.",
    );
    assert.equal(held.reportId, reportId);
  });

  it("a reply to an unknown intake token: held, and the recipient is unknown (mail:receive exits 67)", async () => {
    const to = ctx.config.reportAddress.replace("@", `+${"z".repeat(24)}@`);
    const raw = await composeMail({
      from: researcher.email,
      to,
      subject: "Re: [DD] Received",
      text: "A guessed intake token.",
    });
    const result = await ingestMail(deps, raw, {
      from: researcher.email,
      recipients: [to],
    });
    assert.equal(result.outcome.kind, "held");
    assert.equal(result.unknownRecipient, true);
    assert.equal(exitCodeFor(result), EXIT.unknownRecipient);
  });

  it("a reply the desk cannot decrypt (encrypted to another key): held, with the report its reply address names", async () => {
    const { address } = await replyAddressing(
      ctx.db,
      ctx.config,
      researcher.user.id,
      report.id,
      ctx.clock.now(),
    );
    const other = new Gpg();
    try {
      const otherKey = other.generate("Else <else@example.org>");
      const armored = other
        .ok(
          ["--armor", "--trust-model", "always", "--encrypt", "-r", otherKey],
          "Not for the desk's key.",
        )
        .toString();
      const held = await send(researcher.email, address, armored);
      assert.match(held.reason!, /^could not decrypt: /);
      assert.equal(held.reportId, report.id);
    } finally {
      other.remove();
    }
  });

  it("an unknown token: held with no report", async () => {
    const held = await send(
      researcher.email,
      `reply+${"c".repeat(26)}@${DOMAIN}`,
      "Guessed.",
    );
    assert.equal(held.reason, "unknown reply token");
    assert.equal(held.reportId, null);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { enqueueMails, type MailRequest } from "../../src/mail/outbox.js";
import { renderMail } from "../../src/mail/templates.js";
import { createTestContext, type TestContext } from "../support/harness.js";

/**
 * Messages to many recipients are rendered once and addressed by name
 * afterwards: each must be exactly what rendering it alone gives.
 */
describe("enqueueing many messages at once", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const data = (displayName: unknown, subjectText = "New comment") => ({
    displayName,
    publicId: "DD-2026-ABCD",
    subjectText,
    happened: "There is a new comment on the report.",
    detail: null,
    stateLabel: "Fix in progress",
    next: "Retest & report back <soon>",
    link: `${ctx.config.baseUrl}/reports/DD-2026-ABCD`,
  });

  it("gives every recipient the message rendered for them alone", async () => {
    const names = [
      "Tess Triager",
      `O'Brien <script>alert("x")</script> & co`,
      "\uE000&\uE000 looks like the mark",
      "",
      "Zoë",
    ];
    const mails: MailRequest[] = [
      ...names.map((name, i) => ({
        template: "report_event" as const,
        to: { address: `person${i}@example.org` },
        data: data(name),
      })),
      {
        template: "report_event" as const,
        to: { address: "other@example.org" },
        data: data("Tess Triager", "Received"),
      },
      {
        template: "password_changed" as const,
        to: { address: "pw@example.org" },
        data: {
          displayName: "Pat <Admin>",
          when: "today",
          resetLink: `${ctx.config.baseUrl}/reset`,
        },
      },
    ];
    const ids = await enqueueMails(ctx.db, ctx.deps, mails);
    assert.equal(new Set(ids).size, mails.length);
    const rows = await ctx.db
      .selectFrom("outbox")
      .selectAll()
      .where("message_id", "in", ids)
      .execute();
    assert.equal(rows.length, mails.length);
    for (const mail of mails) {
      const row = rows.find((r) => r.to_address === mail.to.address)!;
      const alone = renderMail(mail.template, {
        ...mail.data,
        baseUrl: ctx.config.baseUrl,
      });
      assert.equal(row.subject, alone.subject);
      assert.equal(row.text_body, alone.text);
      assert.equal(row.html_body, alone.html);
      assert.match(row.message_id, /^<m\.[A-Za-z0-9_-]{43}@[^>]+>$/);
      // Plain text is not HTML: the name arrives as it was written.
      assert.ok(
        row.text_body.includes(`Hello ${String(mail.data.displayName)},`),
        row.text_body,
      );
    }
  });
});

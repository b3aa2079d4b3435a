import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { addCommentByMail } from "../../src/reports/service.js";
import { findReportByPublicId } from "../../src/reports/repository.js";
import { toActor } from "../../src/users/service.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

const FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567";
/** What a person reads of a piece of page: no tags, spaces collapsed. */
const read = (html: string) =>
  shown(html.replace(/^[^<>]*>/, "").replace(/<[^>]*>/g, ""))
    .replace(/\s+/g, " ")
    .trim();

const GROUPED = "0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567";

describe("a reply by email on the timeline: encrypted, signed, and the original for staff", () => {
  let ctx: TestContext;
  let researcher: TestUser;
  let researcherBrowser: Browser, triagerBrowser: Browser;
  let id: string;

  before(async () => {
    ctx = await createTestContext();
    researcher = await createUser(ctx, "researcher");
    const triager = await createUser(ctx, "triager");
    researcherBrowser = await signedIn(ctx, researcher);
    triagerBrowser = await signedIn(ctx, triager);
    id = reportIdFrom(
      (await submitReport(researcherBrowser, reportFields())).headers.location,
    );
    const report = (await findReportByPublicId(ctx.db, id))!;
    const actor = toActor(researcher.user);
    const signed = await addCommentByMail(
      ctx.deps,
      actor,
      report,
      { body: "Encrypted and signed reply." },
      {
        messageId: "signed@example.org",
        encrypted: true,
        signedBy: FINGERPRINT,
      },
    );
    assert.deepEqual(signed, { ok: true, value: "comment" });
    await addCommentByMail(
      ctx.deps,
      actor,
      report,
      { body: "Plain reply." },
      { messageId: "plain+1@example.org", encrypted: false, signedBy: null },
    );
  });
  after(() => ctx.close());

  /** The timeline entry holding `body`, as text. */
  async function entry(browser: Browser, body: string): Promise<string> {
    const page = (await browser.agent.get(`/reports/${id}`)).text;
    const item = page.split("<li").find((li) => li.includes(body));
    assert.ok(item, `no timeline entry with ${body}`);
    return item;
  }

  it("shows everyone who reads the comment that it came encrypted and signed, by which key", async () => {
    for (const browser of [researcherBrowser, triagerBrowser]) {
      const text = read(await entry(browser, "Encrypted and signed reply."));
      assert.match(text, /By email · encrypted · signed by 0123 4567/);
      assert.ok(text.includes(GROUPED));
    }
    const plain = read(await entry(researcherBrowser, "Plain reply."));
    assert.match(plain, /By email/);
    assert.doesNotMatch(plain, /encrypted|signed by/);
  });

  it("links staff, and only staff, to the message as received", async () => {
    const staff = await entry(triagerBrowser, "Encrypted and signed reply.");
    assert.ok(
      staff.includes('href="/admin/inbound/message/signed%40example.org"'),
      staff,
    );
    assert.ok(
      (await entry(triagerBrowser, "Plain reply.")).includes(
        'href="/admin/inbound/message/plain%2B1%40example.org"',
      ),
    );
    const researcherView = await entry(researcherBrowser, "Plain reply.");
    assert.doesNotMatch(researcherView, /\/admin\/inbound/);
    assert.doesNotMatch(read(researcherView), /as received/);
  });

  it("marks nothing on a comment written on the web", async () => {
    const res = await researcherBrowser.post(`/reports/${id}/comments`, {
      body: "Written on the page.",
    });
    assert.equal(res.status, 303);
    const text = read(await entry(researcherBrowser, "Written on the page."));
    assert.doesNotMatch(text, /By email/);
  });
});

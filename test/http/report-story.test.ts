import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";
import { addMember, createOrg } from "../support/fixtures.js";
import {
  reportFields,
  reportIdFrom,
  SCREENSHOT,
  submitReport,
} from "../support/reports.js";

/**
 * The story the product exists for, over HTTP: filed with a screenshot,
 * acknowledged, information asked and given, triaged, forwarded, fixed by the
 * organization, verified by the researcher, closed.
 */
describe("the disclosure story end to end", () => {
  let ctx: TestContext;
  let researcher: Browser;
  let triager: Browser;
  let contact: Browser;
  let orgPublicId: string;
  let id: string;

  const page = async (who: Browser) => {
    const res = await who.agent.get(`/reports/${id}`);
    assert.equal(res.status, 200);
    return res.text;
  };
  const act = async (
    who: Browser,
    name: string,
    fields: Record<string, string> = {},
  ) => {
    const res = await who.post(`/reports/${id}/transition`, {
      name,
      ...fields,
    });
    assert.equal(
      res.status,
      303,
      `${name} answered ${res.status}: ${res.text.slice(0, 400)}`,
    );
  };
  const state = async () =>
    (
      await ctx.db
        .selectFrom("reports")
        .select("state")
        .where("public_id", "=", id)
        .executeTakeFirstOrThrow()
    ).state;

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "National Hospital Portal");
    orgPublicId = org.publicId;
    const contactUser = await createUser(ctx, "org_contact");
    await addMember(ctx, org.id, contactUser.user.id);
    researcher = await signedIn(
      ctx,
      await createUser(ctx, "researcher", { displayName: "Rhea Searcher" }),
    );
    triager = await signedIn(
      ctx,
      await createUser(ctx, "triager", { displayName: "Tom Triager" }),
    );
    contact = await signedIn(ctx, contactUser);
  });
  after(() => ctx.close());

  it("files a report with a screenshot and shows it as received", async () => {
    const res = await submitReport(
      researcher,
      reportFields({ organization: orgPublicId, newOrganization: "" }),
      [{ path: SCREENSHOT }],
    );
    assert.equal(
      res.status,
      303,
      (/<ul>[\s\S]*?<\/ul>/.exec(
        res.text.slice(res.text.indexOf("error-summary")),
      ) ?? [""])[0],
    );
    id = reportIdFrom(res.headers.location);
    const html = await page(researcher);
    assert.match(html, new RegExp(`Report ${id} received`));
    assert.match(html, /Submitted/);
    assert.match(html, /A CERT triager will read it and acknowledge it\./);
    assert.match(html, /screenshot\.png/);
    assert.match(html, /Medium 6\.5/);
    assert.match(html, /Acknowledgment due in 3 days/);
  });

  it("lets the researcher download their own screenshot, served inertly", async () => {
    const html = await page(researcher);
    const href = /href="(\/reports\/[^"]+\/attachments\/[^"]+)"/.exec(
      html,
    )?.[1];
    assert.ok(href);
    const res = await researcher.agent.get(href).buffer(true);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "image/png");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.match(res.headers["content-security-policy"] ?? "", /sandbox/);
    assert.match(
      res.headers["content-disposition"] ?? "",
      /^inline; filename="?screenshot\.png"?$/,
    );
  });

  it("hides the report from the organization before it is notified", async () => {
    assert.equal((await contact.agent.get(`/reports/${id}`)).status, 404);
  });

  it("walks the workflow with each role taking its step", async () => {
    await act(triager, "acknowledge");
    assert.equal(await state(), "acknowledged");
    await act(triager, "request_info", {
      message: "Which browser did you use?",
    });
    assert.equal(await state(), "needs_info");
    assert.match(
      await page(researcher),
      /Answer the CERT&#39;s question below/,
    );
    await act(researcher, "provide_info", { message: "Firefox 130" });
    assert.equal(
      await state(),
      "acknowledged",
      "the answer returns it to the state before",
    );

    const triage = await triager.post(`/reports/${id}/triage`, {
      cwe: "CWE-639",
      cvss: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
      organization: orgPublicId,
    });
    assert.equal(triage.status, 303);
    await act(triager, "triage");
    await act(triager, "notify_vendor");
    assert.equal(await state(), "vendor_notified");

    const orgView = await page(contact);
    assert.match(orgView, /Acknowledge and start fixing/);
    assert.match(
      orgView,
      /Rhea Searcher/,
      "the researcher allowed the organization to see their name",
    );
    await act(contact, "vendor_acknowledge", { message: "We are on it." });
    await act(contact, "mark_fixed");
    assert.equal(await state(), "fixed");
    assert.match(await page(researcher), /Please retest and confirm the fix/);
    await act(researcher, "verify_fix");
    await act(triager, "close", { resolution: "resolved" });
    assert.equal(await state(), "closed");
  });

  it("records every step on the timeline, in order, with who did it", async () => {
    const html = await page(researcher);
    const steps = [
      "submitted the report",
      "acknowledged the report",
      "asked the researcher for more information",
      "answered the request for information",
      "changed the triage details",
      "validated the report",
      "notified the affected organization",
      "a fix is in progress",
      "marked the fix as deployed",
      "confirmed the fix",
      "closed the report",
    ];
    let last = -1;
    for (const step of steps) {
      const at = html.indexOf(step);
      assert.ok(at > last, `"${step}" missing or out of order`);
      last = at;
    }
    assert.match(html, /Resolution: Resolved/);
    assert.match(html, /Which browser did you use\?/);
  });

  it("offers each role only the actions the workflow allows now", async () => {
    const html = await page(triager);
    assert.match(html, /Publish as advisory/);
    assert.match(html, />Reopen</);
    assert.doesNotMatch(html, />Acknowledge</);
    assert.doesNotMatch(await page(researcher), /name="name" value=/);
  });
});

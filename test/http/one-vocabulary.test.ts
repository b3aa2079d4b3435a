import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { STATE_INFO, type State } from "../../src/reports/workflow.js";
import { addMember, createOrg, insertReport } from "../support/fixtures.js";
import {
  insertPublishableReport,
  publishAdvisory,
} from "../support/advisories.js";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

/** A machine name like vendor_notified or fix_in_progress. */
const SNAKE = /\b[a-z]+(?:_[a-z]+)+\b/;

/**
 * One vocabulary: what a person reads after each step names the state as
 * the state's own label (STATE_INFO), never its machine name, and severity
 * is written the same way on every page.
 */
describe("one vocabulary on every surface", () => {
  let ctx: TestContext;
  let researcher: Browser;
  let triager: Browser;
  let contact: Browser;
  let researcherId: number;
  let orgId: number;
  let orgPublicId: string;

  before(async () => {
    ctx = await createTestContext();
    const org = await createOrg(ctx, "Harbour Hospital");
    orgId = org.id;
    orgPublicId = org.publicId;
    const contactUser = await createUser(ctx, "org_contact");
    await addMember(ctx, org.id, contactUser.user.id);
    const researcherUser = await createUser(ctx, "researcher");
    researcherId = researcherUser.user.id;
    researcher = await signedIn(ctx, researcherUser);
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
    contact = await signedIn(ctx, contactUser);
  });
  after(() => ctx.close());

  /** Takes a step and returns the flash shown on the page it leads to. */
  async function step(
    who: Browser,
    id: string,
    name: string,
    fields: Record<string, string> = {},
  ): Promise<string> {
    const res = await who.post(`/reports/${id}/transition`, {
      name,
      ...fields,
    });
    assert.equal(res.status, 303, `${name}: ${res.text.slice(0, 300)}`);
    const page = await who.agent.get(res.headers.location!);
    const flash =
      /<div class="flash flash-success" role="status">([^<]*)<\/div>/.exec(
        page.text,
      );
    assert.ok(flash, `${name}: no flash`);
    return shown(flash[1]!);
  }

  it("says each state's label, not its machine name, in the flash after every step", async () => {
    const { publicId: id } = await insertReport(ctx, {
      reporterId: researcherId,
      organizationId: orgId,
    });
    const walk: [Browser, string, State, Record<string, string>?][] = [
      [triager, "acknowledge", "acknowledged"],
      [triager, "request_info", "needs_info", { message: "Which browser?" }],
      [researcher, "provide_info", "acknowledged", { message: "Firefox" }],
      [
        triager,
        "triage",
        "triaged",
        {
          cvss: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:N",
          cwe: "CWE-639",
          organization: orgPublicId,
        },
      ],
      [triager, "notify_vendor", "vendor_notified"],
      [contact, "vendor_acknowledge", "fix_in_progress", { message: "On it." }],
      [contact, "mark_fixed", "fixed"],
      [researcher, "verify_fix", "fix_verified"],
      [triager, "close", "closed", { resolution: "resolved" }],
    ];
    for (const [who, name, state, fields] of walk) {
      const flash = await step(who, id, name, fields);
      assert.doesNotMatch(flash, SNAKE, `${name}: ${flash}`);
      assert.ok(
        flash.includes(STATE_INFO[state].label),
        `${name}: "${flash}" does not name "${STATE_INFO[state].label}"`,
      );
    }
  });

  it("says the label after the other steps too: not fixed, reopen, withdraw, publish", async () => {
    const { publicId: id } = await insertReport(ctx, {
      reporterId: researcherId,
      organizationId: orgId,
      state: "fixed",
      severity: "high",
      cvssScore: 7.5,
    });
    const walk: [Browser, string, State, Record<string, string>?][] = [
      [researcher, "reject_fix", "fix_in_progress", { message: "Still open." }],
      [triager, "close", "closed", { resolution: "wont_fix" }],
      [
        triager,
        "reopen",
        "triaged",
        { message: "The organization came back." },
      ],
    ];
    for (const [who, name, state, fields] of walk) {
      const flash = await step(who, id, name, fields);
      assert.doesNotMatch(flash, SNAKE, `${name}: ${flash}`);
      assert.ok(flash.includes(STATE_INFO[state].label), `${name}: ${flash}`);
    }
    const { publicId: early } = await insertReport(ctx, {
      reporterId: researcherId,
    });
    const withdrawn = await step(researcher, early, "withdraw", {
      message: "Sent to the wrong desk.",
    });
    assert.doesNotMatch(withdrawn, SNAKE, withdrawn);
    assert.ok(withdrawn.includes(STATE_INFO.closed.label), withdrawn);

    const ready = await insertPublishableReport(ctx, {
      reporterId: researcherId,
      organizationId: orgId,
      cvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
    });
    await triager.refreshCsrf(`/reports/${ready.publicId}`);
    const saved = await triager.post(`/reports/${ready.publicId}/advisory`, {
      title: "Lab results readable by changing an ID",
      summary: "Lab results of any patient could be read.",
      cveId: "",
    });
    assert.equal(saved.status, 303);
    const published = await step(triager, ready.publicId, "publish", {
      confirm: "yes",
    });
    assert.doesNotMatch(published, SNAKE, published);
    assert.ok(published.includes(STATE_INFO.disclosed.label), published);
  });

  it("writes severity capitalised on the advisory list, the advisory and the letter", async () => {
    const report = await insertPublishableReport(ctx, {
      reporterId: researcherId,
      organizationId: orgId,
      severity: "high",
      cvssScore: 7.5,
      cvssVector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
    });
    await publishAdvisory(triager, report.publicId, {
      summary: "Lab results of any patient could be read.",
    });
    const pages = [
      (await triager.agent.get("/advisories")).text,
      (await triager.agent.get(`/advisories/${report.publicId}`)).text,
      (await researcher.agent.get(`/reports/${report.publicId}/letter`)).text,
    ];
    for (const html of pages) {
      assert.match(html, /High( \(CVSS)? 7\.5/);
      assert.doesNotMatch(html, /\bhigh( \(CVSS)? 7\.5/);
    }
  });
});

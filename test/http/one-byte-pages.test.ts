import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  createTestContext,
  createUser,
  shown,
  signedIn,
  type TestContext,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  submitReport,
} from "../support/reports.js";

/** Text past Latin-1: Polish, arrows and quotes, CJK, an emoji. */
const TITLE = "Błąd w Łodzi → “漢字” 🔍";
const ORG = "Szpital Łódź — 東京";
const RESEARCHER = "Łukasz Żółć 🔍";

describe("pages are written in Latin-1 (src/http/html.ts)", () => {
  let ctx: TestContext;

  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  it("writes what people typed past Latin-1 as references a browser shows as typed", async () => {
    const researcher = await signedIn(
      ctx,
      await createUser(ctx, "researcher", { displayName: RESEARCHER }),
    );
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    const filed = await submitReport(
      researcher,
      reportFields({
        title: TITLE,
        newOrganization: ORG,
        description: `Steps with **${TITLE}** and \`${ORG}\`.`,
      }),
    );
    assert.equal(filed.status, 303);
    const report = `/reports/${reportIdFrom(filed.headers.location)}`;

    const pages: [string, typeof researcher, string[]][] = [
      [report, researcher, [TITLE, ORG, RESEARCHER]],
      ["/reports", researcher, [TITLE, RESEARCHER]],
      ["/reports/new", researcher, ["Choose…"]],
      [report, triager, [TITLE, ORG]],
      ["/queue", triager, [TITLE]],
      [`/search?q=${encodeURIComponent("Błąd")}`, triager, [TITLE]],
    ];
    for (const [url, who, texts] of pages) {
      const res = await who.agent.get(url);
      assert.equal(res.status, 200, url);
      const beyond = res.text.match(/[^\u0000-\u00ff]/gu);
      assert.equal(beyond, null, `${url}: ${beyond?.join(" ")}`);
      for (const text of texts)
        assert.ok(shown(res.text).includes(text), `${url} shows ${text}`);
    }
  });
});

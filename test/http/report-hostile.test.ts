import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import supertest from "supertest";
import { SESSION_COOKIE } from "../../src/app.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { createOrg } from "../support/fixtures.js";
import {
  reportFields,
  reportIdFrom,
  SCREENSHOT,
  submitReport,
} from "../support/reports.js";

const XSS = `<script>alert("x")</script>"><img src=x onerror=alert(1)>`;

describe("reports: hostile and forged input", () => {
  let ctx: TestContext;
  let researcherUser: TestUser;
  let researcher: Browser;
  let other: Browser;

  const count = async (table: "reports" | "attachments" | "report_events") =>
    Number(
      (
        await ctx.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const file = (name: string, content: string | Buffer) => {
    const p = path.join(ctx.dataDir, name.replace(/[^\w.]/g, "_"));
    writeFileSync(p, content);
    return p;
  };

  before(async () => {
    ctx = await createTestContext();
    researcherUser = await createUser(ctx, "researcher");
    researcher = await signedIn(ctx, researcherUser);
    other = await signedIn(ctx, await createUser(ctx, "researcher"));
  });
  after(() => ctx.close());

  it("renders XSS in every text field and in file names inert", async () => {
    const fields = reportFields({
      title: `Title ${XSS}`,
      newOrganization: `Org ${XSS}`,
      asset: `https://x.test/${XSS}`,
      description: `Description ${XSS} [link](javascript:alert(1))`,
      steps: `Steps ${XSS}`,
      impact: `Impact ${XSS}`,
      creditHandle: `h${XSS}`.slice(0, 80),
    });
    const res = await submitReport(researcher, fields, [
      { path: SCREENSHOT, name: `shot${XSS}.png` },
    ]);
    assert.equal(res.status, 303);
    const page = await researcher.agent.get(res.headers.location!);
    assert.equal(page.status, 200);
    assert.doesNotMatch(page.text, /<script>alert/);
    assert.doesNotMatch(page.text, /<img src=x/);
    assert.doesNotMatch(page.text, /href="javascript:/i);
    assert.match(page.text, /&lt;script&gt;alert/);
  });

  it("stores files by content hash and shows only a sanitized name", async () => {
    const res = await submitReport(researcher, reportFields(), [
      { path: SCREENSHOT, name: "../../../etc/passwd.png" },
    ]);
    assert.equal(res.status, 303);
    const row = await ctx.db
      .selectFrom("attachments")
      .select(["file_name", "sha256"])
      .orderBy("id", "desc")
      .executeTakeFirstOrThrow();
    assert.equal(row.file_name, "passwd.png");
    assert.match(row.sha256, /^[0-9a-f]{64}$/);
  });

  it("refuses a file whose content is not what its name says, keeping the typed form", async () => {
    const before = await count("reports");
    const fake = file("fake.png", "<html><script>alert(1)</script></html>");
    const exe = file(
      "tool.png",
      Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00, 0x00, 0x00]),
    );
    const res = await submitReport(
      researcher,
      reportFields({ title: "Kept title here" }),
      [
        { path: fake, name: "fake.png" },
        { path: exe, name: "tool.png" },
      ],
    );
    assert.equal(res.status, 422);
    assert.match(
      res.text,
      /Not accepted \(only images, PDF, plain text, and for download ZIP, HAR, HTML, MP4 or WebM named as such\): fake\.png, tool\.png/,
    );
    assert.match(res.text, /value="Kept title here"/);
    assert.equal(await count("reports"), before);
  });

  it("refuses too many files and oversized files with a message by the field", async () => {
    const before = await count("reports");
    const six = Array.from({ length: 6 }, () => ({ path: SCREENSHOT }));
    const many = await submitReport(researcher, reportFields(), six);
    assert.equal(many.status, 422);
    assert.match(many.text, /Attach at most 5 files\./);
    const big = file("big.txt", "a".repeat(10 * 1024 * 1024 + 1));
    const large = await submitReport(researcher, reportFields(), [
      { path: big },
    ]);
    assert.equal(large.status, 422);
    assert.match(large.text, /Each file must be at most 10 MB\./);
    assert.equal(await count("reports"), before);
  });

  it("keeps uploaded files when the form comes back for another error, and files them on resubmission", async () => {
    const first = await submitReport(researcher, reportFields({ title: "" }), [
      { path: SCREENSHOT },
    ]);
    assert.equal(first.status, 422);
    assert.match(first.text, /Title is required\./);
    const kept = /name="keptAttachments" value="([^"]+)"/.exec(first.text)?.[1];
    assert.ok(kept, "the uploaded file is carried in the form");
    const second = await submitReport(
      researcher,
      reportFields({ keptAttachments: kept }),
    );
    assert.equal(second.status, 303);
    const id = reportIdFrom(second.headers.location);
    const page = await researcher.agent.get(`/reports/${id}`);
    assert.match(page.text, /screenshot\.png/);
  });

  it("never links another user's pending file, even with its ID", async () => {
    const first = await submitReport(other, reportFields({ title: "" }), [
      { path: SCREENSHOT },
    ]);
    const foreign = /name="keptAttachments" value="([^"]+)"/.exec(
      first.text,
    )?.[1];
    assert.ok(foreign);
    const res = await submitReport(
      researcher,
      reportFields({ keptAttachments: foreign }),
    );
    assert.equal(res.status, 303);
    const row = await ctx.db
      .selectFrom("attachments")
      .select("report_id")
      .where("public_id", "=", foreign)
      .executeTakeFirstOrThrow();
    assert.equal(row.report_id, null);
  });

  it("ignores forged state, assignee, reporter and organization fields", async () => {
    const triager = await createUser(ctx, "triager");
    const org = await createOrg(ctx);
    const res = await submitReport(
      researcher,
      reportFields({
        state: "disclosed",
        assignee_id: String(triager.user.id),
        assigneeId: String(triager.user.id),
        reporter_id: String(triager.user.id),
        reporterId: String(triager.user.id),
        organization_id: String(org.id),
        vendor_notified_at: "1",
      }),
    );
    assert.equal(res.status, 303);
    const id = reportIdFrom(res.headers.location);
    const row = await ctx.db
      .selectFrom("reports")
      .selectAll()
      .where("public_id", "=", id)
      .executeTakeFirstOrThrow();
    assert.equal(row.state, "submitted");
    assert.equal(row.assignee_id, null);
    assert.equal(row.reporter_id, researcherUser.user.id);
    assert.equal(row.organization_id, null);
    assert.equal(row.vendor_notified_at, null);

    // The researcher cannot take staff steps or staff forms on their own report.
    const before = await count("report_events");
    assert.equal(
      (
        await researcher.post(`/reports/${id}/transition`, {
          name: "acknowledge",
        })
      ).status,
      422,
    );
    assert.equal(
      (
        await researcher.post(`/reports/${id}/triage`, {
          cwe: "CWE-79",
          cvss: "",
          organization: "",
        })
      ).status,
      404,
    );
    assert.equal(
      (await researcher.post(`/reports/${id}/notes`, { body: "sneaky" }))
        .status,
      404,
    );
    assert.equal(
      (await researcher.post(`/reports/${id}/assign`, { assignee: "me" }))
        .status,
      404,
    );
    assert.equal(await count("report_events"), before);
    const after = await ctx.db
      .selectFrom("reports")
      .select(["state", "assignee_id"])
      .where("public_id", "=", id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(after, { state: "submitted", assignee_id: null });
  });

  it("answers a foreign report exactly like a missing one", async () => {
    const res = await submitReport(researcher, reportFields());
    const id = reportIdFrom(res.headers.location);
    const foreign = await other.agent.get(`/reports/${id}`);
    const missing = await other.agent.get(`/reports/DD-0000-0000`);
    const malformed = await other.agent.get(`/reports/../../etc/passwd`);
    assert.equal(foreign.status, 404);
    assert.equal(missing.status, 404);
    assert.equal(foreign.text, missing.text);
    assert.equal(malformed.status, 404);
    const href = "/reports/" + id + "/comments";
    assert.equal((await other.post(href, { body: "hi" })).status, 404);
  });

  it("keeps a report typed into an expired session and shows it again, filled, after sign-in", async () => {
    const browser = await signedIn(ctx, researcherUser);
    const csrf = browser.csrf;
    // The session ends (idle expiry) while the researcher is writing.
    ctx.clock.advance(ctx.config.sessionIdleMs + 60_000);
    const before = await count("reports");
    const res = await browser.agent
      .post("/reports/new")
      .type("form")
      .send({
        _csrf: csrf,
        ...reportFields({ title: "Written during a long night" }),
      });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/login");
    assert.equal(
      await count("reports"),
      before,
      "nothing is filed without a fresh sign-in",
    );
    const login = await browser.agent.get("/login");
    assert.match(login.text, /Sign in and it will be shown again, filled in/);
    const token = /name="_csrf" value="([^"]+)"/.exec(login.text)![1]!;
    const signIn = await browser.agent.post("/login").type("form").send({
      _csrf: token,
      email: researcherUser.email,
      password: researcherUser.password,
    });
    assert.equal(signIn.headers.location, "/reports/new");
    const form = await browser.agent.get("/reports/new");
    assert.match(form.text, /value="Written during a long night"/);
    assert.match(form.text, /Your session had ended/);
    const again = await browser.agent.get("/reports/new");
    assert.doesNotMatch(
      again.text,
      /Written during a long night/,
      "restored once only",
    );
  });

  it("refuses a report POST without a CSRF token from a signed-in user", async () => {
    const before = await count("reports");
    const fresh = await signedIn(ctx, researcherUser);
    const res = await fresh.agent
      .post("/reports/new")
      .type("form")
      .send(reportFields());
    assert.equal(res.status, 403);
    assert.equal(await count("reports"), before);
    const cookieOnly = await supertest(ctx.app)
      .post("/reports/new")
      .set("Cookie", `${SESSION_COOKIE}=forged`)
      .type("form")
      .send(reportFields());
    // A session that was never signed in keeps nothing: refused, no cookie set.
    assert.equal(cookieOnly.status, 403);
    assert.equal(cookieOnly.headers["set-cookie"], undefined);
    assert.equal(await count("reports"), before);
    void anonymous;
  });
});

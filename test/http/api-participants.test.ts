/**
 * Several organizations on one case through the API: each organization's
 * contact answers for its own organization only (status, statement,
 * tracking ID and fix target) over the same use cases as the web, sees the
 * participants as the report page shows them, and writes comments only to
 * the audiences the web's form offers. The limits on filing and comments
 * are one count for the web and the API together.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { NOT_FOUND_BODY } from "../../src/api/http.js";
import {
  addParticipant,
  setCaseOpenness,
} from "../../src/reports/participations-service.js";
import { findReportByPublicId } from "../../src/reports/repository.js";
import { toActor } from "../../src/users/service.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import { reportFields } from "../support/reports.js";
import {
  apiClient,
  checkerFor,
  tokenFor,
  type ResponseChecker,
} from "../support/api.js";

type Participant = {
  organization: { id: string; name: string };
  status: string;
  status_reason: string | null;
  notified_at: string | null;
  tracking_id: string | null;
  fix_target: string | null;
  statement: {
    text: string;
    references: string | null;
    approved: boolean;
    shared: boolean | null;
  } | null;
};

describe("API: organizations on a case", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let checker: ResponseChecker;
  let orgA: { id: number; publicId: string; name: string };
  let orgB: { id: number; publicId: string; name: string };
  let orgC: { id: number; publicId: string; name: string };
  const who = {} as Record<
    "researcher" | "triager" | "a" | "b" | "c",
    TestUser
  >;
  const token = {} as Record<keyof typeof who, string>;
  let id: string;

  const api = (name: keyof typeof who) => apiClient(ctx, checker, token[name]);
  const participants = async (name: keyof typeof who) => {
    const res = await api(name).get(`/reports/${id}`);
    assert.equal(res.status, 200, name);
    return res.body.participants as Participant[];
  };
  const report = async () => (await findReportByPublicId(ctx.db, id))!;
  const timeline = async (name: keyof typeof who) =>
    (await api(name).get(`/reports/${id}`)).body.timeline.map(
      (e: { body: string | null }) => e.body,
    ) as (string | null)[];

  before(async () => {
    ctx = await createTestContext();
    checker = checkerFor(ctx);
    orgA = await createOrg(ctx, "Alpha Water Works");
    orgB = await createOrg(ctx, "Beta Power Grid");
    orgC = await createOrg(ctx, "Gamma Health Portal");
    who.researcher = await createUser(ctx, "researcher");
    who.triager = await createUser(ctx, "triager");
    who.a = await createUser(ctx, "org_contact", { orgIds: [orgA.id] });
    who.b = await createUser(ctx, "org_contact", { orgIds: [orgB.id] });
    who.c = await createUser(ctx, "org_contact", { orgIds: [orgC.id] });
    for (const name of Object.keys(who) as (keyof typeof who)[])
      token[name] = await tokenFor(ctx, who[name]);
    const inserted = await insertReport(ctx, {
      reporterId: who.researcher.user.id,
      state: "vendor_notified",
      organizationId: orgA.id,
    });
    id = inserted.publicId;
    // B is added by a triager (notified at once); C is not on the case.
    const added = await addParticipant(
      ctx.deps,
      toActor(who.triager.user),
      await report(),
      { organization: orgB.publicId },
      null,
    );
    assert.ok(added.ok);
  });
  after(() => ctx.close());

  it("an organization sets its own status, statement and details through the API", async () => {
    const status = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/status`,
      { status: "investigating" },
    );
    assert.equal(status.status, 200, status.text);
    const mine = status.body.participants.find(
      (p: Participant) => p.organization.id === orgA.publicId,
    );
    assert.equal(mine.status, "investigating");
    // A PUT that changes nothing answers the same and writes nothing.
    const events = (await timeline("triager")).length;
    const again = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/status`,
      { status: "investigating" },
    );
    assert.equal(again.status, 200);
    assert.equal((await timeline("triager")).length, events);

    const disputed = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/status`,
      { status: "disputed" },
    );
    assert.equal(disputed.status, 422);
    assert.match(disputed.body.errors.reason, /Say why/);
    const unknown = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/status`,
      { status: "not_answered", role: "admin" },
    );
    assert.equal(unknown.status, 422);
    assert.ok(unknown.body.errors.status);
    assert.equal(unknown.body.errors.role, "Unknown field.");

    const statement = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/statement`,
      {
        statement: "Alpha's portal 4.2 is affected; 4.3 fixes it.",
        references: "https://alpha.example.test/psa/1",
      },
    );
    assert.equal(statement.status, 200, statement.text);
    const details = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/details`,
      { tracking_id: "PSIRT-2027-0042", fix_target: "2027-03-31" },
    );
    assert.equal(details.status, 200, details.text);
    const own = (await participants("a")).find(
      (p) => p.organization.id === orgA.publicId,
    )!;
    assert.equal(own.tracking_id, "PSIRT-2027-0042");
    assert.equal(own.fix_target, "2027-03-31");
    assert.deepEqual(own.statement, {
      text: "Alpha's portal 4.2 is affected; 4.3 fixes it.",
      references: "https://alpha.example.test/psa/1",
      approved: false,
      shared: false,
    });
    const bad = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/details`,
      { tracking_id: "line\nbreak", fix_target: "31/03/2027" },
    );
    assert.equal(bad.status, 422);
    assert.ok(bad.body.errors.tracking_id);
    assert.ok(bad.body.errors.fix_target);
    // Each write is audited with the token's ID.
    const audited = await ctx.db
      .selectFrom("audit_log")
      .select(["action", "details"])
      .where("actor_id", "=", who.a.user.id)
      .execute();
    const withToken = audited.filter(
      (a) => (JSON.parse(a.details) as { api?: string }).api !== undefined,
    );
    assert.ok(withToken.length >= 3, JSON.stringify(audited));
  });

  it("another organization's ID, a forged one and a missing report are the same 404", async () => {
    const before = await participants("triager");
    for (const kind of ["status", "statement", "details"]) {
      const body =
        kind === "status"
          ? { status: "not_affected" }
          : kind === "statement"
            ? { statement: "Not us." }
            : { tracking_id: "B-1" };
      for (const path of [
        `/reports/${id}/participants/${orgB.publicId}/${kind}`,
        `/reports/${id}/participants/${orgC.publicId}/${kind}`,
        `/reports/${id}/participants/ORG-FORGED/${kind}`,
        `/reports/DD-0000-0000/participants/${orgA.publicId}/${kind}`,
      ]) {
        const res = await api("a").put(path, body);
        assert.equal(res.status, 404, path);
        assert.equal(res.text, NOT_FOUND_BODY, path);
      }
      // C is not on the case at all; the researcher answers for nobody.
      for (const name of ["c", "researcher"] as const) {
        const res = await api(name).put(
          `/reports/${id}/participants/${orgA.publicId}/${kind}`,
          body,
        );
        assert.equal(res.text, NOT_FOUND_BODY, `${name} ${kind}`);
      }
    }
    assert.deepEqual(await participants("triager"), before);
  });

  it("each caller sees the participants as the report page shows them", async () => {
    await api("b").put(`/reports/${id}/participants/${orgB.publicId}/details`, {
      tracking_id: "BETA-7",
    });
    await api("b").put(
      `/reports/${id}/participants/${orgB.publicId}/statement`,
      { statement: "Beta is not affected: the module is not shipped." },
    );
    // Staff: every organization in full.
    const staff = await participants("triager");
    assert.deepEqual(
      staff.map((p) => [p.organization.id, p.tracking_id]),
      [
        [orgA.publicId, "PSIRT-2027-0042"],
        [orgB.publicId, "BETA-7"],
      ],
    );
    // The researcher: names and statuses, nothing of the organizations' own.
    const researcher = await participants("researcher");
    assert.equal(researcher.length, 2);
    for (const p of researcher) {
      assert.equal(p.tracking_id, null);
      assert.equal(p.fix_target, null);
      assert.equal(p.notified_at, null);
      assert.equal(p.statement, null);
    }
    // A closed case: each organization sees only its own participation.
    const a = await participants("a");
    assert.deepEqual(
      a.map((p) => p.organization.id),
      [orgA.publicId],
    );
    const b = await participants("b");
    assert.deepEqual(
      b.map((p) => p.organization.id),
      [orgB.publicId],
    );
    const bText = JSON.stringify((await api("b").get(`/reports/${id}`)).body);
    for (const secret of ["PSIRT-2027-0042", "Alpha's portal", "2027-03-31"])
      assert.ok(!bText.includes(secret), secret);

    // Opened: names and statuses of the others, never their own details.
    assert.ok(
      (
        await setCaseOpenness(
          ctx.deps,
          toActor(who.triager.user),
          await report(),
          { open: "yes" },
          null,
        )
      ).ok,
    );
    const opened = await participants("b");
    const alpha = opened.find((p) => p.organization.id === orgA.publicId)!;
    assert.deepEqual(alpha, {
      organization: { id: orgA.publicId, name: orgA.name },
      status: "investigating",
      status_reason: null,
      notified_at: null,
      answered_at: null,
      tracking_id: null,
      fix_target: null,
      statement: null,
    });
    // A shares its statement: B reads its text, not its references.
    const shared = await api("a").put(
      `/reports/${id}/participants/${orgA.publicId}/statement`,
      {
        statement: "Alpha's portal 4.2 is affected; 4.3 fixes it.",
        references: "https://alpha.example.test/psa/1",
        shared: true,
      },
    );
    assert.equal(shared.status, 200, shared.text);
    const read = (await participants("b")).find(
      (p) => p.organization.id === orgA.publicId,
    )!;
    assert.deepEqual(read.statement, {
      text: "Alpha's portal 4.2 is affected; 4.3 fixes it.",
      references: null,
      approved: false,
      shared: null,
    });
    assert.equal(read.tracking_id, null);
    // Sharing is the organization's own choice: staff may not make it.
    const staffShares = await api("triager").put(
      `/reports/${id}/participants/${orgB.publicId}/statement`,
      {
        statement: "Beta is not affected: the module is not shipped.",
        shared: true,
      },
    );
    assert.equal(staffShares.status, 422);
    assert.ok(staffShares.body.errors.shared);
    // C, not on the case, sees nothing of it.
    assert.equal((await api("c").get(`/reports/${id}`)).text, NOT_FOUND_BODY);
  });

  it("staff answer for any organization on the case, as on the web", async () => {
    const res = await api("triager").put(
      `/reports/${id}/participants/${orgB.publicId}/status`,
      { status: "not_affected" },
    );
    assert.equal(res.status, 200, res.text);
    const b = (await participants("b")).find(
      (p) => p.organization.id === orgB.publicId,
    )!;
    assert.equal(b.status, "not_affected");
  });

  it("comments go only to an audience the web's form offers the caller", async () => {
    const toAlpha = await api("a").post(`/reports/${id}/comments`, {
      body: "For the CERT only: our build server logs.",
      audience: "org",
      organization: orgA.publicId,
    });
    assert.equal(toAlpha.status, 201, toAlpha.text);
    assert.ok(
      (await timeline("triager")).includes(
        "For the CERT only: our build server logs.",
      ),
    );
    for (const name of ["b", "researcher"] as const)
      assert.ok(
        !(await timeline(name)).includes(
          "For the CERT only: our build server logs.",
        ),
        name,
      );
    // The entry says which organization it is for; B's token reads none of A's.
    const entries = async (name: keyof typeof who) =>
      (await api(name).get(`/reports/${id}`)).body.timeline as {
        body: string | null;
        audience: string;
        audience_organization: { id: string; name: string } | null;
      }[];
    const forAlpha = (await entries("triager")).find(
      (e) => e.body === "For the CERT only: our build server logs.",
    )!;
    assert.equal(forAlpha.audience, "org");
    assert.deepEqual(forAlpha.audience_organization, {
      id: orgA.publicId,
      name: orgA.name,
    });
    assert.ok(
      (await entries("b")).every(
        (e) => e.audience_organization?.id !== orgA.publicId,
      ),
    );
    const before = (await timeline("triager")).length;
    for (const body of [
      // Another organization's thread.
      { audience: "org", organization: orgB.publicId },
      { audience: "org_researcher", organization: orgB.publicId },
      // An organization that is not on the case, or forged.
      { audience: "org", organization: orgC.publicId },
      { audience: "org", organization: "ORG-FORGED" },
      // Internal notes are staff's, with their own form.
      { audience: "internal" },
      // org without the organization, and an organization alone.
      { audience: "org" },
      { organization: orgA.publicId },
    ]) {
      const res = await api("a").post(`/reports/${id}/comments`, {
        body: "Sneaky.",
        ...body,
      });
      assert.equal(res.status, 422, JSON.stringify(body));
      assert.ok(res.body.errors.audience, JSON.stringify(body));
    }
    // The researcher writes to one organization and the CERT.
    const researcher = await api("researcher").post(`/reports/${id}/comments`, {
      body: "Beta: your portal uses the same module.",
      audience: "org_researcher",
      organization: orgB.publicId,
    });
    assert.equal(researcher.status, 201, researcher.text);
    assert.ok(
      (await timeline("b")).includes("Beta: your portal uses the same module."),
    );
    assert.ok(
      !(await timeline("a")).includes(
        "Beta: your portal uses the same module.",
      ),
    );
    assert.equal((await timeline("triager")).length, before + 1);
  });

  it("the web and the API count comments and filings together", async () => {
    const busy = await createUser(ctx, "researcher");
    const own = await insertReport(ctx, { reporterId: busy.user.id });
    const browser = await signedIn(ctx, busy);
    for (let i = 0; i < 30; i += 1) {
      const res = await browser.post(`/reports/${own.publicId}/comments`, {
        body: `Web comment ${i}`,
      });
      assert.equal(res.status, 303, `web comment ${i}`);
    }
    const client = apiClient(ctx, checker, await tokenFor(ctx, busy));
    const refused = await client.post(`/reports/${own.publicId}/comments`, {
      body: "One more, by the API.",
    });
    assert.equal(refused.status, 429);
    assert.match(refused.body.detail, /many comments/);

    // Filings: 30 by the API, then the web refuses the 31st.
    const filer = await createUser(ctx, "researcher");
    const filerApi = apiClient(ctx, checker, await tokenFor(ctx, filer));
    for (let i = 0; i < 30; i += 1) {
      const res = await filerApi.post("/reports", {
        title: `Filing number ${i}`,
        organization: orgA.publicId,
        asset: "https://portal.example.test/appointments",
        cwe: "CWE-639",
        description: "Changing the appointment ID shows another patient.",
        steps: "1. Sign in\n2. Change the ID",
        impact: "Appointments can be read.",
        credit: "name",
      });
      assert.equal(res.status, 201, res.text);
    }
    const web = await signedIn(ctx, filer);
    const more = await web.post("/reports/new", reportFields());
    assert.equal(more.status, 429);
    const count = await ctx.db
      .selectFrom("reports")
      .select("id")
      .where("reporter_id", "=", filer.user.id)
      .execute();
    assert.equal(count.length, 30);
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import { createOrg, addMember } from "../support/fixtures.js";
import {
  anonymous,
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
} from "../support/harness.js";

async function outboxTo(ctx: TestContext, address: string) {
  return ctx.db
    .selectFrom("outbox")
    .select(["template", "subject", "text_body"])
    .where("to_address", "=", address)
    .execute();
}

async function membersOf(ctx: TestContext, orgId: number) {
  const rows = await ctx.db
    .selectFrom("org_members")
    .innerJoin("users", "users.id", "org_members.user_id")
    .select("users.email")
    .where("org_members.org_id", "=", orgId)
    .orderBy("users.email")
    .execute();
  return rows.map((r) => r.email);
}

describe("organizations", () => {
  let ctx: TestContext;
  let triager: Browser;

  before(async () => {
    ctx = await createTestContext();
    triager = await signedIn(ctx, await createUser(ctx, "triager"));
  });
  after(() => ctx.close());

  it("creates an organization and lands on its page, addressed by public id", async () => {
    const res = await triager.post("/orgs", { name: "  City Hospital Trust " });
    assert.equal(res.status, 303);
    const org = await ctx.db
      .selectFrom("organizations")
      .selectAll()
      .where("name", "=", "City Hospital Trust")
      .executeTakeFirstOrThrow();
    assert.equal(res.headers.location, `/orgs/${org.public_id}`);
    assert.doesNotMatch(res.headers.location!, new RegExp(`/orgs/${org.id}$`));
    const page = await triager.agent.get(res.headers.location!);
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1>City Hospital Trust<\/h1>/);
    assert.match(page.text, /City Hospital Trust was created/);
  });

  it("a new organization is in the queue's filter at once (the list is cached)", async () => {
    assert.equal((await triager.agent.get("/queue")).status, 200);
    const res = await triager.post("/orgs", { name: "Freshly Made Utility" });
    assert.equal(res.status, 303);
    const queue = await triager.agent.get("/queue");
    assert.match(queue.text, /<option[^>]*>Freshly Made Utility<\/option>/);
  });

  it("refuses a name that exists in another case, keeping what was typed", async () => {
    const before = await ctx.db
      .selectFrom("organizations")
      .select("id")
      .execute();
    const res = await triager.post("/orgs", { name: "city HOSPITAL trust" });
    assert.equal(res.status, 422);
    assert.match(res.text, /An organization with this name already exists/);
    assert.match(res.text, /id="f-name-error"/);
    assert.match(res.text, /value="city HOSPITAL trust"/);
    const after = await ctx.db
      .selectFrom("organizations")
      .select("id")
      .execute();
    assert.equal(after.length, before.length);
  });

  it("refuses an empty name with a message next to the field", async () => {
    const res = await triager.post("/orgs", { name: " " });
    assert.equal(res.status, 422);
    assert.match(
      res.text,
      /id="f-name-error"[^>]*>.*Organization name is required/s,
    );
  });

  it("lists organizations with their contact and report counts", async () => {
    const org = await createOrg(ctx, "Counted Org");
    const c1 = await createUser(ctx, "org_contact", { orgIds: [org.id] });
    await createUser(ctx, "org_contact", { orgIds: [org.id] });
    const reporter = await createUser(ctx, "researcher");
    await ctx.db
      .insertInto("reports")
      .values({
        public_id: "DD-TEST-0001",
        reporter_id: reporter.user.id,
        organization_id: org.id,
        title: "t",
        asset: "a",
        cwe: "CWE-639",
        description: "d",
        steps: "s",
        impact: "i",
        data_exposed: "[]",
        credit_kind: "anonymous",
        reveal_identity: 0,
        state: "triaged",
        created_at: 1,
        updated_at: 1,
      })
      .execute();
    void c1;
    const res = await triager.agent.get("/orgs");
    assert.equal(res.status, 200);
    assert.match(
      res.text,
      new RegExp(
        `/orgs/${org.publicId}">Counted Org</a></td>\\s*<td>2</td>\\s*<td>1</td>`,
      ),
    );
  });

  it("invites a new contact: an org_contact account, the membership and a one-time link by mail", async () => {
    const org = await createOrg(ctx, "Invite Org");
    const res = await triager.post(`/orgs/${org.publicId}/contacts`, {
      email: "Security@Invite.example",
      displayName: "Sec Team",
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, `/orgs/${org.publicId}`);
    const user = await ctx.db
      .selectFrom("users")
      .selectAll()
      .where("email", "=", "security@invite.example")
      .executeTakeFirstOrThrow();
    assert.equal(user.role, "org_contact");
    assert.equal(user.password_hash, null);
    assert.deepEqual(await membersOf(ctx, org.id), ["security@invite.example"]);
    const mails = await outboxTo(ctx, "security@invite.example");
    assert.equal(mails.length, 1);
    assert.equal(mails[0]!.template, "invitation");
    assert.match(mails[0]!.text_body, /Invite Org/);
    assert.match(mails[0]!.text_body, /\/password\/set\?token=/);
    const page = await triager.agent.get(`/orgs/${org.publicId}`);
    assert.match(page.text, /Sec Team/);
    assert.match(page.text, /Invited \(has not set a password yet\)/);
  });

  it("adds an existing org contact to a second organization without a new account or mail", async () => {
    const first = await createOrg(ctx, "First Org");
    const second = await createOrg(ctx, "Second Org");
    const contact = await createUser(ctx, "org_contact", {
      email: "multi@orgs.example",
      orgIds: [first.id],
    });
    const res = await triager.post(`/orgs/${second.publicId}/contacts`, {
      email: "multi@orgs.example",
      displayName: "Ignored Name",
    });
    assert.equal(res.status, 303);
    assert.deepEqual(await membersOf(ctx, second.id), ["multi@orgs.example"]);
    assert.deepEqual(await membersOf(ctx, first.id), ["multi@orgs.example"]);
    assert.equal((await outboxTo(ctx, "multi@orgs.example")).length, 0);
    const users = await ctx.db
      .selectFrom("users")
      .select("id")
      .where("email", "=", "multi@orgs.example")
      .execute();
    assert.deepEqual(users, [{ id: contact.user.id }]);
  });

  it("refuses an address whose account has another role, and a contact already there", async () => {
    const org = await createOrg(ctx, "Refusing Org");
    await createUser(ctx, "researcher", { email: "researcher@x.example" });
    const res = await triager.post(`/orgs/${org.publicId}/contacts`, {
      email: "researcher@x.example",
      displayName: "Res",
    });
    assert.equal(res.status, 422);
    assert.match(
      res.text,
      /role Researcher; only organization contact accounts/,
    );
    assert.match(res.text, /value="researcher@x.example"/);
    assert.match(res.text, /value="Res"/);
    assert.deepEqual(await membersOf(ctx, org.id), []);

    await createUser(ctx, "org_contact", {
      email: "there@x.example",
      orgIds: [org.id],
    });
    const again = await triager.post(`/orgs/${org.publicId}/contacts`, {
      email: "there@x.example",
      displayName: "There",
    });
    assert.equal(again.status, 422);
    assert.match(again.text, /already a contact of Refusing Org/);
  });

  it("keeps typed values and shows field messages for a bad invitation", async () => {
    const org = await createOrg(ctx, "Bad Input Org");
    const res = await triager.post(`/orgs/${org.publicId}/contacts`, {
      email: "not-an-email",
      displayName: "<script>x</script>",
    });
    assert.equal(res.status, 422);
    assert.match(res.text, /id="f-email-error"/);
    assert.match(res.text, /value="not-an-email"/);
    assert.match(res.text, /value="&lt;script&gt;x&lt;\/script&gt;"/);
    assert.doesNotMatch(res.text, /<script>x<\/script>/);
  });

  it("removes a contact, who then no longer sees the organization's reports", async () => {
    const org = await createOrg(ctx, "Removal Org");
    const contact = await createUser(ctx, "org_contact", { orgIds: [org.id] });
    const contactBrowser = await signedIn(ctx, contact);
    const res = await triager.post(
      `/orgs/${org.publicId}/contacts/${contact.user.publicId}/remove`,
    );
    assert.equal(res.status, 303);
    assert.deepEqual(await membersOf(ctx, org.id), []);
    const follow = await triager.agent.get(res.headers.location!);
    assert.match(follow.text, /is no longer a contact of Removal Org/);
    // The contact's session reads memberships afresh on every request.
    const orgRes = await contactBrowser.agent.get("/org/reports");
    assert.equal(orgRes.status, 200);
    assert.match(orgRes.text, /No report has been forwarded/);
    // Removing again: there is no such membership any more.
    const again = await triager.post(
      `/orgs/${org.publicId}/contacts/${contact.user.publicId}/remove`,
    );
    assert.equal(again.status, 404);
  });

  it("answers 404 for unknown organizations and sequential ids", async () => {
    const org = await createOrg(ctx, "Numbered Org");
    assert.equal((await triager.agent.get(`/orgs/${org.id}`)).status, 404);
    assert.equal(
      (await triager.agent.get("/orgs/zzzzzzzzzzzzzzzz")).status,
      404,
    );
  });

  it("is for staff only: others get 404, signed-out visitors are sent to sign in", async () => {
    const org = await createOrg(ctx, "Private Org");
    for (const role of ["researcher", "org_contact"] as const) {
      const b = await signedIn(
        ctx,
        await createUser(ctx, role, {
          orgIds: role === "org_contact" ? [org.id] : [],
        }),
      );
      assert.equal((await b.agent.get("/orgs")).status, 404);
      assert.equal((await b.agent.get(`/orgs/${org.publicId}`)).status, 404);
      assert.equal((await b.post("/orgs", { name: "Sneaky" })).status, 404);
    }
    const anon = await anonymous(ctx);
    const res = await anon.agent.get("/orgs");
    assert.equal(res.status, 303);
    assert.equal(res.headers.location, "/login");
    assert.equal(
      (
        await ctx.db
          .selectFrom("organizations")
          .select("id")
          .where("name", "=", "Sneaky")
          .execute()
      ).length,
      0,
    );
  });

  it("an admin manages organizations too", async () => {
    const admin = await signedIn(ctx, await createUser(ctx, "admin"));
    const res = await admin.post("/orgs", { name: "Admin Made Org" });
    assert.equal(res.status, 303);
  });
});

describe("organization membership fixture", () => {
  it("addMember is idempotent", async () => {
    const ctx = await createTestContext();
    try {
      const org = await createOrg(ctx);
      const contact = await createUser(ctx, "org_contact");
      await addMember(ctx, org.id, contact.user.id);
      await addMember(ctx, org.id, contact.user.id);
      const rows = await ctx.db.selectFrom("org_members").selectAll().execute();
      assert.equal(rows.length, 1);
    } finally {
      await ctx.close();
    }
  });
});

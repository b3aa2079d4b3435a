import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import {
  recordAudit,
  recordReportView,
  viewersOfReport,
} from "../../src/audit/service.js";
import { NotFoundError } from "../../src/http/errors.js";
import { toActor } from "../../src/users/service.js";
import {
  anonymous,
  createTestContext,
  createUser,
  shown,
  signedIn,
  type TestContext,
} from "../support/harness.js";
import { createOrg } from "../support/fixtures.js";

async function entries(ctx: TestContext, action?: string) {
  let q = ctx.db.selectFrom("audit_log").selectAll().orderBy("id");
  if (action) q = q.where("action", "=", action);
  return q.execute();
}

/** The entry ids in the table on an audit page, in page order. */
function idsOnPage(html: string): number[] {
  return [...html.matchAll(/<tr id="entry-(\d+)">/g)].map((m) => Number(m[1]));
}

function nextHref(html: string): string | null {
  const m = /<a href="([^"]+)" rel="next">/.exec(html);
  return m ? m[1]!.replace(/&amp;/g, "&") : null;
}

describe("audit trail over HTTP", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  describe("GET /admin/audit", () => {
    it("is for admins only: not found for everyone else", async () => {
      for (const role of ["researcher", "triager", "org_contact"] as const) {
        const browser = await signedIn(ctx, await createUser(ctx, role));
        const res = await browser.agent.get("/admin/audit");
        assert.equal(res.status, 404, role);
        assert.match(res.text, /Page not found/);
        assert.doesNotMatch(res.text, /href="\/admin\/audit"/);
      }
      const admin = await signedIn(ctx, await createUser(ctx, "admin"));
      const res = await admin.agent.get("/admin/audit");
      assert.equal(res.status, 200);
      assert.match(res.text, /<h1>Audit log<\/h1>/);
      assert.match(res.text, /href="\/admin\/audit"[^>]*>Audit log</);
    });

    it("sends a signed-out visitor to sign in", async () => {
      const browser = await anonymous(ctx);
      const res = await browser.agent.get("/admin/audit");
      assert.equal(res.status, 303);
      assert.equal(res.headers.location, "/login");
    });

    it("shows time with its zone, actor, action, target and IP, escaped", async () => {
      const triager = await createUser(ctx, "triager", {
        email: "tri@example.test",
      });
      await recordAudit(ctx.db, {
        action: "report.viewed",
        actor: triager.user,
        target: { type: "report", id: "DD-7K2Q-9M4D" },
        request: { ip: "203.0.113.5", userAgent: "<script>x</script>" },
        at: new Date("2026-03-02T10:11:12.345Z"),
      });
      const admin = await signedIn(ctx, await createUser(ctx, "admin"));
      const res = await admin.agent.get("/admin/audit?action=report.viewed");
      assert.equal(res.status, 200);
      assert.match(res.text, /2026-03-02 10:11:12 UTC/);
      assert.match(res.text, /datetime="2026-03-02T10:11:12.345Z"/);
      assert.match(res.text, /tri@example\.test/);
      assert.match(
        res.text,
        /<a href="\/reports\/DD-7K2Q-9M4D">Report DD-7K2Q-9M4D<\/a>/,
      );
      assert.match(res.text, /203\.0\.113\.5/);
      assert.match(res.text, /&lt;script&gt;x&lt;\/script&gt;/);
      assert.doesNotMatch(res.text, /<script>x<\/script>/);
    });

    it("names the actor and the target and links them, with no internal number shown", async () => {
      const org = await createOrg(ctx, "Harbour Hospital");
      const triager = await createUser(ctx, "triager", {
        displayName: "Tom Triager",
      });
      const contact = await createUser(ctx, "org_contact", {
        displayName: "Olga Contact",
      });
      const admin = await createUser(ctx, "admin", { displayName: "Ada" });
      await recordAudit(ctx.db, {
        action: "org.member_added",
        actor: admin.user,
        target: { type: "organization", id: org.publicId },
        details: { user: contact.user.publicId },
        at: ctx.clock.now(),
      });
      await recordAudit(ctx.db, {
        action: "user.role_changed",
        actor: admin.user,
        target: { type: "user", id: triager.user.publicId },
        details: { from: "researcher", to: "triager" },
        at: ctx.clock.now(),
      });
      await recordAudit(ctx.db, {
        action: "report.state_changed",
        actor: triager.user,
        target: { type: "report", id: "DD-7K2Q-9M4D" },
        details: {
          transition: "notify_vendor",
          from: "triaged",
          to: "vendor_notified",
        },
        at: ctx.clock.now(),
      });
      const browser = await signedIn(ctx, admin);
      const res = await browser.agent.get("/admin/audit");
      assert.equal(res.status, 200);
      const table = shown(
        res.text.slice(
          res.text.indexOf("<tbody>"),
          res.text.indexOf("</tbody>"),
        ),
      );
      // Actors and targets by name, each a link to where it lives.
      assert.match(
        table,
        new RegExp(
          `<a href="/admin/users#user-${admin.user.publicId}"[^>]*>Ada</a>`,
        ),
      );
      assert.match(
        table,
        new RegExp(`<a href="/orgs/${org.publicId}">Harbour Hospital</a>`),
      );
      assert.match(
        table,
        new RegExp(
          `<a href="/admin/users#user-${triager.user.publicId}">Tom Triager</a>`,
        ),
      );
      assert.match(table, /user:<\/span> Olga Contact/);
      assert.match(table, /to:<\/span> Triager/);
      assert.match(table, /to:<\/span> Organization notified/);
      assert.match(table, /transition:<\/span> Notify the organization/);
      assert.doesNotMatch(table, /vendor_notified|notify_vendor/);
      // The users' page has the rows the links point to.
      const users = await browser.agent.get("/admin/users");
      assert.match(
        users.text,
        new RegExp(`id="user-${triager.user.publicId}"`),
      );
      // No bare number in a cell (entry, user or organization ID), and no
      // opaque public ID of a user or organization as text.
      const cells = [...table.matchAll(/<td[^>]*>([\s\S]*?)<\/td>/g)].map((m) =>
        m[1]!.replace(/<[^>]+>/g, "").trim(),
      );
      for (const cell of cells) assert.doesNotMatch(cell, /^\d+$/, cell);
      for (const id of [
        org.publicId,
        triager.user.publicId,
        contact.user.publicId,
        admin.user.publicId,
      ])
        assert.ok(!cells.some((c) => c.includes(id)), `${id} shown as text`);
    });

    it("filters by action, actor email, target and date range", async () => {
      const a = await createUser(ctx, "triager", { email: "a@example.test" });
      const b = await createUser(ctx, "triager", { email: "b@example.test" });
      const day = (d: string) => new Date(`${d}T12:00:00Z`);
      const put = (
        action: "report.viewed" | "export.csv",
        who: typeof a,
        target: string,
        at: Date,
      ) =>
        recordAudit(ctx.db, {
          action,
          actor: who.user,
          target: { type: "report", id: target },
          at,
        });
      const e1 = await put(
        "report.viewed",
        a,
        "DD-AAAA-0001",
        day("2026-03-01"),
      );
      const e2 = await put(
        "report.viewed",
        b,
        "DD-AAAA-0002",
        day("2026-03-02"),
      );
      const e3 = await put("export.csv", a, "DD-AAAA-0002", day("2026-03-03"));
      const admin = await signedIn(ctx, await createUser(ctx, "admin"));
      const ids = async (query: string) => {
        const res = await admin.agent.get(`/admin/audit?${query}`);
        assert.equal(res.status, 200, query);
        return idsOnPage(res.text);
      };
      assert.deepEqual(await ids("action=report.viewed"), [e2.id, e1.id]);
      assert.deepEqual(await ids("actor=A%40example.test"), [e3.id, e1.id]);
      assert.deepEqual(await ids("target=DD-AAAA-0002"), [e3.id, e2.id]);
      assert.deepEqual(
        await ids("from=2026-03-02&to=2026-03-02&action=report.viewed"),
        [e2.id],
      );
      assert.deepEqual(
        await ids("from=2026-03-02&to=2026-03-03&actor=a@example.test"),
        [e3.id],
      );
      // an unknown email matches nothing, not everything
      assert.deepEqual(await ids("actor=nobody%40example.test"), []);
    });

    it("answers bad filters next to the field, keeping what was typed", async () => {
      const admin = await signedIn(ctx, await createUser(ctx, "admin"));
      const res = await admin.agent.get(
        "/admin/audit?from=yesterday&target=DD-1&action=nope",
      );
      assert.equal(res.status, 422);
      assert.match(res.text, /From must be a date like 2026-03-02\./);
      assert.match(res.text, /Choose an action from the list\./);
      assert.match(res.text, /value="DD-1"/);
    });

    it("pages newest first with a keyset cursor, no entry twice or missed", async () => {
      for (let i = 0; i < 70; i++) {
        await recordAudit(ctx.db, {
          action: "report.viewed",
          actor: null,
          at: ctx.clock.now(),
        });
      }
      const admin = await signedIn(ctx, await createUser(ctx, "admin"));
      const all = (await entries(ctx)).map((e) => e.id).reverse();
      const first = await admin.agent.get("/admin/audit");
      const page1 = idsOnPage(first.text);
      assert.equal(page1.length, 50);
      assert.deepEqual(page1, all.slice(0, 50));
      const href = nextHref(first.text);
      assert.ok(href, "a link to older entries");
      // entries written after page 1 was shown do not shift page 2
      await recordAudit(ctx.db, {
        action: "export.csv",
        actor: null,
        at: ctx.clock.now(),
      });
      const second = await admin.agent.get(href);
      const page2 = idsOnPage(second.text);
      assert.deepEqual(page2, all.slice(50));
      assert.equal(nextHref(second.text), null);
      assert.match(second.text, /Newest entries/);
    });

    it("keeps the filter on the next page link", async () => {
      for (let i = 0; i < 110; i++) {
        await recordAudit(ctx.db, {
          action: i % 2 ? "export.csv" : "report.viewed",
          actor: null,
          at: ctx.clock.now(),
        });
      }
      const admin = await signedIn(ctx, await createUser(ctx, "admin"));
      const viewed = (await entries(ctx, "report.viewed"))
        .map((e) => e.id)
        .reverse();
      const first = await admin.agent.get("/admin/audit?action=report.viewed");
      assert.deepEqual(idsOnPage(first.text), viewed.slice(0, 50));
      const href = nextHref(first.text);
      assert.match(href ?? "", /action=report\.viewed/);
      const second = await admin.agent.get(href!);
      assert.deepEqual(idsOnPage(second.text), viewed.slice(50));
      assert.equal(viewed.length, 55);
    });
  });

  describe("sign-in and sign-out are recorded", () => {
    it("a successful sign-in, with IP and user agent", async () => {
      const who = await createUser(ctx, "researcher");
      const browser = await anonymous(ctx);
      const res = await browser
        .post("/login", { email: who.email, password: who.password })
        .set("User-Agent", "AuditTest/1.0 (success)");
      assert.equal(res.status, 303);
      const [entry] = await entries(ctx, "auth.sign_in");
      assert.ok(entry);
      assert.equal(entry.actor_id, who.user.id);
      assert.equal(entry.actor_label, "researcher");
      assert.equal(entry.target_type, "user");
      assert.equal(entry.target_id, who.user.publicId);
      assert.match(entry.ip ?? "", /127\.0\.0\.1|::1/);
      assert.equal(entry.user_agent, "AuditTest/1.0 (success)");
      assert.equal(entry.at, ctx.clock.now().getTime());
    });

    it("a failed sign-in on an existing account names the account, not the password", async () => {
      const who = await createUser(ctx, "triager");
      const browser = await anonymous(ctx);
      const res = await browser
        .post("/login", { email: who.email, password: "wrong password here" })
        .set("User-Agent", "AuditTest/1.0 (failure)");
      assert.equal(res.status, 401);
      const [entry] = await entries(ctx, "auth.sign_in_failed");
      assert.ok(entry);
      assert.equal(entry.actor_id, null);
      assert.equal(entry.actor_label, "anonymous");
      assert.equal(entry.target_id, who.user.publicId);
      assert.deepEqual(JSON.parse(entry.details), { email: who.email });
      assert.match(entry.ip ?? "", /127\.0\.0\.1|::1/);
      assert.equal(entry.user_agent, "AuditTest/1.0 (failure)");
      assert.doesNotMatch(JSON.stringify(entry), /wrong password here/);
    });

    it("a failed sign-in for an unknown email, and for something not an email", async () => {
      const browser = await anonymous(ctx);
      await browser.post("/login", {
        email: "ghost@example.test",
        password: "whatever",
      });
      await browser.post("/login", {
        email: "my secret passphrase",
        password: "",
      });
      const [ghost, junk] = await entries(ctx, "auth.sign_in_failed");
      assert.equal(ghost?.target_id, null);
      assert.deepEqual(JSON.parse(ghost!.details), {
        email: "ghost@example.test",
      });
      // a password typed into the email field does not reach the log
      assert.deepEqual(JSON.parse(junk!.details), { email: null });
    });

    it("a sign-out", async () => {
      const who = await createUser(ctx, "org_contact");
      const browser = await signedIn(ctx, who);
      const res = await browser.post("/logout");
      assert.equal(res.status, 303);
      const [entry] = await entries(ctx, "auth.sign_out");
      assert.equal(entry?.actor_id, who.user.id);
      assert.equal(entry?.actor_label, "org_contact");
    });
  });

  describe("user administration is recorded", () => {
    it("account creation, role change, disable and enable, by whom", async () => {
      const adminUser = await createUser(ctx, "admin");
      const admin = await signedIn(ctx, adminUser);
      const target = await createUser(ctx, "researcher");
      const id = target.user.publicId;
      assert.equal(
        (await admin.post(`/admin/users/${id}/role`, { role: "triager" }))
          .status,
        303,
      );
      assert.equal(
        (await admin.post(`/admin/users/${id}/disable`)).status,
        303,
      );
      assert.equal((await admin.post(`/admin/users/${id}/enable`)).status, 303);
      assert.equal(
        (
          await admin.post("/admin/users", {
            email: "new.triager@example.test",
            displayName: "New Triager",
            role: "triager",
          })
        ).status,
        303,
      );
      const log = (await entries(ctx)).filter((e) =>
        e.action.startsWith("user."),
      );
      assert.deepEqual(
        log.map((e) => [e.action, e.actor_id, e.actor_label]),
        [
          ["user.role_changed", adminUser.user.id, "admin"],
          ["user.disabled", adminUser.user.id, "admin"],
          ["user.enabled", adminUser.user.id, "admin"],
          ["user.created", adminUser.user.id, "admin"],
        ],
      );
      assert.deepEqual(JSON.parse(log[0]!.details), {
        from: "researcher",
        to: "triager",
      });
      assert.equal(log[0]!.target_id, id);
      const created = await ctx.db
        .selectFrom("users")
        .select("public_id")
        .where("email", "=", "new.triager@example.test")
        .executeTakeFirstOrThrow();
      assert.equal(log[3]!.target_id, created.public_id);
      assert.deepEqual(JSON.parse(log[3]!.details), { role: "triager" });
    });

    it("a self-registration", async () => {
      const browser = await anonymous(ctx);
      await browser.refreshCsrf("/register");
      const res = await browser.post("/register", {
        email: "finder@example.test",
        displayName: "Finder",
        password: "a long and unusual passphrase 1",
      });
      assert.equal(res.status, 200);
      const [entry] = await entries(ctx, "user.created");
      assert.equal(entry?.actor_label, "researcher");
      assert.deepEqual(JSON.parse(entry!.details), {
        role: "researcher",
        via: "registration",
      });
    });
  });

  describe("who viewed a report", () => {
    async function fixture() {
      const org = await ctx.db
        .insertInto("organizations")
        .values({
          public_id: "org00000000000001",
          name: "City Hospital",
          created_at: ctx.clock.now().getTime(),
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      const researcher = await createUser(ctx, "researcher");
      const other = await createUser(ctx, "researcher");
      const triager = await createUser(ctx, "triager", {
        displayName: "Tess Triager",
        email: "tess@cert.example",
      });
      const contact = await createUser(ctx, "org_contact", {
        orgIds: [org.id],
        displayName: "Otto Contact",
        email: "otto@hospital.example",
      });
      const now = ctx.clock.now().getTime();
      const report = await ctx.db
        .insertInto("reports")
        .values({
          public_id: "DD-7K2Q-9M4D",
          reporter_id: researcher.user.id,
          organization_id: org.id,
          title: "IDOR in appointments",
          asset: "https://appointments.example",
          cwe: "CWE-639",
          description: "d",
          steps: "s",
          impact: "i",
          credit_kind: "name",
          data_exposed: "[]",
          reveal_identity: 0,
          state: "vendor_notified",
          vendor_notified_at: now,
          created_at: now,
          updated_at: now,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      await ctx.db
        .insertInto("participations")
        .values({
          report_id: report.id,
          organization_id: org.id,
          added_at: now,
          notified_at: now,
        })
        .execute();
      const facts = {
        publicId: "DD-7K2Q-9M4D",
        reporterId: researcher.user.id,
        participants: [{ organizationId: org.id, notifiedAt: new Date(now) }],
        revealIdentity: false,
      };
      return { researcher, other, triager, contact, report, facts };
    }

    it("records staff and org-contact views, not the researcher's own", async () => {
      const f = await fixture();
      const ip = { ip: "198.51.100.4", userAgent: "ua" };
      await recordReportView(ctx.deps, toActor(f.researcher.user), f.facts, ip);
      await recordReportView(ctx.deps, toActor(f.triager.user), f.facts, ip);
      await recordReportView(ctx.deps, toActor(f.contact.user), f.facts, ip);
      const views = await entries(ctx, "report.viewed");
      assert.deepEqual(
        views.map((v) => [v.actor_id, v.target_id, v.ip]),
        [
          [f.triager.user.id, "DD-7K2Q-9M4D", "198.51.100.4"],
          [f.contact.user.id, "DD-7K2Q-9M4D", "198.51.100.4"],
        ],
      );
    });

    it("shows the researcher roles and organizations, never a staff member's name or email", async () => {
      const f = await fixture();
      await recordReportView(ctx.deps, toActor(f.triager.user), f.facts, null);
      ctx.clock.advance(3600_000);
      await recordReportView(ctx.deps, toActor(f.contact.user), f.facts, null);
      const viewers = await viewersOfReport(
        ctx.deps,
        toActor(f.researcher.user),
        f.report.id,
      );
      assert.deepEqual(viewers, [
        {
          role: "org_contact",
          organizationName: "City Hospital",
          at: ctx.clock.now(),
        },
        {
          role: "triager",
          organizationName: null,
          at: new Date(ctx.clock.now().getTime() - 3600_000),
        },
      ]);
      const text = JSON.stringify(viewers);
      for (const secret of [
        "Tess",
        "tess@cert.example",
        "Otto",
        "otto@hospital.example",
        f.triager.user.publicId,
      ])
        assert.ok(!text.includes(secret), secret);
    });

    it("is not found for another researcher, and not offered to org contacts", async () => {
      const f = await fixture();
      await assert.rejects(
        viewersOfReport(ctx.deps, toActor(f.other.user), f.report.id),
        NotFoundError,
      );
      await assert.rejects(
        viewersOfReport(ctx.deps, toActor(f.researcher.user), 999_999),
        NotFoundError,
      );
      assert.equal(
        await viewersOfReport(ctx.deps, toActor(f.contact.user), f.report.id),
        null,
      );
      assert.ok(
        Array.isArray(
          await viewersOfReport(ctx.deps, toActor(f.triager.user), f.report.id),
        ),
      );
    });
  });
});

import assert from "node:assert/strict";
import { after, before, describe, it } from "mocha";
import {
  reportListQuery,
  type ListFilters,
} from "../../src/reports/list-repository.js";
import { OPEN_STATES } from "../../src/reports/workflow.js";
import { dialectOf } from "../../src/db/dialect.js";
import { createOrg, insertReport } from "../support/fixtures.js";
import { postgresPlan, sqlitePlan } from "../support/query-plan.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

/** Report IDs in the order the queue lists them. */
function idsOn(html: string): string[] {
  return [
    ...html.matchAll(/<td[^>]*><a href="\/reports\/(DD-[0-9A-Z-]+)"/g),
  ].map((m) => m[1]!);
}

describe("the triager's queue", () => {
  let ctx: TestContext;
  let researcher: TestUser;
  let triager: TestUser;

  before(async () => {
    ctx = await createTestContext();
    researcher = await createUser(ctx, "researcher");
    triager = await createUser(ctx, "triager", { displayName: "Tess Triager" });
  });
  after(() => ctx.close());

  describe("open by default", () => {
    const ids: Record<string, string> = {};
    before(async () => {
      for (const state of [
        "submitted",
        "vendor_notified",
        "closed",
        "disclosed",
      ] as const)
        ids[state] = (
          await insertReport(ctx, {
            reporterId: researcher.user.id,
            title: `Default ${state}`,
            state,
          })
        ).publicId;
    });

    it("lists open reports unless any state is asked for", async () => {
      const b = await signedIn(ctx, triager);
      const open = await b.agent.get("/queue");
      assert.equal(open.status, 200);
      const shownIds = idsOn(open.text);
      assert.ok(shownIds.includes(ids.submitted!));
      assert.ok(shownIds.includes(ids.vendor_notified!));
      assert.ok(!shownIds.includes(ids.closed!), "closed is not open");
      assert.ok(!shownIds.includes(ids.disclosed!), "disclosed is not open");
      assert.match(open.text, /<option value="open" selected>/);

      const any = await b.agent.get("/queue?state=any");
      const all = idsOn(any.text);
      for (const id of Object.values(ids)) assert.ok(all.includes(id));
      assert.match(any.text, /<option value="any" selected>/);

      const closed = idsOn((await b.agent.get("/queue?state=closed")).text);
      assert.deepEqual(closed, [ids.closed]);
    });
  });

  describe("bulk selection", () => {
    it("puts each row's checkbox, the action and the CSRF token in one form posting to /reports/bulk", async () => {
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        title: "Bulk candidate",
      });
      const b = await signedIn(ctx, triager);
      const html = (await b.agent.get("/queue")).text;
      const forms = [
        ...html.matchAll(
          /<form method="post" action="\/reports\/bulk"[^>]*>([\s\S]*?)<\/form>/g,
        ),
      ];
      assert.equal(forms.length, 1);
      const form = forms[0]![1]!;
      assert.match(form, /<input type="hidden" name="_csrf" value="[^"]+"/);
      assert.match(
        form,
        new RegExp(`<input type="checkbox" name="ids" value="${r.publicId}"`),
      );
      const options = [
        .../<select id="bulk-action" name="action">([\s\S]*?)<\/select>/
          .exec(form)![1]!
          .matchAll(/<option value="(\w+)"/g),
      ].map((m) => m[1]);
      assert.deepEqual(options, [
        "assign",
        "acknowledge",
        "severity",
        "duplicate",
      ]);
      assert.match(form, /<button type="submit"[^>]*>Review changes<\/button>/);
    });
  });

  describe("due soonest first", () => {
    it("orders the queue by the next deadline, keeps it on every change, and pages through all of it", async () => {
      const now = ctx.clock.now().getTime();
      const DAY = 86_400_000;
      // Filed 2 days ago: acknowledgment due in 1 day.
      const soon = await insertReport(ctx, {
        reporterId: researcher.user.id,
        title: "Due soon",
        createdAt: new Date(now - 2 * DAY),
      });
      // Filed 5 days ago: acknowledgment 2 days late.
      const late = await insertReport(ctx, {
        reporterId: researcher.user.id,
        title: "Already late",
        createdAt: new Date(now - 5 * DAY),
      });
      const b = await signedIn(ctx, triager);
      const html = (await b.agent.get("/queue")).text;
      assert.match(html, /<option value="due_asc" selected>/);
      const order = idsOn(html);
      assert.ok(order.indexOf(late.publicId) < order.indexOf(soon.publicId));
      assert.ok(order.indexOf(late.publicId) >= 0);
      assert.match(html, /title="Acknowledgment overdue by 2 days/);

      // Acknowledged now: triage runs, due in 10 days; it moves back.
      await b.refreshCsrf(`/reports/${late.publicId}`);
      const ack = await b.post(`/reports/${late.publicId}/transition`, {
        name: "acknowledge",
        message: "",
      });
      assert.equal(ack.status, 303, ack.text.slice(0, 300));
      const row = await ctx.db
        .selectFrom("reports")
        .select(["queue_due_at", "triage_due_at"])
        .where("id", "=", late.id)
        .executeTakeFirstOrThrow();
      assert.equal(row.queue_due_at, row.triage_due_at);
      assert.ok(row.queue_due_at > now + 9 * DAY);
      const after = idsOn((await b.agent.get("/queue")).text);
      assert.ok(after.indexOf(soon.publicId) < after.indexOf(late.publicId));

      // Closing leaves no clock: it leaves the open queue.
      const closed = await b.post(`/reports/${late.publicId}/transition`, {
        name: "close",
        resolution: "invalid",
        message: "Not reproducible.",
      });
      assert.equal(closed.status, 303, closed.text.slice(0, 300));
      assert.ok(
        !idsOn((await b.agent.get("/queue")).text).includes(late.publicId),
      );
    });

    it("follows an admin's change of the settings the fix target and the answer's expiry are read from", async () => {
      const DAY = 86_400_000;
      const now = ctx.clock.now().getTime();
      const asked = await insertReport(ctx, {
        reporterId: researcher.user.id,
        state: "needs_info",
      });
      await ctx.db
        .updateTable("reports")
        .set({ info_requested_at: now })
        .where("id", "=", asked.id)
        .execute();
      const notified = await insertReport(ctx, {
        reporterId: researcher.user.id,
        state: "fix_in_progress",
        organizationId: (await createOrg(ctx, "Settings Org")).id,
        severity: "high",
        vendorNotifiedAt: new Date(now),
      });
      const dueOf = async (id: number) =>
        (
          await ctx.db
            .selectFrom("reports")
            .select("queue_due_at")
            .where("id", "=", id)
            .executeTakeFirstOrThrow()
        ).queue_due_at;
      // As filed: the fix target (30 days for high) comes before disclosure (90).
      assert.equal(await dueOf(notified.id), now + 30 * DAY);
      const admin = await signedIn(ctx, await createUser(ctx, "admin"));
      await admin.refreshCsrf("/admin/settings");
      const res = await admin.post("/admin/settings", {
        ackDueDays: "3",
        triageDueDays: "10",
        infoReminderDays: "7",
        infoExpiryDays: "20",
        disclosureDays: "90",
        remediationCritical: "7",
        remediationHigh: "14",
        remediationMedium: "90",
        remediationLow: "120",
        orgAnswerDays: "7",
      });
      assert.equal(res.status, 303);
      assert.equal(await dueOf(asked.id), now + 20 * DAY);
      assert.equal(await dueOf(notified.id), now + 14 * DAY);
    });

    it("pages through every report exactly once in due order", async () => {
      for (let i = 0; i < 30; i++)
        await insertReport(ctx, {
          reporterId: researcher.user.id,
          title: `Paged ${i}`,
          state: (["submitted", "triaged", "acknowledged"] as const)[i % 3],
          // Several share a due date: the id breaks the tie.
          createdAt: new Date(ctx.clock.now().getTime() - (i % 4) * 3_600_000),
        });
      const b = await signedIn(ctx, triager);
      const total = Number(
        (
          await ctx.db
            .selectFrom("reports")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
      const seen: string[] = [];
      let url: string | null = "/queue?state=any";
      let pages = 0;
      while (url) {
        const res = await b.agent.get(url);
        seen.push(...idsOn(res.text));
        const m = /<a href="([^"]+)" rel="next">/.exec(res.text);
        url = m ? m[1]!.replace(/&amp;/g, "&") : null;
        assert.ok(++pages < 20);
      }
      assert.ok(pages >= 2);
      assert.equal(seen.length, total);
      assert.equal(new Set(seen).size, total);
      const dues = await ctx.db
        .selectFrom("reports")
        .select(["public_id", "queue_due_at", "id"])
        .execute();
      const byId = new Map(dues.map((d) => [d.public_id, d]));
      for (let i = 1; i < seen.length; i++) {
        const a = byId.get(seen[i - 1]!)!;
        const c = byId.get(seen[i]!)!;
        assert.ok(
          a.queue_due_at < c.queue_due_at ||
            (a.queue_due_at === c.queue_due_at && a.id < c.id),
          `${seen[i - 1]} before ${seen[i]}`,
        );
      }
    });
  });

  describe("query plans in due order", () => {
    const cases: Record<string, ListFilters> = {
      open: { states: OPEN_STATES },
      "any state": {},
      unassigned: { states: OPEN_STATES, assignee: { kind: "unassigned" } },
      "assigned to me": {
        states: OPEN_STATES,
        assignee: { kind: "user", userId: 1 },
      },
      // The queue's "state" and "severity" filters together
      // (/queue?state=vendor_notified&severity=high).
      "one state, one severity": { state: "vendor_notified", severity: "high" },
    };
    for (const [name, filters] of Object.entries(cases))
      it(`reads the page from the due-date index, no sort (${name})`, async () => {
        const compiled = reportListQuery(ctx.db, {
          scope: { kind: "all" },
          filters,
          sort: "due",
          direction: "asc",
          after: { value: Date.now(), id: 1000 },
          limit: 25,
        }).compile();
        if (dialectOf(ctx.db) === "postgres") {
          const p = await postgresPlan(ctx.db, compiled, {
            orderFromIndex: true,
          });
          // reports_unassigned_due: PostgreSQL's index of the unassigned.
          assert.ok(
            p
              .indexes()
              .some((i) =>
                /^reports_(queue|assignee|unassigned|state_severity)_due$/.test(
                  i,
                ),
              ),
            p.text,
          );
          assert.deepEqual(p.seqScans(), [], p.text);
          assert.deepEqual(p.sorts(), [], p.text);
          return;
        }
        const details = await sqlitePlan(ctx.db, compiled);
        assert.ok(
          details.some((d) =>
            /^(SEARCH|SCAN) r USING INDEX reports_(queue|assignee|state_severity)_due/.test(
              d,
            ),
          ),
          details.join("\n"),
        );
        assert.ok(
          !details.some((d) => /TEMP B-TREE/.test(d)),
          details.join("\n"),
        );
      });
  });

  describe("markers", () => {
    let org: { id: number; publicId: string };
    let contact: TestUser;
    let b: Awaited<ReturnType<typeof signedIn>>;
    before(async () => {
      org = await createOrg(ctx, "Marker Hospital");
      contact = await createUser(ctx, "org_contact", { orgIds: [org.id] });
      b = await signedIn(ctx, triager);
    });

    /** The markers on a report's queue row, as "kind: text". */
    async function markersOf(publicId: string): Promise<string[]> {
      const html = (await b.agent.get("/queue?state=any&sort=activity_desc"))
        .text;
      const row = [...html.matchAll(/<tr class="queue-row">([\s\S]*?)<\/tr>/g)]
        .map((m) => m[1]!)
        .find((r) => r.includes(`value="${publicId}"`));
      assert.ok(row, `${publicId} is listed`);
      return [
        ...row.matchAll(
          /<span class="mark mark-(\w+)" title="[^"]*">([^<]+)<span class="visually-hidden">: ([^<]+)<\/span>/g,
        ),
      ].map((m) => `${m[1]}: ${m[2]} (${m[3]!.replaceAll("&#39;", "'")})`);
    }

    async function event(
      reportId: number,
      actorId: number | null,
      kind: string,
      minutesFromNow: number,
    ) {
      await ctx.db
        .insertInto("report_events")
        .values({
          report_id: reportId,
          actor_id: actorId,
          kind,
          action: null,
          from_state: null,
          to_state: null,
          visibility: "public",
          body: "Words.",
          created_at: ctx.clock.now().getTime() + minutesFromNow * 60_000,
        })
        .execute();
    }

    it("marks an overdue clock in words", async () => {
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        createdAt: new Date(ctx.clock.now().getTime() - 4 * 86_400_000),
        updatedAt: ctx.clock.now(),
      });
      const marks = await markersOf(r.publicId);
      assert.ok(
        marks.includes("overdue: Overdue (Acknowledgment overdue by 1 day)"),
        marks.join("; "),
      );
      const fresh = await insertReport(ctx, {
        reporterId: researcher.user.id,
      });
      assert.ok(
        !(await markersOf(fresh.publicId)).some((m) => m.startsWith("overdue")),
      );
    });

    it("marks a pending request for more time", async () => {
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        state: "vendor_notified",
        organizationId: org.id,
        severity: "high",
      });
      assert.ok(
        !(await markersOf(r.publicId)).some((m) => m.startsWith("extension")),
      );
      await ctx.db
        .updateTable("reports")
        .set({ extension_requested_to: Date.UTC(2030, 0, 31, 23, 59) })
        .where("id", "=", r.id)
        .execute();
      const marks = await markersOf(r.publicId);
      assert.ok(
        marks.some((m) =>
          /^extension: Extension asked \(The organization asks for more time, until .*2030/.test(
            m,
          ),
        ),
        marks.join("; "),
      );
    });

    it("marks the researcher's answer after the CERT's last step, until the CERT acts again", async () => {
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        state: "acknowledged",
      });
      await event(r.id, triager.user.id, "transition", 1);
      assert.ok(
        !(await markersOf(r.publicId)).some((m) => m.startsWith("researcher")),
      );
      await event(r.id, researcher.user.id, "comment", 2);
      assert.ok(
        (await markersOf(r.publicId)).includes(
          "researcher: Researcher answered (The researcher wrote after the CERT's last step)",
        ),
      );
      await event(r.id, triager.user.id, "comment", 3);
      assert.ok(
        !(await markersOf(r.publicId)).some((m) => m.startsWith("researcher")),
      );
    });

    it("marks the organization's answer after the CERT's last step", async () => {
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        state: "vendor_notified",
        organizationId: org.id,
      });
      await event(r.id, triager.user.id, "transition", 1);
      assert.ok(
        !(await markersOf(r.publicId)).some((m) => m.startsWith("org")),
      );
      await event(r.id, contact.user.id, "comment", 2);
      assert.ok(
        (await markersOf(r.publicId)).includes(
          "org: Organization answered (The organization wrote after the CERT's last step)",
        ),
      );
    });

    it("marks a report unread until the triager opens it, and again when someone else writes", async () => {
      const r = await insertReport(ctx, {
        reporterId: researcher.user.id,
        state: "acknowledged",
      });
      assert.ok(
        (await markersOf(r.publicId)).includes(
          "unread: Unread (You have not opened this report yet)",
        ),
      );
      assert.equal((await b.agent.get(`/reports/${r.publicId}`)).status, 200);
      assert.ok(
        !(await markersOf(r.publicId)).some((m) => m.startsWith("unread")),
      );
      // Another triager's read is their own.
      const other = await createUser(ctx, "triager");
      const ob = await signedIn(ctx, other);
      assert.match(
        (await ob.agent.get("/queue?state=any&sort=activity_desc")).text,
        new RegExp(`value="${r.publicId}"[\\s\\S]*?mark-unread`),
      );
      await event(r.id, researcher.user.id, "comment", 5);
      assert.ok(
        (await markersOf(r.publicId)).includes(
          "unread: Unread (Changed since you last opened it)",
        ),
      );
      // A researcher opening their own report writes no read.
      const rb = await signedIn(ctx, researcher);
      assert.equal((await rb.agent.get(`/reports/${r.publicId}`)).status, 200);
      const reads = await ctx.db
        .selectFrom("report_reads")
        .select("user_id")
        .where("report_id", "=", r.id)
        .execute();
      assert.deepEqual(
        reads.map((x) => x.user_id),
        [triager.user.id],
      );
    });
  });

  describe("saved views", () => {
    let mine: Awaited<ReturnType<typeof signedIn>>;
    let theirs: Awaited<ReturnType<typeof signedIn>>;
    let other: TestUser;
    const named: Record<string, string> = {};
    before(async () => {
      other = await createUser(ctx, "triager", { displayName: "Otto" });
      mine = await signedIn(ctx, triager);
      theirs = await signedIn(ctx, other);
      named.critical = (
        await insertReport(ctx, {
          reporterId: researcher.user.id,
          state: "triaged",
          severity: "critical",
          title: "Saved view critical",
        })
      ).publicId;
      named.notified = (
        await insertReport(ctx, {
          reporterId: researcher.user.id,
          state: "vendor_notified",
          organizationId: (await createOrg(ctx, "View Org")).id,
          title: "Saved view notified",
        })
      ).publicId;
      named.mineToDo = (
        await insertReport(ctx, {
          reporterId: researcher.user.id,
          state: "acknowledged",
          assigneeId: triager.user.id,
          title: "Saved view mine",
        })
      ).publicId;
    });

    const viewIdOf = (location: string) =>
      /^\/queue\?view=([0-9a-z]+)$/.exec(location)?.[1];

    it("saves the current filters under a name, lists it and shows its reports", async () => {
      await mine.refreshCsrf("/queue?severity=critical");
      const res = await mine.post("/queue/views", {
        name: "Critical ones",
        severity: "critical",
        state: "",
        sort: "submitted_desc",
      });
      assert.equal(res.status, 303, res.text.slice(0, 500));
      const id = viewIdOf(res.headers.location!);
      assert.ok(id);
      const page = await mine.agent.get(res.headers.location!);
      assert.equal(page.status, 200);
      assert.match(
        page.text,
        new RegExp(
          `<a href="/queue\\?view=${id}" aria-current="page">Critical ones</a>`,
        ),
      );
      assert.deepEqual(idsOn(page.text), [named.critical]);
      assert.match(page.text, /<option value="submitted_desc" selected>/);
      // Listed on the plain queue too, with its delete form.
      const plain = (await mine.agent.get("/queue")).text;
      assert.match(plain, new RegExp(`action="/queue/views/${id}/delete"`));
    });

    it("refuses a missing, too long or duplicate name next to the field, keeping what was typed", async () => {
      await mine.refreshCsrf("/queue");
      const empty = await mine.post("/queue/views", {
        name: "  ",
        severity: "high",
      });
      assert.equal(empty.status, 422);
      assert.match(empty.text, /id="f-name-error"[^>]*>.*Name is required\./);
      assert.match(empty.text, /<details class="save-view" open>/);
      // The filters are kept as they were.
      assert.match(empty.text, /<option value="high" selected>/);

      const long = "x".repeat(81);
      const tooLong = await mine.post("/queue/views", { name: long });
      assert.equal(tooLong.status, 422);
      assert.match(tooLong.text, /Name must be at most 80 characters\./);
      assert.ok(tooLong.text.includes(`value="${long}"`));

      const dup = await mine.post("/queue/views", { name: "critical ONES" });
      assert.equal(dup.status, 422);
      assert.match(dup.text, /You already have a view with this name\./);
      assert.ok(dup.text.includes('value="critical ONES"'));
      const count = await ctx.db
        .selectFrom("saved_views")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("user_id", "=", triager.user.id)
        .executeTakeFirstOrThrow();
      assert.equal(Number(count.n), 1);
      // Another triager may use the same name: views are per person.
      await theirs.refreshCsrf("/queue");
      const theirsSaved = await theirs.post("/queue/views", {
        name: "Critical ones",
        severity: "critical",
      });
      assert.equal(theirsSaved.status, 303);
      // (Its confirmation is shown once.)
      await theirs.agent.get(theirsSaved.headers.location!);
    });

    it("is its owner's alone: another's view ID is a 404 like a forged one, to use or delete", async () => {
      const row = await ctx.db
        .selectFrom("saved_views")
        .select("public_id")
        .where("user_id", "=", triager.user.id)
        .executeTakeFirstOrThrow();
      const missing = await theirs.agent.get("/queue?view=0000000000000000");
      assert.equal(missing.status, 404);
      const foreign = await theirs.agent.get(`/queue?view=${row.public_id}`);
      assert.equal(foreign.status, 404);
      assert.equal(foreign.text, missing.text);
      assert.doesNotMatch(
        (await theirs.agent.get("/queue")).text,
        new RegExp(row.public_id),
      );
      await theirs.refreshCsrf("/queue");
      const del = await theirs.post(`/queue/views/${row.public_id}/delete`);
      assert.equal(del.status, 404);
      assert.ok(
        await ctx.db
          .selectFrom("saved_views")
          .select("id")
          .where("public_id", "=", row.public_id)
          .executeTakeFirst(),
      );
      // Its owner deletes it.
      await mine.refreshCsrf("/queue");
      const ok = await mine.post(`/queue/views/${row.public_id}/delete`);
      assert.equal(ok.status, 303);
      assert.equal(
        (await mine.agent.get(`/queue?view=${row.public_id}`)).status,
        404,
      );
    });

    it("offers the built-in views: unassigned, overdue, waiting for me, waiting for the organization", async () => {
      const html = (await mine.agent.get("/queue")).text;
      for (const [name, href] of [
        ["Unassigned", "/queue?assignee=unassigned"],
        ["Overdue", "/queue?overdue=1"],
        ["Waiting for me", "/queue?assignee=me&amp;waiting=cert"],
        ["Waiting for the organization", "/queue?waiting=organization"],
      ])
        assert.ok(html.includes(`<a href="${href}">${name}</a>`), name);
      const forMe = await mine.agent.get("/queue?assignee=me&waiting=cert");
      assert.match(
        forMe.text,
        /<a href="\/queue\?assignee=me&amp;waiting=cert" aria-current="page">Waiting for me<\/a>/,
      );
      assert.ok(idsOn(forMe.text).includes(named.mineToDo!));
      assert.ok(!idsOn(forMe.text).includes(named.critical!));
      const org = idsOn(
        (await mine.agent.get("/queue?waiting=organization")).text,
      );
      assert.ok(org.includes(named.notified!));
      assert.ok(!org.includes(named.mineToDo!));
      assert.ok(!org.includes(named.critical!));
    });
  });
});

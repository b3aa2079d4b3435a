// The hash chain against a real SQLite file: appends, concurrency, and an
// attacker with write access to the file (triggers dropped first).
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import {
  auditHash,
  recordAudit,
  recordAuditInBatch,
  verifyAuditChain,
} from "../../src/audit/service.js";
import type { AuditAction } from "../../src/audit/types.js";
import { runCli } from "../../src/cli.js";
import {
  createTestContext,
  cliEnv,
  type TestContext,
} from "../support/harness.js";
import { dropTrigger, refuseInserts } from "../support/database.js";

const ACTIONS: AuditAction[] = [
  "auth.sign_in",
  "report.viewed",
  "user.role_changed",
  "auth.sign_out",
];

async function seed(ctx: TestContext, n: number) {
  for (let i = 0; i < n; i++) {
    await recordAudit(ctx.db, {
      action: ACTIONS[i % ACTIONS.length]!,
      actor: { id: 1 + (i % 3), role: "triager" },
      target: { type: "report", id: `DD-0000-000${i % 10}` },
      request: { ip: "203.0.113.7", userAgent: "test-agent" },
      details: { n: i },
      at: new Date(ctx.clock.now().getTime() + i * 1000),
    });
  }
}

/** What someone with the database file can do: the triggers are no obstacle. */
async function actAsAttacker(ctx: TestContext) {
  for (const trigger of [
    "audit_log_no_update",
    "audit_log_no_delete",
    "audit_log_linked",
  ])
    await dropTrigger(ctx.db, trigger, "audit_log");
}

async function row(ctx: TestContext, id: number) {
  return ctx.db
    .selectFrom("audit_log")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
}

function cliOutput() {
  const lines: string[] = [];
  const out = {
    log: (...args: unknown[]) => lines.push(args.join(" ")),
    error: (...args: unknown[]) => lines.push(args.join(" ")),
  } as unknown as Console;
  return { out, lines };
}

describe("audit chain", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  it("verifies an empty log", async () => {
    assert.deepEqual(await verifyAuditChain(ctx.db), {
      ok: true,
      count: 0,
      headHash: "0".repeat(64),
    });
  });

  it("verifies a chain of N entries, each linked to the one before", async () => {
    await seed(ctx, 25);
    const result = await verifyAuditChain(ctx.db);
    assert.equal(result.ok, true);
    assert.equal(result.count, 25);
    const rows = await ctx.db
      .selectFrom("audit_log")
      .selectAll()
      .orderBy("id")
      .execute();
    assert.deepEqual(
      rows.map((r) => r.id),
      Array.from({ length: 25 }, (_, i) => i + 1),
    );
    assert.equal(rows[0]!.prev_hash, "0".repeat(64));
    for (let i = 1; i < rows.length; i++)
      assert.equal(rows[i]!.prev_hash, rows[i - 1]!.hash);
    assert.equal(result.ok && result.headHash, rows[24]!.hash);
  });

  it("stays one chain when many entries are written at once", async () => {
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        recordAudit(ctx.db, {
          action: "report.viewed",
          actor: { id: i + 1, role: "triager" },
          at: ctx.clock.now(),
        }),
      ),
    );
    assert.deepEqual(await verifyAuditChain(ctx.db), {
      ok: true,
      count: 30,
      headHash: (await row(ctx, 30)).hash,
    });
  });

  it("appends the entries of one turn together, in order, each caller answered once committed", async () => {
    await seed(ctx, 2);
    const count = async () =>
      (
        await ctx.db
          .selectFrom("audit_log")
          .select((eb) => eb.fn.countAll<number>().as("n"))
          .executeTakeFirstOrThrow()
      ).n;
    const seen: number[] = [];
    const views = Array.from({ length: 5 }, (_, i) =>
      recordAuditInBatch(ctx.db, {
        action: "report.viewed",
        actor: { id: i + 1, role: "triager" },
        target: { type: "report", id: `DD-0000-000${i}` },
        at: ctx.clock.now(),
      }).then(async () => seen.push(await count())),
    );
    await Promise.all(views);
    // No caller is answered before its entry is committed.
    assert.deepEqual(seen, [7, 7, 7, 7, 7]);
    const rows = await ctx.db
      .selectFrom("audit_log")
      .select(["id", "actor_id", "target_id"])
      .where("id", ">", 2)
      .orderBy("id")
      .execute();
    assert.deepEqual(
      rows.map((r) => [r.id, r.actor_id, r.target_id]),
      [0, 1, 2, 3, 4].map((i) => [i + 3, i + 1, `DD-0000-000${i}`]),
    );
    assert.equal((await verifyAuditChain(ctx.db)).ok, true);
  });

  it("fails every entry of a batch that cannot be written, and writes none of them", async () => {
    await seed(ctx, 1);
    await refuseInserts(ctx.db, {
      name: "refuse_boom",
      table: "audit_log",
      column: "target_id",
      value: "boom",
      message: "boom refused",
    });
    const results = await Promise.allSettled(
      ["first", "boom", "last"].map((target) =>
        recordAuditInBatch(ctx.db, {
          action: "report.viewed",
          actor: { id: 1, role: "triager" },
          target: { type: "report", id: target },
          at: ctx.clock.now(),
        }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected", "rejected"],
    );
    assert.equal((await verifyAuditChain(ctx.db)).ok, true);
    assert.equal(
      (await ctx.db.selectFrom("audit_log").select("id").execute()).length,
      1,
    );
    // Refused details fail only their own caller, before anything is queued.
    assert.throws(
      () =>
        recordAuditInBatch(ctx.db, {
          action: "report.viewed",
          actor: { id: 1, role: "triager" },
          details: { password: "x" },
          at: ctx.clock.now(),
        }),
      /must not carry/,
    );
  });

  it("joins the caller's transaction: rolled back with it, chain intact", async () => {
    await seed(ctx, 2);
    await assert.rejects(
      ctx.db.transaction().execute(async (tx) => {
        await recordAudit(tx, {
          action: "user.disabled",
          actor: null,
          at: ctx.clock.now(),
        });
        throw new Error("the change failed");
      }),
      /the change failed/,
    );
    await seed(ctx, 1);
    const result = await verifyAuditChain(ctx.db);
    assert.equal(result.count, 3);
    assert.equal(result.ok, true);
    assert.equal((await row(ctx, 3)).action, "auth.sign_in");
  });

  it("labels entries by the actor's role, or system / anonymous", async () => {
    const a = await recordAudit(ctx.db, {
      action: "user.created",
      actor: null,
      at: ctx.clock.now(),
    });
    const b = await recordAudit(ctx.db, {
      action: "auth.sign_in_failed",
      actor: null,
      request: { ip: "198.51.100.1", userAgent: "x".repeat(1000) },
      at: ctx.clock.now(),
    });
    const c = await recordAudit(ctx.db, {
      action: "user.role_changed",
      actor: { id: 4, role: "admin" },
      at: ctx.clock.now(),
    });
    assert.deepEqual(
      [a.actorLabel, b.actorLabel, c.actorLabel],
      ["system", "anonymous", "admin"],
    );
    assert.equal(b.userAgent?.length, 256);
  });

  it("refuses details that carry a secret, and writes nothing", async () => {
    await assert.rejects(
      recordAudit(ctx.db, {
        action: "auth.password_changed",
        actor: { id: 1, role: "researcher" },
        details: { password: "hunter2" },
        at: ctx.clock.now(),
      }),
      /must not carry/,
    );
    assert.equal((await verifyAuditChain(ctx.db)).count, 0);
  });

  describe("the database refuses to rewrite history", () => {
    it("rejects UPDATE and DELETE, and the chain still verifies", async () => {
      await seed(ctx, 3);
      await assert.rejects(
        ctx.db
          .updateTable("audit_log")
          .set({ action: "auth.sign_out" })
          .where("id", "=", 2)
          .execute(),
        /append-only/,
      );
      await assert.rejects(
        ctx.db.deleteFrom("audit_log").where("id", "=", 2).execute(),
        /append-only/,
      );
      await assert.rejects(
        ctx.db.deleteFrom("audit_log").execute(),
        /append-only/,
      );
      assert.equal((await row(ctx, 2)).action, "report.viewed");
      const result = await verifyAuditChain(ctx.db);
      assert.equal(result.ok, true);
      assert.equal(result.count, 3);
    });

    it("refuses a second entry on the same head (no fork)", async () => {
      await seed(ctx, 2);
      const head = await row(ctx, 2);
      await assert.rejects(
        ctx.db
          .insertInto("audit_log")
          .values({ ...head, id: 99, details: '{"fork":true}' })
          .execute(),
        /extend the chain/,
      );
      // Nor in the next free place: entry 2 is already linked to entry 1.
      await assert.rejects(
        ctx.db
          .insertInto("audit_log")
          .values({ ...head, id: 3, details: '{"fork":true}' })
          .execute(),
        /extend the chain/,
      );
    });

    it("refuses a gap, a wrong link and a first entry off the genesis link", async () => {
      await assert.rejects(
        ctx.db
          .insertInto("audit_log")
          .values({
            id: 1,
            at: 0,
            actor_label: "system",
            action: "auth.sign_in",
            details: "{}",
            prev_hash: "ab".repeat(32),
            hash: "cd".repeat(32),
          })
          .execute(),
        /extend the chain/,
      );
      await seed(ctx, 2);
      const head = await row(ctx, 2);
      const next = { ...head, prev_hash: head.hash, hash: "ef".repeat(32) };
      await assert.rejects(
        ctx.db
          .insertInto("audit_log")
          .values({ ...next, id: 4 })
          .execute(),
        /extend the chain/,
      );
      await assert.rejects(
        ctx.db
          .insertInto("audit_log")
          .values({ ...next, id: 3, prev_hash: "12".repeat(32) })
          .execute(),
        /extend the chain/,
      );
      // The right next entry goes in.
      await ctx.db
        .insertInto("audit_log")
        .values({ ...next, id: 3 })
        .execute();
      assert.equal((await row(ctx, 3)).prev_hash, head.hash);
    });
  });

  describe("tampering is caught at the first broken link", () => {
    beforeEach(async () => {
      await seed(ctx, 10);
      await actAsAttacker(ctx);
    });

    it("an edited action", async () => {
      await ctx.db
        .updateTable("audit_log")
        .set({ action: "auth.sign_out" })
        .where("id", "=", 5)
        .execute();
      const result = await verifyAuditChain(ctx.db);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.brokenAt, 5);
      assert.match(!result.ok ? result.reason : "", /changed/);
      assert.equal(!result.ok && result.count, 4);
    });

    it("an edited entry whose own hash was recomputed breaks the next link", async () => {
      const r = await row(ctx, 5);
      const forged = {
        id: r.id,
        at: new Date(r.at),
        actorId: r.actor_id,
        actorLabel: r.actor_label,
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        ip: "192.0.2.66",
        userAgent: r.user_agent,
        details: r.details,
        prevHash: r.prev_hash,
      };
      await ctx.db
        .updateTable("audit_log")
        .set({ ip: forged.ip, hash: auditHash(forged) })
        .where("id", "=", 5)
        .execute();
      const result = await verifyAuditChain(ctx.db);
      assert.equal(!result.ok && result.brokenAt, 6);
      assert.match(
        !result.ok ? result.reason : "",
        /removed, inserted or moved/,
      );
    });

    it("a deleted entry", async () => {
      await ctx.db.deleteFrom("audit_log").where("id", "=", 4).execute();
      const result = await verifyAuditChain(ctx.db);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.brokenAt, 5);
      assert.match(!result.ok ? result.reason : "", /removed/);
    });

    it("the first entry deleted", async () => {
      await ctx.db.deleteFrom("audit_log").where("id", "=", 1).execute();
      const result = await verifyAuditChain(ctx.db);
      assert.equal(!result.ok && result.brokenAt, 2);
    });

    it("two entries swapped (their contents exchanged)", async () => {
      const a = await row(ctx, 3);
      const b = await row(ctx, 7);
      const { id: _a, ...contentA } = a;
      const { id: _b, ...contentB } = b;
      await ctx.db
        .updateTable("audit_log")
        .set(contentB)
        .where("id", "=", 3)
        .execute();
      await ctx.db
        .updateTable("audit_log")
        .set(contentA)
        .where("id", "=", 7)
        .execute();
      const result = await verifyAuditChain(ctx.db);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.brokenAt, 3);
    });

    it("two neighbours swapped", async () => {
      const a = await row(ctx, 8);
      const b = await row(ctx, 9);
      const { id: _a, ...contentA } = a;
      const { id: _b, ...contentB } = b;
      await ctx.db
        .updateTable("audit_log")
        .set(contentB)
        .where("id", "=", 8)
        .execute();
      await ctx.db
        .updateTable("audit_log")
        .set(contentA)
        .where("id", "=", 9)
        .execute();
      const result = await verifyAuditChain(ctx.db);
      assert.equal(!result.ok && result.brokenAt, 8);
    });

    it("a changed prev_hash", async () => {
      await ctx.db
        .updateTable("audit_log")
        .set({ prev_hash: "ab".repeat(32) })
        .where("id", "=", 6)
        .execute();
      const result = await verifyAuditChain(ctx.db);
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.brokenAt, 6);
    });
  });

  describe("npm run cli -- audit:verify", () => {
    const env = () => cliEnv(ctx);

    it("exits 0 and prints the count and head hash when the chain holds", async () => {
      await seed(ctx, 4);
      const { out, lines } = cliOutput();
      assert.equal(await runCli(["audit:verify"], env(), out), 0);
      const head = (await row(ctx, 4)).hash;
      assert.match(lines.join("\n"), new RegExp(`OK: 4 entries, head ${head}`));
    });

    it("exits 1 and names the first broken entry when it does not", async () => {
      await seed(ctx, 6);
      await actAsAttacker(ctx);
      await ctx.db.deleteFrom("audit_log").where("id", "=", 3).execute();
      const { out, lines } = cliOutput();
      assert.equal(await runCli(["audit:verify"], env(), out), 1);
      assert.match(lines.join("\n"), /BROKEN at entry #4/);
    });
  });
});

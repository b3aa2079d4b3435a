import assert from "node:assert/strict";
import {
  claimDueMessages,
  insertOutboxMessages,
} from "../../src/mail/repository.js";
import { whileHoldingLockIfFree } from "../../src/db/dialect.js";
import { openPostgres, type OpenedPostgres } from "../../src/db/index.js";
import {
  createPostgresTestContext,
  type PostgresTestContext,
} from "../support/postgres.js";

/*
 * Issue 24: several instances on one PostgreSQL database claim the outbox
 * at once (FOR UPDATE SKIP LOCKED, the conditions checked again in the
 * update): every message is claimed by exactly one of them. Each
 * "instance" is a pool of its own, as another app process would have.
 */
describe("PostgreSQL: the outbox claimed by several instances at once", function () {
  this.timeout(120_000);
  let ctx: PostgresTestContext;
  const instances: OpenedPostgres[] = [];

  before(async () => {
    ctx = await createPostgresTestContext();
    for (let i = 0; i < 4; i++)
      instances.push(
        openPostgres({
          url: ctx.databaseUrl,
          poolSize: 3,
          statementTimeoutMs: 30_000,
        }),
      );
  });
  after(async () => {
    for (const instance of instances) await instance.db.destroy();
    await ctx?.close();
  });

  it("gives each due message to exactly one instance, and a lost lease's once again", async () => {
    const at = new Date(ctx.clock.now().getTime() - 1000);
    const total = 400;
    await insertOutboxMessages(
      ctx.db,
      Array.from({ length: total }, (_, i) => ({
        messageId: `<claim-${i}@test>`,
        reportId: null,
        toUserId: null,
        toAddress: `person${i}@example.test`,
        template: "test",
        subject: `Message ${i}`,
        text: "text",
        html: "<p>html</p>",
        threadId: null,
        eventId: null,
        at,
      })),
    );
    const now = ctx.clock.now();
    const claimedBy = new Map<number, number>();
    const worker = async (instance: OpenedPostgres, n: number) => {
      for (;;) {
        const batch = await claimDueMessages(instance.db, now, 60_000, 7);
        if (batch.length === 0) return;
        for (const m of batch) {
          assert.equal(claimedBy.has(m.id), false, `message ${m.id} twice`);
          claimedBy.set(m.id, n);
        }
      }
    };
    // Each instance runs three claim loops at once, as its worker's ticks may.
    await Promise.all(
      instances.flatMap((instance, n) =>
        [0, 1, 2].map(() => worker(instance, n)),
      ),
    );
    assert.equal(claimedBy.size, total);
    assert.ok(
      new Set(claimedBy.values()).size > 1,
      "the work was shared between instances",
    );

    // Nothing is due again while the leases last; once they ran out (the
    // instances died), each message is claimed again by exactly one.
    assert.deepEqual(await claimDueMessages(ctx.db, now, 60_000, 50), []);
    const later = new Date(now.getTime() + 61_000);
    const reclaimed: number[] = [];
    await Promise.all(
      instances.map(async (instance) => {
        for (;;) {
          const batch = await claimDueMessages(instance.db, later, 60_000, 9);
          if (batch.length === 0) return;
          reclaimed.push(...batch.map((m) => m.id));
        }
      }),
    );
    assert.equal(reclaimed.length, total);
    assert.equal(new Set(reclaimed).size, total);
  });

  it("runs the scheduler's round on one instance at a time; the others skip it", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const first = whileHoldingLockIfFree(
      instances[0]!.db,
      "scheduler",
      async () => {
        started();
        // Work on another connection of the same pool while the lock is held.
        await instances[0]!.db
          .selectFrom("outbox")
          .select("id")
          .limit(1)
          .execute();
        await held;
        return "first";
      },
    );
    await running;
    const others = await Promise.all(
      instances
        .slice(1)
        .map((instance) =>
          whileHoldingLockIfFree(instance.db, "scheduler", async () => "other"),
        ),
    );
    assert.deepEqual(others, [{ ran: false }, { ran: false }, { ran: false }]);
    release();
    assert.deepEqual(await first, { ran: true, value: "first" });
    // Free again once the round ended.
    assert.deepEqual(
      await whileHoldingLockIfFree(
        instances[1]!.db,
        "scheduler",
        async () => 2,
      ),
      { ran: true, value: 2 },
    );
  });
});

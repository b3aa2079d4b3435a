import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "mocha";
import { createLogger } from "../../src/logger.js";
import { startScheduler } from "../../src/reports/reminders.js";
import {
  createTestContext,
  countSessions,
  createUser,
  signedIn,
  type TestContext,
  type TestUser,
} from "../support/harness.js";

const HOUR = 3_600_000;

describe("expired sessions", () => {
  let ctx: TestContext;
  beforeEach(async () => {
    ctx = await createTestContext();
  });
  afterEach(() => ctx.close());

  async function runScheduler() {
    const scheduler = startScheduler(ctx.deps, createLogger("silent"));
    await scheduler.stop();
  }

  const sessionsOf = (who: TestUser) => countSessions(ctx, who.user.id);

  it("are deleted a day after they expired, not before (a kept form needs them that long)", async () => {
    const long = await createUser(ctx, "researcher");
    const recent = await createUser(ctx, "researcher");
    await signedIn(ctx, long);
    ctx.clock.advance(ctx.config.sessionIdleMs + 25 * HOUR);
    await signedIn(ctx, recent);
    ctx.clock.advance(ctx.config.sessionIdleMs + 23 * HOUR);

    assert.equal(await sessionsOf(long), 1, "both rows are still there");
    assert.equal(await sessionsOf(recent), 1);
    await runScheduler();
    assert.equal(await sessionsOf(long), 0, "expired over a day ago: gone");
    assert.equal(
      await sessionsOf(recent),
      1,
      "expired under a day ago: kept for its form",
    );
  });
});

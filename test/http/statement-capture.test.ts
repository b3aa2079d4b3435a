import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  createTestContext,
  createUser,
  signedIn,
  type TestContext,
} from "../support/harness.js";
import { createOrg, insertReport } from "../support/fixtures.js";

interface Line {
  method: string;
  url: string;
  status: number;
  statements: { sql: string; params: unknown[]; reader: boolean }[];
}

describe("SQL_CAPTURE_FILE (the benchmark's statement capture)", () => {
  let ctx: TestContext;
  let file: string;
  let dataDir: string;

  beforeEach(async () => {
    file = path.join(os.tmpdir(), `dd-capture-${process.pid}-${Date.now()}`);
    // SQLite only, also under TEST_DATABASE_URL (a data directory of its
    // own): bench/limit.ts replays the capture with better-sqlite3, and the
    // configuration refuses SQL_CAPTURE_FILE with DATABASE_URL.
    dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-capture-data-"));
    ctx = await createTestContext({
      dataDir,
      env: { SQL_CAPTURE_FILE: file },
    });
  });
  afterEach(async () => {
    await ctx.close();
    rmSync(file, { force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  const lines = () =>
    readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Line);

  const sidOf = async (userId: number) =>
    (
      await ctx.db
        .selectFrom("sessions")
        .select("sid")
        .where("user_id", "=", userId)
        .executeTakeFirstOrThrow()
    ).sid;

  it("writes each request's own statements, with their parameters, in order", async () => {
    const researcher = await createUser(ctx, "researcher");
    const browser = await signedIn(ctx, researcher);
    const before = lines().length;
    await browser.agent.get("/reports").expect(200);
    const [mine] = lines().slice(before);
    assert.equal(mine!.method, "GET");
    assert.equal(mine!.url, "/reports");
    assert.equal(mine!.status, 200);
    // The session row by its ID comes first, then the signed-in user.
    const [first] = mine!.statements;
    assert.match(first!.sql, /from "sessions"/);
    assert.ok(first!.reader);
    assert.ok(first!.params.includes(await sidOf(researcher.user.id)));
    assert.ok(
      mine!.statements.some(
        (s) =>
          /from "users"/.test(s.sql) && s.params.includes(researcher.user.id),
      ),
    );
  });

  it("keeps requests running at the same time apart", async () => {
    const a = await createUser(ctx, "researcher");
    const b = await createUser(ctx, "researcher");
    const [browserA, browserB] = [
      await signedIn(ctx, a),
      await signedIn(ctx, b),
    ];
    const before = lines().length;
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? browserB : browserA).agent.get("/reports").expect(200),
      ),
    );
    const sids = new Map([
      [await sidOf(a.user.id), a.user.id],
      [await sidOf(b.user.id), b.user.id],
    ]);
    const captured = lines().slice(before);
    assert.equal(captured.length, 6);
    for (const line of captured) {
      const sid = line.statements[0]!.params[0] as string;
      const userId = sids.get(sid);
      assert.ok(userId, "the first statement reads the request's session");
      // No statement reads the other user's row.
      for (const s of line.statements)
        if (/from "users"/.test(s.sql) && s.params.length === 1)
          assert.ok(
            ![...sids.values()]
              .filter((u) => u !== userId)
              .includes(s.params[0] as number),
          );
    }
  });

  it("a search changes no schema once the index's vocabulary is there (a create would empty the statement cache)", async () => {
    const org = await createOrg(ctx, "Harbour Water Utility");
    const researcher = await createUser(ctx, "researcher");
    await insertReport(ctx, {
      reporterId: researcher.user.id,
      title: "Appointment IDOR in the booking page",
      organizationId: org.id,
      state: "vendor_notified",
    });
    const triager = await signedIn(ctx, await createUser(ctx, "triager"));
    await triager.agent.get("/search?q=appointment").expect(200);
    const before = lines().length;
    for (const q of ["appointment", "booking", "appointment"])
      await triager.agent.get(`/search?q=${q}`).expect(200);
    const searches = lines().slice(before);
    assert.equal(searches.length, 3);
    for (const line of searches)
      for (const s of line.statements)
        assert.doesNotMatch(s.sql, /^\s*(create|drop|alter)\b/i, line.url);
  });
});

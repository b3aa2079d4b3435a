import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { recordAudit } from "../../src/audit/service.js";
import { runCli } from "../../src/cli.js";
import { databaseFile, openDatabase } from "../../src/db/index.js";
import {
  createTestContext,
  TEST_ENV,
  type TestContext,
} from "../support/harness.js";

/** Console-like output kept as lines. */
function capture() {
  const lines: string[] = [];
  const out = {
    log: (...a: unknown[]) => lines.push(a.join(" ")),
    error: (...a: unknown[]) => lines.push(a.join(" ")),
  };
  return { lines, out: out as unknown as Console };
}

describe("npm run cli -- backup <file> (SQLite)", function () {
  this.timeout(120_000);
  let ctx: TestContext;
  let outDir: string;
  const env = () => ({ ...TEST_ENV, DATA_DIR: ctx.dataDir });
  const entries = async (db = ctx.db) =>
    (
      await db
        .selectFrom("audit_log")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n;
  const append = (n: number) =>
    recordAudit(ctx.db, {
      action: "setting.changed",
      actor: null,
      details: { changed: [`step ${n}`] },
      at: ctx.clock.now(),
    });

  let dataDir: string;

  before(async () => {
    // SQLite's online backup, so SQLite also under TEST_DATABASE_URL (a data
    // directory of its own); PostgreSQL deployments use pg_dump (README).
    dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-backup-data-"));
    ctx = await createTestContext({ dataDir });
    outDir = mkdtempSync(path.join(os.tmpdir(), "dd-backup-"));
    // Enough pages that the copy takes several steps.
    for (let i = 0; i < 3000; i++) await append(i);
  });
  after(async () => {
    await ctx.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(outDir, { recursive: true, force: true });
  });

  it("copies the database while the app writes; the copy opens and its audit chain verifies", async () => {
    const before = await entries();
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await append(before + ++written);
        // A request at a time, as a server's event loop takes them.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const target = path.join(outDir, "copy.sqlite");
    const { lines, out } = capture();
    const code = await runCli(["backup", target], env(), out);
    writing = false;
    await writer;
    assert.equal(code, 0, lines.join("\n"));
    assert.match(lines.join("\n"), /Backup written to .*copy\.sqlite/);
    assert.ok(written > 0, "the app wrote during the backup");

    const copy = openDatabase(target);
    const copied = await entries(copy.db);
    await copy.db.destroy();
    assert.ok(copied >= before, `${copied} entries, ${before} before the copy`);
    assert.ok(copied <= before + written);

    // The copy is a deployment of its own: audit:verify passes on it.
    const restored = mkdtempSync(path.join(os.tmpdir(), "dd-restored-"));
    try {
      mkdirSync(restored, { recursive: true });
      copyFileSync(target, databaseFile(restored));
      const verify = capture();
      assert.equal(
        await runCli(
          ["audit:verify"],
          { ...TEST_ENV, DATA_DIR: restored },
          verify.out,
        ),
        0,
        verify.lines.join("\n"),
      );
      assert.match(
        verify.lines.join("\n"),
        new RegExp(`Audit chain OK: ${copied} entries`),
      );
    } finally {
      rmSync(restored, { recursive: true, force: true });
    }
  });

  it("refuses to overwrite a file, and leaves it as it was", async () => {
    const target = path.join(outDir, "copy.sqlite");
    const was = readFileSync(target);
    const { lines, out } = capture();
    assert.equal(await runCli(["backup", target], env(), out), 2);
    assert.match(lines.join("\n"), /exists; a backup never overwrites a file/);
    assert.deepEqual(readFileSync(target), was);
  });

  it("asks for exactly one file, and points PostgreSQL deployments to pg_dump", async () => {
    const none = capture();
    assert.equal(await runCli(["backup"], env(), none.out), 2);
    assert.match(none.lines.join("\n"), /Usage: npm run cli -- backup <file>/);
    const pg = capture();
    assert.equal(
      await runCli(
        ["backup", path.join(outDir, "pg.sqlite")],
        { ...env(), DATABASE_URL: "postgres://postgres@127.0.0.1:5432/none" },
        pg.out,
      ),
      2,
    );
    assert.match(pg.lines.join("\n"), /pg_dump/);
  });
});

import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, it } from "mocha";
import { createLogger } from "../../src/logger.js";
import { storedPath } from "../../src/reports/attachments.js";
import { startScheduler } from "../../src/reports/reminders.js";
import {
  createTestContext,
  createUser,
  signedIn,
  type Browser,
  type TestContext,
  type TestUser,
} from "../support/harness.js";
import {
  reportFields,
  reportIdFrom,
  SCREENSHOT,
  submitReport,
} from "../support/reports.js";

const HOUR = 3_600_000;

describe("uploads never attached to a report", () => {
  let ctx: TestContext;
  let researcher: Browser;
  let researcherUser: TestUser;

  beforeEach(async () => {
    ctx = await createTestContext();
    researcherUser = await createUser(ctx, "researcher");
    researcher = await signedIn(ctx, researcherUser);
    await researcher.refreshCsrf("/reports/new");
  });
  afterEach(() => ctx.close());

  /** One run of the server's scheduler loop, at the test clock's "now". */
  async function runScheduler() {
    const scheduler = startScheduler(ctx.deps, createLogger("silent"));
    await scheduler.stop();
  }

  /** Uploads files with a form that fails validation; returns the kept rows. */
  async function abandon(files: { path: string; name?: string }[]) {
    const res = await submitReport(
      researcher,
      reportFields({ title: "" }),
      files,
    );
    assert.equal(res.status, 422);
    const ids = [
      ...res.text.matchAll(/name="keptAttachments" value="([^"]+)"/g),
    ].map((m) => m[1]!);
    assert.equal(ids.length, files.length);
    return ctx.db
      .selectFrom("attachments")
      .select(["public_id", "sha256"])
      .where("public_id", "in", ids)
      .execute();
  }

  const row = (publicId: string) =>
    ctx.db
      .selectFrom("attachments")
      .select(["report_id"])
      .where("public_id", "=", publicId)
      .executeTakeFirst();

  it("deletes the rows and the files a day after upload, and nothing sooner", async () => {
    const notes = path.join(ctx.dataDir, "notes.txt");
    writeFileSync(notes, "curl -v https://portal.example.test/booking?id=1\n");
    const [old] = await abandon([{ path: notes }]);
    const file = storedPath(ctx.config.attachmentsDir, old!.sha256);
    assert.ok(existsSync(file));

    ctx.clock.advance(23 * HOUR);
    // Back after the idle session ended.
    researcher = await signedIn(ctx, researcherUser);
    const recentNotes = path.join(ctx.dataDir, "recent.txt");
    writeFileSync(recentNotes, "a later attempt\n");
    const [recent] = await abandon([{ path: recentNotes }]);
    await runScheduler();
    assert.ok(
      await row(old!.public_id),
      "kept for a day: the user may come back",
    );
    assert.ok(existsSync(file));

    ctx.clock.advance(HOUR + 1000);
    await runScheduler();
    assert.equal(await row(old!.public_id), undefined, "the row is gone");
    assert.equal(existsSync(file), false, "the file is gone");
    assert.ok(await row(recent!.public_id), "a younger upload stays");
    assert.ok(
      existsSync(storedPath(ctx.config.attachmentsDir, recent!.sha256)),
    );

    // The form that still carries the deleted file's ID files without it.
    researcher = await signedIn(ctx, researcherUser);
    const res = await submitReport(
      researcher,
      reportFields({ keptAttachments: old!.public_id }),
    );
    assert.equal(res.status, 303);
  });

  it("keeps a file that a filed report holds with the same bytes", async () => {
    const [pending] = await abandon([{ path: SCREENSHOT }]);
    const filed = await submitReport(researcher, reportFields(), [
      { path: SCREENSHOT },
    ]);
    assert.equal(filed.status, 303);
    const id = reportIdFrom(filed.headers.location);
    const linked = await ctx.db
      .selectFrom("attachments")
      .select("sha256")
      .where("report_id", "is not", null)
      .executeTakeFirstOrThrow();
    assert.equal(linked.sha256, pending!.sha256, "the same stored file");

    ctx.clock.advance(25 * HOUR);
    await runScheduler();
    assert.equal(await row(pending!.public_id), undefined);
    researcher = await signedIn(ctx, researcherUser);
    assert.ok(
      existsSync(storedPath(ctx.config.attachmentsDir, pending!.sha256)),
    );
    const page = await researcher.agent.get(`/reports/${id}`);
    const href = /href="(\/reports\/[^"]+\/attachments\/[^"]+)"/.exec(
      page.text,
    )?.[1];
    assert.ok(href);
    assert.equal((await researcher.agent.get(href)).status, 200);
  });
});

import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "mocha";
import { lockInTransaction } from "../../src/db/dialect.js";
import { openPostgres } from "../../src/db/index.js";
import { newPublicId } from "../../src/ids.js";
import {
  ATTACHMENT_FILES_LOCK,
  contentHash,
  deleteAbandonedUploads,
  storedPath,
  storeUpload,
} from "../../src/reports/attachments.js";
import { insertAttachment } from "../../src/reports/repository.js";
import { createUser } from "../support/harness.js";
import {
  createPostgresTestContext,
  type PostgresTestContext,
} from "../support/postgres.js";

const DAY = 24 * 3_600_000;

/*
 * Instances share ATTACHMENTS_DIR. The day-old clean-up on one instance
 * must not remove a file that an upload of the same bytes on another
 * instance is writing its row for: the clean-up could not see that row
 * before it was committed, and the upload, finding the file in place,
 * would not write it again.
 */
describe("PostgreSQL: the uploads clean-up and an upload of the same bytes on another instance", function () {
  this.timeout(60_000);
  let ctx: PostgresTestContext;
  before(async () => {
    ctx = await createPostgresTestContext();
  });
  after(() => ctx?.close());

  it("waits for the upload's transaction and keeps the file it names", async () => {
    const owner = await createUser(ctx, "researcher");
    const bytes = Buffer.from("the same proof of concept, twice\n");
    const sha256 = contentHash(bytes);
    const file = storedPath(ctx.config.attachmentsDir, sha256);
    const attachment = (at: Date) => ({
      publicId: newPublicId(),
      reportId: null,
      ownerId: owner.user.id,
      sha256,
      mediaType: "text/plain",
      size: bytes.length,
      fileName: "poc.txt",
      at,
    });
    // Uploaded two days ago with a form that was never sent again.
    await insertAttachment(
      ctx.db,
      attachment(new Date(ctx.clock.now().getTime() - 2 * DAY)),
    );
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);

    // The other instance uploads the same bytes: its row is written, its
    // transaction not yet committed, when the clean-up starts.
    const other = openPostgres({
      url: ctx.databaseUrl,
      poolSize: 2,
      statementTimeoutMs: 30_000,
    });
    let cleanUp: Promise<number> | undefined;
    try {
      await other.db.transaction().execute(async (tx) => {
        await lockInTransaction(tx, ATTACHMENT_FILES_LOCK, "shared");
        await insertAttachment(tx, attachment(ctx.clock.now()));
        storeUpload(ctx.config.attachmentsDir, bytes);
        cleanUp = deleteAbandonedUploads(ctx.deps);
        // Long enough for a clean-up that does not wait to finish.
        await new Promise((resolve) => setTimeout(resolve, 500));
      });
      assert.equal(await cleanUp, 1, "the abandoned row is deleted");
    } finally {
      await other.db.destroy();
    }
    assert.ok(existsSync(file), "the file the new upload names is kept");
    const rows = await ctx.db
      .selectFrom("attachments")
      .select("sha256")
      .where("sha256", "=", sha256)
      .execute();
    assert.equal(rows.length, 1);
  });
});

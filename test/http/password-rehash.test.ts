import assert from "node:assert/strict";
import { randomBytes, scryptSync } from "node:crypto";
import { after, before, describe, it } from "mocha";
import {
  anonymous,
  createTestContext,
  createUser,
  TEST_PASSWORD,
  type TestContext,
} from "../support/harness.js";
import { replacePasswordHash } from "../../src/users/repository.js";

/**
 * A hash made with other scrypt parameters than the configured ones, built
 * here by hand so the test does not depend on the code it checks. N = 2048,
 * p = 1 against the tests' 1024 mirrors the real change: hashes from before
 * have a larger N (2^17) and p = 1, and new ones a smaller N and larger p.
 */
function oldHash(password: string, N = 2048, r = 8, p = 1) {
  const salt = randomBytes(16);
  const key = scryptSync(password.normalize("NFKC"), salt, 32, { N, r, p });
  return [
    "scrypt",
    N,
    r,
    p,
    salt.toString("base64"),
    key.toString("base64"),
  ].join("$");
}

describe("password hashes with old parameters", () => {
  let ctx: TestContext;
  before(async () => {
    ctx = await createTestContext();
  });
  after(() => ctx.close());

  const stored = (id: number) =>
    ctx.db
      .selectFrom("users")
      .select(["password_hash", "password_changed_at"])
      .where("id", "=", id)
      .executeTakeFirstOrThrow();

  it("are rehashed with the configured parameters at a successful sign-in, and the password still works", async () => {
    const who = await createUser(ctx, "researcher");
    const before = oldHash(TEST_PASSWORD);
    await ctx.db
      .updateTable("users")
      .set({ password_hash: before })
      .where("id", "=", who.user.id)
      .execute();
    const changedAt = (await stored(who.user.id)).password_changed_at;

    // A wrong password changes nothing.
    const wrong = await (
      await anonymous(ctx)
    ).post("/login", { email: who.email, password: "not the password 123" });
    assert.equal(wrong.status, 401);
    assert.equal((await stored(who.user.id)).password_hash, before);

    const first = await (
      await anonymous(ctx)
    ).post("/login", { email: who.email, password: TEST_PASSWORD });
    assert.equal(first.status, 303);
    assert.equal(first.headers.location, "/reports");
    const after = await stored(who.user.id);
    assert.notEqual(after.password_hash, before);
    // The tests' SCRYPT_COST is 1024, below OWASP's table: r 8, p 1.
    assert.match(
      after.password_hash ?? "",
      /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/,
    );
    // An upgrade of the stored form, not a password change.
    assert.equal(after.password_changed_at, changedAt);

    // The same password still signs in, and a current hash is left alone.
    const second = await (
      await anonymous(ctx)
    ).post("/login", { email: who.email, password: TEST_PASSWORD });
    assert.equal(second.status, 303);
    assert.equal(second.headers.location, "/reports");
    assert.equal(
      (await stored(who.user.id)).password_hash,
      after.password_hash,
    );
  });

  it("never stores a rehash over a password changed meanwhile", async () => {
    const who = await createUser(ctx, "researcher");
    const signedInWith = oldHash(TEST_PASSWORD);
    const changedTo = oldHash("a new password chosen meanwhile", 1024);
    await ctx.db
      .updateTable("users")
      .set({ password_hash: changedTo })
      .where("id", "=", who.user.id)
      .execute();
    const stale = await replacePasswordHash(
      ctx.db,
      who.user.id,
      signedInWith,
      oldHash(TEST_PASSWORD, 1024),
    );
    assert.equal(stale, false);
    assert.equal((await stored(who.user.id)).password_hash, changedTo);
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "mocha";
import { ConfigError, loadConfig } from "../../src/config.js";
import {
  hashPassword,
  needsRehash,
  passwordHashesRunning,
  passwordProblem,
  scryptParams,
  verifyPassword,
} from "../../src/auth/passwords.js";

describe("configuration", () => {
  const tmp = () => mkdtempSync(path.join(os.tmpdir(), "dd-config-"));

  it("has embedded defaults for development", () => {
    const dir = tmp();
    try {
      const c = loadConfig({ DATA_DIR: dir });
      assert.equal(c.port, 3000);
      assert.equal(c.baseUrl, "http://localhost:3000");
      assert.equal(c.scryptCost, 2 ** 15);
      assert.equal(c.clocks.ackDueDays, 3);
      assert.equal(c.smtpUrl, undefined);
      assert.equal(c.secureCookies, false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps attachments in DATA_DIR/attachments unless ATTACHMENTS_DIR names a shared one", () => {
    const dir = tmp();
    try {
      assert.equal(
        loadConfig({ DATA_DIR: dir }).attachmentsDir,
        path.join(dir, "attachments"),
      );
      assert.equal(
        loadConfig({ DATA_DIR: dir, ATTACHMENTS_DIR: "/srv/desk-files" })
          .attachmentsDir,
        "/srv/desk-files",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("generates a development session secret once and keeps it in DATA_DIR", () => {
    const dir = tmp();
    try {
      const a = loadConfig({ DATA_DIR: dir });
      const b = loadConfig({ DATA_DIR: dir });
      assert.equal(a.sessionSecret, b.sessionSecret);
      assert.equal(
        readFileSync(path.join(dir, "session-secret"), "utf8").trim(),
        a.sessionSecret,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start on bad values, naming each", () => {
    const refuse = (env: Record<string, string>, message: RegExp) =>
      assert.throws(
        () => loadConfig(env),
        (err: unknown) =>
          err instanceof ConfigError && message.test(err.message),
      );
    refuse(
      {
        NODE_ENV: "production",
        BASE_URL: "http://desk.example.org",
        SESSION_SECRET: "x".repeat(40),
      },
      /BASE_URL: must be https/,
    );
    refuse(
      { NODE_ENV: "production", BASE_URL: "https://desk.example.org" },
      /SESSION_SECRET: required in production/,
    );
    refuse({ PORT: "99999" }, /PORT/);
    refuse({ SCRYPT_COST: "1000" }, /SCRYPT_COST: must be a power of two/);
    refuse({ BASE_URL: "ftp://x" }, /BASE_URL/);
    refuse(
      { SESSION_SECRET: "short" },
      /SESSION_SECRET: must be at least 32 characters/,
    );
    const ok = loadConfig({
      NODE_ENV: "production",
      BASE_URL: "https://desk.example.org/",
      SESSION_SECRET: "y".repeat(40),
    });
    assert.equal(ok.baseUrl, "https://desk.example.org");
    assert.equal(ok.secureCookies, true);
  });
});

describe("passwords", () => {
  it("hashes with scrypt in a self-describing format and verifies", async () => {
    const hash = await hashPassword("correct horse battery", 1024);
    assert.match(
      hash,
      /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/,
    );
    assert.equal(await verifyPassword("correct horse battery", hash), true);
    assert.equal(await verifyPassword("correct horse batterY", hash), false);
    assert.equal(await verifyPassword("x", "md5$garbage"), false);
    assert.equal(
      await verifyPassword("x", "scrypt$abc$8$1$c2FsdA==$a2V5"),
      false,
    );
    assert.equal(
      await verifyPassword("x", "scrypt$1024$8$-1$c2FsdA==$a2V5"),
      false,
    );
    assert.notEqual(
      hash,
      await hashPassword("correct horse battery", 1024),
      "salted",
    );
  });

  /** The most hashes running at once while `hashes` are computed. */
  async function mostAtOnce(hashes: Promise<string>[]) {
    let done = false;
    const all = Promise.all(hashes).finally(() => (done = true));
    // A running maximum, not an array of samples: on a loaded machine the
    // loop turns hundreds of thousands of times, and spreading that many
    // samples into Math.max overflows the stack.
    let most = 0;
    while (!done) {
      most = Math.max(most, passwordHashesRunning());
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { most, all: await all };
  }

  it("computes two 32 MiB password hashes at a time, never more", async () => {
    const mib32 = { N: 2 ** 15, r: 8, p: 1 };
    const { most, all } = await mostAtOnce(
      ["one", "two", "three", "four", "five"].map((p) =>
        hashPassword(`${p} long passphrase`, mib32),
      ),
    );
    // The first two start together; the other three wait for a free slot.
    assert.equal(most, 2, "two at once, never more");
    assert.equal(passwordHashesRunning(), 0);
    assert.equal(new Set(all).size, 5);
    assert.equal(await verifyPassword("three long passphrase", all[2]!), true);
    assert.equal(await verifyPassword("five long passphrase", all[4]!), true);
  });

  it("computes a 128 MiB hash (the former parameters) alone", async () => {
    const { most, all } = await mostAtOnce([
      hashPassword("old long passphrase", { N: 2 ** 17, r: 8, p: 1 }),
      hashPassword("new long passphrase", { N: 2 ** 15, r: 8, p: 1 }),
    ]);
    assert.equal(most, 1, "the 32 MiB hash waited for the 128 MiB one");
    assert.match(all[0]!, /^scrypt\$131072\$8\$1\$/);
    assert.equal(passwordHashesRunning(), 0);
  });

  it("takes r and p from OWASP's scrypt table for the configured N", async () => {
    assert.deepEqual(scryptParams(2 ** 17), { N: 2 ** 17, r: 8, p: 1 });
    assert.deepEqual(scryptParams(2 ** 16), { N: 2 ** 16, r: 8, p: 2 });
    assert.deepEqual(scryptParams(2 ** 15), { N: 2 ** 15, r: 8, p: 3 });
    assert.deepEqual(scryptParams(2 ** 14), { N: 2 ** 14, r: 8, p: 5 });
    assert.deepEqual(scryptParams(2 ** 13), { N: 2 ** 13, r: 8, p: 10 });
    // Below the table: a test's cost, p = 1.
    assert.deepEqual(scryptParams(1024), { N: 1024, r: 8, p: 1 });
    // The default: 32 MiB per hash, p = 3.
    const hash = await hashPassword("correct horse battery", 2 ** 15);
    assert.match(hash, /^scrypt\$32768\$8\$3\$/);
    assert.equal(await verifyPassword("correct horse battery", hash), true);
    assert.equal(needsRehash(hash, 2 ** 15), false);
  });

  it("asks for a rehash when the stored parameters are not the configured ones", async () => {
    const hash = await hashPassword("correct horse battery", 1024);
    assert.equal(needsRehash(hash, 1024), false);
    assert.equal(needsRehash(hash, 2048), true);
    assert.equal(needsRehash(hash, 512), true);
    // The former default (2^17, 8, 1) under the new one (2^15, 8, 3): a
    // larger N, and still rehashed.
    const former = `scrypt$131072$8$1$${"a".repeat(24)}$${"b".repeat(44)}`;
    assert.equal(needsRehash(former, 2 ** 15), true);
    assert.equal(needsRehash(former, 2 ** 17), false);
    assert.equal(needsRehash("scrypt$32768$8$1$x$y", 2 ** 15), true);
    assert.equal(needsRehash("scrypt$32768$16$3$x$y", 2 ** 15), true);
  });

  it("refuses short, long, common and email-based passwords", () => {
    assert.match(passwordProblem("short") ?? "", /at least 12/);
    assert.match(passwordProblem("x".repeat(129)) ?? "", /at most 128/);
    assert.match(passwordProblem("Password1234") ?? "", /too common/);
    assert.match(passwordProblem("aaaaaaaaaaaaaaaa") ?? "", /too common/);
    assert.match(
      passwordProblem("alice.smith-2026!", "alice.smith@example.org") ?? "",
      /email/,
    );
    assert.equal(
      passwordProblem("a calm river at dawn", "alice@example.org"),
      null,
    );
  });
});

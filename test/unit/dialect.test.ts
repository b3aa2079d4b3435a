import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/config.js";
import {
  advisoryLockKey,
  isDatabaseUnavailable,
  parseInt8,
  toTsQuery,
} from "../../src/db/dialect.js";

describe("dialect.ts (what differs between SQLite and PostgreSQL)", () => {
  it("reads FTS5 queries of the forms the app builds as tsqueries", () => {
    assert.equal(toTsQuery('"password"* "reset"*'), "'password':* & 'reset':*");
    assert.equal(
      toTsQuery('("password" OR "passwords") AND "reset"*'),
      "( 'password' | 'passwords' ) & 'reset':*",
    );
    // A phrase: the words in order (a CWE, a report ID).
    assert.equal(toTsQuery('"cwe 639"'), "('cwe' <-> '639')");
    assert.equal(toTsQuery('"DD-7K2Q-9M4D"'), "('dd' <-> '7k2q' <-> '9m4d')");
    // The duplicate hint's column filter: any of the words, in the title's
    // weight only (the tsvector weighs the title A).
    assert.equal(
      toTsQuery('title : ("booking" OR "patient")'),
      "( 'booking':A | 'patient':A )",
    );
    // Quotes inside a word and tsquery syntax are only text.
    assert.equal(
      toTsQuery('"it""s"* "a&b|!c"'),
      "('it' <-> 's':*) & ('a' <-> 'b' <-> 'c')",
    );
    // Accents folded, as FTS5's remove_diacritics folds them.
    assert.equal(toTsQuery('"Zürich"*'), "'zurich':*");
  });

  it("tells a database that cannot be reached (try again) from a failed statement", () => {
    const unavailable = [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), {
        code: "ECONNREFUSED",
      }),
      Object.assign(new Error("the database system is shutting down"), {
        code: "57P03",
      }),
      Object.assign(
        new Error("terminating connection due to administrator command"),
        {
          code: "57P01",
        },
      ),
      new Error("Connection terminated unexpectedly"),
      new Error("Connection terminated due to connection timeout"),
      new Error("timeout exceeded when trying to connect"),
      new Error(
        "Client has encountered a connection error and is not queryable",
      ),
    ];
    for (const err of unavailable)
      assert.ok(isDatabaseUnavailable(err), err.message);
    const failed = [
      Object.assign(new Error("duplicate key value"), { code: "23505" }),
      Object.assign(new Error("canceling statement due to statement timeout"), {
        code: "57014",
      }),
      Object.assign(new Error("UNIQUE constraint failed"), {
        code: "SQLITE_CONSTRAINT_UNIQUE",
      }),
      new Error("Connection refused by policy"),
      null,
      "ECONNREFUSED",
    ];
    for (const err of failed)
      assert.equal(isDatabaseUnavailable(err), false, String(err));
  });

  it("reads int8 as a number, and refuses one a number cannot hold", () => {
    assert.equal(parseInt8("8640000000000000"), 8_640_000_000_000_000);
    assert.equal(parseInt8("-42"), -42);
    assert.throws(() => parseInt8("9007199254740993"), RangeError);
  });

  it("turns a lock's name into a stable signed 64-bit key", () => {
    const key = BigInt(advisoryLockKey("audit-chain"));
    assert.equal(advisoryLockKey("audit-chain"), key.toString());
    assert.ok(key >= -(2n ** 63n) && key < 2n ** 63n);
    assert.notEqual(
      advisoryLockKey("scheduler"),
      advisoryLockKey("audit-chain"),
    );
  });

  it("takes PostgreSQL from DATABASE_URL with its pool size and statement timeout", () => {
    const base = {
      NODE_ENV: "test",
      DATA_DIR: "/tmp/dd-config-test",
      SESSION_SECRET: "x".repeat(32),
    };
    assert.deepEqual(loadConfig(base).database, {
      url: null,
      poolSize: 10,
      statementTimeoutMs: 30_000,
    });
    assert.deepEqual(
      loadConfig({
        ...base,
        DATABASE_URL: "postgres://desk@db.internal:5432/desk",
        DATABASE_POOL_SIZE: "25",
        DATABASE_STATEMENT_TIMEOUT_MS: "5000",
      }).database,
      {
        url: "postgres://desk@db.internal:5432/desk",
        poolSize: 25,
        statementTimeoutMs: 5000,
      },
    );
    assert.throws(
      () => loadConfig({ ...base, DATABASE_URL: "mysql://desk@db/desk" }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /DATABASE_URL: must be a PostgreSQL URL/.test(e.message),
    );
  });

  it("refuses SQL_CAPTURE_FILE with DATABASE_URL: the benchmark replays the capture with SQLite", () => {
    const env = {
      NODE_ENV: "test",
      DATA_DIR: "/tmp/dd-config-test",
      SESSION_SECRET: "x".repeat(32),
      SQL_CAPTURE_FILE: "/tmp/dd-capture",
    };
    assert.equal(loadConfig(env).sqlCaptureFile, "/tmp/dd-capture");
    assert.throws(
      () => loadConfig({ ...env, DATABASE_URL: "postgres://desk@db/desk" }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /SQL_CAPTURE_FILE: SQLite only/.test(e.message),
    );
  });
});

import assert from "node:assert/strict";
import SqliteDatabase from "better-sqlite3";
import { sql } from "kysely";
import { describe, it } from "mocha";
import { openDatabase } from "../../src/db/index.js";
import { rowBuilder, withStatementCache } from "../../src/db/statements.js";

function scratch() {
  const sqlite = new SqliteDatabase(":memory:");
  sqlite.exec(`
    create table people (id integer primary key, name text, note text, score real, data blob);
    insert into people values (1, 'Ada', null, 1.5, x'00ff'), (2, 'Bo "quoted"', 'x', -2, null);
    create table teams (id integer primary key, name text, lead_id integer);
    insert into teams values (7, 'Blue', 1);
  `);
  return { sqlite, cache: withStatementCache(sqlite, () => undefined) };
}

// SQLite only by nature, also under TEST_DATABASE_URL: statements.ts is the
// better-sqlite3 statement cache (PostgreSQL goes through pg), tested on
// SQLite databases of its own.
describe("statements read as arrays, rows built in JavaScript", () => {
  it("returns exactly the rows better-sqlite3 returns: keys, order, nulls, numbers, blobs, duplicate names", () => {
    const { sqlite, cache } = scratch();
    const queries: [string, unknown[]][] = [
      ["select * from people order by id", []],
      ['select id, name as "we\'ird key", note from people where id = ?', [2]],
      // Two columns named "name": the later one wins, as in better-sqlite3.
      [
        "select p.name, t.name, t.id as team from people p join teams t on t.lead_id = p.id",
        [],
      ],
      ["select count(*) as n, max(score) from people", []],
      ["select * from people where id > ?", [99]],
    ];
    for (const [query, params] of queries) {
      const expected = sqlite.prepare(query).all(params);
      const actual = cache.prepare(query).all(params);
      assert.deepEqual(actual, expected, query);
      assert.deepEqual(
        actual.map((row) => Object.keys(row as object)),
        expected.map((row) => Object.keys(row as object)),
        `key order of ${query}`,
      );
    }
  });

  it("iterates rows as objects too, and runs writes as before", () => {
    const { cache } = scratch();
    const write = cache.prepare("insert into people (id, name) values (?, ?)");
    assert.equal(write.reader, false);
    assert.deepEqual(write.run([3, "Cy"]), { changes: 1, lastInsertRowid: 3 });
    const names = [
      ...cache.prepare("select name from people order by id").iterate([]),
    ];
    assert.deepEqual(names, [
      { name: "Ada" },
      { name: 'Bo "quoted"' },
      { name: "Cy" },
    ]);
  });

  it("reads the new columns of a kept statement after the schema changes", () => {
    const { sqlite, cache } = scratch();
    const query = "select * from teams";
    assert.deepEqual(cache.prepare(query).all([]), [
      { id: 7, name: "Blue", lead_id: 1 },
    ]);
    // Through the cache (a migration): the kept statements are dropped.
    cache.prepare("alter table teams add column colour text").run([]);
    assert.deepEqual(cache.prepare(query).all([]), [
      { id: 7, name: "Blue", lead_id: 1, colour: null },
    ]);
    // Behind the cache's back: SQLite recompiles the statement, and the
    // changed number of columns is noticed on the next read.
    sqlite.exec("alter table teams drop column lead_id");
    assert.deepEqual(cache.prepare(query).all([]), [
      { id: 7, name: "Blue", colour: null },
    ]);
  });

  it("builds rows whose column names are not safe identifiers", () => {
    const build = rowBuilder(["a", "}; throw 1; ({", "\u2028", "a"]);
    assert.deepEqual(build([1, 2, 3, 4]), {
      a: 4,
      "}; throw 1; ({": 2,
      "\u2028": 3,
    });
    const { sqlite, cache } = scratch();
    const query = `select 1 as "__proto__", 2 as "constructor"`;
    const row = cache.prepare(query).all([])[0] as object;
    assert.deepEqual(
      Object.getOwnPropertyDescriptors(row),
      Object.getOwnPropertyDescriptors(sqlite.prepare(query).get()),
    );
    // As in better-sqlite3, a column called __proto__ is no property.
    assert.equal(Object.getPrototypeOf(row), Object.prototype);
    assert.deepEqual(Object.keys(row), ["constructor"]);
  });

  it("serves Kysely: rows of a join come back as objects", async () => {
    const { db } = openDatabase(":memory:");
    await sql`create table t (id integer primary key, label text)`.execute(db);
    await sql`insert into t values (1, 'one'), (2, 'two')`.execute(db);
    const rows = await sql<{
      id: number;
      label: string;
    }>`select id, label from t order by id desc`.execute(db);
    assert.deepEqual(rows.rows, [
      { id: 2, label: "two" },
      { id: 1, label: "one" },
    ]);
    await db.destroy();
  });
});

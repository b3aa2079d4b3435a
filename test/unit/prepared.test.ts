import assert from "node:assert/strict";
import { sql } from "kysely";
import { describe, it } from "mocha";
import { openDatabase } from "../../src/db/index.js";
import { keptQuery, preparedQuery } from "../../src/db/prepared.js";

async function scratch() {
  const { db } = openDatabase(":memory:");
  await sql`create table sessions (sid text primary key, data text, expires_at integer, last_seen_at integer)`.execute(
    db,
  );
  await sql`insert into sessions values ('a', '{"n":1}', 10, 1), ('b', '{"n":2}', 20, 2), ('c', '{"n":3}', 30, 3)`.execute(
    db,
  );
  return db;
}

describe("prepared queries: built once, run with each call's values", () => {
  it("returns what the query built with those values returns, building it once", async () => {
    const db = await scratch();
    let builds = 0;
    const byIdAbove = preparedQuery((d, sid: string, above: number) => {
      builds += 1;
      return d
        .selectFrom("sessions")
        .select(["sid", "data", "expires_at"])
        .where("sid", "in", [sid])
        .where("expires_at", ">", above)
        .orderBy("sid");
    });
    for (const [sid, above] of [
      ["a", 0],
      ["b", 0],
      ["b", 25],
      ["zz", 0],
    ] as const) {
      const expected = await db
        .selectFrom("sessions")
        .select(["sid", "data", "expires_at"])
        .where("sid", "in", [sid])
        .where("expires_at", ">", above)
        .orderBy("sid")
        .execute();
      assert.deepEqual((await byIdAbove(db, sid, above)).rows, expected);
    }
    // In a transaction too, still without building it again.
    const inTx = await db
      .transaction()
      .execute(async (tx) => (await byIdAbove(tx, "c", 5)).rows);
    assert.deepEqual(inTx, [{ sid: "c", data: '{"n":3}', expires_at: 30 }]);
    assert.equal(builds, 1);
    await db.destroy();
  });

  it("takes a list as one value per element, prepared once per length", async () => {
    const db = await scratch();
    let builds = 0;
    const bySids = preparedQuery(
      (d, sids: readonly string[], above: number) => {
        builds += 1;
        return d
          .selectFrom("sessions")
          .select("sid")
          .where("sid", "in", sids)
          .where("expires_at", ">", above)
          .orderBy("sid");
      },
    );
    const sids = async (list: string[], above = 0) =>
      (await bySids(db, list, above)).rows.map((r) => r.sid);
    assert.deepEqual(await sids(["c", "a"]), ["a", "c"]);
    assert.deepEqual(await sids(["b", "c"], 25), ["c"]);
    assert.deepEqual(await sids(["b"]), ["b"]);
    assert.deepEqual(await sids(["a", "b", "c"]), ["a", "b", "c"]);
    assert.deepEqual(await sids(["x", "a"]), ["a"]);
    assert.equal(builds, 3);
    // A list over 100 is built on every run, not kept.
    const many = Array.from({ length: 101 }, (_, i) => `s${i}`).concat("b");
    assert.deepEqual(await sids(many), ["b"]);
    assert.deepEqual(await sids(many), ["b"]);
    assert.equal(builds, 5);
    await db.destroy();
  });

  it("runs writes with their values", async () => {
    const db = await scratch();
    const touch = preparedQuery((d, sid: string, at: number) =>
      d
        .updateTable("sessions")
        .set({ expires_at: at, last_seen_at: at })
        .where("sid", "=", sid),
    );
    await touch(db, "b", 99);
    await touch(db, "c", 77);
    const rows = await db
      .selectFrom("sessions")
      .select(["sid", "expires_at", "last_seen_at"])
      .orderBy("sid")
      .execute();
    assert.deepEqual(rows, [
      { sid: "a", expires_at: 10, last_seen_at: 1 },
      { sid: "b", expires_at: 99, last_seen_at: 99 },
      { sid: "c", expires_at: 77, last_seen_at: 77 },
    ]);
    await db.destroy();
  });

  it("refuses a query that does not carry every argument as a value", async () => {
    const db = await scratch();
    const shaped = preparedQuery((d, sid: string) => {
      // Inspects its argument: the SQL would depend on the value.
      const q = d.selectFrom("sessions").select("sid");
      return typeof sid === "string" ? q.where("sid", "=", sid) : q;
    });
    await assert.rejects(
      async () => shaped(db, "a"),
      /prepared query uses 0 of 1 values/,
    );
    await db.destroy();
  });

  it("keeps a query wholly decided by its description, by the description", async () => {
    const db = await scratch();
    let builds = 0;
    const page = keptQuery(
      (d, { above, sids }: { above: number; sids?: string[] }) => {
        builds += 1;
        let q = d
          .selectFrom("sessions")
          .select("sid")
          .where("expires_at", ">", above);
        if (sids) q = q.where("sid", "in", sids);
        return q.orderBy("sid");
      },
    );
    const sids = async (description: { above: number; sids?: string[] }) =>
      (await page(db, description)).rows.map((r) => r.sid);
    assert.deepEqual(await sids({ above: 15 }), ["b", "c"]);
    assert.deepEqual(await sids({ above: 15, sids: ["a", "c"] }), ["c"]);
    assert.deepEqual(await sids({ above: 5 }), ["a", "b", "c"]);
    assert.equal(builds, 3);
    // Asked again: the kept SQL, run again on the rows as they are now.
    await db
      .updateTable("sessions")
      .set({ expires_at: 1 })
      .where("sid", "=", "b")
      .execute();
    assert.deepEqual(await sids({ above: 15 }), ["c"]);
    assert.deepEqual(await sids({ above: 15, sids: ["a", "c"] }), ["c"]);
    assert.equal(builds, 3);
    await db.destroy();
  });
});

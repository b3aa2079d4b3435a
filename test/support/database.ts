// What tests read and do to the database beneath the app, for either
// database (SQLite, or PostgreSQL under TEST_DATABASE_URL): the tables and
// their rows ("a refused request changes nothing"), foreign keys, counting
// writes, and triggers that make a write fail. The one place where the
// tests' raw SQL differs between the two.
import { sql } from "kysely";
import { dialectOf } from "../../src/db/dialect.js";
import type { Db } from "../../src/db/index.js";

export type Row = Record<string, unknown>;

/**
 * The app's tables by name, without the databases' own (sqlite_*) and the
 * migrator's (kysely_*).
 */
export async function tableNames(db: Db): Promise<string[]> {
  const { rows } =
    dialectOf(db) === "postgres"
      ? await sql<{ name: string }>`
          select tablename as name from pg_tables
          where schemaname = current_schema() order by tablename`.execute(db)
      : await sql<{ name: string }>`
          select name from sqlite_master where type = 'table' order by name`.execute(
          db,
        );
  return rows
    .map((r) => r.name)
    .filter((n) => !n.startsWith("sqlite_") && !n.startsWith("kysely_"));
}

/**
 * Every row of a table in a stable order: SQLite's rowid; on PostgreSQL the
 * primary key, or the whole row where the table has none.
 */
export async function tableRows(db: Db, table: string): Promise<Row[]> {
  if (dialectOf(db) !== "postgres")
    return (
      await sql<Row>`select * from ${sql.table(table)} order by rowid`.execute(
        db,
      )
    ).rows;
  const { rows: key } = await sql<{ name: string }>`
    select a.attname as name
    from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
    where i.indrelid = ${table}::regclass and i.indisprimary
    order by array_position(i.indkey::int2[], a.attnum)`.execute(db);
  const order =
    key.length > 0
      ? sql.join(key.map((k) => sql.ref(`t.${k.name}`)))
      : sql`t::text`;
  return (
    await sql<Row>`select t.* from ${sql.table(table)} as t order by ${order}`.execute(
      db,
    )
  ).rows;
}

/** The columns of `table` that reference another table, and which. */
export async function foreignKeys(
  db: Db,
  table: string,
): Promise<{ table: string; from: string }[]> {
  if (dialectOf(db) === "postgres")
    return (
      await sql<{ table: string; from: string }>`
        select r.relname as "table", a.attname as "from"
        from pg_constraint c
        join pg_class r on r.oid = c.confrelid
        join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
        where c.contype = 'f' and c.conrelid = ${table}::regclass`.execute(db)
    ).rows;
  return (
    await sql<{
      table: string;
      from: string;
    }>`select "table", "from" from pragma_foreign_key_list(${table})`.execute(
      db,
    )
  ).rows;
}

/**
 * Counts the rows written (inserted, updated, deleted) to `tables` from now
 * on; answers a function that reads the count. Written in the writing
 * transaction, so a write rolled back is not counted. SQLite: TEMP triggers
 * on the test's own (the app's one) connection, nothing added to the file.
 * PostgreSQL: triggers of the test's own database, counting into a table
 * of a schema of their own (not among tableNames).
 */
export async function watchWrites(
  db: Db,
  tables: string[],
): Promise<() => Promise<number>> {
  if (dialectOf(db) === "postgres") {
    await sql`create schema if not exists test_watch`.execute(db);
    await sql`create table if not exists test_watch.writes (n integer)`.execute(
      db,
    );
    await sql`create or replace function test_watch.count_write() returns trigger
      language plpgsql as $$
      begin
        insert into test_watch.writes (n) values (1);
        return null;
      end $$`.execute(db);
    for (const table of tables)
      await sql`create or replace trigger ${sql.raw(`test_watch_${table}`)}
        after insert or update or delete on ${sql.table(table)}
        for each row execute function test_watch.count_write()`.execute(db);
    return async () =>
      Number(
        (
          await sql<{
            n: number;
          }>`select count(*) as n from test_watch.writes`.execute(db)
        ).rows[0]!.n,
      );
  }
  await sql`create temp table if not exists test_writes (n integer not null)`.execute(
    db,
  );
  await sql`delete from test_writes`.execute(db);
  await sql`insert into test_writes (n) values (0)`.execute(db);
  for (const table of tables)
    for (const op of ["insert", "update", "delete"])
      await sql
        .raw(
          `create temp trigger if not exists test_writes_${table}_${op}
           after ${op} on main.${table}
           begin update test_writes set n = n + 1; end`,
        )
        .execute(db);
  return async () =>
    (await sql<{ n: number }>`select n from test_writes`.execute(db)).rows[0]!
      .n;
}

/**
 * Makes the database refuse to insert into `table` a row whose `column`
 * equals `value` (raising `message`), as a failure the app cannot foresee;
 * answers what takes the refusal away again.
 */
export async function refuseInserts(
  db: Db,
  refusal: {
    name: string;
    table: string;
    column: string;
    value: string;
    message: string;
  },
): Promise<() => Promise<void>> {
  const { name, table, column, value, message } = refusal;
  if (dialectOf(db) === "postgres") {
    await sql`create function ${sql.raw(name)}() returns trigger
      language plpgsql as $$
      begin
        if new.${sql.raw(column)} = ${sql.lit(value)} then
          raise exception ${sql.lit(message)};
        end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger ${sql.raw(name)} before insert on ${sql.table(table)}
      for each row execute function ${sql.raw(name)}()`.execute(db);
    return async () => {
      await dropTrigger(db, name, table);
      await sql`drop function ${sql.raw(name)}()`.execute(db);
    };
  }
  await sql`create temp trigger ${sql.raw(name)} before insert on ${sql.raw(`main.${table}`)}
    when new.${sql.raw(column)} = ${sql.lit(value)}
    begin select raise(abort, ${sql.lit(message)}); end`.execute(db);
  return () => dropTrigger(db, name, table);
}

/** Drops a trigger of `table` (the app's own, as someone with the database could). */
export async function dropTrigger(
  db: Db,
  name: string,
  table: string,
): Promise<void> {
  if (dialectOf(db) === "postgres")
    await sql`drop trigger ${sql.raw(name)} on ${sql.table(table)}`.execute(db);
  else await sql`drop trigger ${sql.raw(name)}`.execute(db);
}

import type SqliteDatabase from "better-sqlite3";
import type { SqliteStatement } from "kysely";
import { noteStatement } from "./capture.js";

type Row = Record<string, unknown>;
type RowBuilder = (values: unknown[]) => Row;

/**
 * A function turning one row's values, in column order, into the object
 * better-sqlite3 would have returned: same keys, same order, a later
 * column of the same name winning as it does there. Compiled once per
 * statement so every row shares one object shape.
 */
export function rowBuilder(columns: readonly string[]): RowBuilder {
  const fields = columns
    .map((name, i) => `${JSON.stringify(name)}: values[${i}]`)
    .join(", ");
  return new Function("values", `return { ${fields} };`) as RowBuilder;
}

/**
 * A prepared statement as Kysely uses it, reading rows as arrays and
 * building the objects in JavaScript: better-sqlite3 builds each row object
 * property by property in C++, which was 40 % of a 27-row list query at a
 * million reports (162 → 95 µs for the queue's first page, bench/README.md).
 */
export class FastStatement implements SqliteStatement {
  readonly reader: boolean;
  private columnNames: string[] = [];
  private build: RowBuilder = () => ({});

  constructor(
    private readonly statement: SqliteDatabase.Statement,
    private readonly sql: string,
  ) {
    this.reader = statement.reader;
    if (this.reader) {
      statement.raw(true);
      this.learnColumns();
    }
  }

  /** The result's columns, read again if a schema change altered them. */
  private learnColumns() {
    this.columnNames = this.statement.columns().map((c) => c.name);
    this.build = rowBuilder(this.columnNames);
  }

  all(parameters: readonly unknown[]): unknown[] {
    noteStatement(this.sql, parameters, this.reader);
    if (!this.reader) return this.statement.all(parameters);
    const rows = this.statement.all(parameters) as unknown[][];
    if (rows.length > 0 && rows[0]!.length !== this.columnNames.length)
      this.learnColumns();
    return rows.map(this.build);
  }

  run(parameters: readonly unknown[]) {
    noteStatement(this.sql, parameters, this.reader);
    return this.statement.run(parameters);
  }

  *iterate(parameters: readonly unknown[]): IterableIterator<unknown> {
    noteStatement(this.sql, parameters, this.reader);
    for (const values of this.statement.iterate(parameters)) {
      if (!this.reader) {
        yield values;
        continue;
      }
      if ((values as unknown[]).length !== this.columnNames.length)
        this.learnColumns();
      yield this.build(values as unknown[]);
    }
  }
}

/** Statements that change the schema, after which cached ones may read other columns. */
const SCHEMA_CHANGE = /^\s*(create|drop|alter)\b/i;

const STATEMENT_CACHE_SIZE = 500;

/**
 * Kysely prepares every query it runs, and better-sqlite3 compiles SQL on
 * every prepare: at a few dozen queries a page that compiling showed in the
 * benchmark's profile. The compiled statements are kept, most recently used
 * first; queries that differ only in their values share one. (A statement is
 * run to completion before the next query, so sharing one is safe; Kysely's
 * streaming, which would hold a statement open, is not used.) A schema
 * change on this connection empties the cache, so no kept statement names
 * columns that have changed.
 */
export function withStatementCache(
  sqlite: SqliteDatabase.Database,
  beforeClose: () => void,
) {
  const statements = new Map<string, FastStatement>();
  return {
    close: () => {
      beforeClose();
      sqlite.close();
    },
    prepare(sql: string): FastStatement {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        if (SCHEMA_CHANGE.test(sql)) statements.clear();
        statement = new FastStatement(sqlite.prepare(sql), sql);
        if (statements.size >= STATEMENT_CACHE_SIZE)
          statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}

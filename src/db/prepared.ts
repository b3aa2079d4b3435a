import type { Compilable, CompiledQuery, Kysely, QueryResult } from "kysely";
import type { DbOrTx } from "./index.js";
import type { Database } from "./schema.js";

/** Stands for the value of one argument (or one element of a list) while the query is built. */
class Slot {
  constructor(
    readonly index: number,
    readonly element: number | null,
  ) {}
}

/** Lists longer than this are built on every run (one compiled query per length). */
const MAX_PREPARED_LIST = 100;

/**
 * A query whose SQL is the same on every run, only its values differing:
 * built and compiled by Kysely once per database (its dialect decides the
 * SQL), then run with each call's values in place of the ones it was built
 * with. Building and compiling a query cost more than running it on the
 * pages every request reads (the session, the user, their memberships, the
 * report and its participants): 11–12 % of a queue or report view's CPU was
 * Kysely's own (bench/README.md, "Profiles of the queue and the report
 * page").
 *
 * The builder receives stand-ins for its arguments and must use each as a
 * value (a comparison's right side, an inserted or updated value), never
 * inspect it: a query whose shape depends on a value (a filter that may be
 * absent) cannot be prepared. An array argument is a list of values, each
 * element a value (an `in` list): the query is prepared once per length of
 * its lists, so the builder may read a list's length (to leave out a
 * condition on an empty one), never its elements. Every value must reach
 * the SQL as a parameter, checked on the first build.
 */
export function preparedQuery<Args extends readonly unknown[], Row>(
  build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>,
): (db: DbOrTx, ...args: Args) => Promise<QueryResult<Row>> {
  // By the database's adapter (a transaction shares its database's), then
  // by the lengths of the lists.
  const compiled = new WeakMap<object, Map<string, CompiledQuery<Row>>>();
  return (db, ...args) => {
    const executor = db.getExecutor();
    const shape = args
      .map((a) => (Array.isArray(a) ? String(a.length) : ""))
      .join(",");
    // A database with plugins transforms queries, and a long list would
    // keep a query per length: both are built on every run.
    if (
      executor.plugins.length > 0 ||
      args.some((a) => Array.isArray(a) && a.length > MAX_PREPARED_LIST)
    )
      return db.executeQuery(build(db, ...args));
    let byShape = compiled.get(executor.adapter);
    if (!byShape) {
      byShape = new Map();
      compiled.set(executor.adapter, byShape);
    }
    let query = byShape.get(shape);
    if (!query) {
      let values = 0;
      const standIns = args.map((a, i) => {
        if (!Array.isArray(a)) return (values++, new Slot(i, null));
        values += a.length;
        return a.map((_, j) => new Slot(i, j));
      }) as unknown as Args;
      query = build(db, ...standIns).compile();
      const used = new Set(query.parameters.filter((p) => p instanceof Slot));
      if (used.size !== values)
        throw new Error(
          `prepared query uses ${used.size} of ${values} values: ${query.sql}`,
        );
      byShape.set(shape, query);
    }
    return db.executeQuery<Row>({
      ...query,
      parameters: query.parameters.map((p) =>
        p instanceof Slot
          ? p.element === null
            ? args[p.index]
            : (args[p.index] as readonly unknown[])[p.element]
          : p,
      ),
    });
  };
}

/** Compiled queries kept by keptQuery, per database, most recently used last. */
const KEPT_QUERIES = 200;

/**
 * A query wholly decided by a description made of plain data (numbers,
 * strings, booleans, dates, arrays and objects of them): the same
 * description, the same SQL and values. Its compiled form is kept by the
 * description's JSON, for the last 200 descriptions used, so a page asked
 * for again (the queue's first page, a filtered list) is not built and
 * compiled again: the list query was 6 % of a queue view in Kysely. The
 * query still runs every time; only its SQL text and values are kept.
 * For a query whose shape varies with its description, where
 * preparedQuery's stand-ins cannot serve.
 */
export function keptQuery<Description, Row>(
  build: (db: DbOrTx, description: Description) => Compilable<Row>,
): (db: DbOrTx, description: Description) => Promise<QueryResult<Row>> {
  const kept = new WeakMap<object, Map<string, CompiledQuery<Row>>>();
  return (db, description) => {
    const executor = db.getExecutor();
    if (executor.plugins.length > 0)
      return db.executeQuery(build(db, description));
    let byKey = kept.get(executor.adapter);
    if (!byKey) {
      byKey = new Map();
      kept.set(executor.adapter, byKey);
    }
    const key = JSON.stringify(description);
    let query = byKey.get(key);
    if (query) {
      byKey.delete(key);
    } else {
      query = build(db, description).compile();
      if (byKey.size >= KEPT_QUERIES) byKey.delete(byKey.keys().next().value!);
    }
    byKey.set(key, query);
    return db.executeQuery(query);
  };
}

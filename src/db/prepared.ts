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

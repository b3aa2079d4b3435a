import type { Compilable, CompiledQuery, Kysely, QueryResult } from "kysely";
import type { DbOrTx } from "./index.js";
import type { Database } from "./schema.js";

/** Stands for the value of one argument while the query is built. */
class Slot {
  constructor(readonly index: number) {}
}

/**
 * A query whose SQL is the same on every run, only its values differing:
 * built and compiled by Kysely once per database (its dialect decides the
 * SQL), then run with each call's values in place of the ones it was built
 * with. Building and compiling a query cost more than running it on the
 * pages every request reads (the session, the user, their memberships):
 * 11–12 % of a queue or report view's CPU was Kysely's own (bench/README.md,
 * "Profiles of the queue and the report page").
 *
 * The builder receives stand-ins for its arguments and must use each as a
 * value (a comparison's right side, an inserted or updated value, one
 * element of an `in` list), never inspect it: a query whose shape depends
 * on a value (an `in` list of any length, a filter that may be absent)
 * cannot be prepared. Every argument must reach the SQL as a parameter,
 * checked on the first build.
 */
export function preparedQuery<Args extends readonly unknown[], Row>(
  build: (db: Kysely<Database>, ...args: Args) => Compilable<Row>,
): (db: DbOrTx, ...args: Args) => Promise<QueryResult<Row>> {
  // Keyed by the database's adapter: a transaction shares its database's.
  const compiled = new WeakMap<object, CompiledQuery<Row>>();
  return (db, ...args) => {
    const executor = db.getExecutor();
    // A database with plugins transforms queries: built on every run.
    if (executor.plugins.length > 0) return db.executeQuery(build(db, ...args));
    let query = compiled.get(executor.adapter);
    if (!query) {
      const slots = args.map((_, i) => new Slot(i)) as unknown as Args;
      query = build(db, ...slots).compile();
      const used = new Set(
        query.parameters.flatMap((p) => (p instanceof Slot ? [p.index] : [])),
      );
      if (used.size !== args.length)
        throw new Error(
          `prepared query uses ${used.size} of ${args.length} arguments: ${query.sql}`,
        );
      compiled.set(executor.adapter, query);
    }
    return db.executeQuery<Row>({
      ...query,
      parameters: query.parameters.map((p) =>
        p instanceof Slot ? args[p.index] : p,
      ),
    });
  };
}

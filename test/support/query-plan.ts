import { CompiledQuery, sql, type Kysely } from "kysely";

/*
 * Query plans for the tests that say which index serves a query and that
 * nothing is sorted. SQLite: the detail lines of EXPLAIN QUERY PLAN.
 * PostgreSQL: the nodes of EXPLAIN (FORMAT JSON), after ANALYZE and with
 * `enable_seqscan = off` so that the tests' tiny tables do not make a
 * sequential scan look cheaper than the index that serves a real desk
 * (and `enable_sort = off` where a test says an index gives the order).
 * What the tests can say on PostgreSQL: which indexes serve, that no
 * table is scanned whole, and where no Sort node is; which of two indexes
 * the planner prefers follows the tables' statistics, so it is asserted
 * only where one index alone can serve.
 */

/** SQLite's EXPLAIN QUERY PLAN of a compiled query: its detail lines. */
export async function sqlitePlan(
  db: Kysely<any>,
  query: CompiledQuery,
): Promise<string[]> {
  const { rows } = await db.executeQuery<{ detail: string }>(
    CompiledQuery.raw(`explain query plan ${query.sql}`, [...query.parameters]),
  );
  return rows.map((r) => r.detail);
}

/** One node of a PostgreSQL plan (the fields the tests read). */
export interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  Alias?: string;
  "Index Name"?: string;
  "Sort Key"?: string[];
  Plans?: PlanNode[];
}

/** A PostgreSQL plan: every node, depth first (a parent before its inputs). */
export class PostgresPlan {
  constructor(
    readonly nodes: PlanNode[],
    readonly text: string,
  ) {}

  /** The indexes read (index, index-only and bitmap index scans). */
  indexes(): string[] {
    return this.nodes.flatMap((n) =>
      n["Index Name"] ? [n["Index Name"]] : [],
    );
  }

  /** Whether the plan reads the index `name`. */
  uses(name: string): boolean {
    return this.indexes().includes(name);
  }

  /** The nodes reading the table aliased `alias` (else named so). */
  reading(alias: string): PlanNode[] {
    return this.nodes.filter(
      (n) => (n.Alias ?? n["Relation Name"]) === alias && n["Relation Name"],
    );
  }

  /** Whether every read of `alias` goes through an index (at least one read). */
  readsThroughIndex(alias: string): boolean {
    const reads = this.reading(alias);
    return (
      reads.length > 0 &&
      reads.every((n) => n["Node Type"] !== "Seq Scan") &&
      reads.some((n) => n["Node Type"].includes("Index") || this.#bitmap(n))
    );
  }

  #bitmap(node: PlanNode): boolean {
    return (
      node["Node Type"] === "Bitmap Heap Scan" &&
      (node.Plans ?? []).some((c) => c["Index Name"])
    );
  }

  /**
   * The plan under its first node of type `type` (e.g. the Limit that
   * chooses a page): what is read before the page is cut.
   */
  below(type: string): PostgresPlan {
    const top = this.nodes.find((n) => n["Node Type"] === type);
    const nodes: PlanNode[] = [];
    const text: string[] = [];
    for (const child of top?.Plans ?? []) flatten(child, 0, nodes, text);
    return new PostgresPlan(nodes, text.join("\n"));
  }

  /** The aliases (else table names) read by a sequential scan. */
  seqScans(): string[] {
    return this.nodes
      .filter((n) => n["Node Type"] === "Seq Scan")
      .map((n) => n.Alias ?? n["Relation Name"] ?? "?");
  }

  /** The Sort (and Incremental Sort) nodes: rows put in order after reading. */
  sorts(): PlanNode[] {
    return this.nodes.filter((n) => /Sort$/.test(n["Node Type"]));
  }

  /** One line per node, indented by depth, for assertion messages. */
  toString(): string {
    return this.text;
  }
}

function flatten(
  node: PlanNode,
  depth: number,
  out: PlanNode[],
  text: string[],
) {
  out.push(node);
  const what = [
    node["Node Type"],
    node["Index Name"] ? `using ${node["Index Name"]}` : "",
    node["Relation Name"] ? `on ${node["Relation Name"]}` : "",
    node.Alias && node.Alias !== node["Relation Name"] ? node.Alias : "",
    node["Sort Key"] ? `(${node["Sort Key"].join(", ")})` : "",
  ]
    .filter(Boolean)
    .join(" ");
  text.push(`${"  ".repeat(depth)}${what}`);
  for (const child of node.Plans ?? []) flatten(child, depth + 1, out, text);
}

/**
 * PostgreSQL's plan of a compiled query, with sequential scans discouraged.
 * `orderFromIndex`: the test asserts that an index gives the rows in order
 * (no Sort node); sorting is then discouraged too, as sorting a tiny
 * table's few rows is cheaper than walking an index. A Sort still shows
 * when no index can give that order.
 */
export async function postgresPlan(
  db: Kysely<any>,
  query: CompiledQuery,
  options: { orderFromIndex?: boolean } = {},
): Promise<PostgresPlan> {
  return db.transaction().execute(async (tx) => {
    // Statistics of the tables as they are now, so that the plan does not
    // depend on whether autovacuum happened to analyze them yet.
    await sql`analyze`.execute(tx);
    await sql`set local enable_seqscan = off`.execute(tx);
    if (options.orderFromIndex)
      await sql`set local enable_sort = off`.execute(tx);
    const { rows } = await tx.executeQuery<{ "QUERY PLAN": unknown }>(
      CompiledQuery.raw(`explain (format json) ${query.sql}`, [
        ...query.parameters,
      ]),
    );
    const json = rows[0]!["QUERY PLAN"];
    const parsed = (typeof json === "string" ? JSON.parse(json) : json) as {
      Plan: PlanNode;
    }[];
    const nodes: PlanNode[] = [];
    const text: string[] = [];
    flatten(parsed[0]!.Plan, 0, nodes, text);
    return new PostgresPlan(nodes, text.join("\n"));
  });
}

import { AsyncLocalStorage } from "node:async_hooks";

/** One statement as the app ran it: the compiled SQL and its parameters. */
export interface CapturedStatement {
  sql: string;
  params: unknown[];
  /** Whether it returns rows (a select, or a write with RETURNING). */
  reader: boolean;
}

/**
 * The statements run on behalf of one request, when the benchmark asks for
 * them (SQL_CAPTURE_FILE): the bench's stack-limit process prepares exactly
 * these, so the SQL it runs cannot drift from the app's. Off in every other
 * run: the statement wrapper then checks one boolean.
 */
const store = new AsyncLocalStorage<CapturedStatement[]>();
let enabled = false;

export function enableStatementCapture() {
  enabled = true;
}

/** Runs fn (a request) collecting the statements it runs into list. */
export function captureStatements<T>(
  list: CapturedStatement[],
  fn: () => T,
): T {
  return store.run(list, fn);
}

export function noteStatement(
  sql: string,
  params: readonly unknown[],
  reader: boolean,
) {
  if (!enabled) return;
  store.getStore()?.push({ sql, params: [...params], reader });
}

/**
 * Parameters as JSON: a Buffer as {"$base64": …}, a bigint as {"$bigint": …}
 * (read back by decodeParam).
 */
export function encodeParam(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return { $base64: value.toString("base64") };
  if (typeof value === "bigint") return { $bigint: value.toString() };
  return value;
}

export function decodeParam(value: unknown): unknown {
  if (value && typeof value === "object") {
    const v = value as { $base64?: string; $bigint?: string };
    if (typeof v.$base64 === "string") return Buffer.from(v.$base64, "base64");
    if (typeof v.$bigint === "string") return BigInt(v.$bigint);
  }
  return value;
}

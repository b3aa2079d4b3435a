import type { RequestHandler } from "express";

/**
 * Starts at most `perTurn` requests per turn of the event loop and queues
 * the rest in the order they came.
 *
 * Why: Node (libuv) accepts one new connection per turn, and a turn runs
 * every request whose bytes have arrived to completion (the database is
 * synchronous). With 64 busy keep-alive connections a turn lasted about
 * 0.3 s, so a connection opened meanwhile waited that long for each one
 * queued before it: 4–12 s in the benchmark (bench/README.md, "p99 at 64
 * connections"). Short turns let the loop accept, read and write between
 * requests. Requests still run one after another, in arrival order.
 */
export function takeTurns(perTurn: number): RequestHandler {
  const waiting: (() => void)[] = [];
  let startedThisTurn = 0;
  let scheduled = false;

  // Runs in the loop's check phase; scheduled from there, it runs again one
  // turn later, after the next poll for connections and bytes.
  const nextTurn = () => {
    scheduled = false;
    startedThisTurn = 0;
    while (startedThisTurn < perTurn && waiting.length > 0) {
      startedThisTurn += 1;
      waiting.shift()!();
    }
    if (startedThisTurn > 0) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(nextTurn);
  };

  return (_req, _res, next) => {
    schedule();
    if (waiting.length === 0 && startedThisTurn < perTurn) {
      startedThisTurn += 1;
      next();
    } else {
      waiting.push(() => next());
    }
  };
}

import assert from "node:assert/strict";
import type { NextFunction, Request, Response } from "express";
import { describe, it } from "mocha";
import { takeTurns } from "../../src/http/turns.js";

const aTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("takeTurns (requests started per turn of the event loop)", () => {
  function arrive(handler: ReturnType<typeof takeTurns>, n: number) {
    const started: number[] = [];
    for (let i = 0; i < n; i++)
      handler(
        {} as Request,
        {} as Response,
        (() => started.push(i)) as NextFunction,
      );
    return started;
  }

  it("starts as many as a turn allows at once and the rest in later turns, in arrival order", async () => {
    const started = arrive(takeTurns(2), 5);
    assert.deepEqual(started, [0, 1]);
    await aTurn();
    assert.deepEqual(started, [0, 1, 2, 3]);
    await aTurn();
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
  });

  it("hands the loop back between turns, so other work runs before the requests still waiting", async () => {
    const order: string[] = [];
    const handler = takeTurns(1);
    for (const name of ["a", "b", "c"])
      handler(
        {} as Request,
        {} as Response,
        (() => order.push(name)) as NextFunction,
      );
    // Other work the loop was given meanwhile (accepting a connection, say).
    setImmediate(() => order.push("other"));
    while (order.length < 4) await aTurn();
    assert.deepEqual(order, ["a", "b", "other", "c"]);
  });

  it("lets a request through at once when nothing is waiting", async () => {
    const handler = takeTurns(1);
    arrive(handler, 1);
    await aTurn();
    await aTurn();
    assert.deepEqual(arrive(handler, 1), [0]);
  });
});

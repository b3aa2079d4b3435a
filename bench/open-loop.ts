/**
 * An open-loop load generator: requests are sent on a fixed schedule (rate
 * per second) whether or not earlier ones were answered, and each latency
 * is measured from the time the request was SCHEDULED, not from when it
 * could be sent: a server that stalls is charged for every request that
 * waited behind the stall (no coordinated omission, unlike a fixed number
 * of connections each waiting for its answer).
 *
 * http.Agent with keep-alive and up to `maxSockets` sockets: a request
 * whose turn comes while every open socket is busy opens another.
 */
import http from "node:http";

export interface OpenLoopTarget {
  path: string;
  headers: Record<string, string>;
  /** The status that counts as a right answer. */
  expect: number;
}

export interface OpenLoopResult {
  rate: number;
  seconds: number;
  sent: number;
  ok: number;
  /** Wrong status, connection error or timeout, by what happened. */
  bad: Map<string, number>;
  /** Latencies of every request (ms, from its scheduled time), sorted. */
  latencies: number[];
  /** How late the generator itself was in sending, at its worst (ms). */
  worstSendDelay: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(
    sorted.length - 1,
    Math.ceil((p / 100) * sorted.length) - 1,
  );
  return sorted[Math.max(0, i)]!;
}

export async function openLoop(options: {
  base: string;
  rate: number;
  seconds: number;
  /** The i-th request's target. */
  target: (i: number) => OpenLoopTarget;
  timeoutMs: number;
  maxSockets?: number;
}): Promise<OpenLoopResult> {
  const url = new URL(options.base);
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: options.maxSockets ?? 1024,
  });
  const total = Math.round(options.rate * options.seconds);
  const interval = 1000 / options.rate;
  const latencies: number[] = [];
  const bad = new Map<string, number>();
  const fail = (what: string) => bad.set(what, (bad.get(what) ?? 0) + 1);
  let ok = 0;
  let sent = 0;
  let worstSendDelay = 0;
  let done = 0;
  let finished: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (finished = resolve));

  const send = (i: number, scheduled: number) => {
    const target = options.target(i);
    let settled = false;
    const settle = (what: string | null) => {
      if (settled) return;
      settled = true;
      latencies.push(performance.now() - scheduled);
      if (what === null) ok += 1;
      else fail(what);
      if (++done === total) finished();
    };
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: target.path,
        method: "GET",
        headers: target.headers,
        agent,
      },
      (res) => {
        res.on("data", () => undefined);
        res.on("end", () =>
          settle(
            res.statusCode === target.expect ? null : `HTTP ${res.statusCode}`,
          ),
        );
        res.on("error", () => settle("response error"));
      },
    );
    req.setTimeout(options.timeoutMs, () => {
      settle("timeout");
      req.destroy();
    });
    req.on("error", (err) =>
      settle(`error ${(err as { code?: string }).code ?? err.message}`),
    );
    req.end();
  };

  const start = performance.now() + 20;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (sent < total) {
        const scheduled = start + sent * interval;
        if (scheduled > now) break;
        worstSendDelay = Math.max(worstSendDelay, now - scheduled);
        send(sent, scheduled);
        sent += 1;
      }
      if (sent >= total) return resolve();
      const wait = start + sent * interval - performance.now();
      setTimeout(tick, Math.max(0, Math.min(wait, 5)));
    };
    tick();
  });
  if (total > 0) await allDone;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    rate: options.rate,
    seconds: options.seconds,
    sent,
    ok,
    bad,
    latencies,
    worstSendDelay,
  };
}

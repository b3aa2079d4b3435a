/**
 * Shows why the bench's p99 at 64 connections is seconds long, with Node
 * alone: a server that spends `--work` ms of CPU per request, and `--connections`
 * keep-alive clients (another process) that all connect at once and load it
 * for `--duration` s. libuv accepts one connection per turn of the event loop
 * (libuv#3696), and once the first clients keep the loop busy a turn lasts
 * as long as one request from each of them: the last connections are
 * accepted seconds late, and their first request's latency is that wait.
 *
 *   npx tsx bench/accept-ramp.ts [--connections 64] [--work 4] [--duration 6]
 *     [--per-turn N]
 *
 * --per-turn N starts requests through the app's takeTurns (src/http/turns.ts).
 */
import { fork } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { Request, Response } from "express";
import { takeTurns } from "../src/http/turns.js";
import { argValue } from "./accounts.js";

const args = process.argv.slice(2);
const connections = Number(argValue(args, "connections") ?? 64);
const workMs = Number(argValue(args, "work") ?? 4);
const durationMs = 1000 * Number(argValue(args, "duration") ?? 6);
const perTurn = argValue(args, "per-turn");

function serve() {
  const acceptedAt: number[] = [];
  const turns = perTurn ? takeTurns(Number(perTurn)) : null;
  const work = (res: http.ServerResponse) => {
    const until = performance.now() + workMs;
    while (performance.now() < until);
    res.end("x".repeat(70_000));
  };
  const server = http.createServer((req, res) => {
    if (turns) void turns(req as Request, res as Response, () => work(res));
    else work(res);
  });
  server.on("connection", () => acceptedAt.push(performance.now()));
  server.listen(0, "127.0.0.1", () =>
    process.send!({ port: (server.address() as AddressInfo).port }),
  );
  process.on("message", () => {
    const first = acceptedAt[0] ?? 0;
    process.send!({ acceptedAt: acceptedAt.map((t) => t - first) }, () =>
      process.exit(0),
    );
  });
}

async function load() {
  const server = fork(fileURLToPath(import.meta.url), [...args, "--serve"]);
  const { port } = await new Promise<{ port: number }>((resolve) =>
    server.once("message", resolve as (m: unknown) => void),
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const latencies: number[] = [];
  const once = () =>
    new Promise<void>((resolve) => {
      const start = performance.now();
      http.get({ host: "127.0.0.1", port, agent }, (res) => {
        res.resume();
        res.on("end", () => {
          latencies.push(performance.now() - start);
          resolve();
        });
      });
    });
  const stopAt = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < stopAt) await once();
    }),
  );
  server.send("report");
  const { acceptedAt } = await new Promise<{ acceptedAt: number[] }>(
    (resolve) => server.once("message", resolve as (m: unknown) => void),
  );
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[
      Math.min(latencies.length - 1, Math.floor(q * latencies.length))
    ]!;
  console.log(
    `${connections} connections, ${workMs} ms of work a request${perTurn ? `, ${perTurn} started per turn` : ""}: ${latencies.length} requests, p50 ${at(0.5).toFixed(0)} ms, p99 ${at(0.99).toFixed(0)} ms, max ${at(1).toFixed(0)} ms`,
  );
  console.log(
    `connections accepted at (s after the first): ${acceptedAt.map((t) => (t / 1000).toFixed(2)).join(" ")}`,
  );
}

if (args.includes("--serve")) serve();
else await load();

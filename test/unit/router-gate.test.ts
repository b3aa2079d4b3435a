import assert from "node:assert/strict";
import express, { Router } from "express";
import { describe, it } from "mocha";
import supertest from "supertest";
import { firstSegmentsOf, gateRouter } from "../../src/http/router-gate.js";

/** A router of routes and a middleware under a path, each answering its name. */
function reportsRouter(entered: string[]) {
  const router = Router();
  router.use("/admin", (_req, _res, next) => {
    entered.push("admin middleware");
    next();
  });
  router.get("/reports/:id", (req, res) => {
    res.send(`report ${req.params.id}`);
  });
  router.get(["/queue", "/search"], (req, res) => {
    res.send(`list ${req.path}`);
  });
  router.get("/admin/things", (_req, res) => {
    res.send("things");
  });
  return router;
}

describe("router gate: a request enters only the routers with a route for its first segment", () => {
  it("reads the first segments of every route and middleware path", () => {
    assert.deepEqual([...(firstSegmentsOf(reportsRouter([])) ?? [])].sort(), [
      "admin",
      "queue",
      "reports",
      "search",
    ]);
  });

  it("gives up on a router that may take any path", () => {
    const everyPath = Router();
    everyPath.use((_req, _res, next) => next());
    everyPath.get("/queue", (_req, res) => {
      res.send("q");
    });
    assert.equal(firstSegmentsOf(everyPath), null);
    assert.equal(gateRouter(everyPath), everyPath);
    const pattern = Router();
    pattern.get("/:anything/x", (_req, res) => {
      res.send("x");
    });
    assert.equal(firstSegmentsOf(pattern), null);
  });

  it("answers what the router answered, case and trailing slash as Express, and lets the rest pass", async () => {
    const entered: string[] = [];
    const app = express();
    app.use((req, _res, next) => {
      entered.push(`request ${req.path}`);
      next();
    });
    app.use(gateRouter(reportsRouter(entered)));
    app.use((req, res) => {
      res.status(404).send(`after ${req.path}`);
    });
    const agent = supertest(app);
    assert.equal((await agent.get("/reports/DD-1")).text, "report DD-1");
    assert.equal((await agent.get("/REPORTS/DD-2")).text, "report DD-2");
    assert.equal((await agent.get("/queue/")).text, "list /queue/");
    assert.equal((await agent.get("/search?q=x")).text, "list /search");
    assert.equal((await agent.get("/admin/things")).text, "things");
    assert.ok(entered.includes("admin middleware"));
    // Not the router's: on to what comes after, as without the gate.
    for (const path of ["/", "/queued", "/reportsx/1", "/other/reports/1"]) {
      const res = await agent.get(path);
      assert.equal(res.status, 404, path);
      assert.equal(res.text, `after ${path}`, path);
    }
    // A route of the router under a first segment it has, but no such route.
    assert.equal((await agent.get("/reports")).text, "after /reports");
  });

  it("keeps the router's routes listed where a mounted router's are", () => {
    const router = reportsRouter([]);
    const gated = gateRouter(router) as unknown as { stack: unknown };
    assert.equal(gated.stack, (router as unknown as { stack: unknown }).stack);
  });
});

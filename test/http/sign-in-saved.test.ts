import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "mocha";
import { readSession } from "../../src/auth/session-repository.js";
import {
  anonymous,
  createTestContext,
  createUser,
  type TestContext,
} from "../support/harness.js";

/**
 * express-session writes a redirect's head before its last save of the
 * session has reached the store, so a browser following the redirect at
 * once could read the session as it was before that save, and the save
 * then overwrote what the next page stored (the first form's CSRF token,
 * seen on PostgreSQL under load). The sign-in's redirect is sent only once
 * the session it leads to is stored: when its head arrives, the row holds
 * the signed-in session with where it was opened and the welcome.
 */
describe("sign-in: the redirect comes after the session is stored", () => {
  let ctx: TestContext;
  let server: http.Server;
  before(async () => {
    ctx = await createTestContext();
    server = http.createServer(ctx.app).listen(0, "127.0.0.1");
    await new Promise((resolve) => server.once("listening", resolve));
  });
  after(async () => {
    server?.close();
    await ctx?.close();
  });

  it("the session row is complete when the redirect's head arrives", async () => {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const who = await createUser(ctx, "researcher");
      const browser = await anonymous(ctx);
      const login = await browser.agent.get("/login");
      const cookie = login.headers["set-cookie"]![0]!.split(";")[0]!;
      const body = new URLSearchParams({
        _csrf: browser.csrf,
        email: who.email,
        password: who.password,
      }).toString();
      const { port } = server.address() as AddressInfo;
      const stored = await new Promise<string | undefined>(
        (resolve, reject) => {
          const req = http.request(
            {
              port,
              host: "127.0.0.1",
              method: "POST",
              path: "/login",
              headers: {
                cookie,
                "content-type": "application/x-www-form-urlencoded",
                "content-length": Buffer.byteLength(body),
              },
            },
            (res) => {
              // At the head, before the body: what a browser that follows
              // the redirect at once would find.
              assert.equal(res.statusCode, 303);
              const sid = decodeURIComponent(
                /^[^=]+=([^;]+)/.exec(res.headers["set-cookie"]![0]!)![1]!,
              )
                .slice(2)
                .split(".")[0]!;
              readSession(ctx.db, sid).then(
                (row) => resolve(row?.data),
                reject,
              );
              res.resume();
            },
          );
          req.on("error", reject);
          req.end(body);
        },
      );
      assert.ok(stored, `attempt ${attempt}: no session stored`);
      const session = JSON.parse(stored);
      assert.equal(session.passport?.user, who.user.id, `attempt ${attempt}`);
      assert.ok(session.client, `attempt ${attempt}: where it was opened`);
    }
  });
});

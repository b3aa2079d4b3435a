/**
 * safePost against a real receiver on 127.0.0.1: the connection goes to
 * the address that was checked (a name asked once, whatever it answers
 * next), a redirect is not followed, a huge answer is cut at the cap, and
 * silence ends at the timeout.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "mocha";
import {
  CalloutRefused,
  MAX_BODY_BYTES,
  safePost,
  type Resolver,
} from "../../src/webhooks/safe-fetch.js";
import { WebhookReceiver } from "../support/webhook-receiver.js";

describe("webhook callouts over the network", function () {
  this.timeout(30_000);
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await new WebhookReceiver().start();
  });
  after(() => receiver.stop());
  afterEach(() => {
    receiver.received.length = 0;
    receiver.next.length = 0;
    receiver.mode = "ok";
  });

  const loopback = { allowLoopback: true, timeoutMs: 5000 };

  it("connects to the address it checked, asking the name once (no second lookup to rebind)", async () => {
    let calls = 0;
    // The first answer is where the receiver listens; any later one is not
    // (127.0.0.2 refuses the connection), so a second lookup would fail.
    const resolver: Resolver = async () =>
      calls++ === 0
        ? [{ address: "127.0.0.1", family: 4 }]
        : [{ address: "127.0.0.2", family: 4 }];
    const result = await safePost(
      `http://hook.example.test:${receiver.port}/pinned`,
      "{}",
      {},
      { ...loopback, resolve: resolver },
    );
    assert.deepEqual(result, {
      status: 200,
      address: "127.0.0.1",
      bodyBytes: 2,
    });
    assert.equal(calls, 1);
    assert.equal(receiver.received.length, 1);
    assert.equal(
      receiver.received[0]!.headers.host,
      `hook.example.test:${receiver.port}`,
      "the name is still the one the URL gives",
    );
  });

  it("refuses before connecting when the name resolves to a refused address", async () => {
    const resolver: Resolver = async () => [
      { address: "::ffff:127.0.0.1", family: 6 },
    ];
    await assert.rejects(
      safePost(
        `https://hook.example.test:${receiver.port}/`,
        "{}",
        {},
        { allowLoopback: false, resolve: resolver },
      ),
      (err: unknown) =>
        err instanceof CalloutRefused && /loopback/.test(err.message),
    );
    assert.equal(receiver.received.length, 0);
  });

  it("refuses plain http unless the test setting allows it", async () => {
    await assert.rejects(
      safePost(receiver.url(), "{}", {}, { allowLoopback: false }),
      /https/,
    );
    assert.equal(receiver.received.length, 0);
  });

  it("answers a redirect with its status and does not follow it", async () => {
    receiver.next.push("redirect");
    const result = await safePost(receiver.url(), "{}", {}, loopback);
    assert.equal(result.status, 302);
    assert.equal(receiver.received.length, 1);
  });

  it("reads a huge answer only up to the cap", async () => {
    receiver.next.push("huge");
    const result = await safePost(receiver.url(), "{}", {}, loopback);
    assert.equal(result.status, 200);
    // The receiver offers 200 blocks of 64 KiB; the desk stops after the first chunks past 64 KiB.
    assert.ok(result.bodyBytes > MAX_BODY_BYTES, String(result.bodyBytes));
    assert.ok(result.bodyBytes <= 4 * MAX_BODY_BYTES, String(result.bodyBytes));
  });

  it("gives up on a receiver that does not answer", async () => {
    receiver.next.push("silent");
    await assert.rejects(
      safePost(receiver.url(), "{}", {}, { ...loopback, timeoutMs: 300 }),
      /no answer within/,
    );
  });

  it("reports a dropped connection as an error", async () => {
    receiver.next.push("drop");
    await assert.rejects(safePost(receiver.url(), "{}", {}, loopback));
  });
});

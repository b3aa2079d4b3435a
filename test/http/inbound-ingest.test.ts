import assert from "node:assert/strict";
import { ingestMail, type IngestDeps } from "../../src/inbound/ingest.js";
import { listInbound } from "../../src/inbound/repository.js";
import { createTestContext, type TestContext } from "../support/harness.js";
import { noDns, rawMail } from "../support/inbound.js";

describe("inbound mail: the ingestion path", () => {
  let ctx: TestContext;
  let deps: IngestDeps;
  beforeEach(async () => {
    ctx = await createTestContext({
      env: { MAIL_DOMAIN: "desk.example.test" },
    });
    deps = { ...ctx.deps, dnsResolver: noDns };
  });
  afterEach(() => ctx.close());

  it("stores every message once, by Message-ID, with its outcome", async () => {
    const raw = rawMail({
      from: "someone@example.test",
      to: "nobody@desk.example.test",
      messageId: "once@example.test",
    });
    const envelope = {
      from: "someone@example.test",
      recipients: ["nobody@desk.example.test"],
    };
    const first = await ingestMail(deps, raw, envelope);
    const again = await ingestMail(deps, raw, envelope);
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    assert.equal(again.inboundId, first.inboundId);
    const stored = await listInbound(ctx.db);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.messageId, "once@example.test");
    assert.equal(stored[0]!.status, first.outcome.kind);
    assert.deepEqual(stored[0]!.raw, raw);
    assert.equal(stored[0]!.dmarc, "none");
  });

  it("keeps malformed mail, held, and says it is malformed", async () => {
    const raw = Buffer.from("this is not \x00 a mail message");
    const result = await ingestMail(deps, raw, {
      from: "",
      recipients: ["reply@desk.example.test"],
    });
    assert.ok(result.malformed);
    assert.equal(result.outcome.kind, "held");
    const [stored] = await listInbound(ctx.db);
    assert.match(stored!.reason ?? "", /^malformed/);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { automaticMailReason } from "../../src/inbound/automatic.js";
import { deriveReplyToken, tokensIn } from "../../src/inbound/reply-tokens.js";
import { testConfig } from "../support/harness.js";

const config = testConfig("/tmp/dd-unit-inbound", {
  MAIL_DOMAIN: "desk.example.test",
});
const person = (headers: Record<string, string>, envelopeFrom = "a@x.test") =>
  automaticMailReason(config, { headers, envelopeFrom });

describe("the automatic-mail filter (RFC 3834 and the usual vendor headers)", () => {
  it("lets a person's mail through", () => {
    assert.equal(person({ from: "a@x.test" }), null);
    assert.equal(person({ "auto-submitted": "no" }), null);
    assert.equal(person({ precedence: "first-class" }), null);
    assert.equal(person({ "return-path": "<a@x.test>" }), null);
  });

  for (const [name, headers, envelopeFrom] of [
    ["Auto-Submitted: auto-replied", { "auto-submitted": "auto-replied" }],
    ["Auto-Submitted: auto-generated", { "auto-submitted": "auto-generated" }],
    ["Precedence: bulk", { precedence: "bulk" }],
    ["Precedence: junk", { precedence: "junk" }],
    ["Precedence: list", { precedence: "List" }],
    ["X-Autoreply", { "x-autoreply": "yes" }],
    ["X-Autorespond", { "x-autorespond": "1" }],
    ["X-Auto-Response-Suppress", { "x-auto-response-suppress": "All" }],
    ["List-Id", { "list-id": "<list.example.test>" }],
    ["List-Unsubscribe", { "list-unsubscribe": "<mailto:u@x.test>" }],
    ["an empty Return-Path", { "return-path": "<>" }],
    ["an empty envelope sender", {}, ""],
    [
      "the desk's own loop header",
      { "x-disclosure-desk-loop": "desk.example.test" },
    ],
  ] as [string, Record<string, string>, string?][])
    it(`ignores mail with ${name}`, () => {
      assert.notEqual(person(headers, envelopeFrom ?? "a@x.test"), null);
    });
});

describe("reply tokens in addresses and references", () => {
  const token = deriveReplyToken("secret", 7, 9);

  it("are 26 lowercase base32 characters (130 bits), the same for one user and report", () => {
    assert.match(token, /^[a-z2-7]{26}$/);
    assert.equal(deriveReplyToken("secret", 7, 9), token);
    assert.notEqual(deriveReplyToken("secret", 7, 10), token);
    assert.notEqual(deriveReplyToken("secret", 8, 9), token);
    assert.notEqual(deriveReplyToken("other secret", 7, 9), token);
  });

  it("are read from the desk's reply address or a References id, not another domain's", () => {
    assert.deepEqual(
      tokensIn(config, [`reply+${token}@desk.example.test`], {}),
      [token],
    );
    assert.deepEqual(
      tokensIn(config, [`reply+${token}@elsewhere.example.test`], {}),
      [],
    );
    assert.deepEqual(
      tokensIn(config, ["reply@desk.example.test"], {
        references: `<a@b> <reply-${token}@desk.example.test>`,
      }),
      [token],
    );
    assert.deepEqual(
      tokensIn(config, ["reply@desk.example.test"], {
        references: `<reply-${token}@evil.example.test>`,
      }),
      [],
    );
    assert.deepEqual(
      tokensIn(config, [`other+${token}@desk.example.test`], {}),
      [],
    );
  });
});

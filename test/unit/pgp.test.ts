import assert from "node:assert/strict";
import { describe, it } from "mocha";
import * as openpgp from "openpgp";
import { checkPublicKey, formatFingerprint } from "../../src/mail/pgp.js";

const NOW = new Date("2026-06-01T00:00:00Z");
const MADE = new Date("2026-01-01T00:00:00Z");
const EMAIL = "rita@example.test";

async function key(options: { date?: Date; keyExpirationTime?: number } = {}) {
  return openpgp.generateKey({
    type: "ecc",
    userIDs: [{ name: "Rita", email: EMAIL }],
    date: MADE,
    format: "armored",
    ...options,
  });
}

describe("checkPublicKey: which keys mail may be encrypted to", () => {
  it("answers each kind of key", async () => {
    const good = await key();
    const revoked = await openpgp.revokeKey({
      key: await openpgp.readPrivateKey({ armoredKey: good.privateKey }),
      date: MADE,
    });
    const cases: [string, string, string, RegExp | "ok"][] = [
      ["a usable key", good.publicKey, EMAIL, "ok"],
      [
        "the address in another case",
        good.publicKey,
        "Rita@Example.TEST",
        "ok",
      ],
      ["text", "not a key", EMAIL, /not an OpenPGP public key/],
      ["a private key", good.privateKey, EMAIL, /private key/],
      ["a revoked key", revoked.publicKey, EMAIL, /revoked/],
      [
        "an expired key",
        (await key({ keyExpirationTime: 86_400 })).publicKey,
        EMAIL,
        /expired/,
      ],
      [
        "another address",
        good.publicKey,
        "other@example.test",
        /no valid user ID/,
      ],
      // Made on a machine whose clock runs ahead of the desk's: a good key,
      // judged as of its own signatures (validityDate), not "no valid user ID".
      [
        "a key made after now",
        (await key({ date: new Date("2027-01-01T00:00:00Z") })).publicKey,
        EMAIL,
        "ok",
      ],
      [
        "a key made after now, for another address",
        (await key({ date: new Date("2027-01-01T00:00:00Z") })).publicKey,
        "other@example.test",
        /no valid user ID/,
      ],
    ];
    for (const [what, armored, email, expected] of cases) {
      const result = await checkPublicKey(armored, email, NOW);
      if (expected === "ok") assert.ok(result.ok, what);
      else {
        assert.ok(!result.ok, what);
        assert.match(result.error, expected, what);
      }
    }
  });

  it("gives the fingerprint and expiry of a usable key", async () => {
    const { publicKey } = await key({ keyExpirationTime: 365 * 86_400 });
    const result = await checkPublicKey(publicKey, EMAIL, NOW);
    assert.ok(result.ok);
    assert.match(result.fingerprint, /^[0-9A-F]{40}$/);
    assert.equal(
      result.expiresAt?.toISOString(),
      new Date(MADE.getTime() + 365 * 86_400_000).toISOString(),
    );
  });

  it("groups a fingerprint in fours", () => {
    assert.equal(formatFingerprint("ABCD1234EF56"), "ABCD 1234 EF56");
  });
});

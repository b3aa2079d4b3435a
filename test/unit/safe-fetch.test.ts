/**
 * The addresses a webhook may never reach, class by class, and the URL
 * rules checked at registration. No network: names resolve through the
 * test's own resolver.
 */
import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  addressRefusal,
  CalloutRefused,
  checkedAddress,
  ipv6Bytes,
  urlRefusal,
  type Resolver,
} from "../../src/webhooks/safe-fetch.js";

const REFUSED: [string, RegExp][] = [
  ["127.0.0.1", /loopback/],
  ["127.255.255.254", /loopback/],
  ["::1", /loopback/],
  ["10.0.0.1", /private/],
  ["172.16.0.1", /private/],
  ["172.31.255.255", /private/],
  ["192.168.1.1", /private/],
  ["100.64.0.1", /carrier-grade NAT/],
  ["100.127.255.254", /carrier-grade NAT/],
  ["169.254.169.254", /link-local/], // the cloud metadata service
  ["169.254.0.1", /link-local/],
  ["fe80::1", /link-local/],
  ["febf::1", /link-local/],
  ["fc00::1", /private/],
  ["fd12:3456:789a::1", /private/],
  ["0.0.0.0", /unspecified/],
  ["::", /unspecified/],
  ["224.0.0.1", /multicast/],
  ["239.255.255.250", /multicast/],
  ["ff02::1", /multicast/],
  ["255.255.255.255", /reserved/],
  ["192.0.2.10", /reserved/],
  ["2001:db8::1", /reserved/],
  // IPv4-mapped and NAT64 IPv6: judged as the IPv4 address inside.
  ["::ffff:127.0.0.1", /loopback/],
  ["::ffff:7f00:1", /loopback/],
  ["::ffff:10.0.0.1", /private/],
  ["::ffff:169.254.169.254", /link-local/],
  ["::ffff:a9fe:a9fe", /link-local/],
  ["64:ff9b::192.168.0.1", /private/],
  // 6to4 and Teredo carry IPv4 addresses of their own; IPv4-compatible is obsolete.
  ["2002:c0a8:0101::1", /reserved/],
  ["2001:0:4136:e378::1", /reserved/],
  ["::10.0.0.1", /reserved/],
];

const ALLOWED = [
  "93.184.216.34",
  "8.8.8.8",
  "172.32.0.1", // just past 172.16/12
  "100.128.0.1", // just past 100.64/10
  "169.253.255.255",
  "2606:4700:4700::1111",
  "::ffff:8.8.8.8",
];

describe("webhook callouts: which addresses are refused", () => {
  for (const [ip, why] of REFUSED) {
    it(`refuses ${ip}`, () => {
      assert.match(addressRefusal(ip, false) ?? "allowed", why);
    });
  }
  for (const ip of ALLOWED) {
    it(`allows ${ip}`, () => {
      assert.equal(addressRefusal(ip, false), null);
    });
  }

  it("the test setting lets loopback through, and nothing else", () => {
    for (const ip of ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
      assert.equal(addressRefusal(ip, true), null, ip);
    for (const ip of ["10.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0"])
      assert.notEqual(addressRefusal(ip, true), null, ip);
  });

  it("reads IPv6 addresses with :: and an IPv4 tail", () => {
    assert.deepEqual(ipv6Bytes("::1"), [...Array(15).fill(0), 1]);
    assert.deepEqual(ipv6Bytes("::ffff:1.2.3.4"), [
      ...Array(10).fill(0),
      255,
      255,
      1,
      2,
      3,
      4,
    ]);
    assert.deepEqual(ipv6Bytes("fe80::1%eth0").slice(0, 2), [0xfe, 0x80]);
  });
});

describe("webhook callouts: the URL", () => {
  it("must be https, without credentials or a fragment, not at a refused literal address", () => {
    assert.equal(urlRefusal("https://hooks.example.org/x?a=1", false), null);
    assert.match(urlRefusal("http://hooks.example.org/x", false)!, /https/);
    assert.match(urlRefusal("not a url", false)!, /full URL/);
    assert.match(urlRefusal("javascript:alert(1)", false)!, /https/);
    assert.match(
      urlRefusal("https://a:b@hooks.example.org/", false)!,
      /user name/,
    );
    assert.match(
      urlRefusal("https://hooks.example.org/#x", false)!,
      /fragment/,
    );
    assert.match(urlRefusal("https://127.0.0.1/", false)!, /loopback/);
    assert.match(urlRefusal("https://[::1]/", false)!, /loopback/);
    assert.match(
      urlRefusal("https://[::ffff:169.254.169.254]/", false)!,
      /link-local/,
    );
    assert.match(urlRefusal("https://2130706433/", false)!, /loopback/); // 127.0.0.1 as a number
    assert.match(urlRefusal("https://0x7f.1/", false)!, /loopback/);
    assert.match(urlRefusal("https://localhost/", false)!, /localhost/);
    assert.match(urlRefusal("https://api.localhost/", false)!, /localhost/);
  });

  it("with the test setting, plain http and loopback are accepted", () => {
    assert.equal(urlRefusal("http://127.0.0.1:8080/hook", true), null);
    assert.equal(urlRefusal("http://localhost:8080/hook", true), null);
    assert.match(urlRefusal("http://10.0.0.1/hook", true)!, /private/);
  });
});

describe("webhook callouts: resolving a name", () => {
  const answering =
    (...addresses: string[]): Resolver =>
    async () =>
      addresses.map((address) => ({
        address,
        family: address.includes(":") ? 6 : 4,
      }));

  it("takes a name whose every address is public", async () => {
    const a = await checkedAddress(
      "hooks.example.org",
      false,
      answering("93.184.216.34", "2606:4700::1"),
    );
    assert.equal(a.address, "93.184.216.34");
  });

  it("refuses a name if any of its addresses is refused", async () => {
    await assert.rejects(
      checkedAddress(
        "mixed.example.org",
        false,
        answering("93.184.216.34", "169.254.169.254"),
      ),
      (err: unknown) =>
        err instanceof CalloutRefused && /link-local/.test(err.message),
    );
  });

  it("refuses a name that does not resolve, or resolves to nothing", async () => {
    const failing: Resolver = async () => {
      throw Object.assign(new Error("nope"), { code: "ENOTFOUND" });
    };
    await assert.rejects(
      checkedAddress("nowhere.example.org", false, failing),
      /could not be resolved \(ENOTFOUND\)/,
    );
    await assert.rejects(
      checkedAddress("empty.example.org", false, answering()),
      /no address/,
    );
  });

  it("checks a literal address without asking DNS", async () => {
    let asked = false;
    const resolver: Resolver = async () => {
      asked = true;
      return [];
    };
    await assert.rejects(
      checkedAddress("10.0.0.1", false, resolver),
      /private/,
    );
    assert.equal(asked, false);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  auditHash,
  GENESIS_HASH,
  serializeDetails,
  summarizeViews,
} from "../../src/audit/service.js";
import type { AuditEntry } from "../../src/audit/types.js";

function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  const base: Omit<AuditEntry, "hash"> = {
    id: 1,
    at: new Date("2026-03-02T09:00:00Z"),
    actorId: 7,
    actorLabel: "triager",
    action: "report.viewed",
    targetType: "report",
    targetId: "DD-7K2Q-9M4D",
    ip: "203.0.113.9",
    userAgent: "Firefox",
    details: "{}",
    prevHash: GENESIS_HASH,
  };
  const merged = { ...base, ...overrides };
  return { ...merged, hash: overrides.hash ?? auditHash(merged) };
}

describe("audit hash", () => {
  it("is a SHA-256 hex digest and is stable for the same content", () => {
    const a = entry();
    assert.match(a.hash, /^[0-9a-f]{64}$/);
    assert.equal(auditHash(a), a.hash);
    assert.equal(GENESIS_HASH, "0".repeat(64));
  });

  it("changes when any hashed field changes", () => {
    const base = entry();
    const variants: Partial<AuditEntry>[] = [
      { id: 2 },
      { at: new Date(base.at.getTime() + 1) },
      { actorId: 8 },
      { actorId: null },
      { actorLabel: "admin" },
      { action: "report.state_changed" },
      { targetType: "user" },
      { targetId: "DD-7K2Q-9M4E" },
      { ip: "203.0.113.10" },
      { userAgent: "Chrome" },
      { details: '{"a":1}' },
      { prevHash: "f".repeat(64) },
    ];
    const hashes = new Set([base.hash]);
    for (const v of variants) {
      const { hash: _omit, ...rest } = { ...base, ...v };
      hashes.add(auditHash(rest));
    }
    assert.equal(hashes.size, variants.length + 1);
  });

  it("cannot be fooled by moving text between fields", () => {
    // A naive "join with |" would hash these two the same.
    const a = entry({ actorLabel: "triager|x", action: "y" });
    const b = entry({ actorLabel: "triager", action: "x|y" });
    assert.notEqual(a.hash, b.hash);
  });
});

describe("audit details", () => {
  it("sorts keys so equal details serialize equally", () => {
    assert.equal(serializeDetails({ b: 1, a: "x" }), '{"a":"x","b":1}');
    assert.equal(serializeDetails(undefined), "{}");
  });

  it("refuses keys that would put a secret in the log", () => {
    for (const key of [
      "password",
      "newPassword",
      "token",
      "totpCode",
      "secret",
    ])
      assert.throws(() => serializeDetails({ [key]: "x" }), /must not carry/);
  });

  it("clips long strings and control characters, and refuses oversized details", () => {
    const out = JSON.parse(
      serializeDetails({ email: "a".repeat(500) + "\n" }),
    ) as { email: string };
    assert.equal(out.email.length, 254);
    assert.equal(JSON.parse(serializeDetails({ s: "a\nb" })).s, "a b");
    const many: Record<string, string> = {};
    for (let i = 0; i < 20; i++) many[`k${i}`] = "x".repeat(200);
    assert.throws(() => serializeDetails(many), /too large/);
  });
});

describe("who viewed a report (summary)", () => {
  const t0 = Date.parse("2026-03-02T09:00:00Z");
  const view = (
    id: number,
    actorId: number,
    minutes: number,
    label: string,
    org?: string,
  ) =>
    entry({
      id,
      actorId,
      actorLabel: label,
      at: new Date(t0 + minutes * 60_000),
      details: org ? JSON.stringify({ organization: org }) : "{}",
    });

  it("gives role, organization name and time, and nothing that names a person", () => {
    const names = new Map([["org1", "City Hospital"]]);
    // newest first, as the repository returns them
    const viewers = summarizeViews(
      [view(3, 20, 120, "org_contact", "org1"), view(1, 10, 0, "triager")],
      names,
      99,
    );
    assert.deepEqual(viewers, [
      {
        role: "org_contact",
        organizationName: "City Hospital",
        at: new Date(t0 + 120 * 60_000),
      },
      { role: "triager", organizationName: null, at: new Date(t0) },
    ]);
    for (const v of viewers)
      assert.deepEqual(Object.keys(v).sort(), [
        "at",
        "organizationName",
        "role",
      ]);
  });

  it("folds repeated views by one person into a visit, and leaves out the researcher", () => {
    const viewers = summarizeViews(
      [
        view(5, 10, 100, "triager"),
        view(4, 10, 90, "triager"), // 10 minutes earlier: same visit
        view(3, 99, 80, "researcher"), // the report's own researcher
        view(2, 10, 20, "triager"), // 70 minutes earlier: a new visit
      ],
      new Map(),
      99,
    );
    assert.deepEqual(
      viewers.map((v) => v.at.getTime()),
      [t0 + 100 * 60_000, t0 + 20 * 60_000],
    );
  });
});

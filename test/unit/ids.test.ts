import assert from "node:assert/strict";
import { describe, it } from "mocha";
import {
  newReportId,
  pooledRandomBytes,
  REPORT_ID_PATTERN,
} from "../../src/ids.js";

describe("random IDs", () => {
  it("draws pooled random bytes of the length asked, never the same twice, across refills", () => {
    const seen = new Set<string>();
    // 3,000 × 16 bytes: the 4 KB pool is refilled eleven times.
    for (let i = 0; i < 3000; i++) {
      const bytes = pooledRandomBytes(16);
      assert.equal(bytes.length, 16);
      seen.add(bytes.toString("hex"));
    }
    assert.equal(seen.size, 3000);
    assert.ok(
      ![...seen].includes("0".repeat(32)),
      "no zeroed bytes handed out",
    );
    assert.equal(pooledRandomBytes(10_000).length, 10_000);
  });

  it("makes report IDs of the documented shape, all different", () => {
    const ids = Array.from({ length: 2000 }, newReportId);
    for (const id of ids) assert.match(id, REPORT_ID_PATTERN);
    assert.equal(new Set(ids).size, ids.length);
  });
});

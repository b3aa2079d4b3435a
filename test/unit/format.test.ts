import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { formatDateTime } from "../../src/format.js";

describe("formatDateTime", () => {
  it("shows the instant in the zone it names, the same when asked again", () => {
    const at = new Date("2026-03-29T00:59:00Z");
    assert.equal(formatDateTime(at), "29 Mar 2026, 00:59 UTC");
    assert.equal(formatDateTime(at), "29 Mar 2026, 00:59 UTC");
    // Kept formats are per zone: the same instant elsewhere is another text.
    assert.equal(
      formatDateTime(at, "Europe/Berlin"),
      "29 Mar 2026, 01:59 Europe/Berlin",
    );
    // One minute later Berlin moved to summer time.
    assert.equal(
      formatDateTime(new Date("2026-03-29T01:00:00Z"), "Europe/Berlin"),
      "29 Mar 2026, 03:00 Europe/Berlin",
    );
  });

  it("stays right past the number of formats it keeps", () => {
    const start = Date.UTC(2020, 0, 1);
    for (let i = 0; i < 25_000; i++)
      formatDateTime(new Date(start + i * 60_000));
    assert.equal(
      formatDateTime(new Date(start + 24_999 * 60_000)),
      "18 Jan 2020, 08:39 UTC",
    );
    assert.equal(formatDateTime(new Date(start)), "1 Jan 2020, 00:00 UTC");
  });
});

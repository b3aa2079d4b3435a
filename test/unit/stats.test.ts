import assert from "node:assert/strict";
import { describe, it } from "mocha";
import { barChart } from "../../src/stats/charts.js";
import { durationText, publicStatsPage } from "../../src/stats/page.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("bar charts", () => {
  const chart = barChart("c", "Reports by state", "Reports", "State", [
    { label: "Submitted", value: 10 },
    {
      label: "A very long organization name indeed",
      tableLabel: "Full name",
      value: 5,
    },
    { label: "Closed", value: 0 },
  ]);

  // [row, width, value x, label]: the longest bar fills the 160 units between label and number.
  const rows: [number, number, number, string][] = [
    [0, 160, 316, "Submitted"],
    [1, 80, 236, "A very long organizat…"],
    [2, 0, 156, "Closed"],
  ];
  for (const [row, width, valueX, label] of rows) {
    it(`row ${row}: ${label}, ${width} wide`, () => {
      const bar = chart.bars[row]!;
      assert.equal(bar.width, width);
      assert.equal(bar.valueX, valueX);
      assert.equal(bar.label, label);
      assert.equal(bar.y, 8 + row * 22);
    });
  }

  it("says every bar in words, with the full labels, and sizes the drawing to its rows", () => {
    assert.equal(
      chart.description,
      "Bar chart of reports: Submitted, 10; Full name, 5; Closed, 0.",
    );
    assert.deepEqual(chart.table.rows[1], {
      label: "Full name",
      valueText: "5",
    });
    assert.equal(chart.height, 8 + 3 * 22);
  });

  it("draws nothing, and says so, without items", () => {
    const empty = barChart("e", "Nothing", "Advisories", "Year", []);
    assert.equal(empty.description, "No advisories yet.");
    assert.deepEqual(empty.bars, []);
  });
});

describe("statistics in words", () => {
  const durations: [number | null, string][] = [
    [null, "none yet"],
    [HOUR, "1 hour"],
    [5.04 * HOUR, "5 hours"],
    [DAY, "1 day"],
    [2.5 * DAY, "2.5 days"],
  ];
  for (const [ms, text] of durations) {
    it(`${ms} ms reads "${text}"`, () => assert.equal(durationText(ms), text));
  }

  it("builds the public page from a snapshot alone", () => {
    const none = { n: 0, median: null, p90: null };
    const page = publicStatsPage({
      computedAt: new Date("2026-03-01T10:15:00Z"),
      total: 1234,
      years: [{ year: 2026, count: 1234 }],
      severities: [{ key: "high", count: 1234 }],
      cwes: [],
      timings: { acknowledge: none, fix: none, publish: none },
    });
    assert.equal(page.computedAtText, "2026-03-01 10:15 UTC");
    assert.equal(page.totalText, "1,234");
    assert.deepEqual(
      page.charts.severities.table.rows.map((r) => r.valueText),
      ["0", "1,234", "0", "0", "0", "0"],
    );
    assert.equal(page.timings[0]!.medianText, "none yet");
  });
});

import assert from "node:assert/strict";
import fc from "fast-check";
import { describe, it } from "mocha";
import {
  CVSS31_METRICS,
  cvss31BaseScore,
  cvssRating,
  formatCvss31,
  parseCvss31,
  type Cvss31Metrics,
} from "../../public/js/cvss31.js";
import { SEVERITY_LABELS, scoreCvss } from "../../src/reports/cvss.js";

// A random complete set of base metrics, built from the browser script's own
// table so the two cannot drift apart silently.
const metricsArbitrary: fc.Arbitrary<Cvss31Metrics> = fc.record(
  Object.fromEntries(
    CVSS31_METRICS.map((m) => [
      m.key,
      fc.constantFrom(...m.values.map(([value]) => value)),
    ]),
  ) as Record<keyof Cvss31Metrics, fc.Arbitrary<string>>,
);

/** Every one of the 2,592 base vectors. */
function allVectors(): string[] {
  let vectors = ["CVSS:3.1"];
  for (const metric of CVSS31_METRICS)
    vectors = vectors.flatMap((prefix) =>
      metric.values.map(([value]) => `${prefix}/${metric.key}:${value}`),
    );
  return vectors;
}

describe("CVSS calculator (public/js/cvss31.js)", () => {
  it("scores random 3.1 vectors exactly as the server does", () => {
    fc.assert(
      fc.property(metricsArbitrary, (metrics) => {
        const vector = formatCvss31(metrics);
        const server = scoreCvss(vector);
        assert.ok(server, vector);
        const score = cvss31BaseScore(vector);
        assert.equal(score, server.score, vector);
        assert.equal(cvssRating(score!), SEVERITY_LABELS[server.severity]);
      }),
      { numRuns: 500 },
    );
  });

  it("agrees with the server on every one of the 2,592 base vectors", () => {
    const vectors = allVectors();
    assert.equal(vectors.length, 2592);
    for (const vector of vectors)
      assert.equal(cvss31BaseScore(vector), scoreCvss(vector)?.score, vector);
  });

  it("matches FIRST's published examples", () => {
    // Scores from the CVSS 3.1 examples document and calculator.
    const examples: [string, number][] = [
      ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8],
      ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10],
      ["CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1],
      ["CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 6.5],
      ["CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8],
      ["CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:N", 0],
    ];
    for (const [vector, score] of examples)
      assert.equal(cvss31BaseScore(vector), score, vector);
  });

  it("rates scores with the shared qualitative scale", () => {
    assert.equal(cvssRating(0), "None");
    assert.equal(cvssRating(0.1), "Low");
    assert.equal(cvssRating(3.9), "Low");
    assert.equal(cvssRating(4), "Medium");
    assert.equal(cvssRating(6.9), "Medium");
    assert.equal(cvssRating(7), "High");
    assert.equal(cvssRating(8.9), "High");
    assert.equal(cvssRating(9), "Critical");
    assert.equal(cvssRating(10), "Critical");
  });

  it("accepts exactly the vectors the server accepts, ignoring later metrics for the base score", () => {
    const base = "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N";
    const withTemporal = `${base}/E:P/RL:O`;
    assert.deepEqual(parseCvss31(withTemporal)?.extra, "/E:P/RL:O");
    assert.equal(cvss31BaseScore(withTemporal), 6.5);
    assert.equal(cvss31BaseScore(`  ${base} `), 6.5);
    for (const bad of [
      "",
      "CVSS:3.1/AV:N",
      "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
      "CVSS:3.1/AC:L/AV:N/PR:L/UI:N/S:U/C:H/I:N/A:N",
      "CVSS:3.1/AV:X/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
      `${base}/`,
      "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
    ]) {
      assert.equal(cvss31BaseScore(bad), null, bad);
      assert.equal(scoreCvss(bad)?.version === "3.1", false, bad);
    }
  });

  it("round-trips metrics through format and parse", () => {
    fc.assert(
      fc.property(metricsArbitrary, (metrics) => {
        // fast-check builds records without a prototype; compare the entries.
        assert.deepEqual(parseCvss31(formatCvss31(metrics))?.metrics, {
          ...metrics,
        });
      }),
    );
  });
});

/**
 * The benchmark in small, for CI: seeds 2,000 reports into a temporary
 * directory and runs every measurement for a second (the open loop at
 * 200/s for 3 s, capacity steps of 1 s, sign-ins for 2 s; no growth). It proves the bench
 * works end to end (and that no submission is lost); its numbers mean little.
 * Exits non-zero when the bench reports a problem: a wrong answer, a lost
 * submission, an outbox that did not drain, or a request without an answer
 * within two minutes.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { optionsFromArgs, runBench } from "./run.js";
import { seed } from "./seed.js";

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "dd-bench-smoke-"));
  try {
    await seed({ reports: 2000, dataDir });
    const outcome = await runBench({
      ...optionsFromArgs(process.argv.slice(2)),
      dataDir,
      duration: 1,
      warmup: 0.5,
      mail: 1000,
      reportPages: 10,
      // Pass or fail means "it works": every answer right, nothing lost, the
      // outbox drained. A slow answer on a busy CI machine is not a failure.
      requestTimeout: 120,
      cpuSeconds: 1,
      // Growth needs databases of 10,000 reports and more: not in CI
      // (growth=na in its line).
      growth: [],
      openSeconds: 3,
      capacityStep: 250,
      stepSeconds: 1,
      signInSeconds: 2,
    });
    return outcome.ok ? 0 : 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

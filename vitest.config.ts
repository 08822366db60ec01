import { defineConfig } from "vitest/config";
import { LongestFirst } from "./tools/src/vitest-sequencer.ts";

const tests = ["packages/*/test/**/*.test.ts", "tools/test/**/*.test.ts"];
const e2e = ["packages/*/test/**/*.e2e.test.ts", "tools/test/**/*.e2e.test.ts"];

/**
 * Two projects: `unit` (pure logic and the offline CLI; no testbed, seconds: `pnpm test:unit`)
 * and `e2e` (files named *.e2e.test.ts, against the real local services the global setup starts
 * or reuses). `vitest run` runs both, as `pnpm test` and tools/test.sh always did.
 */
export default defineConfig({
  test: {
    // Generous: a release of examples/ takes ~40 s alone, several times that on a loaded 2-core machine.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    // Three files at a time on two cores (measured, docs/reliability.md "How long the suite
    // takes"): a release test waits on daemons, registries and git much of the time, and two
    // workers left the machine 10–17% idle (432–439 s); three kept it ~98% busy (391–435 s),
    // four took 414 s with one flaky test. End-to-end files share one testbed, each test in its
    // own scope.
    maxWorkers: 3,
    // Longest files first in each project, also on a fresh clone (tools/src/vitest-sequencer.ts).
    sequence: { sequencer: LongestFirst },
    projects: [
      // Files share their workers (no fresh module graph per file: ~0.35 CPU-s a unit file,
      // more for an e2e file that loads dockerode; measured); they leave no global state behind
      // (git-tags.test.ts restores its env var; no file mocks modules or changes directory).
      { extends: true, test: { name: "unit", include: tests, exclude: e2e, isolate: false } },
      { extends: true, test: { name: "e2e", include: e2e, isolate: false, globalSetup: ["tools/src/vitest-global-setup.ts"] } },
    ],
  },
});

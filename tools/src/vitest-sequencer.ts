import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Seconds per test file, from a measured run of the whole suite (refresh: see docs/reliability.md). */
const DURATIONS = path.join(root, "tools/test-durations.json");

/**
 * Longest files first, both projects in one queue. Vitest's own order runs every e2e file before
 * any unit file and, on a fresh clone (no results cache, as in CI), orders files by size; then
 * the two long unit files ran last, alone on the two cores, while the wait-bound e2e files
 * (faults, lock heartbeats, a 40 s image build) had left cores idle earlier. Durations come from
 * vitest's results cache when it has them (this machine's last run), else from
 * tools/test-durations.json; a file in neither counts as 1 s. Written by hand: vitest's
 * sequencer has no option to mix projects.
 */
export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = JSON.parse(readFileSync(DURATIONS, "utf8")) as Record<string, number>;
    const seconds = (spec: TestSpecification) => {
      const cached = this.ctx.cache.getTestSpecificationResult(spec)?.duration;
      return cached ? cached / 1000 : (known[path.relative(root, spec.moduleId)] ?? 1);
    };
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}

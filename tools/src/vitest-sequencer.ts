import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** Seconds per test file, from a measured run of the whole suite (refresh: see docs/reliability.md). */
const DURATIONS = path.join(root, "tools/test-durations.json");

/**
 * Longest files first within each project (e2e, then unit, as vitest orders projects: a worker
 * is reused only for the next file of the same project, so mixing them would restart workers).
 * Vitest's own sequencer does the same from its results cache, but on a fresh clone (as in CI)
 * it has none and orders files by size, which put the two-minute faults file late. Durations come
 * from vitest's cache when it has them (this machine's last run), else from
 * tools/test-durations.json; a file in neither counts as 1 s. `--sequence.shuffle` is not
 * honoured (a custom sequencer replaces vitest's).
 */
export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const known = JSON.parse(readFileSync(DURATIONS, "utf8")) as Record<string, number>;
    const seconds = (spec: TestSpecification) => {
      const cached = this.ctx.cache.getTestSpecificationResult(spec)?.duration;
      return cached ? cached / 1000 : (known[path.relative(root, spec.moduleId)] ?? 1);
    };
    return [...files].sort((a, b) => a.project.name.localeCompare(b.project.name) || seconds(b) - seconds(a));
  }
}

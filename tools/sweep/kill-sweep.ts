/**
 * The full kill-point sweep (issue 11, SPEC §5a): a release of examples/ against the testbed is
 * run once uninterrupted, with `--log-format json`, to learn its K events and its end state; then,
 * for every k in 1..K, a fresh copy (own scope, image names, GitHub repository) is released and
 * the whole process group SIGKILLed right after event k, and publish is rerun until it exits 0.
 * Each point's end state is compared with the uninterrupted run's, every write is counted per
 * service (no key may be written twice), every image tag that existed when the run was killed
 * must keep its digest (no rebuilt image), and a last run must find nothing to release.
 *
 *   pnpm --filter @flotilla/flotilla build
 *   node tools/sweep/kill-sweep.ts [--concurrency 1] [--parallel 1] [--points 3,7,12] [--json results.json]
 *
 * Prints a table and a summary line; exits 1 on any difference. Steps run one at a time by
 * default (--concurrency 1), so event k is the same step boundary in every run.
 */
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runFlotilla } from "../../packages/flotilla/test/helpers/cli.ts";
import {
  differences,
  duplicates,
  type EndState,
  endState,
  imageDigests,
  type Prepared,
  preparedExamples,
  rerunUntilDone,
  runKilledAfter,
  type SweepEvent,
  writes,
} from "../../packages/flotilla/test/helpers/sweep.ts";
import { startTestbed } from "../src/testbed/index.ts";

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const CONCURRENCY = Number(arg("concurrency") ?? 1);
const JSON_OUT = arg("json");
/** Points run at once (each in its own scope, repository and process group). */
const PARALLEL = Number(arg("parallel") ?? 1);

interface PointResult {
  k: number;
  event: string;
  killed: boolean;
  /** Events the run wrote after event k before the SIGKILL landed. */
  late: number;
  reruns: number;
  identical: boolean;
  differences: string[];
  duplicates: string[];
  /** Image tags that existed when the run was killed and point elsewhere afterwards. */
  rewritten: string[];
  noWorkAfter: boolean;
  seconds: number;
}

const label = (e: SweepEvent | undefined) => (e ? [e.event, e.step ?? e.kind ?? ""].join(" ").trim() : "(none)");

function cleanup(p: Prepared) {
  rmSync(p.dir, { recursive: true, force: true });
  rmSync(path.dirname(p.origin), { recursive: true, force: true });
}

async function main() {
  await startTestbed({ log: (s) => console.error(s) });
  const t0 = Date.now();
  const ref = await preparedExamples();
  const full = await runKilledAfter(ref, () => false, { concurrency: CONCURRENCY });
  if (full.exitCode !== 0) throw new Error(`the uninterrupted run exited ${full.exitCode}`);
  const want: EndState = await endState(ref);
  const refDups = duplicates(await writes(ref));
  if (refDups.length) throw new Error(`the uninterrupted run wrote twice: ${refDups.join(", ")}`);
  cleanup(ref);
  const K = full.events.length;
  console.log(
    `uninterrupted run: ${K} events, ${want.releases.length} releases, ${Object.keys(want.tags).length} tags (${Math.round((Date.now() - t0) / 1000)} s)`,
  );
  const points = arg("points")?.split(",").map(Number) ?? Array.from({ length: K }, (_, i) => i + 1);

  const results: PointResult[] = [];
  console.log(`\n${"k".padStart(3)}  ${"killed after".padEnd(44)} late  reruns  identical  dups  rewritten  no work after  s`);
  const queue = [...points];
  const worker = async () => {
    for (let k = queue.shift(); k !== undefined; k = queue.shift()) results.push(await pointOrError(k, want));
  };
  await Promise.all(Array.from({ length: Math.max(1, PARALLEL) }, worker));
  results.sort((a, b) => a.k - b.k);

  const identical = results.filter((r) => r.identical).length;
  const reruns = results.map((r) => r.reruns);
  const dups = results.reduce((n, r) => n + r.duplicates.length, 0);
  const rewritten = results.reduce((n, r) => n + r.rewritten.length, 0);
  const noWork = results.filter((r) => r.noWorkAfter).length;
  const exact = results.filter((r) => r.killed && r.late === 0).length;
  const summary = `kill points: ${identical} of ${results.length} identical (${exact} killed before the next event); reruns to exit 0: ${reruns.filter((n) => n === 1).length}×1, max ${Math.max(...reruns)}; duplicate writes: ${dups}; rewritten image tags: ${rewritten}; nothing left to release after: ${noWork} of ${results.length}; ${Math.round((Date.now() - t0) / 1000)} s`;
  console.log(`\n${summary}`);
  if (JSON_OUT) writeFileSync(JSON_OUT, `${JSON.stringify({ events: full.events, summary, results }, null, 2)}\n`);
  const ok = identical === results.length && dups === 0 && rewritten === 0 && noWork === results.length;
  process.exit(ok ? 0 : 1);
}

async function pointOrError(k: number, want: EndState): Promise<PointResult> {
  try {
    return await point(k, want);
  } catch (err) {
    // The testbed failed us (not flotilla): reported as such, the sweep goes on.
    console.log(`${String(k).padStart(3)}  testbed error: ${(err as Error).message}`);
    const differences = [`testbed error: ${(err as Error).message}`];
    return {
      k,
      event: "(testbed error)",
      killed: false,
      late: 0,
      reruns: -1,
      identical: false,
      differences,
      duplicates: [],
      rewritten: [],
      noWorkAfter: false,
      seconds: 0,
    };
  }
}

async function point(k: number, want: EndState): Promise<PointResult> {
  const started = Date.now();
  const p = await preparedExamples();
  const killed = await runKilledAfter(p, (_e, i) => i === k, { concurrency: CONCURRENCY });
  const before = await imageDigests(p);
  const again = await rerunUntilDone(p);
  const got = await endState(p);
  const after = await imageDigests(p);
  const last = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
  const r: PointResult = {
    k,
    event: label(killed.events[k - 1] ?? killed.events.at(-1)),
    killed: killed.killed,
    late: killed.late,
    reruns: again.ok ? again.runs : -1,
    identical: false,
    differences: again.ok ? differences(got, want) : ["never exited 0"],
    duplicates: duplicates(await writes(p)),
    rewritten: Object.keys(before).filter((t) => after[t] !== before[t]),
    noWorkAfter: last.exitCode === 0 && last.stdout.includes("Nothing to release"),
    seconds: Math.round((Date.now() - started) / 1000),
  };
  r.identical = r.differences.length === 0;
  console.log(
    `${String(k).padStart(3)}  ${r.event.padEnd(44)} ${(r.killed ? String(r.late) : "ended").padStart(5)}  ${String(r.reruns).padStart(6)}  ${(r.identical ? "yes" : "NO").padEnd(9)}  ${String(r.duplicates.length).padStart(4)}  ${String(r.rewritten.length).padStart(9)}  ${(r.noWorkAfter ? "yes" : "NO").padEnd(13)}  ${r.seconds}`,
  );
  for (const d of [
    ...r.differences.map((x) => `differs: ${x}`),
    ...r.duplicates.map((x) => `written twice: ${x}`),
    ...r.rewritten.map((x) => `rewritten: ${x}`),
  ])
    console.log(`       ${d}`);
  if (!r.identical || r.duplicates.length || r.rewritten.length) console.log(`       (kept for inspection: ${p.dir})`);
  else cleanup(p);
  return r;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

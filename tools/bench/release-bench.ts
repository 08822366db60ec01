/**
 * Benchmark: a whole release of examples/ (5 packages: 3 npm, 2 images, git tags, GitHub releases
 * through the stand-in) with `flotilla publish`, build and tests included, on the testbed. Each
 * log line is stamped with the time since start, so the output is the profile: when the build
 * ended, when each image, tag and release was done. Prints the goal of issue 12 item 1: the run
 * takes no more than build/test + the slowest image + 2 s.
 *
 *   node tools/bench/release-bench.ts [--runs 3]
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { execa } from "execa";
import { gitCommitAll } from "../../packages/flotilla/test/helpers/fixtures.ts";
import { exampleRepo, testbed, uniqueScope } from "../../packages/flotilla/test/helpers/testbed.ts";
import { registerGithubRepo, startTestbed, stopTestbed, testbedEnv } from "../src/testbed/index.ts";
import { median, REPO_ROOT, runsArg } from "./common.ts";

const RUNS = runsArg(3);
const FLOTILLA = path.join(REPO_ROOT, "packages/flotilla/bundle/flotilla.mjs"); // the package's bin (pnpm build makes it)

interface Run {
  total: number;
  buildEnd: number;
  stepsStart: number;
  slowestImage: number;
  lastRelease: number;
  lines: string[];
}

async function once(): Promise<Run> {
  const tb = testbed();
  const scope = uniqueScope();
  const { dir, origin } = exampleRepo(scope);
  execFileSync(path.join(REPO_ROOT, "node_modules/.bin/changeset"), ["version"], { cwd: dir });
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir });
  gitCommitAll(dir, "Version Packages");
  const repo = `repo-${scope}`;
  await registerGithubRepo(tb, "acme", repo, { remote: origin });
  const t0 = performance.now();
  const lines: string[] = [];
  const stamp = (l: string) => lines.push(`${((performance.now() - t0) / 1000).toFixed(2).padStart(6)} s  ${l}`);
  const child = execa(process.execPath, [FLOTILLA, "publish"], {
    cwd: dir,
    reject: false,
    env: { ...testbedEnv(tb), GITHUB_REPOSITORY: `acme/${repo}`, FORCE_COLOR: "0" },
    all: true,
    buffer: false,
  });
  let rest = "";
  child.all!.on("data", (b: Buffer) => {
    const parts = (rest + b.toString()).split("\n");
    rest = parts.pop()!;
    for (const l of parts) stamp(l);
  });
  const r = await child;
  if (rest) stamp(rest);
  const total = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) throw new Error(`flotilla publish failed (exit ${r.exitCode}):\n${lines.join("\n")}`);
  const at = (re: RegExp) => lines.filter((l) => re.test(l)).map((l) => Number(l.slice(0, 7)));
  const stepsStart = Math.max(...at(/pnpm pack|packed/), 0);
  const buildEnd = Math.min(...at(/pnpm pack/), stepsStart);
  const images = at(/built and pushed/);
  return {
    total,
    buildEnd,
    stepsStart,
    slowestImage: Math.max(...images) - stepsStart,
    lastRelease: Math.max(...at(/GitHub release/)),
    lines,
  };
}

const { started } = await startTestbed({ log: (s) => console.error(s) });
try {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await once();
    runs.push(r);
    console.error(`run ${i + 1}: ${r.total.toFixed(2)} s`);
  }
  const m = (f: (r: Run) => number) => median(runs.map(f)).toFixed(2);
  console.log(`\nrelease of examples/ (${RUNS} runs, medians; Node ${process.version})`);
  console.log(`  total                          ${m((r) => r.total)} s`);
  console.log(`  build + test (until pnpm pack) ${m((r) => r.buildEnd)} s`);
  console.log(`  slowest image (from steps' start) ${m((r) => r.slowestImage)} s`);
  console.log(`  last GitHub release at         ${m((r) => r.lastRelease)} s`);
  console.log(`  goal: build/test + slowest image + 2 s = ${m((r) => r.buildEnd + r.slowestImage + 2)} s`);
  console.log(`\ntimeline of the median run:\n${runs.sort((a, b) => a.total - b.total)[Math.floor(runs.length / 2)]!.lines.join("\n")}`);
} finally {
  if (started) await stopTestbed();
}

/**
 * Benchmark: the no-op `flotilla publish` (everything released, answered by origin's release
 * record) at N packages, as tsc builds the CLI (bin → dist/) and as the bundle, interleaved:
 * wall time, CPU time, and the processes each run spawns (strace, when installed). Issue 12
 * item 3's goal is ≤ 0.8 s at N = 1,000. The first publish that makes the record is not timed (publish-bench.ts
 * times it); `--dir` reuses a workspace a previous run printed.
 *
 *   node tools/bench/noop-bench.ts [--n 1000] [--runs 5] [--dir /tmp/bench-…] [--builds label=bin,…]
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import { startTestbed, stopTestbed, type Testbed } from "../src/testbed/index.ts";
import { numArg, REPO_ROOT, runsArg } from "./common.ts";
import { generateWorkspace } from "./workspace.ts";

const N = numArg("n", 1000);
const RUNS = runsArg(5);
const dirArg = process.argv.indexOf("--dir");
const buildsArg = process.argv.indexOf("--builds");
/** `--builds label=path,…` compares other copies (e.g. a copy of the build before a change). */
const BUILDS: Record<string, string> =
  buildsArg > 0
    ? Object.fromEntries(process.argv[buildsArg + 1]!.split(",").map((b) => b.split("=") as [string, string]))
    : {
        "tsc (bin → dist/)": path.join(REPO_ROOT, "packages/flotilla/bin/flotilla.js"),
        bundle: path.join(REPO_ROOT, "packages/flotilla/bundle/flotilla.mjs"),
      };
const ARGS = ["publish", "--skip-build", "--only", "npm", "--only", "git"];
const env = (tb: Testbed) => ({
  ...process.env,
  FLOTILLA_NPM_REGISTRY: `${tb.npm.url}/`,
  NODE_AUTH_TOKEN: tb.npm.token,
  GITHUB_REPOSITORY: "bench/bench",
});
const hasStrace = spawnSync("strace", ["-V"]).status === 0;

/**
 * One run: wall time, CPU time (user + system, flotilla and the processes it waited for: on a
 * loaded shared machine the steadier figure), and with `trace` the processes it started.
 */
function run(bin: string, dir: string, tb: Testbed, trace: boolean): { ms: number; cpuMs: number; spawned?: number; out: string } {
  const log = path.join(os.tmpdir(), `noop-bench-${process.pid}.strace`);
  const node = [process.execPath, bin, ...ARGS];
  const cmd = trace ? ["strace", "-f", "-qq", "-e", "trace=execve", "-o", log, ...node] : node;
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "CPU %U %S", ...cmd], { cwd: dir, env: env(tb), encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`flotilla no-op failed (exit ${r.status}):\n${r.stderr}`);
  const [, user, sys] = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr) ?? [];
  const out = { ms, cpuMs: (Number(user) + Number(sys)) * 1000, out: r.stderr.replace(/^CPU .*$/m, "") + r.stdout };
  if (!trace) return out;
  // Successful execve lines, minus the traced Node itself.
  const spawned =
    readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => /execve\(/.test(l) && / = 0$/.test(l)).length - 1;
  rmSync(log, { force: true });
  return { ...out, spawned };
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${(s[Math.floor(s.length / 2)]! / 1000).toFixed(2)} s / ${(s[0]! / 1000).toFixed(2)} s`;
};

const { testbed: tb, started } = await startTestbed({ log: (s) => console.error(s) });
try {
  let dir = dirArg > 0 ? process.argv[dirArg + 1]! : "";
  if (!dir || !existsSync(dir)) {
    dir = generateWorkspace(tb, `no${Date.now().toString(36)}`, N);
    console.error(`workspace (reuse with --dir): ${dir}; first publish of ${N} (not timed)…`);
    const first = await execa(process.execPath, [Object.values(BUILDS)[0]!, ...ARGS], { cwd: dir, env: env(tb), reject: false });
    if (first.exitCode !== 0) throw new Error(`first publish failed (exit ${first.exitCode}):\n${first.stderr}`);
  }
  console.log(`N = ${N}, ${RUNS} run(s) each after a warm-up, Node ${process.version}, load ${os.loadavg()[0]!.toFixed(1)}\n`);
  const times = new Map<string, { ms: number[]; cpu: number[] }>(Object.keys(BUILDS).map((b) => [b, { ms: [], cpu: [] }]));
  for (const bin of Object.values(BUILDS)) console.error(run(bin, dir, tb, false).out.trim()); // warm-up; shows what a no-op says
  for (let i = 0; i < RUNS; i++)
    for (const [name, bin] of Object.entries(BUILDS)) {
      const r = run(bin, dir, tb, false);
      times.get(name)!.ms.push(r.ms);
      times.get(name)!.cpu.push(r.cpuMs);
    }
  const spawned = hasStrace ? Object.fromEntries(Object.entries(BUILDS).map(([n, bin]) => [n, run(bin, dir, tb, true).spawned])) : {};
  console.log("| build | no-op wall: median / min | CPU (user + sys): median / min | processes spawned |");
  console.log("| --- | --- | --- | --- |");
  for (const [name, t] of times) console.log(`| ${name} | ${stat(t.ms)} | ${stat(t.cpu)} | ${spawned[name] ?? "— (no strace)"} |`);
  console.log(`\nload ${os.loadavg()[0]!.toFixed(1)} at the end`);
} finally {
  if (started) await stopTestbed();
}

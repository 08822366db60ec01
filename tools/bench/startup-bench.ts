/**
 * Benchmark: start-up of the CLI as tsc builds it (bin/flotilla.js → dist/) against the bundle
 * (bundle/flotilla.mjs, scripts/bundle.ts), and the action's set-up (issue 12 item 6). Offline.
 * Runs are interleaved so load on the machine hits both alike; prints medians (and min) in ms.
 *
 *   pnpm --filter @flotilla/flotilla build && pnpm --filter @flotilla/flotilla bundle
 *   node tools/bench/startup-bench.ts [--runs 21] [--setup]
 *
 * --setup also times the old composite action's set-up (pnpm install of flotilla's dependencies,
 * then tsc) in a fresh export of HEAD, with this machine's warm pnpm store: a lower bound for a
 * runner, whose store is empty.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 21;
const TSC = path.join(root, "packages/flotilla/bin/flotilla.js");
const BUNDLE = path.join(root, "packages/flotilla/bundle/flotilla.mjs");

/** Five packages, no pending changeset, committed: `plan` has nothing to do (the no-op). */
function noopWorkspace(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "startup-bench-"));
  const w = (rel: string, content: object | string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), typeof content === "string" ? content : JSON.stringify(content, null, 2));
  };
  w("package.json", { name: "bench-root", private: true });
  w("pnpm-workspace.yaml", "packages:\n  - packages/*\n");
  w(".changeset/config.json", { changelog: false, commit: false, access: "public", baseBranch: "main" });
  for (let i = 0; i < 5; i++) w(`packages/p${i}/package.json`, { name: `@bench/p${i}`, version: "1.0.0" });
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=b", "-c", "user.email=b@example.test", "commit", "-qm", "init");
  return dir;
}

function time(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]! };
};

const noop = noopWorkspace();
const examples = path.join(root, "examples");
const noCache = { ...process.env, NODE_DISABLE_COMPILE_CACHE: "1" };
const cases: [string, string[], NodeJS.ProcessEnv?][] = [
  ["node -e 0 (Node itself)", []],
  ["--version", ["--version"]],
  ["--help (loads the CLI and commander)", ["--help"]],
  ["plan, no-op (5 packages, no changeset)", ["plan", "--cwd", noop]],
  ["plan examples/ (3 changesets)", ["plan", "--cwd", examples]],
  ["plan, no-op, compile cache off", ["plan", "--cwd", noop], noCache],
];

console.log(`node ${process.version}, ${os.cpus().length} cores, ${RUNS} runs each, interleaved; ms (median / min)\n`);
console.log("| what | tsc (bin → dist/) | bundle | bundle / tsc |\n|---|---|---|---|");
for (const [name, args, env] of cases) {
  const a: number[] = [];
  const b: number[] = [];
  const node = args.length === 0;
  // One warm-up each (fills Node's compile cache, as any second run on a machine finds it).
  if (!node) {
    time([TSC, ...args], env);
    time([BUNDLE, ...args], env);
  }
  for (let i = 0; i < RUNS; i++) {
    a.push(time(node ? ["-e", "0"] : [TSC, ...args], env));
    b.push(time(node ? ["-e", "0"] : [BUNDLE, ...args], env));
  }
  const sa = stat(a);
  const sb = stat(b);
  console.log(
    `| ${name} | ${sa.median.toFixed(0)} / ${sa.min.toFixed(0)} | ${sb.median.toFixed(0)} / ${sb.min.toFixed(0)} | ${(sb.median / sa.median).toFixed(2)} |`,
  );
}
rmSync(noop, { recursive: true, force: true });

const bundleDir = path.dirname(BUNDLE);
const js = readdirSync(bundleDir).filter((f) => f.endsWith(".mjs"));
const kib = js.reduce((n, f) => n + statSync(path.join(bundleDir, f)).size, 0) / 1024;
console.log(`\nbundle/: ${js.length} .mjs files, ${kib.toFixed(0)} KiB (source maps apart)`);

if (process.argv.includes("--setup")) {
  // The old composite action's set-up, in a clean export of HEAD (never the shared checkout).
  const dir = mkdtempSync(path.join(os.tmpdir(), "startup-bench-setup-"));
  execFileSync("sh", ["-c", `git -C "${root}" archive HEAD | tar -x -C "${dir}"`]);
  const step = (cmd: string, args: string[]) => {
    const t = Date.now();
    execFileSync(cmd, args, { cwd: dir, stdio: "ignore" });
    return (Date.now() - t) / 1000;
  };
  const install = step("pnpm", ["install", "--frozen-lockfile", "--filter", "@flotilla/flotilla..."]);
  const build = step("pnpm", ["--filter", "@flotilla/flotilla", "build"]);
  console.log(`\nold action set-up: pnpm install ${install.toFixed(1)} s (warm store) + tsc ${build.toFixed(1)} s; new: none`);
  rmSync(dir, { recursive: true, force: true });
}

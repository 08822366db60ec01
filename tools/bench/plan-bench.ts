/**
 * Benchmark: start-up of `flotilla plan` against `changeset status` (@changesets/cli 3.0.3, the
 * root devDependency) on a generated workspace (issue 8: plan within 1.1× of it on a small one;
 * issue 12: no slower at N = 1,000 with 300 changesets). Offline: no testbed, no registry. Runs
 * are interleaved (changesets, flotilla, changesets, …) so load on the machine hits both alike;
 * prints each median and the ratio flotilla / changesets.
 *
 *   node tools/bench/plan-bench.ts [--n 20] [--changesets 3] [--runs 15]
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("n", 20);
const CHANGESETS = arg("changesets", 3);
const RUNS = arg("runs", 15);
const CHANGESET = path.join(root, "node_modules/@changesets/cli/bin.js");
const FLOTILLA = path.join(root, "packages/flotilla/bundle/flotilla.mjs"); // the package's bin (pnpm build makes it)

/** N packages in chains of five (`workspace:^`), CHANGESETS pending changesets, committed on main. */
function generate(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "plan-bench-"));
  const w = (rel: string, content: string | object) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
  };
  const name = (i: number) => `@bench/pkg-${String(i).padStart(3, "0")}`;
  w("package.json", { name: "bench-root", private: true });
  w("pnpm-workspace.yaml", "packages:\n  - packages/*\n");
  w(".changeset/config.json", { changelog: false, commit: false, access: "restricted", baseBranch: "main", format: false });
  for (let i = 0; i < N; i++) {
    const deps = i % 5 === 0 ? {} : { dependencies: { [name(i - 1)]: "workspace:^" } };
    w(`packages/pkg-${i}/package.json`, { name: name(i), version: "1.0.0", ...deps });
  }
  const first = [
    ["brave-cats-run", 0, "minor"],
    ["quiet-dogs-sing", Math.min(7, N - 1), "patch"],
    ["tall-trees-grow", Math.min(12, N - 1), "major"],
  ] as const;
  // Beyond the first three: one package each, spread over the workspace, mostly patches.
  const more = Array.from({ length: Math.max(0, CHANGESETS - first.length) }, (_, k) => {
    const type = k % 10 === 0 ? "minor" : "patch";
    return [`bench-change-${k}`, (k * 7 + 3) % N, type] as const;
  });
  for (const [id, i, type] of [...first.slice(0, CHANGESETS), ...more])
    w(`.changeset/${id}.md`, `---\n"${name(i)}": ${type}\n---\n\nChange ${id}.\n`);
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "bench@example.test");
  git("config", "user.name", "bench");
  git("add", "-A");
  git("commit", "-q", "-m", "bench");
  return dir;
}

/** Wall time of one run, in ms; a failing run aborts the benchmark (it would measure an error path). */
function time(args: string[], cwd: string): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, CI: "true" } });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const dir = generate();
try {
  const runs = { changesets: [] as number[], flotilla: [] as number[] };
  // One warm-up each: the compile caches and the OS file cache fill, as on a developer's machine.
  time([CHANGESET, "status"], dir);
  time([FLOTILLA, "plan"], dir);
  for (let i = 0; i < RUNS; i++) {
    runs.changesets.push(time([CHANGESET, "status"], dir));
    runs.flotilla.push(time([FLOTILLA, "plan"], dir));
  }
  const c = median(runs.changesets);
  const f = median(runs.flotilla);
  console.log(`workspace: ${N} packages, ${CHANGESETS} changesets; ${RUNS} runs each, interleaved, medians`);
  console.log(`changeset status  ${(c / 1000).toFixed(3)} s`);
  console.log(`flotilla plan     ${(f / 1000).toFixed(3)} s`);
  console.log(`ratio flotilla / changesets: ${(f / c).toFixed(2)}×`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

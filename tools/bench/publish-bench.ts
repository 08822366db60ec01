/**
 * Benchmark: `changeset publish` (changesets 3.x, as users run it today) against
 * `flotilla publish --skip-build`, side by side in one invocation, on a generated workspace of
 * N packages published to the testbed's Verdaccio. Two scenarios:
 *   first  — a first publish of all N packages (a fresh scope per run, so nothing exists yet);
 *   noop   — a rerun when everything is already published.
 * Prints each median and the ratio changesets / flotilla. Not a test: figures, not assertions.
 *
 *   node tools/bench/publish-bench.ts [--n 200] [--runs 3]
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { createBareRemote } from "../src/testbed/git.ts";
import { startTestbed, stopTestbed, type Testbed } from "../src/testbed/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg("n", 200);
const RUNS = arg("runs", 3);
const CHANGESET = path.join(root, "node_modules/.bin/changeset");
const FLOTILLA = path.join(root, "packages/flotilla/bin/flotilla.js");

/** N packages in chains of up to 5 (`workspace:^`), committed, installed, with a bare origin. */
function generate(tb: Testbed, scope: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `bench-${scope}-`));
  const w = (rel: string, content: string | object) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
  };
  w("package.json", { name: "bench-root", private: true });
  w("pnpm-workspace.yaml", "packages:\n  - packages/*\n");
  // changesets 3 looks packages up with `pnpm info`, which reads the registry from here (PITFALLS 23).
  w(".npmrc", `@${scope}:registry=${tb.npm.url}/\n`);
  w(".gitignore", "node_modules/\n");
  w(".changeset/config.json", { changelog: false, commit: false, access: "restricted", baseBranch: "main", format: false });
  for (let i = 0; i < N; i++) {
    const name = `@${scope}/pkg-${String(i).padStart(4, "0")}`;
    const dep = i % 5 === 0 ? {} : { dependencies: { [`@${scope}/pkg-${String(i - 1).padStart(4, "0")}`]: "workspace:^" } };
    w(`packages/pkg-${i}/package.json`, {
      name,
      version: "1.0.0",
      main: "index.js",
      publishConfig: { registry: `${tb.npm.url}/` },
      ...dep,
    });
    w(`packages/pkg-${i}/index.js`, `module.exports = ${i};\n`);
  }
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir });
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "bench@example.test");
  git("config", "user.name", "bench");
  git("add", "-A");
  git("commit", "-q", "-m", "bench");
  git("remote", "add", "origin", createBareRemote(path.join(dir, "..", `${path.basename(dir)}.git`)));
  git("push", "-q", "origin", "main");
  return dir;
}

type Tool = "changesets" | "flotilla";

/**
 * changesets' auth as actions/setup-node sets it up: a user npmrc holding the token (outside
 * any repository, mode 0600). The environment form `npm_config_//host/:_authToken` did not
 * reach every pnpm request changesets makes here (401 on `pnpm info`).
 */
let userconfigFile: string | undefined;
function userconfig(tb: Testbed): string {
  if (!userconfigFile) {
    userconfigFile = path.join(mkdtempSync(path.join(os.tmpdir(), "bench-npmrc-")), "npmrc");
    writeFileSync(userconfigFile, `${tb.npm.url.replace(/^https?:/, "")}/:_authToken=${tb.npm.token}\nupdate-notifier=false\n`, {
      mode: 0o600,
    });
  }
  return userconfigFile;
}

async function run(tool: Tool, dir: string, tb: Testbed): Promise<number> {
  const t0 = performance.now();
  const r =
    tool === "changesets"
      ? await execa(CHANGESET, ["publish"], {
          cwd: dir,
          reject: false,
          env: { NPM_CONFIG_USERCONFIG: userconfig(tb), npm_config_update_notifier: "false" },
        })
      : await execa(process.execPath, [FLOTILLA, "publish", "--skip-build", "--only", "npm", "--only", "git"], {
          cwd: dir,
          reject: false,
          env: { FLOTILLA_NPM_REGISTRY: `${tb.npm.url}/`, NODE_AUTH_TOKEN: tb.npm.token, GITHUB_REPOSITORY: "bench/bench" },
        });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0)
    throw new Error(`${tool} failed (exit ${r.exitCode}):\n${String(r.stderr).slice(-2000)}\n${String(r.stdout).slice(-2000)}`);
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const { testbed: tb, started } = await startTestbed({ log: (s) => console.error(s) });
try {
  console.log(`N = ${N} packages, ${RUNS} run(s) each, Node ${process.version}, Verdaccio ${tb.npm.url}\n`);
  const times: Record<Tool, { first: number[]; noop: number[] }> = {
    changesets: { first: [], noop: [] },
    flotilla: { first: [], noop: [] },
  };
  const last: Record<Tool, string> = { changesets: "", flotilla: "" };
  for (let i = 0; i < RUNS; i++) {
    for (const tool of ["changesets", "flotilla"] as Tool[]) {
      const dir = generate(tb, `${tool === "changesets" ? "cs" : "fl"}${Date.now().toString(36)}${i}`);
      times[tool].first.push(await run(tool, dir, tb));
      last[tool] = dir;
      console.error(`  ${tool} first publish #${i + 1}: ${(times[tool].first.at(-1)! / 1000).toFixed(2)} s`);
    }
  }
  for (let i = 0; i < RUNS; i++) {
    for (const tool of ["changesets", "flotilla"] as Tool[]) {
      times[tool].noop.push(await run(tool, last[tool], tb));
      console.error(`  ${tool} no-op rerun #${i + 1}: ${(times[tool].noop.at(-1)! / 1000).toFixed(2)} s`);
    }
  }
  const row = (label: string, key: "first" | "noop") => {
    const cs = median(times.changesets[key]);
    const fl = median(times.flotilla[key]);
    return `${label.padEnd(22)} ${(cs / 1000).toFixed(2).padStart(9)} s  ${(fl / 1000).toFixed(2).padStart(9)} s  ${(cs / fl).toFixed(1).padStart(6)}×`;
  };
  console.log(`${"scenario (median)".padEnd(22)} ${"changesets".padStart(11)}  ${"flotilla".padStart(11)}  ${"ratio".padStart(7)}`);
  console.log(row("first publish", "first"));
  console.log(row("no-op rerun", "noop"));
} finally {
  if (started) await stopTestbed();
}

/**
 * Scale-out figures (issue 13; docs/scale-out.md), against the running testbed:
 *
 * 1. `--apps 6` apps × linux/amd64 + linux/arm64 (FROM scratch + COPY of `--mb` MB of random
 *    data, so no emulation is needed), released (images + git) by one run, and by a simulated
 *    matrix: `flotilla matrix`, then its entries on `--runners 4` concurrent runners (each its own
 *    copy of the repository), then the final run. Wall time of the whole release.
 * 2. `--libs 8` libraries whose turbo `build` takes `--build-ms` each, released to Verdaccio by
 *    `flotilla publish --only npm`: the turbo build phase with turbo's remote cache cold (a fresh
 *    team namespace), then, after the versions are unpublished, the same release from a fresh
 *    clone with the cache warm.
 *
 * One machine: every "runner" shares its CPUs, disk and Docker daemon, so the matrix figure is a
 * lower bound on what separate runners gain. `node tools/bench/scale-out-bench.ts`
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBareRemote } from "../src/testbed/git.ts";
import { readTestbed, testbedEnv } from "../src/testbed/index.ts";
import { turboCacheEnv } from "../src/testbed/turbo-cache.ts";
import { numArg, REPO_ROOT } from "./common.ts";

const BIN = path.join(REPO_ROOT, "packages/flotilla/bundle/flotilla.mjs"); // the package's bin (pnpm build makes it)
const tb = readTestbed();
if (!tb?.turboCache) throw new Error("testbed (with its turbo cache) not running: node tools/src/testbed-cli.ts start");
const APPS = numArg("apps", 6);
const RUNNERS = numArg("runners", 4);
const MB = numArg("mb", 8);
const LIBS = numArg("libs", 8);
const BUILD_MS = numArg("build-ms", 1500);

function flotilla(args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(GITHUB_|FLOTILLA_|NODE_AUTH_TOKEN|TURBO_|CI$)/.test(k)),
    );
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...base, ...env } as NodeJS.ProcessEnv });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => resolve({ code: code ?? 1, out, err }));
  });
}
const must = async (p: ReturnType<typeof flotilla>, what: string) => {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.out}\n${r.err}`);
  return r;
};

function write(dir: string, files: Record<string, string | Buffer | object>): void {
  for (const [rel, c] of Object.entries(files)) {
    const f = path.join(dir, rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, typeof c === "string" || Buffer.isBuffer(c) ? c : `${JSON.stringify(c, null, 2)}\n`);
  }
}

function repo(files: Record<string, string | Buffer | object>): { dir: string; origin: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "scale-bench-"));
  write(dir, {
    "pnpm-workspace.yaml": "packages:\n  - packages/*\n  - apps/*\n",
    ".gitignore": "node_modules/\ndist/\n.turbo/\n",
    ".changeset/config.json": { changelog: false, commit: false, access: "restricted", baseBranch: "main" },
    ...files,
  });
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir, stdio: "ignore" });
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", "bench");
  const origin = createBareRemote(path.join(mkdtempSync(path.join(os.tmpdir(), "scale-origin-")), "origin.git"));
  git("remote", "add", "origin", origin);
  git("push", "-q", "origin", "main");
  return { dir, origin };
}

function appsRepo(scope: string) {
  const files: Record<string, string | Buffer | object> = {
    "package.json": { name: "bench-root", private: true },
    "flotilla.config.json": { owner: scope, images: { apps: {} as Record<string, object> } },
  };
  for (let i = 0; i < APPS; i++) {
    const name = `@${scope}/app${i}`;
    files[`apps/app${i}/package.json`] = { name, version: "1.0.0", private: true };
    files[`apps/app${i}/Dockerfile`] = "FROM scratch\nCOPY blob.bin package.json /\n";
    files[`apps/app${i}/blob.bin`] = randomBytes(MB * 1024 * 1024);
    (files["flotilla.config.json"] as { images: { apps: Record<string, object> } }).images.apps[name] = {
      platforms: ["linux/amd64", "linux/arm64"],
    };
  }
  return repo(files);
}

const scope = () => `b${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const env = { ...testbedEnv(tb), GITHUB_REPOSITORY: "acme/bench" };
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// 1. One runner vs a simulated matrix.
{
  const one = appsRepo(scope());
  let t = Date.now();
  await must(flotilla(["publish", "--skip-build", "--only", "images", "--only", "git"], one.dir, env), "single run");
  const single = Date.now() - t;

  const m = appsRepo(scope());
  const copies = Array.from({ length: RUNNERS }, () => {
    const d = path.join(mkdtempSync(path.join(os.tmpdir(), "scale-runner-")), "r");
    execFileSync("cp", ["-a", m.dir, d]);
    return d;
  });
  t = Date.now();
  const only = ["--only", "images", "--only", "git"];
  const matrix = JSON.parse((await must(flotilla(["matrix", ...only], m.dir, env), "matrix")).out) as { include: { shard: string }[] };
  const queue = matrix.include.map((e) => e.shard);
  const planned = Date.now() - t;
  await Promise.all(
    copies.map(async (dir) => {
      for (let s = queue.shift(); s; s = queue.shift())
        await must(flotilla(["publish", "--skip-build", ...only, "--shard", s], dir, env), s);
    }),
  );
  const sharded = Date.now() - t;
  await must(flotilla(["publish", "--skip-build", ...only], m.dir, env), "final run");
  const total = Date.now() - t;
  console.log(
    `images: ${APPS} apps × 2 platforms (${MB} MB each): one run ${seconds(single)}; matrix of ${matrix.include.length} entries on ${RUNNERS} runners ${seconds(total)} (plan ${seconds(planned)}, shards done at ${seconds(sharded)}, final ${seconds(total - sharded)})`,
  );
}

// 2. turbo's remote cache, cold vs warm.
{
  const s = scope();
  const files: Record<string, string | object> = {
    "package.json": { name: "bench-root", private: true, packageManager: "pnpm@12.4.2" },
    "turbo.json": { tasks: { build: { dependsOn: ["^build"], outputs: ["dist/**"] } } },
    "flotilla.config.json": { owner: s, build: { tasks: ["build"] } },
  };
  for (let i = 0; i < LIBS; i++) {
    files[`packages/lib${i}/package.json`] = {
      name: `@${s}/lib${i}`,
      version: "1.0.0",
      files: ["dist"],
      scripts: {
        build: `node -e "setTimeout(()=>{require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/index.js','${i}')},${BUILD_MS})"`,
      },
    };
  }
  const { dir, origin } = repo(files);
  const cache = { ...turboCacheEnv(tb.turboCache), TURBO_TEAM: `bench-${s}` }; // a fresh namespace: cold
  const buildMs = async (cwd: string) => {
    const r = await must(flotilla(["publish", "--only", "npm", "--log-format", "json"], cwd, { ...env, ...cache }), "npm release");
    const ev = r.err
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { event: string; durationMs?: number })
      .find((e) => e.event === "build");
    return ev?.durationMs ?? Number.NaN;
  };
  const cold = await buildMs(dir);
  // The same versions again ("a second release of an unchanged library set"): unpublish, fresh clone.
  for (let i = 0; i < LIBS; i++) {
    execFileSync(
      "npm",
      [
        "unpublish",
        "--force",
        `@${s}/lib${i}@1.0.0`,
        `--registry=${tb.npm.url}/`,
        `--//${new URL(tb.npm.url).host}/:_authToken=${tb.npm.token}`,
      ],
      {
        stdio: "ignore",
      },
    );
  }
  const clone = path.join(mkdtempSync(path.join(os.tmpdir(), "scale-clone-")), "c");
  execFileSync("git", ["clone", "-q", origin, clone]);
  execFileSync("pnpm", ["install", "--silent"], { cwd: clone, stdio: "ignore" });
  const warm = await buildMs(clone);
  console.log(
    `turbo build of ${LIBS} libraries (${BUILD_MS} ms each) in flotilla publish: cold cache ${seconds(cold)}, warm cache ${seconds(warm)}`,
  );
}

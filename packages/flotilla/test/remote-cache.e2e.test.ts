/**
 * Turborepo's remote cache across runners (issue 13, item 4; SPEC §11): flotilla passes
 * TURBO_API / TURBO_TOKEN / TURBO_TEAM through to turbo, so a second runner (another clone of the
 * same commit) that builds the same inputs replays them from the testbed's real cache server.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { turboCacheEnv } from "../../../tools/src/testbed/turbo-cache.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, tempDir } from "./helpers/fixtures.ts";
import { envFor, packument, releasableWorkspace, testbed, uniqueScope } from "./helpers/testbed.ts";

/** turbo's per-task lines: `<pkg>:<task>: cache hit|miss, …` → task id → hit? */
function cacheResults(stdout: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const m of stdout.matchAll(/^\S*?(@[\w-]+\/[\w-]+:\w+): cache (hit|miss)/gm)) out.set(m[1]!, m[2] === "hit");
  return out;
}

describe("remote cache", () => {
  it("a second clone's build of the same inputs is a cache hit for every task the first built", async () => {
    const tb = testbed();
    if (!tb.turboCache) throw new Error("the testbed has no turbo cache: restart it (node tools/src/testbed-cli.ts start)");
    const s = uniqueScope();
    const build = (name: string) =>
      `node -e "require('fs').mkdirSync('dist',{recursive:true});require('fs').writeFileSync('dist/index.js','${name}')"`;
    const { dir, origin } = releasableWorkspace(
      [
        { name: `@${s}/base`, version: "1.0.0" },
        { name: `@${s}/top`, version: "1.0.0", dependencies: { [`@${s}/base`]: "workspace:^" } },
      ],
      {
        "package.json": { name: "fixture-root", private: true, packageManager: "pnpm@12.4.2" },
        "turbo.json": { tasks: { build: { dependsOn: ["^build"], outputs: ["dist/**"] }, test: { dependsOn: ["build"] } } },
      },
    );
    for (const p of ["base", "top"]) {
      const file = path.join(dir, "packages", p, "package.json");
      const pj = JSON.parse(readFileSync(file, "utf8"));
      writeFileSync(file, JSON.stringify({ ...pj, files: ["dist"], scripts: { build: build(p), test: "node -e 0" } }, null, 2));
    }
    gitCommitAll(dir, "turbo tasks");
    execFileSync("git", ["push", "-q", "origin", "main"], { cwd: dir });
    const env = envFor(tb, turboCacheEnv(tb.turboCache));

    // Runner 1 releases base only: turbo builds and tests base, and uploads both to the cache.
    const first = await runFlotilla(["publish", "--only", "npm", "--filter", `@${s}/base`], { cwd: dir, env });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    const built = cacheResults(first.stdout);
    expect([...built.keys()].sort()).toEqual([`@${s}/base:build`, `@${s}/base:test`]);
    expect([...built.values()]).toEqual([false, false]);

    // Runner 2: a fresh clone (no local .turbo cache, no dist/) releases what is left (top), which
    // builds base again as a dependency: every task runner 1 ran is replayed from the remote cache.
    const clone = path.join(tempDir(), "clone");
    execFileSync("git", ["clone", "-q", origin, clone]);
    execFileSync("pnpm", ["install", "--silent"], { cwd: clone, stdio: ["ignore", "pipe", "pipe"] });
    const second = await runFlotilla(["publish", "--only", "npm"], { cwd: clone, env });
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    const replayed = cacheResults(second.stdout);
    expect(replayed.get(`@${s}/base:build`), second.stdout).toBe(true);
    expect(replayed.get(`@${s}/top:build`)).toBe(false);
    // The replayed build output is real: it is in top's dependency's dist, restored from the cache.
    expect(readFileSync(path.join(clone, "packages", "base", "dist", "index.js"), "utf8")).toBe("base");
    expect(Object.keys((await packument(tb, `@${s}/top`))!.versions)).toEqual(["1.0.0"]);
  });
});

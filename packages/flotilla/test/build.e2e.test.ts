/**
 * The build step against repositories shaped like real ones (issue 9, item 3): no turbo.json
 * (pnpm's topological run), turbo's refusals found in preflight (exit 2, nothing published),
 * `build.tasks: []`. The real binary against the testbed's Verdaccio and bare git remotes.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, tempDir } from "./helpers/fixtures.ts";
import { envFor, packument, releasableWorkspace, remoteTagNames, testbed, uniqueScope } from "./helpers/testbed.ts";

/** A build script that writes dist/index.js and records the order of every task in one file. */
const script = (task: string) =>
  `node -e "const f=require('fs');f.appendFileSync('../../tasks.log','${task}:'+require('./package.json').name+'\\n');${
    task === "build" ? "f.mkdirSync('dist',{recursive:true});f.writeFileSync('dist/index.js','built');" : ""
  }"`;

function withScripts(dir: string, pkgDir: string, scripts: Record<string, string>, extra: object = {}): void {
  const file = path.join(dir, pkgDir, "package.json");
  const pj = JSON.parse(readFileSync(file, "utf8"));
  Object.assign(pj, { scripts, ...extra });
  writeFileSync(file, `${JSON.stringify(pj, null, 2)}\n`);
}

async function tarballFiles(tb: ReturnType<typeof testbed>, name: string, version: string): Promise<string[]> {
  const doc = (await packument(tb, name)) as unknown as { versions: Record<string, { dist: { tarball: string } }> };
  const res = await fetch(doc.versions[version]!.dist.tarball, { headers: { authorization: `Bearer ${tb.npm.token}` } });
  const file = path.join(tempDir(), "p.tgz");
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).split("\n").filter(Boolean).sort();
}

describe("build without turbo.json", () => {
  it("builds and tests through pnpm's topological run: dependencies first, build output in the tarball", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([
      { name: `@${s}/top`, version: "1.0.0", dependencies: { [`@${s}/base`]: "workspace:^" } },
      { name: `@${s}/base`, version: "1.0.0" },
      // Not released (no work): never built, never tested.
      { name: `@${s}/other`, version: "1.0.0", private: true, dir: "apps/other" },
    ]);
    for (const p of ["packages/top", "packages/base", "apps/other"])
      withScripts(dir, p, { build: script("build"), test: script("test") }, p === "apps/other" ? {} : { files: ["dist", "index.js"] });
    writeFileSync(path.join(dir, ".gitignore"), "node_modules/\ndist/\ntasks.log\n");
    // `other` is released too unless it is already tagged: tag it, so it has no work.
    execFileSync("git", ["tag", `@${s}/other@1.0.0`], { cwd: dir });
    gitCommitAll(dir, "scripts");
    execFileSync("git", ["push", "-q", "origin", "main", "--tags"], { cwd: dir });
    const env = envFor(tb);

    const dry = await runFlotilla(["publish", "--dry-run", "--only", "npm"], { cwd: dir, env });
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`pnpm -r --filter @${s}/base... --filter @${s}/top... run --if-present build`);
    expect(dry.stdout).toContain(`pnpm -r --filter @${s}/base --filter @${s}/top run --if-present test`);

    const r = await runFlotilla(["publish", "--only", "npm", "--only", "git"], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("no turbo.json: building with pnpm's topological run");
    const order = readFileSync(path.join(dir, "tasks.log"), "utf8").trim().split("\n");
    expect(order.slice(0, 2)).toEqual([`build:@${s}/base`, `build:@${s}/top`]);
    expect(order.slice(2).sort()).toEqual([`test:@${s}/base`, `test:@${s}/top`]);
    expect(await tarballFiles(tb, `@${s}/top`, "1.0.0")).toContain("package/dist/index.js");
    expect(remoteTagNames(origin)).toContain(`@${s}/top@1.0.0`);
  });

  it("build.tasks [] runs no build at all", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }], {
      "flotilla.config.json": { build: { tasks: [] } },
    });
    withScripts(dir, "packages/lib", { build: "node -e process.exit(7)" });
    gitCommitAll(dir, "a build that fails");
    const r = await runFlotilla(["publish", "--only", "npm"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain("pnpm -r run");
    expect(Object.keys((await packument(tb, `@${s}/lib`))!.versions)).toEqual(["1.0.0"]);
  });
});

describe("turbo's refusals are found in preflight", () => {
  it("no packageManager and two packages with one name → exit 2 with the fixes, nothing published; --skip-build goes ahead", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace(
      [
        { name: `@${s}/lib`, version: "1.0.0" },
        { name: "fixture", version: "0.0.0", private: true, dir: "packages/fixture-a" },
        { name: "fixture", version: "0.0.0", private: true, dir: "packages/fixture-b" },
      ],
      {
        "turbo.json": { tasks: { build: { dependsOn: ["^build"] }, test: {} } },
        // Untagged private fixtures, as in changesets 3's default (two tags of one name would clash).
        ".changeset/config.json": { changelog: false, baseBranch: "main", privatePackages: { version: false, tag: false } },
      },
    );
    const r = await runFlotilla(["publish"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('package.json: packageManager: turbo refuses a workspace whose root package.json has no "packageManager"');
    expect(r.stderr).toContain('fix: add "packageManager": "pnpm@');
    expect(r.stderr).toContain('turbo refuses two workspace packages named "fixture" (packages/fixture-a, packages/fixture-b)');
    expect(r.stderr).toContain('"!packages/fixture-b"');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(await packument(tb, `@${s}/lib`)).toBeNull();
    expect(remoteTagNames(origin)).toEqual([]);

    const skip = await runFlotilla(["publish", "--skip-build", "--dry-run"], { cwd: dir, env: envFor(tb) });
    expect(skip.exitCode, skip.stderr).toBe(0);
  });

  it("a task turbo does not know → exit 2 naming it (turbo's own dry run), nothing published", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }], {
      "package.json": { name: "fixture-root", private: true, packageManager: "pnpm@12.4.2" },
      "turbo.json": { tasks: { build: { dependsOn: ["^build"] } } },
    });
    const r = await runFlotilla(["publish"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain('turbo.json: build.tasks: turbo has no task "test"');
    expect(await packument(tb, `@${s}/lib`)).toBeNull();

    // With the task list the repository has, turbo builds as before.
    writeFileSync(path.join(dir, "flotilla.config.json"), JSON.stringify({ build: { tasks: ["build"] } }));
    gitCommitAll(dir, "config");
    const ok = await runFlotilla(["publish", "--only", "npm"], { cwd: dir, env: envFor(tb) });
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain("turbo run build (1 package)");
  });
});

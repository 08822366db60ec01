import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll } from "./helpers/fixtures.ts";
import { envFor, exampleRepo, packument, releasableWorkspace, remoteTagNames, testbed, uniqueScope } from "./helpers/testbed.ts";

interface Release {
  name: string;
  status: string;
  npm: object | null;
  gitTag: string | null;
}

describe("the --json report", () => {
  it("a private package with nothing to release is reported private, not already-released", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace(
      [
        { name: `@${s}/lib`, version: "1.0.0" },
        { name: `@${s}/tool`, version: "3.0.0", private: true },
      ],
      {
        ".changeset/config.json": {
          changelog: false,
          commit: false,
          access: "restricted",
          baseBranch: "main",
          privatePackages: { version: true, tag: false },
        },
      },
    );
    const r = await runFlotilla(["publish", "--skip-build", "--only", "npm", "--only", "git", "--json"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const { releases } = JSON.parse(r.stdout) as { releases: Release[] };
    const byName = new Map(releases.map((x) => [x.name, x]));
    expect(byName.get(`@${s}/lib`)).toMatchObject({ status: "published", gitTag: `@${s}/lib@1.0.0` });
    expect(byName.get(`@${s}/tool`)).toMatchObject({ status: "private", npm: null, gitTag: null });
    expect(remoteTagNames(origin)).toEqual([`@${s}/lib@1.0.0`]);
    // The rerun: lib is already released; tool is still what it is.
    const again = await runFlotilla(["publish", "--skip-build", "--only", "npm", "--only", "git", "--json"], { cwd: dir, env: envFor(tb) });
    const second = new Map((JSON.parse(again.stdout) as { releases: Release[] }).releases.map((x) => [x.name, x.status]));
    expect(second).toEqual(
      new Map([
        [`@${s}/lib`, "already-released"],
        [`@${s}/tool`, "private"],
      ]),
    );
  });

  it("a failing build with --json: exit 1 and one error document on stdout, nothing published", async () => {
    const tb = testbed();
    const scope = uniqueScope();
    const { dir, origin } = exampleRepo(scope);
    const pj = path.join(dir, "packages/core/package.json");
    writeFileSync(pj, readFileSync(pj, "utf8").replace('"build": "node ../../scripts/build.mjs"', '"build": "node -e process.exit(3)"'));
    gitCommitAll(dir, "break the build");
    const r = await runFlotilla(["publish", "--json"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode).toBe(1);
    const doc = JSON.parse(r.stdout) as { error: { exitCode: number; problems: { code: string; message: string; fix?: string }[] } };
    expect(doc.error.exitCode).toBe(1);
    expect(doc.error.problems).toEqual([
      expect.objectContaining({ code: "RELEASE_FAILED", message: expect.stringMatching(/failed \(exit \d+\): nothing was published/) }),
    ]);
    expect(r.stderr).toMatch(/failed \(exit \d+\): nothing was published/);
    expect(remoteTagNames(origin)).toEqual([]);
  });
});

describe("publish input known before any side effect → exit 2", () => {
  it("a dependency cycle among packages to publish", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([
      { name: `@${s}/a`, version: "1.0.0", dependencies: { [`@${s}/b`]: "workspace:^" } },
      { name: `@${s}/b`, version: "1.0.0", dependencies: { [`@${s}/a`]: "workspace:^" } },
      { name: `@${s}/c`, version: "1.0.0" },
    ]);
    const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`dependency cycle among packages to publish: @${s}/a → @${s}/b → @${s}/a`);
    const doc = JSON.parse(r.stdout) as { error: { problems: { code: string; package?: string; fix?: string }[] } };
    expect(doc.error.problems).toEqual([
      expect.objectContaining({ code: "NPM_DEPENDENCY_CYCLE", package: `@${s}/a`, fix: expect.stringContaining("break the cycle") }),
    ]);
    for (const n of ["a", "b", "c"]) expect(await packument(tb, `@${s}/${n}`)).toBeNull();
    expect(remoteTagNames(origin)).toEqual([]);
  });

  it('no origin with "git": {"push": false}: the diff does not ask a remote that does not exist', async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }], {
      "flotilla.config.json": { git: { push: false }, github: { releases: false } },
    });
    execFileSync("git", ["remote", "remove", "origin"], { cwd: dir });
    const r = await runFlotilla(["publish", "--dry-run", "--skip-build"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`create git tag @${s}/lib@1.0.0`);
  });
});

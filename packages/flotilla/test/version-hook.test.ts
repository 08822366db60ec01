/**
 * `flotilla version` meeting real repositories (issue 9, items 4 and 5): the team's own
 * `version.command`, the lockfile refreshed with the pnpm the root pins, and changelog generators
 * that fail. Real workspaces, real pnpm (and npm exec for a pinned pnpm), the built binary.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, makeWorkspace, treeDigest, writeTree } from "./helpers/fixtures.ts";

const NO_SWITCH = { ...process.env, pnpm_config_manage_package_manager_versions: "false" };

/** a ← b (b depends on a through a workspace range the lockfile records), one changeset for both. */
function workspace(
  opts: {
    root?: object;
    pinAfterInstall?: string;
    config?: object;
    changesetConfig?: object;
    extra?: Record<string, string | object>;
  } = {},
) {
  const dir = makeWorkspace({
    packages: [
      { name: "a", version: "1.0.0" },
      { name: "b", version: "1.0.0", dependencies: { a: "workspace:^1.0.0" } },
    ],
    changesets: { "brave-a": { a: "minor", b: "patch" } },
    ...(opts.changesetConfig ? { changesetConfig: opts.changesetConfig } : {}),
    extra: {
      "package.json": { name: "fixture-root", private: true, ...opts.root },
      ".gitignore": "node_modules/\n",
      ...(opts.config ? { "flotilla.config.json": opts.config } : {}),
      ...opts.extra,
    },
  });
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir, env: NO_SWITCH, stdio: "pipe" });
  // A pin pnpm cannot resolve at all fails even that install: it is written afterwards.
  if (opts.pinAfterInstall)
    writeTree({ "package.json": { name: "fixture-root", private: true, packageManager: opts.pinAfterInstall } }, dir);
  gitCommitAll(dir, "lockfile");
  return dir;
}
const read = (dir: string, f: string) => readFileSync(path.join(dir, f), "utf8");
const NO_STACK = /\n\s+at .+:\d+:\d+/;

describe("version.command", () => {
  it("runs after the changesets are applied and before the lockfile refresh, output streamed", async () => {
    const dir = workspace({
      config: { version: { command: "node scripts/gen.mjs && echo generated >&2" } },
      extra: {
        "scripts/gen.mjs": [
          'import { readFileSync, writeFileSync } from "node:fs";',
          'const v = JSON.parse(readFileSync("packages/a/package.json", "utf8")).version;',
          'const old = readFileSync("pnpm-lock.yaml", "utf8").includes("workspace:^1.0.0");',
          'writeFileSync("packages/a/version.txt", v);',
          "console.log('hook: a is ' + v + ', lockfile not yet refreshed: ' + old);",
        ].join("\n"),
      },
    });
    const r = await runFlotilla(["version"], { cwd: dir, env: {} });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("version.command: node scripts/gen.mjs");
    expect(r.stdout).toContain("hook: a is 1.1.0, lockfile not yet refreshed: true");
    expect(r.stdout).toContain("generated");
    expect(read(dir, "packages/a/version.txt")).toBe("1.1.0");
    expect(read(dir, "pnpm-lock.yaml")).toContain("workspace:^1.1.0");
  });

  it("a failing command → exit 1 naming it, the lockfile not refreshed", async () => {
    const dir = workspace({ config: { version: { command: "echo about to fail && exit 4" } } });
    const r = await runFlotilla(["version"], { cwd: dir, env: {} });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain("about to fail");
    expect(r.stderr).toContain("version.command `echo about to fail && exit 4` failed (exit 4)");
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(read(dir, "pnpm-lock.yaml")).toContain("workspace:^1.0.0");
  });
});

describe("lockfile refresh with the pinned pnpm", () => {
  it("a packageManager pin other than the pnpm on PATH: the pinned pnpm writes the lockfile (npm exec)", async () => {
    const dir = workspace({ root: { packageManager: "pnpm@11.28.11" } });
    const r = await runFlotilla(["version"], { cwd: dir, env: {} });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /package\.json pins pnpm 11\.28\.11, pnpm on PATH is 12\.\d+\.\d+: refreshing the lockfile with pnpm 11\.28\.11/,
    );
    expect(r.stdout).toContain("using pnpm v11.28.11");
    expect(r.stdout).toContain("refreshed pnpm-lock.yaml (pnpm 11.28.11)");
    expect(read(dir, "pnpm-lock.yaml")).toContain("workspace:^1.1.0");
  }, 120_000);

  it("a pin that cannot be run: the refresh is skipped with a warning naming both versions", async () => {
    const dir = workspace({ pinAfterInstall: "pnpm@99.0.0" });
    const r = await runFlotilla(["version", "--json"], { cwd: dir, env: {} });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: package\.json pins pnpm 99\.0\.0, pnpm on PATH is 12\.\d+\.\d+, and pnpm 99\.0\.0 could not be run/);
    expect(r.stderr).toContain("pnpm-lock.yaml was NOT refreshed");
    expect(read(dir, "pnpm-lock.yaml")).toContain("workspace:^1.0.0");
    expect(read(dir, "packages/a/package.json")).toContain('"version": "1.1.0"');
  }, 120_000);
});

describe("changelog generator failures", () => {
  it("@changesets/changelog-github without GITHUB_TOKEN → exit 2 naming the generator, the package and the setting; nothing written", async () => {
    const dir = workspace({ changesetConfig: { changelog: ["@changesets/changelog-github", { repo: "acme/widgets" }] } });
    execFileSync("pnpm", ["add", "-Dw", "--silent", "@changesets/changelog-github@1.0.1"], { cwd: dir, env: NO_SWITCH, stdio: "pipe" });
    gitCommitAll(dir, "changelog-github");
    const before = treeDigest(dir);
    const r = await runFlotilla(["version"], { cwd: dir, env: {} });
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /\.changeset\/config\.json: changelog: changelog generator @changesets\/changelog-github failed for a, b \(changeset brave-a\)[^\n]*: GITHUB_TOKEN is not set/,
    );
    expect(r.stderr).toContain("fix: set GITHUB_TOKEN");
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(r.stderr).not.toContain("Unhandled");
    expect(treeDigest(dir)).toBe(before);
    // Without its `repo` option or GITHUB_REPOSITORY, the repository is the missing setting.
    writeTree(
      { ".changeset/config.json": { ...JSON.parse(read(dir, ".changeset/config.json")), changelog: "@changesets/changelog-github" } },
      dir,
    );
    const norepo = await runFlotilla(["version"], { cwd: dir, env: { GITHUB_TOKEN: "ghp_unused" } });
    expect(norepo.exitCode).toBe(2);
    expect(norepo.stderr).toMatch(/failed for a, b \(changeset brave-a\)[^\n]*: the repository is not set/);
    expect(norepo.stderr).toContain('{ "repo": "OWNER/REPO" }');
  }, 120_000);

  it("a generator module that throws → exit 2 with its message, nothing written; --json prints the error document", async () => {
    const dir = workspace({
      changesetConfig: { changelog: ["./broken-changelog.cjs", null] },
      extra: {
        ".changeset/broken-changelog.cjs": [
          "module.exports = {",
          '  getReleaseLine: async () => { throw new Error("ACME_CHANGELOG_KEY is required\\n    at somewhere (x.js:1:1)"); },',
          '  getDependencyReleaseLine: async () => { throw new Error("dependency lines need ACME_CHANGELOG_KEY too"); },',
          "};",
        ].join("\n"),
      },
    });
    const before = treeDigest(dir);
    const r = await runFlotilla(["version"], { cwd: dir, env: {} });
    expect(r.exitCode, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toContain(
      "changelog generator ./broken-changelog.cjs failed for a, b (changeset brave-a): ACME_CHANGELOG_KEY is required",
    );
    expect(r.stderr).not.toMatch(NO_STACK);
    expect(treeDigest(dir)).toBe(before);
    const json = await runFlotilla(["version", "--json"], { cwd: dir, env: {} });
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.stdout).error.problems[0]).toMatchObject({
      code: "CHANGELOG_GENERATOR_FAILED",
      field: "changelog",
      package: "a, b",
    });
    // A generator that is not installed: exit 2 with the fix.
    writeTree(
      { ".changeset/config.json": { ...JSON.parse(read(dir, ".changeset/config.json")), changelog: "@acme/no-such-changelog" } },
      dir,
    );
    const missing = await runFlotilla(["version"], { cwd: dir, env: {} });
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain("changelog generator @acme/no-such-changelog is not installed in the workspace");
  });
});

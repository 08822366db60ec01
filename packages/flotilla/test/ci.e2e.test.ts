/**
 * `flotilla ci` and `flotilla version` end to end: a bare git remote as origin, the GitHub API
 * stand-in on loopback, and the testbed's registries for the publish that follows the merge.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { githubState, registerGithubRepo } from "../../../tools/src/testbed/index.ts";
import { REPO_ROOT, runFlotilla } from "./helpers/cli.ts";
import { copyTree, gitCommitAll, treeDigest } from "./helpers/fixtures.ts";
import { envFor, exampleRepo, packument, remoteTagNames, testbed, uniqueScope } from "./helpers/testbed.ts";

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();

describe("flotilla ci", () => {
  it("opens the Version Packages PR, updates the same PR later, and publishes once it is merged", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const repo = `repo-${s}`;
    await registerGithubRepo(tb, s, repo);
    const { dir, origin } = exampleRepo(s);
    const env = envFor(tb, { GITHUB_REPOSITORY: `${s}/${repo}` });
    const pulls = async () => (await githubState(tb)).repos[`${s}/${repo}`]!.pulls;

    const first = await runFlotilla(["ci", "--json"], { cwd: dir, env });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ hasChangesets: true, pullRequest: { number: 1, created: true } });
    expect(git(dir, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
    expect(git(dir, "status", "--porcelain")).toBe("");
    expect(git(origin, "branch", "--list")).toContain("flotilla/version-packages");
    let prs = await pulls();
    expect(prs).toHaveLength(1);
    expect(prs[0]!.title).toBe("Version Packages");
    for (const rel of [`@${s}/tokens@1.1.0`, `@${s}/core@1.2.1`, `@${s}/web@1.4.0`, `@${s}/api@2.0.5`])
      expect(prs[0]!.body).toContain(`## ${rel}`);
    expect(prs[0]!.body).toContain("Add the `spacing` scale to the design tokens.");

    // Another changeset lands on main: the same pull request is updated.
    writeFileSync(path.join(dir, ".changeset/ui-dark.md"), `---\n"@${s}/ui": minor\n---\n\nDark mode buttons.\n`);
    gitCommitAll(dir, "ui: dark mode");
    git(dir, "push", "-q", "origin", "main");
    const second = await runFlotilla(["ci"], { cwd: dir, env });
    expect(second.exitCode, second.stderr).toBe(0);
    prs = await pulls();
    expect(prs).toHaveLength(1);
    expect(prs[0]!.body).toContain(`## @${s}/ui@0.5.0`);
    expect(prs[0]!.body).toContain("Dark mode buttons.");

    // Merge the pull request; the next run on main releases.
    git(dir, "fetch", "-q", "origin", "flotilla/version-packages");
    git(dir, "merge", "-q", "--ff-only", "FETCH_HEAD");
    git(dir, "push", "-q", "origin", "main");
    const release = await runFlotilla(["ci", "--json"], { cwd: dir, env });
    expect(release.exitCode, release.stderr).toBe(0);
    const out = JSON.parse(release.stdout);
    expect(out.hasChangesets).toBe(false);
    expect(
      out.releases
        .filter((r: { status: string }) => r.status === "published")
        .map((r: { name: string }) => r.name)
        .sort(),
    ).toEqual(["api", "core", "tokens", "ui", "web"].map((n) => `@${s}/${n}`));
    expect(Object.keys((await packument(tb, `@${s}/ui`))!.versions)).toEqual(["0.5.0"]);
    expect(remoteTagNames(origin)).toContain(`@${s}/web@1.4.0`);
    const rels = (await githubState(tb)).repos[`${s}/${repo}`]!.releases;
    expect(rels.map((r) => r.tag_name).sort()).toEqual([
      `@${s}/api@2.0.5`,
      `@${s}/core@1.2.1`,
      `@${s}/tokens@1.1.0`,
      `@${s}/ui@0.5.0`,
      `@${s}/web@1.4.0`,
    ]);
    expect(rels.find((r) => r.tag_name === `@${s}/core@1.2.1`)!.body).toContain(
      "Return a 404 body with a JSON error instead of plain text.",
    );

    // Writes to this repository only: other test files share the stand-in.
    const writes = async () =>
      (await githubState(tb)).requests.filter((q) => q.method !== "GET" && q.path.startsWith(`/repos/${s}/${repo}/`)).length;
    const count = await writes();
    const again = await runFlotilla(["ci"], { cwd: dir, env });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("Nothing to release");
    expect(await writes()).toBe(count);
  });
});

describe("flotilla ci with version.command", () => {
  it("the command's changes are in the Version Packages commit; a failing command commits nothing and leaves main clean", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const repo = `repo-${s}`;
    await registerGithubRepo(tb, s, repo);
    const { dir, origin } = exampleRepo(s);
    const config = (command: string) =>
      writeFileSync(path.join(dir, "flotilla.config.json"), JSON.stringify({ owner: s, version: { command } }, null, 2));
    // The team's own step: a file generated from the versions changesets just wrote.
    config(`node -e "const v=require('./packages/core/package.json').version;require('fs').writeFileSync('VERSION.txt','core '+v+'\\n')"`);
    gitCommitAll(dir, "version.command");
    git(dir, "push", "-q", "origin", "main");
    const env = envFor(tb, { GITHUB_REPOSITORY: `${s}/${repo}` });

    const first = await runFlotilla(["ci"], { cwd: dir, env });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain("version.command: node -e");
    expect(git(origin, "show", "flotilla/version-packages:VERSION.txt")).toBe("core 1.2.1");
    expect(git(dir, "status", "--porcelain")).toBe("");
    const pushed = git(origin, "rev-parse", "flotilla/version-packages");

    config("echo generating && exit 3");
    writeFileSync(path.join(dir, ".changeset/ui-dark.md"), `---\n"@${s}/ui": minor\n---\n\nDark mode buttons.\n`);
    gitCommitAll(dir, "failing version.command");
    git(dir, "push", "-q", "origin", "main");
    const failed = await runFlotilla(["ci"], { cwd: dir, env });
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain("version.command `echo generating && exit 3` failed (exit 3)");
    expect(git(origin, "rev-parse", "flotilla/version-packages")).toBe(pushed);
    expect(git(dir, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
    expect(git(dir, "status", "--porcelain")).toBe("");
  });
});

describe("flotilla version", () => {
  it("produces the same files as `changeset version` on the same repository", async () => {
    const a = exampleRepo(uniqueScope());
    const b = copyTree(a.dir);
    execFileSync(path.join(REPO_ROOT, "node_modules/.bin/changeset"), ["version"], { cwd: a.dir, stdio: "pipe" });
    execFileSync("pnpm", ["install", "--lockfile-only", "--silent"], { cwd: a.dir });
    const r = await runFlotilla(["version"], { cwd: b, env: {} });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("1.0.0 → 1.1.0");
    expect(treeDigest(b)).toBe(treeDigest(a.dir));
    expect(git(a.dir, "status", "--porcelain")).toContain("CHANGELOG.md");
  });
});

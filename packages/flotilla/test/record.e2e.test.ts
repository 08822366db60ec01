/**
 * The release record end to end (issue 12, observe/record.ts), against the testbed's Verdaccio,
 * a bare origin and the GitHub stand-in: a release writes it last; the no-op rerun reads origin
 * only (no packument, no release list); --verify reads everything; a release made without
 * flotilla's record (another tool, or flotilla without its git stage) gets the full diff.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { githubState, registerGithubRepo } from "../../../tools/src/testbed/index.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { envFor, releasableWorkspace, remoteTagNames, testbed, uniqueScope, verdaccioRequests } from "./helpers/testbed.ts";

const records = (origin: string) =>
  execFileSync("git", ["ls-remote", origin, "refs/flotilla/released/*"], { encoding: "utf8" }).split("\n").filter(Boolean);

async function workspace() {
  const tb = testbed();
  const s = uniqueScope();
  const { dir, origin } = releasableWorkspace([
    { name: `@${s}/a`, version: "1.0.0" },
    { name: `@${s}/b`, version: "2.0.0-rc.1" },
  ]);
  const repo = `repo-${s}`;
  await registerGithubRepo(tb, "acme", repo, { remote: origin });
  const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
  return { tb, s, dir, origin, repo, commit, env: envFor(tb, { GITHUB_REPOSITORY: `acme/${repo}` }) };
}

describe("release record", () => {
  it("written last by a release; the no-op rerun reads no registry; --verify reads them all", async () => {
    const w = await workspace();
    const first = await runFlotilla(["publish", "--skip-build"], { cwd: w.dir, env: w.env });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    const recs = records(w.origin);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatch(new RegExp(`\\trefs/flotilla/released/${w.commit}/[0-9a-f]{40}$`));
    // The record lists what it covers.
    const body = JSON.parse(execFileSync("git", ["cat-file", "blob", recs[0]!.split("\t")[0]!], { cwd: w.origin, encoding: "utf8" }));
    expect(body.artifacts.map((a: { gitTag: string }) => a.gitTag).sort()).toEqual([`@${w.s}/a@1.0.0`, `@${w.s}/b@2.0.0-rc.1`]);
    expect(body.artifacts.find((a: { name: string }) => a.name === `@${w.s}/b`).npm.distTag).toBe("rc");

    const before = verdaccioRequests(w.tb, w.s).length;
    const ghRequests = (await githubState(w.tb, `acme/${w.repo}`)).requests.length;
    const noop = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: w.dir, env: w.env });
    expect(noop.exitCode, noop.stderr).toBe(0);
    expect(noop.stderr).toContain("origin's release record covers every version");
    expect(JSON.parse(noop.stdout).releases.map((r: { status: string }) => r.status)).toEqual(["already-released", "already-released"]);
    expect(verdaccioRequests(w.tb, w.s).slice(before)).toEqual([]);
    expect((await githubState(w.tb, `acme/${w.repo}`)).requests.length).toBe(ghRequests);

    const verify = await runFlotilla(["publish", "--skip-build", "--verify"], { cwd: w.dir, env: w.env });
    expect(verify.exitCode, verify.stderr).toBe(0);
    expect(verify.stdout).toContain("every version is already released");
    expect(
      verdaccioRequests(w.tb, w.s)
        .slice(before)
        .filter((r) => r.method === "GET").length,
    ).toBeGreaterThanOrEqual(2);
    expect(records(w.origin)).toHaveLength(1);
  });

  it("the no-op through the record checks no credentials (it writes nothing); --verify still does", async () => {
    const w = await workspace();
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: w.dir, env: w.env })).exitCode).toBe(0);
    const env = { ...w.env, NODE_AUTH_TOKEN: "refused-token" };
    const noop = await runFlotilla(["publish", "--skip-build"], { cwd: w.dir, env });
    expect(noop.exitCode, noop.stdout + noop.stderr).toBe(0);
    expect(noop.stdout).toContain("origin's release record covers this commit: registries, credentials and services not checked");
    const verify = await runFlotilla(["publish", "--skip-build", "--verify"], { cwd: w.dir, env });
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(2);
    expect(verify.stderr).toContain("token refused");
  });

  it("no record (npm released by another run without tags): the full diff finds the tags and releases missing and makes them", async () => {
    const w = await workspace();
    const npmOnly = await runFlotilla(["publish", "--skip-build", "--only", "npm"], { cwd: w.dir, env: w.env });
    expect(npmOnly.exitCode, npmOnly.stderr).toBe(0);
    expect(records(w.origin)).toEqual([]); // no git stage: no record
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: w.dir, env: w.env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).not.toContain("release record");
    expect(remoteTagNames(w.origin)).toEqual([`@${w.s}/a@1.0.0`, `@${w.s}/b@2.0.0-rc.1`]);
    expect((await githubState(w.tb, `acme/${w.repo}`)).repos[`acme/${w.repo}`]!.releases).toHaveLength(2);
    expect(records(w.origin)).toHaveLength(1);
  });

  it("a record for other versions is not this commit's: a new version is released in full", async () => {
    const w = await workspace();
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: w.dir, env: w.env })).exitCode).toBe(0);
    // Deleting a tag on origin is what --verify exists for; a new commit with a bump has no record.
    execFileSync(
      "node",
      [
        "-e",
        `const f="packages/a/package.json";const j=require("./"+f);j.version="1.0.1";require("fs").writeFileSync(f,JSON.stringify(j,null,2))`,
      ],
      {
        cwd: w.dir,
      },
    );
    execFileSync("git", ["commit", "-qam", "bump"], { cwd: w.dir });
    execFileSync("git", ["push", "-q", "origin", "main"], { cwd: w.dir });
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: w.dir, env: w.env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`published @${w.s}/a@1.0.1`);
    expect(records(w.origin)).toHaveLength(2);
  });
});

/**
 * Fan-out (issue 13, item 1; SPEC §11): `flotilla matrix` lists what is left at the commit, one
 * runner per entry publishes its artifacts (`--shard`, started at once from separate copies of the
 * repository), and a final plain `publish` finishes. What a user sees afterwards equals a single
 * run's: npm versions and dist-tags, image tags (one digest per app), origin tags, GitHub releases.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { githubState } from "../../../tools/src/testbed/index.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { FLOTILLA_BIN, runFlotilla } from "./helpers/cli.ts";
import { tempDir } from "./helpers/fixtures.ts";
import { APPS, differences, duplicates, endState, originTags, preparedExamples, writes } from "./helpers/sweep.ts";
import { packument } from "./helpers/testbed.ts";

type Matrix = { include: { shard: string }[] };

/** `flotilla matrix` as a plan job runs it: stdout and the `matrix` output in GITHUB_OUTPUT agree. */
async function matrix(cwd: string, env: Record<string, string>): Promise<Matrix> {
  const out = path.join(tempDir(), "github-output");
  writeFileSync(out, "");
  const r = await runFlotilla(["matrix"], { cwd, env: { ...env, GITHUB_OUTPUT: out } });
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  const printed = JSON.parse(r.stdout) as Matrix;
  // @actions/core writes `name<<delimiter\nvalue\ndelimiter`.
  const m = /^matrix<<(\S+)\n([\s\S]*?)\n\1$/m.exec(readFileSync(out, "utf8"));
  expect(m, readFileSync(out, "utf8")).not.toBeNull();
  expect(JSON.parse(m![2]!)).toEqual(printed);
  return printed;
}

/**
 * A shard killed mid-way (SIGKILL to its process group) right after its first step of `kind`
 * ended, as a runner that dies or is cancelled; resolves with whether it was killed.
 */
function killedShard(shard: string, kind: string, cwd: string, env: Record<string, string>): Promise<boolean> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GITHUB_|FLOTILLA_|NODE_AUTH_TOKEN|RUNNER_|CI$)/.test(k)));
  const args = [FLOTILLA_BIN, "publish", "--skip-build", "--shard", shard, "--log-format", "json", "--concurrency", "1"];
  const child = spawn(process.execPath, args, { cwd, env: { ...base, ...env }, stdio: ["ignore", "ignore", "pipe"], detached: true });
  return new Promise((resolve) => {
    let killed = false;
    let buf = "";
    child.stderr!.on("data", (d: Buffer) => {
      buf += d.toString("utf8");
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (killed || !line.startsWith("{")) continue;
        const e = JSON.parse(line) as { event: string; kind?: string };
        if (e.event === "end" && e.kind === kind) {
          killed = true;
          process.kill(-child.pid!, "SIGKILL");
        }
      }
    });
    child.once("exit", () => resolve(killed));
  });
}

describe("matrix", () => {
  it("shards on separate runners at once (one killed mid-way and rerun), then a final run: the end state equals a single run's", async () => {
    // The reference: one plain run.
    const single = await preparedExamples();
    const one = await runFlotilla(["publish", "--skip-build"], { cwd: single.dir, env: single.env });
    expect(one.exitCode, one.stdout + one.stderr).toBe(0);
    const want = await endState(single);

    const p = await preparedExamples();
    const m = await matrix(p.dir, p.env);
    expect(m.include.map((e) => e.shard)).toEqual(["npm", ...APPS.map((a) => `image:@${p.scope}/${a}`).sort()]);

    // One runner per entry: a copy of the checkout each (own .git, node_modules, build output), all at once.
    const runners = m.include.map(({ shard }) => {
      const dir = path.join(tempDir(), "runner");
      execFileSync("cp", ["-a", p.dir, dir]);
      return { shard, dir };
    });
    // The npm runner dies after its first publish, while the image runners work; then it is rerun.
    const [killed, ...shards] = await Promise.all([
      killedShard("npm", "npm-publish", runners[0]!.dir, p.env),
      ...runners.slice(1).map(({ shard, dir }) => runFlotilla(["publish", "--skip-build", "--shard", shard], { cwd: dir, env: p.env })),
    ]);
    expect(killed).toBe(true);
    for (const r of shards) expect(r!.exitCode, r!.stdout + r!.stderr).toBe(0);
    const rerun = await runFlotilla(["publish", "--skip-build", "--shard", "npm"], { cwd: runners[0]!.dir, env: p.env });
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);

    // The shards left artifacts only: every npm version, each image's version tag; no floating
    // image tag, no git tag, no GitHub release.
    expect(originTags(p.origin)).toEqual({});
    expect((await githubState(p.tb, `acme/${p.repo}`)).repos[`acme/${p.repo}`]!.releases).toEqual([]);
    const reg = new OciRegistry({ host: p.tb.registry.host, username: p.tb.registry.username, password: p.tb.registry.password });
    for (const app of APPS) expect((await reg.tags(`${p.scope}/${app}`)).length, app).toBe(1);
    expect(Object.keys((await packument(p.tb, `@${p.scope}/core`))!.versions)).toHaveLength(1);
    // A shard run again finds its work done and does nothing.
    const again = await runFlotilla(["publish", "--skip-build", "--shard", "npm"], { cwd: runners[0]!.dir, env: p.env });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain("Nothing to do in shard npm");

    // What is left is pointers, tags and releases: no entry in the matrix.
    expect(await matrix(p.dir, p.env)).toEqual({ include: [] });
    const final = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
    expect(final.exitCode, final.stdout + final.stderr).toBe(0);

    expect(differences(await endState(p), want)).toEqual([]);
    // No artifact was written twice across the runners.
    expect(duplicates(await writes(p))).toEqual([]);
  });

  it("a malformed shard id is refused (exit 2, nothing published)", async () => {
    const p = await preparedExamples();
    const r = await runFlotilla(["publish", "--skip-build", "--shard", "images please"], { cwd: p.dir, env: p.env });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--shard: "images please" is not a shard id');
    expect(await packument(p.tb, `@${p.scope}/core`)).toBeNull();
  });
});

/**
 * SPEC §5a end to end, against the testbed's real Verdaccio, registry, Docker daemon and bare
 * git remotes (GitHub through its stand-in): a failing package gets no tag and no release, two
 * racing runs of one commit end in one state, and a sampled SIGKILL sweep — kill the whole
 * process group after step boundary k, rerun once — ends where an uninterrupted run ends.
 */
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, cpSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { githubState, registerGithubRepo } from "../../../tools/src/testbed/index.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { FLOTILLA_BIN, REPO_ROOT, runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, tempDir } from "./helpers/fixtures.ts";
import {
  envFor,
  exampleRepo,
  packument,
  releasableWorkspace,
  remoteTagNames,
  testbed,
  uniqueScope,
  verdaccioRequests,
} from "./helpers/testbed.ts";

const PUBLIC = ["tokens", "core", "ui"];
const APPS = ["web", "api"];

/** examples/ after `changeset version`, built (so runs use --skip-build), with its own GitHub repository. */
async function preparedExamples(tweak?: (dir: string) => void) {
  const tb = testbed();
  const scope = uniqueScope();
  const { dir, origin } = exampleRepo(scope);
  execFileSync(path.join(REPO_ROOT, "node_modules/.bin/changeset"), ["version"], { cwd: dir });
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir });
  tweak?.(dir);
  gitCommitAll(dir, "Version Packages");
  execFileSync("pnpm", ["-r", "--silent", "run", "build"], { cwd: dir, stdio: "ignore" });
  const repo = `repo-${scope}`;
  await registerGithubRepo(tb, "acme", repo, { remote: origin });
  const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
  return { tb, scope, dir, origin, repo, commit, env: envFor(tb, { GITHUB_REPOSITORY: `acme/${repo}` }) };
}
type Prepared = Awaited<ReturnType<typeof preparedExamples>>;

/** Tag → the commit it points at, on origin (annotated tags peeled). */
function originTags(origin: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of execFileSync("git", ["ls-remote", "--tags", origin], { encoding: "utf8" }).split("\n").filter(Boolean)) {
    const [sha, ref] = line.split("\t") as [string, string];
    const name = ref.replace("refs/tags/", "");
    if (name.endsWith("^{}")) out[name.slice(0, -3)] = sha;
    else out[name] ??= sha;
  }
  return out;
}

/** What a user sees after a release, with the scope replaced by "S" so runs in different scopes compare. */
async function endState(p: Prepared) {
  const norm = (s: string) => s.replaceAll(p.scope, "S");
  const npm: Record<string, unknown> = {};
  for (const n of PUBLIC) {
    const doc = await packument(p.tb, `@${p.scope}/${n}`);
    npm[n] = doc ? { versions: Object.keys(doc.versions).sort(), distTags: doc["dist-tags"] } : null;
  }
  const reg = new OciRegistry({ host: p.tb.registry.host, username: p.tb.registry.username, password: p.tb.registry.password });
  const images: Record<string, unknown> = {};
  for (const app of APPS) {
    const repo = `${p.scope}/${app}`;
    const tags = (await reg.tags(repo)).sort();
    const digests = await Promise.all(tags.map((t) => reg.digest(repo, t)));
    // Runs in different scopes build different images: what must hold is that every tag of an app names one image.
    images[app] = { tags, oneDigest: new Set(digests).size <= 1 };
  }
  const tags = Object.fromEntries(
    Object.entries(originTags(p.origin)).map(([t, sha]) => [norm(t), sha === p.commit ? "release commit" : sha]),
  );
  const gh = (await githubState(p.tb, `acme/${p.repo}`)).repos[`acme/${p.repo}`]!;
  const releases = gh.releases
    .map((r) => ({
      tag: norm(r.tag_name),
      name: norm(r.name ?? ""),
      prerelease: r.prerelease,
      latest: r.make_latest,
      target: r.target_commitish === p.commit,
    }))
    .sort((a, b) => a.tag.localeCompare(b.tag));
  return { npm, images, tags, releases, invented: gh.inventedTags.length };
}

describe("release invariants end to end", () => {
  it("github.latest naming no package of the workspace → exit 2 naming the field, nothing done", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/a`, version: "1.0.0" }], {
      "flotilla.config.json": { github: { latest: "@nope/x" } },
    });
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('flotilla.config.json: github.latest: "@nope/x" is not a releasable package of this workspace');
    expect(r.stderr).toContain(`fix: name one of: @${s}/a; or false for no Latest`);
    expect(remoteTagNames(origin)).toEqual([]);
    expect(await packument(tb, `@${s}/a`)).toBeNull();
  });

  it("tags a killed run left local are pushed once their package's artifacts exist, then released at the release commit", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([
      { name: `@${s}/a`, version: "1.0.0" },
      { name: `@${s}/b`, version: "2.0.0" },
    ]);
    const repo = `repo-${s}`;
    await registerGithubRepo(tb, "acme", repo, { remote: origin });
    const env = envFor(tb, { GITHUB_REPOSITORY: `acme/${repo}` });
    // What a run killed between its tags and its pushes leaves: npm versions out, tags only local.
    expect((await runFlotilla(["publish", "--skip-build", "--only", "npm"], { cwd: dir, env })).exitCode).toBe(0);
    for (const t of [`@${s}/a@1.0.0`, `@${s}/b@2.0.0`]) execFileSync("git", ["tag", "-a", t, "-m", t], { cwd: dir });
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(remoteTagNames(origin)).toEqual([`@${s}/a@1.0.0`, `@${s}/b@2.0.0`]);
    const gh = (await githubState(tb, `acme/${repo}`)).repos[`acme/${repo}`]!;
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
    expect(gh.releases.map((x) => [x.tag_name, x.target_commitish]).sort()).toEqual([
      [`@${s}/a@1.0.0`, commit],
      [`@${s}/b@2.0.0`, commit],
    ]);
    expect(gh.inventedTags).toEqual([]);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).stdout).toContain("Nothing to release");
  });

  it("a Dockerfile whose RUN fails: exit 1, the failed app gets no tag and no release; every release names the release commit; one Latest, created last", async () => {
    const p = await preparedExamples((dir) => appendFileSync(path.join(dir, "apps/web/Dockerfile"), "RUN exit 3\n"));
    const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: p.dir, env: p.env });
    expect(r.exitCode, r.stderr).toBe(1);
    const rel = Object.fromEntries(
      (JSON.parse(r.stdout).releases as { name: string; status: string; error?: string }[]).map((x) => [x.name.split("/")[1], x]),
    );
    expect(rel.web).toMatchObject({ status: "failed" });
    expect(rel.web!.error).toMatch(/docker build failed/);
    const tags = originTags(p.origin);
    expect(Object.keys(tags).some((t) => t.includes("/web@"))).toBe(false);
    expect(Object.keys(tags).length).toBe(4);
    expect(Object.values(tags).every((sha) => sha === p.commit)).toBe(true);
    const st = await githubState(p.tb, `acme/${p.repo}`);
    const gh = st.repos[`acme/${p.repo}`]!;
    expect(gh.releases.map((x) => x.tag_name).some((t) => t.includes("/web@"))).toBe(false);
    expect(gh.releases.length).toBe(4);
    expect(gh.releases.every((x) => x.target_commitish === p.commit)).toBe(true);
    expect(gh.inventedTags).toEqual([]);
    // Latest by rule: no package is named like the repository, the root is not a package → first by name (api).
    const latest = gh.releases.filter((x) => x.make_latest === "true");
    expect(latest.map((x) => x.tag_name)).toEqual([`@${p.scope}/api@2.0.5`]);
    const posts = st.requests.filter((q) => q.method === "POST" && q.path.endsWith("/releases"));
    expect(posts.length).toBe(4);
    expect(gh.releases.at(-1)!.tag_name).toBe(`@${p.scope}/api@2.0.5`);
  });

  it("two runs of one commit at once (two clones, two CI jobs): one consistent state, every version published once, the image digests the reports name", async () => {
    const p = await preparedExamples();
    const second = path.join(tempDir(), "clone");
    cpSync(p.dir, second, { recursive: true, verbatimSymlinks: true });
    const [a, b] = await Promise.all([
      runFlotilla(["publish", "--skip-build", "--json"], { cwd: p.dir, env: p.env }),
      runFlotilla(["publish", "--skip-build", "--json"], { cwd: second, env: p.env }),
    ]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    // One of them waited for the other's lock.
    expect(a.stderr + a.stdout + b.stderr + b.stdout).toMatch(/another flotilla run is releasing commit/);
    const created = verdaccioRequests(p.tb, p.scope).filter(
      (q) => q.method === "PUT" && q.status === 201 && /^\/@[^/]+\/[^/]+$/.test(q.url),
    );
    expect(created.map((q) => q.url).sort()).toEqual(PUBLIC.map((n) => `/@${p.scope}/${n}`).sort());
    const reg = new OciRegistry({ host: p.tb.registry.host, username: p.tb.registry.username, password: p.tb.registry.password });
    for (const out of [a, b]) {
      for (const x of JSON.parse(out.stdout).releases as { name: string; version: string; image: { digest: string | null } | null }[]) {
        if (!x.image) continue;
        const app = x.name.split("/")[1]!;
        expect(x.image.digest).toBe(await reg.digest(`${p.scope}/${app}`, x.version));
      }
    }
    const gh = (await githubState(p.tb, `acme/${p.repo}`)).repos[`acme/${p.repo}`]!;
    expect(gh.releases).toHaveLength(5);
    expect(gh.releases.filter((x) => x.make_latest === "true")).toHaveLength(1);
    expect(Object.keys(originTags(p.origin))).toHaveLength(5);
    // The lock is gone.
    expect(execFileSync("git", ["ls-remote", p.origin, "refs/flotilla/*"], { encoding: "utf8" }).trim()).toBe("");
  });
});

describe("a sampled SIGKILL sweep: kill the process group after step boundary k, rerun once, compare with an uninterrupted run", () => {
  let want: Awaited<ReturnType<typeof endState>>;
  beforeAll(async () => {
    const reference = await preparedExamples();
    const ok = await runFlotilla(["publish", "--skip-build"], { cwd: reference.dir, env: reference.env });
    expect(ok.exitCode, ok.stdout + ok.stderr).toBe(0);
    want = await endState(reference);
    expect(want.releases.filter((x) => x.latest === "true")).toHaveLength(1);
  }, 300_000);

  // [the log line that marks the boundary, which occurrence]: npm, image, tag+push, release boundaries.
  it.each([
    [/ published @/, 1],
    [/built and pushed/, 1],
    [/tagged .* and pushed it/, 1],
    [/tagged .* and pushed it/, 3],
    [/GitHub release /, 1],
    [/GitHub release /, 4],
  ] as [RegExp, number][])(
    "after %s #%i",
    async (line, nth) => {
      const p = await preparedExamples();
      expect(await runUntil(p, line, nth), `${line} #${nth} never appeared`).toBe(true);
      const again = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
      expect(again.exitCode, again.stdout + again.stderr).toBe(0);
      expect(await endState(p)).toEqual(want);
      const rerun = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
      expect(rerun.stdout).toContain("Nothing to release");
    },
    300_000,
  );
});

/** Runs publish in its own process group and SIGKILLs the whole group once `line` was printed `nth` times. */
function runUntil(p: Prepared, line: RegExp, nth: number): Promise<boolean> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GITHUB_|FLOTILLA_|NODE_AUTH_TOKEN|RUNNER_|CI$)/.test(k)));
  const child = spawn(process.execPath, [FLOTILLA_BIN, "publish", "--skip-build", "--concurrency", "2"], {
    cwd: p.dir,
    env: { ...base, ...p.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  return new Promise((resolve) => {
    let seen = 0;
    let buf = "";
    let killed = false;
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        if (!killed && line.test(l) && ++seen === nth) {
          killed = true;
          process.kill(-child.pid!, "SIGKILL");
        }
      }
    });
    child.stderr!.resume();
    child.once("exit", () => resolve(killed));
  });
}

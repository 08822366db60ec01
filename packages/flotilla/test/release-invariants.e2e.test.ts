/**
 * SPEC §5a end to end, against the testbed's real Verdaccio, registry, Docker daemon and bare
 * git remotes (GitHub through its stand-in): a failing package gets no tag and no release, two
 * racing runs of one commit end in one state, and a sampled SIGKILL sweep — kill the whole
 * process group right after a step event, rerun — ends where an uninterrupted run ends.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { githubState, registerGithubRepo } from "../../../tools/src/testbed/index.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { tempDir } from "./helpers/fixtures.ts";
import {
  duplicates,
  type EndState,
  endState,
  nth,
  originTags,
  type Prepared,
  PUBLIC,
  preparedExamples,
  rerunUntilDone,
  runKilledAfter,
  type SweepEvent,
  writes,
} from "./helpers/sweep.ts";
import { envFor, packument, releasableWorkspace, remoteTagNames, testbed, uniqueScope, verdaccioRequests } from "./helpers/testbed.ts";

describe("--log-format json", () => {
  it("--log-format json: a usage error is still JSON lines on stderr, and done names exit 2", async () => {
    const r = await runFlotilla(["publish", "--log-format", "json", "--concurrency", "0"], { cwd: tempDir() });
    expect(r.exitCode).toBe(2);
    const lines = r.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; text?: string; exitCode?: number });
    expect(lines.some((l) => l.event === "message" && l.text?.includes("--concurrency takes a whole number"))).toBe(true);
    expect(lines.at(-1)).toMatchObject({ event: "done", exitCode: 2 });
  });
});

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
    expect(execFileSync("git", ["ls-remote", p.origin, "refs/flotilla/lock/*"], { encoding: "utf8" }).trim()).toBe("");
  });
});

/**
 * SIGKILL right after a `--log-format json` event, rerun until exit 0, compare with an
 * uninterrupted run (the full sweep over every event is tools/sweep/kill-sweep.ts). A handful of
 * points — an npm publish, mid image build, a tag push, a release — and a run started while
 * another is mid-way, all in parallel (each in its own scope and repository) to keep CI short.
 */
describe("a sampled SIGKILL sweep at step boundaries, and a run started while another is mid-way", () => {
  const end = (kind: string) => (e: SweepEvent) => e.event === "end" && e.kind === kind;
  const start = (kind: string) => (e: SweepEvent) => e.event === "start" && e.kind === kind;
  const POINTS: [string, (e: SweepEvent) => boolean][] = [
    ["the first npm publish ended", nth(end("npm-publish"), 1)],
    ["an image build started", nth(start("image-build-push"), 1)],
    ["the second tag was pushed", nth(end("git-tag"), 2)],
    ["the first GitHub release was created", nth(end("github-release"), 1)],
  ];
  let reference: Promise<EndState>;
  let referenceEvents: Promise<{ events: SweepEvent[]; notJson: string[]; exitCode: number | null }>;
  const killed = new Map<string, Promise<{ p: Prepared; killed: boolean; reruns: Awaited<ReturnType<typeof rerunUntilDone>> }>>();
  let race: Promise<{ p: Prepared; first: { exitCode: number | null }; second: Awaited<ReturnType<typeof runFlotilla>> }>;

  beforeAll(() => {
    const uninterrupted = (async () => {
      const p = await preparedExamples();
      const run = await runKilledAfter(p, () => false);
      return { p, run, state: await endState(p) };
    })();
    reference = uninterrupted.then((u) => {
      expect(u.run.exitCode).toBe(0);
      return u.state;
    });
    referenceEvents = uninterrupted.then((u) => u.run);
    for (const [name, stop] of POINTS) {
      killed.set(
        name,
        (async () => {
          const p = await preparedExamples();
          const k = await runKilledAfter(p, stop);
          return { p, killed: k.killed, reruns: await rerunUntilDone(p) };
        })(),
      );
    }
    race = (async () => {
      // The first run holds the lock a while longer (a slow image build), so the second, started
      // once the first has published to npm, meets it however loaded the machine is.
      const p = await preparedExamples((dir) => appendFileSync(path.join(dir, "apps/web/Dockerfile"), "RUN sleep 40\n"));
      const second = path.join(tempDir(), "clone");
      cpSync(p.dir, second, { recursive: true, verbatimSymlinks: true });
      let started: Promise<Awaited<ReturnType<typeof runFlotilla>>> | undefined;
      const first = await runKilledAfter(p, () => false, {
        onEvent: (e) => {
          if (!started && e.event === "end" && e.kind === "npm-publish")
            started = runFlotilla(["publish", "--skip-build"], { cwd: second, env: p.env });
        },
      });
      expect(started, "the first run never published to npm").toBeDefined();
      return { p, first, second: await started! };
    })();
    // Settled in the tests; a rejection here is reported there.
    for (const x of [reference, referenceEvents, race, ...killed.values()]) x.catch(() => {});
  });

  it("--log-format json: stderr is one JSON event per line; lock, plan, pack, then each step's start and end (kind, package, status, durationMs), then done", async () => {
    const { events, notJson, exitCode } = await referenceEvents;
    expect(exitCode).toBe(0);
    expect(notJson).toEqual([]);
    expect(events.slice(0, 3).map((e) => e.event)).toEqual(["lock", "plan", "pack"]);
    expect(events.at(-1)).toMatchObject({ event: "done", exitCode: 0 });
    const steps = events.filter((e) => e.event === "start" || e.event === "end");
    // examples/: 3 npm versions, 2 images (+ their floating tags), 5 git tags, 5 releases.
    expect(steps.length).toBe(2 * (3 + 2 + 2 + 5 + 5));
    for (const s of steps.filter((e) => e.event === "start")) {
      const ends = steps.filter((e) => e.event === "end" && e.step === s.step);
      expect(ends, s.step).toHaveLength(1);
      expect(steps.indexOf(ends[0]!)).toBeGreaterThan(steps.indexOf(s));
      expect(ends[0]).toMatchObject({ kind: s.kind, package: s.package, status: "done", durationMs: expect.any(Number) });
      expect(s.package).toMatch(/^@t[a-z0-9]+\/(tokens|core|ui|web|api)$/);
    }
  }, 300_000);

  it.each(POINTS.map(([name]) => name))(
    "killed right after %s: one rerun ends where an uninterrupted run ends, nothing written twice, nothing left to do",
    async (name) => {
      const { p, killed: wasKilled, reruns } = await killed.get(name)!;
      expect(wasKilled, `the run ended before "${name}"`).toBe(true);
      expect(reruns.ok, reruns.output).toBe(true);
      expect(reruns.runs).toBe(1);
      expect(await endState(p)).toEqual(await reference);
      expect(duplicates(await writes(p))).toEqual([]);
      const rerun = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
      expect(rerun.stdout).toContain("Nothing to release");
    },
    300_000,
  );

  it("a second run started once the first has published to npm waits for it, then finds nothing left; one end state", async () => {
    const { p, first, second } = await race;
    expect(first.exitCode).toBe(0);
    expect(second.exitCode, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toMatch(/another flotilla run is releasing commit [0-9a-f]{7} \(pid \d+ on [^)]+\): waiting for it/);
    expect(second.stdout).toMatch(/Nothing to release/);
    expect(await endState(p)).toEqual(await reference);
    expect(duplicates(await writes(p))).toEqual([]);
    const rerun = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
    expect(rerun.stdout).toContain("Nothing to release");
  }, 300_000);
});

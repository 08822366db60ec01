/**
 * Faults on the wire (issue 11 item 3): the fault-injecting proxy stands in front of the OCI
 * registry (the Docker daemon pushes through it too: the image registry name is the proxy's
 * 127.0.0.1 port), Verdaccio and the GitHub stand-in. Transient faults → one run, exit 0, the
 * end state complete (read behind the proxies). A permanent fault → exit 1 naming the service and
 * the request; a rerun without it finishes. Few runs: each costs a full release.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, type TestContext } from "vitest";
import { type FaultPlan, type FaultProxy, startFaultProxy } from "../../../tools/src/testbed/fault-proxy.ts";
import { githubState, registerGithubRepo } from "../../../tools/src/testbed/index.ts";
import { buildImage, dockerClient, pushImage } from "../src/adapters/docker.ts";
import { NpmRegistry } from "../src/adapters/npm-registry.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { seedBaseLayers } from "./helpers/sweep.ts";
import { envFor, packument, releasableWorkspace, remoteTagNames, testbed, uniqueScope, versionedExamples } from "./helpers/testbed.ts";

type Tb = ReturnType<typeof testbed>;

/** A proxy closed when its own test ends (the tests run side by side: no shared list). */
async function proxyFor(ctx: TestContext, target: string, plan: FaultPlan): Promise<FaultProxy> {
  const proxy = await startFaultProxy(target, plan);
  ctx.onTestFinished(() => proxy.close());
  return proxy;
}

/** One proxy per service, and flotilla's environment pointing at them. */
async function behindProxies(ctx: TestContext, tb: Tb, plans: { registry: FaultPlan; npm: FaultPlan; github: FaultPlan }, repo: string) {
  const registry = await proxyFor(ctx, tb.registry.url, plans.registry);
  const npm = await proxyFor(ctx, tb.npm.url, plans.npm);
  const github = await proxyFor(ctx, tb.github.url, plans.github);
  const env = envFor(tb, {
    FLOTILLA_IMAGE_REGISTRY: registry.host,
    FLOTILLA_NPM_REGISTRY: `${npm.url}/`,
    GITHUB_API_URL: github.url,
    GITHUB_REPOSITORY: repo,
  });
  return { registry, npm, github, env };
}

// Side by side: most of each test is waiting (timeouts, backoffs, a service down for seconds),
// and every test has its own proxies, scope and repositories.
describe.concurrent("faults on the wire", () => {
  it("10% 503s, resets and lost answers on the OCI registry, npm registry and GitHub: one run, exit 0, everything released", async (ctx) => {
    const tb = testbed();
    const scope = uniqueScope();
    const { dir, origin } = versionedExamples(scope);
    const repo = `${scope}/examples`;
    await registerGithubRepo(tb, scope, "examples", { remote: origin });
    await seedBaseLayers(tb, [`${scope}/web`, `${scope}/api`]);

    const transient = (seed: number, lost: number): FaultPlan => ({ seed, error5xx: 0.1, reset: 0.05, lostResponse: lost });
    const { registry, npm, github, env } = await behindProxies(
      ctx,
      tb,
      // Lost answers where the adapters read the outcome before retrying (manifest writes, releases).
      // Registry: every request but blob data (PATCH/PUT of an upload). A fault there makes the
      // daemon re-send a whole layer, and after a failed cross-repo mount it uploads the ~100 MB
      // base (see README, Not done yet).
      {
        // Seeds whose first draw is a 503: each service's first request fails, whatever the order.
        registry: { ...transient(7, 0.02), only: "^(GET|HEAD|POST|DELETE) |^PUT .*/manifests/" },
        npm: transient(19, 0),
        github: transient(23, 0.1),
      },
      repo,
    );
    const r = await runFlotilla(["publish", "--json"], { cwd: dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    // The faults did happen, on every service (else this test proves nothing).
    for (const p of [registry, npm, github]) expect(p.counts().error5xx ?? 0, JSON.stringify(p.counts())).toBeGreaterThan(0);
    const broken = [registry, npm, github].reduce((n, p) => n + (p.counts().reset ?? 0) + (p.counts().lostResponse ?? 0), 0);
    expect(broken).toBeGreaterThan(0);

    // End state, read behind the proxies.
    const versions = { tokens: "1.1.0", core: "1.2.1", ui: "0.4.1" } as const;
    for (const [n, v] of Object.entries(versions)) {
      const doc = await packument(tb, `@${scope}/${n}`);
      expect(Object.keys(doc!.versions), n).toEqual([v]);
      expect(doc!["dist-tags"].latest, n).toBe(v);
    }
    const tags = [`@${scope}/api@2.0.5`, `@${scope}/core@1.2.1`, `@${scope}/tokens@1.1.0`, `@${scope}/ui@0.4.1`, `@${scope}/web@1.4.0`];
    expect(remoteTagNames(origin)).toEqual(tags.sort());
    const reg = new OciRegistry({ host: tb.registry.host, username: tb.registry.username, password: tb.registry.password });
    for (const [app, v, minor, major] of [
      ["web", "1.4.0", "1.4", "1"],
      ["api", "2.0.5", "2.0", "2"],
    ] as const) {
      const imageRepo = `${scope}/${app}`;
      expect((await reg.tags(imageRepo)).sort()).toEqual([major, minor, v, "latest"].sort());
      const digests = await Promise.all([v, minor, major, "latest"].map((t) => reg.digest(imageRepo, t)));
      expect(new Set(digests).size, imageRepo).toBe(1);
    }
    const gh = (await githubState(tb, repo)).repos[repo]!;
    expect(gh.releases.map((x) => x.tag_name).sort()).toEqual(tags.sort());
    expect(gh.inventedTags).toEqual([]);

    // Nothing left to do.
    const again = await runFlotilla(["publish"], { cwd: dir, env: envFor(tb, { GITHUB_REPOSITORY: repo }) });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain("Nothing to release");
  }, 480_000); // the daemon's own layer retries wait 5–20 s each: ~2–4 min on 2 cores

  it("GitHub does the release but its answer is lost: the retry meets 422 already_exists, re-reads, one release", async (ctx) => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    const repo = `${s}/lost`;
    await registerGithubRepo(tb, s, "lost", { remote: origin });
    const { github, env } = await behindProxies(
      ctx,
      tb,
      { registry: {}, npm: {}, github: { lostResponse: 1, only: "^POST .*/releases$", limit: 1 } },
      repo,
    );
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const posts = github.requests.filter((q) => q.method === "POST");
    expect(posts.map((q) => [q.fault, q.status])).toEqual([
      ["lostResponse", 201],
      [undefined, 422],
    ]);
    const gh = (await githubState(tb, repo)).repos[repo]!;
    expect(gh.releases.map((x) => x.tag_name)).toEqual([`@${s}/lib@1.0.0`]);
  });

  it("image push: a registry answering 503 on /v2/ (reported by the daemon as unauthorized) is retried; refused credentials are not", async (ctx) => {
    const tb = testbed();
    const s = uniqueScope();
    await seedBaseLayers(tb, [`${s}/x`]);
    const proxy = await proxyFor(ctx, tb.registry.url, { error5xx: 1, only: "^GET /v2/$", limit: 2 });
    const docker = await dockerClient({ DOCKER_HOST: tb.docker.host });
    const image = `${proxy.host}/${s}/x`;
    await docker.getImage(tb.docker.baseImage).tag({ repo: image, tag: "1.0.0" });
    const auth = { username: tb.registry.username, password: tb.registry.password, serveraddress: proxy.host };
    const retries: string[] = [];
    const digest = await pushImage(docker, image, "1.0.0", auth, { baseMs: 100, onRetry: (m) => retries.push(m) });
    expect(proxy.counts().error5xx).toBe(2);
    expect(retries.length).toBeGreaterThan(0);
    expect(await new OciRegistry({ host: tb.registry.host, ...auth }).digest(`${s}/x`, "1.0.0")).toBe(digest);

    const refused: string[] = [];
    const bad = pushImage(docker, image, "1.0.0", { ...auth, password: "wrong" }, { baseMs: 100, onRetry: (m) => refused.push(m) });
    await expect(bad).rejects.toThrow(new RegExp(`docker push ${image}:1.0.0 to ${proxy.host} failed: .*unauthorized`));
    expect(refused).toEqual([]);
  });

  // (The npm registry is not taken down here: its preflight whoami gives up after ~2 s of
  // retries, and a registry still down then is refused with exit 2, nothing changed.)
  it("GitHub down for its first 1.5 s: the run waits it out, exit 0", async (ctx) => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    const repo = `${s}/down`;
    await registerGithubRepo(tb, s, "down", { remote: origin });
    const { github, env } = await behindProxies(ctx, tb, { registry: {}, npm: {}, github: { downMs: 1500 } }, repo);
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(github.counts().down).toBeGreaterThan(0);
    expect(Object.keys((await packument(tb, `@${s}/lib`))!.versions)).toEqual(["1.0.0"]);
    expect((await githubState(tb, repo)).repos[repo]!.releases.map((x) => x.tag_name)).toEqual([`@${s}/lib@1.0.0`]);
  });

  it("a permanent fault (GitHub answers 500 to every release) → exit 1 naming the service and the request; a rerun without it finishes", async (ctx) => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    const repo = `${s}/perm`;
    await registerGithubRepo(tb, s, "perm", { remote: origin });
    const { env } = await behindProxies(
      ctx,
      tb,
      { registry: {}, npm: {}, github: { permanent: [{ method: "POST", path: `/repos/${repo}/releases$`, status: 500 }] } },
      repo,
    );
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stdout + r.stderr).toContain(`GitHub API: POST /repos/${repo}/releases: HTTP 500`);
    expect((await githubState(tb, repo)).repos[repo]!.releases).toEqual([]);
    expect(Object.keys((await packument(tb, `@${s}/lib`))!.versions)).toEqual(["1.0.0"]);

    const rerun = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env: envFor(tb, { GITHUB_REPOSITORY: repo }) });
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);
    const gh = (await githubState(tb, repo)).repos[repo]!;
    expect(gh.releases.map((x) => x.tag_name)).toEqual([`@${s}/lib@1.0.0`]);
    expect(gh.inventedTags).toEqual([]);
    expect(remoteTagNames(origin)).toEqual([`@${s}/lib@1.0.0`]);
  });

  // The daemon's registry client has no response timeout (found by tools/faults/fault-table.ts):
  // without flotilla's idle timeout this push waits for the stalled upload until the proxy closes.
  // The daemon does not cancel a layer upload when its client goes, so a retry joins the stuck
  // upload: what the timeout buys is a bounded failure naming the push instead of a hang.
  it("image push: a registry that stops answering mid-upload ends the push after the idle timeout and its retries, not never", async (ctx) => {
    const tb = testbed();
    const s = uniqueScope();
    await seedBaseLayers(tb, [`${s}/stall`]);
    const proxy = await proxyFor(ctx, tb.registry.url, { stall: 1, stallMs: 600_000, only: "^(PATCH|PUT) .*/blobs/uploads/", limit: 1 });
    const docker = await dockerClient({ DOCKER_HOST: tb.docker.host });
    const image = `${proxy.host}/${s}/stall`;
    // A layer of its own, so the push uploads a blob (the base's layers are mounted already).
    const context = mkdtempSync(path.join(os.tmpdir(), "stall-"));
    writeFileSync(path.join(context, "Dockerfile"), `FROM ${tb.docker.baseImage}\nCOPY x /x\n`);
    writeFileSync(path.join(context, "x"), s);
    await buildImage(docker, { context, dockerfile: "Dockerfile", tag: `${image}:1.0.0`, buildArgs: {}, labels: {} });
    const auth = { username: tb.registry.username, password: tb.registry.password, serveraddress: proxy.host };
    const retries: string[] = [];
    const started = Date.now();
    const push = pushImage(docker, image, "1.0.0", auth, { baseMs: 100, retries: 2, idleMs: 5_000, onRetry: (m) => retries.push(m) });
    await expect(push).rejects.toThrow(
      new RegExp(`docker push ${image}:1.0.0 to ${proxy.host} failed \\(3 attempts\\): no progress for 5 s: timed out`),
    );
    expect(proxy.counts().stall).toBe(1);
    expect(retries).toHaveLength(2);
    expect(Date.now() - started).toBeLessThan(90_000);
  }, 150_000);

  // Found by tools/faults/fault-table.ts (oci:down): preflight's registry check gave up after
  // ~2–4 s of tries, so a registry down for its first 5 s refused the release with exit 2.
  it("preflight reads wait out a registry down for its first 5 s (OCI check, npm whoami)", async (ctx) => {
    const tb = testbed();
    const oci = await proxyFor(ctx, tb.registry.url, { downMs: 5000 });
    const npm = await proxyFor(ctx, tb.npm.url, { downMs: 5000 });
    const reg = new OciRegistry({ host: oci.host, username: tb.registry.username, password: tb.registry.password });
    const [checked, whoami] = await Promise.all([reg.check(), new NpmRegistry({ url: npm.url, token: tb.npm.token }).whoami()]);
    expect(checked).toEqual({ ok: true });
    expect(whoami.ok, JSON.stringify(whoami)).toBe(true);
    expect(oci.counts().down).toBeGreaterThan(0);
    expect(npm.counts().down).toBeGreaterThan(0);
  }, 60_000);
});

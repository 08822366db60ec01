/**
 * Images end to end: the real dockerd builds, the real registry (CNCF distribution) stores; tags
 * and digests are checked through the registry API, as a user's `docker pull` would see them.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll } from "./helpers/fixtures.ts";
import { envFor, packument, releasableWorkspace, remoteTagNames, setVersion, testbed, uniqueScope } from "./helpers/testbed.ts";

const RUNNABLE =
  'FROM node:24-slim\nARG VERSION\nENV APP_VERSION=$VERSION\nCOPY package.json /app/\nCMD ["sh", "-c", "echo app $APP_VERSION"]\n';

function registry(tb: ReturnType<typeof testbed>): OciRegistry {
  return new OciRegistry({ host: tb.registry.host, username: tb.registry.username, password: tb.registry.password });
}

async function tagDigests(tb: ReturnType<typeof testbed>, repo: string): Promise<Record<string, string>> {
  const reg = registry(tb);
  const out: Record<string, string> = {};
  for (const t of await reg.tags(repo)) out[t] = (await reg.digest(repo, t))!;
  return out;
}

/** Manifest PUTs the registry logged for a repository (its access log). */
function manifestPuts(tb: ReturnType<typeof testbed>, repo: string): number {
  return readFileSync(tb.registry.logFile, "utf8")
    .split("\n")
    .filter((l) => l.includes(`"PUT /v2/${repo}/manifests/`)).length;
}

function appWorkspace(s: string, version: string, extra: Record<string, string | object> = {}) {
  const app = `app-${s}`;
  const ws = releasableWorkspace(
    [
      { name: `@${s}/lib`, version: "1.0.0" },
      { name: `@${s}/${app}`, version, private: true, dir: `apps/${app}`, dependencies: { [`@${s}/lib`]: "workspace:^" } },
    ],
    {
      [`apps/${app}/Dockerfile`]: RUNNABLE,
      [`apps/${app}/.dockerignore`]: "secret.txt\n",
      [`apps/${app}/secret.txt`]: "must not be in the image\n",
      ...extra,
    },
  );
  return { ...ws, app, repo: `acme/${app}` };
}

describe("images", () => {
  it("pushes V, MAJOR.MINOR, MAJOR and latest at one digest, with OCI labels; the image runs; a rerun pushes nothing", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, repo, app } = appWorkspace(s, "1.4.2");
    const env = envFor(tb);
    const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const tags = await tagDigests(tb, repo);
    expect(Object.keys(tags).sort()).toEqual(["1", "1.4", "1.4.2", "latest"]);
    expect(new Set(Object.values(tags)).size).toBe(1);
    const result = JSON.parse(r.stdout).releases.find((x: { name: string }) => x.name === `@${s}/${app}`);
    expect(result.image).toEqual({ name: `${tb.registry.host}/${repo}`, tags: ["1.4.2", "1.4", "1", "latest"], digest: tags["1.4.2"] });

    const labels = await registry(tb).labels(repo, "latest");
    expect(labels).toMatchObject({
      "org.opencontainers.image.version": "1.4.2",
      "org.opencontainers.image.title": `@${s}/${app}`,
      "org.opencontainers.image.source": "https://github.com/acme/acme-monorepo",
      "org.opencontainers.image.revision": execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim(),
    });
    const ran = await execa("docker", ["run", "--rm", `${tb.registry.host}/${repo}:1.4.2`], { env: { DOCKER_HOST: tb.docker.host } });
    expect(ran.stdout.trim()).toBe("app 1.4.2");
    const ls = await execa("docker", ["run", "--rm", `${tb.registry.host}/${repo}:1.4.2`, "ls", "/app"], {
      env: { DOCKER_HOST: tb.docker.host },
    });
    expect(ls.stdout.trim()).toBe("package.json");

    const puts = manifestPuts(tb, repo);
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("Nothing to release");
    expect(manifestPuts(tb, repo)).toBe(puts);
  });

  it("a maintenance release on an older major leaves latest where it was and moves that line's tags; a prerelease gets only V and its channel", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, repo, app } = appWorkspace(s, "1.2.0");
    const env = envFor(tb);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    setVersion(dir, `apps/${app}`, "2.0.0");
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    setVersion(dir, `apps/${app}`, "1.2.1");
    const plan = await runFlotilla(["publish", "--skip-build", "--dry-run"], { cwd: dir, env });
    expect(plan.stdout).toContain(`point ${tb.registry.host}/${repo}:1.2, ${tb.registry.host}/${repo}:1 at 1.2.1 (moves 1.2, 1)`);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    let t = await tagDigests(tb, repo);
    expect(t.latest).toBe(t["2.0.0"]);
    expect(t["2"]).toBe(t["2.0.0"]);
    expect(t["1"]).toBe(t["1.2.1"]);
    expect(t["1.2"]).toBe(t["1.2.1"]);
    expect(t["1.2.1"]).not.toBe(t["1.2.0"]);

    setVersion(dir, `apps/${app}`, "3.0.0-beta.0");
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    const before = t;
    t = await tagDigests(tb, repo);
    expect(Object.keys(t).sort()).toEqual(["1", "1.2", "1.2.0", "1.2.1", "2", "2.0", "2.0.0", "3.0.0-beta.0", "beta", "latest"]);
    expect(t.beta).toBe(t["3.0.0-beta.0"]);
    expect(t.latest).toBe(before.latest);
  });

  it("when a package's publish fails, no floating tag moves; the rerun repairs the tags without rebuilding", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, repo, app, origin } = appWorkspace(s, "1.0.0");
    const env = envFor(tb);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    const first = await tagDigests(tb, repo);

    // Next release: the app moves to 1.1.0 while lib's publish is refused by the registry.
    writeFileSync(path.join(dir, "packages/lib/blob.txt"), randomBytes(9 * 1024 * 1024).toString("base64"));
    setVersion(dir, "packages/lib", "1.0.1");
    setVersion(dir, `apps/${app}`, "1.1.0");
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode).toBe(1);
    let t = await tagDigests(tb, repo);
    expect(t["1.1.0"]).toBeDefined(); // the version tag went out first
    for (const f of ["1", "latest"]) expect(t[f]).toBe(first["1.0.0"]); // floating tags did not move
    expect(t["1.1"]).toBeUndefined();
    // The app's own artifact (its version tag) exists, so its git tag went out (SPEC §5a.1); the
    // floating tags are not its artifacts: they wait for the whole run.
    expect(remoteTagNames(origin)).toContain(`@${s}/${app}@1.1.0`);
    expect(remoteTagNames(origin)).not.toContain(`@${s}/lib@1.0.1`);

    // The rerun must not build: the local image is gone, and stays gone.
    await execa("docker", ["rmi", "-f", `${tb.registry.host}/${repo}:1.1.0`], { env: { DOCKER_HOST: tb.docker.host } });
    rmSync(path.join(dir, "packages/lib/blob.txt"));
    gitCommitAll(dir, "fix");
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toContain("built and pushed");
    const inspect = await execa("docker", ["image", "inspect", `${tb.registry.host}/${repo}:1.1.0`], {
      env: { DOCKER_HOST: tb.docker.host },
      reject: false,
    });
    expect(inspect.exitCode).not.toBe(0);
    t = await tagDigests(tb, repo);
    for (const f of ["1.1", "1", "latest"]) expect(t[f]).toBe(t["1.1.0"]);
    expect(Object.keys((await packument(tb, `@${s}/lib`))!.versions).sort()).toEqual(["1.0.0", "1.0.1"]);
    expect(remoteTagNames(origin)).toContain(`@${s}/${app}@1.1.0`);
  });

  it("the optional sha-<7> tag: pushed with the others, and a rerun finds nothing to do", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, repo } = appWorkspace(s, "0.3.0", {
      "flotilla.config.json": { images: { tags: ["version", "minor", "major", "latest", "sha"] } },
    });
    const env = envFor(tb);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    const sha = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim().slice(0, 7);
    const t = await tagDigests(tb, repo);
    expect(Object.keys(t).sort()).toEqual(["0.3", "0.3.0", "latest", `sha-${sha}`]);
    expect(t[`sha-${sha}`]).toBe(t["0.3.0"]);
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.stdout).toContain("Nothing to release");
  });

  it.each([
    // Docker 20.10's BuildKit, and the wording of Docker 23 and later.
    ["BuildKit (the default)", {}, /(executor failed running \[.*exit 3'\]|did not complete successfully): exit code: 3/],
    ['the classic builder (images.builder: "classic")', { builder: "classic" }, /returned a non-zero code: 3/],
  ])("a failing RUN with %s → exit 1 naming the app and the step; the other packages are released", async (_name, images, message) => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, app, origin } = appWorkspace(s, "1.0.0", {
      [`apps/app-${s}/Dockerfile`]: "FROM node:24-slim\nRUN sh -c 'echo broken build; exit 3'\n",
      "flotilla.config.json": { images },
    });
    const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode).toBe(1);
    const rel = JSON.parse(r.stdout).releases as { name: string; status: string; error?: string }[];
    const appRel = rel.find((x) => x.name === `@${s}/${app}`)!;
    expect(appRel.status).toBe("failed");
    expect(appRel.error).toContain(`build ${tb.registry.host}/acme/${app}:1.0.0`);
    expect(appRel.error).toContain(`Dockerfile step "RUN sh -c 'echo broken build; exit 3'"`);
    expect(appRel.error).toMatch(message);
    expect(rel.find((x) => x.name === `@${s}/lib`)!.status).toBe("published");
    expect(remoteTagNames(origin)).toEqual([`@${s}/lib@1.0.0`]);
  });

  it("a COPY of a file the context lacks (BuildKit fails it as it starts): exit 1 naming that step", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, app } = appWorkspace(s, "1.0.0", {
      [`apps/app-${s}/Dockerfile`]: "FROM node:24-slim\nWORKDIR /app\nCOPY missing.txt ./\n",
    });
    const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode).toBe(1);
    const appRel = (JSON.parse(r.stdout).releases as { name: string; status: string; error?: string }[]).find(
      (x) => x.name === `@${s}/${app}`,
    )!;
    expect(appRel.error).toContain(`docker build failed at Dockerfile step "COPY missing.txt ./"`);
    expect(appRel.error).toMatch(/missing\.txt.*not found/);
  });

  it("a Dockerfile written for BuildKit (RUN --mount) builds as `docker build` builds it; the classic builder refuses it", async () => {
    const tb = testbed();
    const dockerfile =
      "FROM node:24-slim\nRUN --mount=type=cache,target=/cache sh -c 'echo cached > /cache/x && echo built > /built.txt'\n";
    for (const [images, ok] of [
      [{}, true],
      [{ builder: "classic" }, false],
    ] as const) {
      const s = uniqueScope();
      const { dir, app } = appWorkspace(s, "1.0.0", { [`apps/app-${s}/Dockerfile`]: dockerfile, "flotilla.config.json": { images } });
      const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env: envFor(tb) });
      const appRel = (JSON.parse(r.stdout).releases as { name: string; status: string; error?: string }[]).find(
        (x) => x.name === `@${s}/${app}`,
      )!;
      if (ok) {
        expect(r.exitCode, r.stdout + r.stderr).toBe(0);
        expect(Object.keys(await tagDigests(tb, `acme/${app}`)).sort()).toEqual(["1", "1.0", "1.0.0", "latest"]);
      } else {
        expect(r.exitCode).toBe(1);
        expect(appRel.status).toBe("failed");
        expect(appRel.error).toMatch(/docker build failed.*(--mount|unknown flag: mount)/i);
      }
    }
  });

  it("registry credentials refused → exit 2 in preflight, nothing built or pushed", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, repo } = appWorkspace(s, "1.0.0");
    const r = await runFlotilla(["publish", "--skip-build"], {
      cwd: dir,
      env: envFor(tb, { FLOTILLA_IMAGE_REGISTRY_PASSWORD: "wrong-password" }),
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${tb.registry.host}: credentials refused`);
    expect(await registry(tb).tags(repo)).toEqual([]);
    expect(await packument(tb, `@${s}/lib`)).toBeNull();
  });

  it("no registry credential appears in output or files, raw or base64 (X-Registry-Auth)", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = appWorkspace(s, "1.0.0");
    const r = await runFlotilla(["publish", "--skip-build", "--verbose"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stderr).toBe(0);
    const auth = JSON.stringify({ username: tb.registry.username, password: tb.registry.password, serveraddress: tb.registry.host });
    const forms = [
      tb.registry.password,
      Buffer.from(auth).toString("base64"),
      Buffer.from(auth).toString("base64url"),
      Buffer.from(`${tb.registry.username}:${tb.registry.password}`).toString("base64"),
    ];
    const files = execFileSync("git", ["ls-files", "--others", "--cached"], { cwd: dir, encoding: "utf8" })
      .split("\n")
      .filter((f) => f && statSync(path.join(dir, f)).isFile());
    for (const hay of [r.stdout, r.stderr, ...files.map((f) => readFileSync(path.join(dir, f), "latin1"))]) {
      for (const f of forms) expect(hay.includes(f)).toBe(false);
    }
  });
});

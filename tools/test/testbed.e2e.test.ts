/**
 * The ground later issues stand on: each service of the testbed does real work.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { execa } from "execa";
import tar from "tar-fs";
import { describe, expect, it } from "vitest";
import { createBareRemote, initRepoWithRemote } from "../src/testbed/git.ts";
import { readTestbed, type Testbed } from "../src/testbed/index.ts";

function testbed(): Testbed {
  const tb = readTestbed();
  if (!tb) throw new Error("testbed not running (vitest global setup starts it)");
  return tb;
}
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "testbed-"));
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

function docker(tb: Testbed): Docker {
  return new Docker({ socketPath: tb.docker.host.replace("unix://", "") });
}

async function follow(d: Docker, stream: NodeJS.ReadableStream): Promise<Record<string, unknown>[]> {
  const out = await new Promise<Record<string, unknown>[]>((resolve, reject) =>
    d.modem.followProgress(stream, (err: Error | null, res: Record<string, unknown>[]) => (err ? reject(err) : resolve(res))),
  );
  const failed = out.find((e) => e.error);
  if (failed) throw new Error(String(failed.error));
  return out;
}

describe("testbed", () => {
  it("dockerd builds from the local node:24-slim base image, and the image runs", async () => {
    const tb = testbed();
    const d = docker(tb);
    const ctx = tmp();
    writeFileSync(
      path.join(ctx, "Dockerfile"),
      'FROM node:24-slim\nRUN ["node", "-e", "require(\'fs\').writeFileSync(\'/built.txt\', process.version)"]\nCMD ["sh", "-c", "cat /built.txt"]\n',
    );
    await follow(d, await d.buildImage(tar.pack(ctx), { t: "flotilla-testbed-probe:1" }));
    const r = await execa("docker", ["run", "--rm", "flotilla-testbed-probe:1"], { env: { DOCKER_HOST: tb.docker.host } });
    expect(r.stdout).toMatch(/^v24\./);
  });

  it("the OCI registry requires auth and accepts a real push", async () => {
    const tb = testbed();
    expect((await fetch(`${tb.registry.url}/v2/`)).status).toBe(401);
    const d = docker(tb);
    const repo = `${tb.registry.host}/testbed/probe`;
    await d.getImage("flotilla-testbed-probe:1").tag({ repo, tag: "1.0.0" });
    await follow(
      d,
      await d.getImage(repo).push({
        tag: "1.0.0",
        authconfig: { username: tb.registry.username, password: tb.registry.password, serveraddress: tb.registry.host },
      }),
    );
    const tags = await fetch(`${tb.registry.url}/v2/testbed/probe/tags/list`, {
      headers: { authorization: basic(tb.registry.username, tb.registry.password) },
    });
    expect(tags.status).toBe(200);
    expect(((await tags.json()) as { tags: string[] }).tags).toContain("1.0.0");
  });

  it("Verdaccio requires auth and takes a real pnpm publish", async () => {
    const tb = testbed();
    expect((await fetch(`${tb.npm.url}/@testbed%2fprobe`)).status).toBeGreaterThanOrEqual(401);
    const pkg = tmp();
    const name = `@testbed/probe-${Date.now()}`;
    writeFileSync(path.join(pkg, "package.json"), JSON.stringify({ name, version: "1.0.0", main: "index.js" }));
    writeFileSync(path.join(pkg, "index.js"), "module.exports = 1;\n");
    // Auth through a user config outside the package, as flotilla does (PITFALLS 5).
    const userconfig = path.join(tmp(), "npmrc");
    const host = tb.npm.url.replace(/^https?:/, "");
    writeFileSync(userconfig, `${host}/:_authToken=${tb.npm.token}\n`, { mode: 0o600 });
    const r = await execa("pnpm", ["publish", "--no-git-checks", "--registry", `${tb.npm.url}/`], {
      cwd: pkg,
      env: { NPM_CONFIG_USERCONFIG: userconfig, npm_config_userconfig: userconfig },
      reject: false,
    });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const res = await fetch(`${tb.npm.url}/${name.replace("/", "%2f")}`, { headers: { authorization: `Bearer ${tb.npm.token}` } });
    expect(res.status).toBe(200);
    expect(Object.keys(((await res.json()) as { versions: object }).versions)).toEqual(["1.0.0"]);
    expect(readFileSync(tb.npm.logFile, "utf8")).toContain(`PUT /${name.replace("/", "%2f")}`);
  });

  it("a bare repository works as origin: push, then fetch from a clone", async () => {
    const remote = createBareRemote(path.join(tmp(), "origin.git"));
    const work = tmp();
    writeFileSync(path.join(work, "README.md"), "hello\n");
    initRepoWithRemote(work, remote);
    execFileSync("git", ["tag", "v1"], { cwd: work });
    execFileSync("git", ["push", "--quiet", "origin", "v1"], { cwd: work });
    const clone = path.join(tmp(), "clone");
    execFileSync("git", ["clone", "--quiet", remote, clone]);
    execFileSync("git", ["fetch", "--quiet", "--tags"], { cwd: clone });
    expect(execFileSync("git", ["tag"], { cwd: clone, encoding: "utf8" }).trim()).toBe("v1");
  });

  it("the GitHub API stand-in rejects a missing or wrong token and unknown repositories", async () => {
    const tb = testbed();
    await fetch(`${tb.github.url}/_stub/repos`, { method: "POST", body: JSON.stringify({ owner: "acme", repo: "probe" }) });
    expect((await fetch(`${tb.github.url}/repos/acme/probe`)).status).toBe(401);
    const wrong = await fetch(`${tb.github.url}/repos/acme/probe`, { headers: { authorization: "token nope" } });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { message: string }).message).toBe("Bad credentials");
    const auth = { authorization: `token ${tb.github.token}` };
    expect((await fetch(`${tb.github.url}/repos/acme/missing`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${tb.github.url}/repos/acme/probe`, { headers: auth })).status).toBe(200);
  });
});

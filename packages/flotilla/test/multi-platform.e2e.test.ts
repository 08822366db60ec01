/**
 * Multi-platform images without emulation (issue 13, item 2, the part that is done): a
 * `FROM scratch` + `COPY` Dockerfile (no RUN: nothing executes) builds for linux/arm64 and
 * linux/amd64 on the testbed's amd64 daemon, each platform is pushed on its own, and the OCI
 * client assembles the image index over them; `docker pull --platform` of each resolves to that
 * platform's image.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { buildImage, dockerClient, pushImage } from "../src/adapters/docker.ts";
import { OCI_INDEX, parsePlatform, pushImageIndex } from "../src/adapters/oci-index.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { tempDir } from "./helpers/fixtures.ts";
import { envFor, releasableWorkspace, remoteTagNames, testbed, uniqueScope } from "./helpers/testbed.ts";

const PLATFORMS = ["linux/amd64", "linux/arm64"];

function pull(docker: Docker, ref: string, platform: string, auth: object): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.pull(ref, { platform, authconfig: auth }, (err: Error | null, stream?: NodeJS.ReadableStream) => {
      if (err || !stream) return reject(err);
      docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve()));
    });
  });
}

describe("multi-platform image index", () => {
  it("per-platform builds on an amd64 daemon, one index over them; each platform pulls its own image", async () => {
    const tb = testbed();
    const repo = `${uniqueScope()}/mp`;
    const image = `${tb.registry.host}/${repo}`;
    const context = tempDir();
    writeFileSync(path.join(context, "Dockerfile"), "FROM scratch\nCOPY hello.txt /\n");
    writeFileSync(path.join(context, "hello.txt"), "hello\n");
    const docker = await dockerClient({ DOCKER_HOST: tb.docker.host });
    const auth = { username: tb.registry.username, password: tb.registry.password, serveraddress: tb.registry.host };
    const registry = new OciRegistry({ host: tb.registry.host, username: tb.registry.username, password: tb.registry.password });

    // Each platform as its own runner would: build, push (under a per-platform tag), keep the digest.
    const digests = new Map<string, string>();
    for (const platform of PLATFORMS) {
      const tag = `1.0.0-${platform.replace("/", "-")}`;
      await buildImage(docker, { context, dockerfile: "Dockerfile", tag: `${image}:${tag}`, buildArgs: {}, labels: {}, platform });
      digests.set(platform, await pushImage(docker, image, tag, auth));
    }
    expect(new Set(digests.values()).size).toBe(2);

    const indexDigest = await pushImageIndex(registry, repo, "1.0.0", digests);
    expect(await registry.digest(repo, "1.0.0")).toBe(indexDigest);
    const res = await fetch(`${tb.registry.url}/v2/${repo}/manifests/1.0.0`, {
      headers: {
        accept: OCI_INDEX,
        authorization: `Basic ${Buffer.from(`${tb.registry.username}:${tb.registry.password}`).toString("base64")}`,
      },
    });
    expect(res.headers.get("content-type")).toBe(OCI_INDEX);
    const index = (await res.json()) as { manifests: { digest: string; platform: object; mediaType: string }[] };
    expect(index.manifests.map((m) => [m.digest, m.platform])).toEqual(PLATFORMS.map((p) => [digests.get(p), parsePlatform(p)]));

    // Pushing the same index again is the same digest (a rerun's index names the same manifests).
    expect(await pushImageIndex(registry, repo, "1.0.0", digests)).toBe(indexDigest);

    // What a user on each platform gets: drop the local images, pull by platform, inspect.
    for (const platform of PLATFORMS) await docker.getImage(`${image}:1.0.0-${platform.replace("/", "-")}`).remove({ force: true });
    for (const platform of PLATFORMS) {
      await pull(docker, `${image}:1.0.0`, platform, auth);
      const info = await docker.getImage(`${image}:1.0.0`).inspect();
      expect(`${info.Os}/${info.Architecture}`).toBe(platform);
      expect(info.RepoDigests).toContain(`${image}@${indexDigest}`);
      await docker.getImage(`${image}:1.0.0`).remove({ force: true });
    }
  });

  it("refuses an index over a manifest the repository lacks, naming it", async () => {
    const tb = testbed();
    const registry = new OciRegistry({ host: tb.registry.host, username: tb.registry.username, password: tb.registry.password });
    const missing = `sha256:${"0".repeat(64)}`;
    await expect(pushImageIndex(registry, `${uniqueScope()}/none`, "1.0.0", new Map([["linux/arm64", missing]]))).rejects.toThrow(
      `the linux/arm64 manifest ${missing} is not in the repository`,
    );
    expect(parsePlatform("arm64")).toBeNull();
    expect(parsePlatform("linux/arm/v7")).toEqual({ os: "linux", architecture: "arm", variant: "v7" });
  });
});

describe("a multi-platform release (images.apps.<pkg>.platforms)", () => {
  /** An app of two platforms (FROM scratch: nothing runs, no emulation), released in its own workspace. */
  function workspace() {
    const s = uniqueScope();
    const app = `app-${s}`;
    const name = `@${s}/${app}`;
    const ws = releasableWorkspace([{ name, version: "1.2.0", private: true, dir: `apps/${app}` }], {
      [`apps/${app}/Dockerfile`]: "FROM scratch\nCOPY package.json /\n",
      "flotilla.config.json": { images: { apps: { [name]: { platforms: PLATFORMS } } } },
    });
    return { ...ws, name, repo: `acme/${app}` };
  }

  /** What a user sees: every tag → what it is (the index, or a platform's image), and the index's platforms. */
  async function images(repo: string) {
    const tb = testbed();
    const registry = new OciRegistry({ host: tb.registry.host, username: tb.registry.username, password: tb.registry.password });
    const indexDigest = await registry.digest(repo, "1.2.0");
    const tags: Record<string, string> = {};
    for (const t of (await registry.tags(repo)).sort()) {
      const d = await registry.descriptor(repo, t);
      tags[t] = d!.digest === indexDigest ? `index (${d!.mediaType})` : d!.mediaType;
    }
    const res = await fetch(`${tb.registry.url}/v2/${repo}/manifests/1.2.0`, {
      headers: {
        accept: OCI_INDEX,
        authorization: `Basic ${Buffer.from(`${tb.registry.username}:${tb.registry.password}`).toString("base64")}`,
      },
    });
    const index = (await res.json()) as { manifests: { digest: string; platform: object }[] };
    const platforms = index.manifests.map((m) => m.platform);
    // Each entry is that platform's tag.
    const perPlatform = await Promise.all(PLATFORMS.map(async (p) => registry.digest(repo, `1.2.0-${p.replace("/", "-")}`)));
    expect(index.manifests.map((m) => m.digest)).toEqual(perPlatform);
    return { tags, platforms };
  }

  it("one run builds both platforms on one daemon; a matrix (one runner per platform, then the final run) ends the same", async () => {
    const tb = testbed();
    const single = workspace();
    const env = envFor(tb);
    const one = await runFlotilla(["publish", "--skip-build"], { cwd: single.dir, env });
    expect(one.exitCode, one.stdout + one.stderr).toBe(0);
    const want = await images(single.repo);
    expect(want.platforms).toEqual(PLATFORMS.map(parsePlatform));
    expect(want.tags).toEqual({
      "1": `index (${OCI_INDEX})`,
      "1.2": `index (${OCI_INDEX})`,
      "1.2.0": `index (${OCI_INDEX})`,
      "1.2.0-linux-amd64": "application/vnd.docker.distribution.manifest.v2+json",
      "1.2.0-linux-arm64": "application/vnd.docker.distribution.manifest.v2+json",
      latest: `index (${OCI_INDEX})`,
    });
    expect(remoteTagNames(single.origin)).toEqual([`${single.name}@1.2.0`]);

    const m = workspace();
    const out = await runFlotilla(["matrix"], { cwd: m.dir, env });
    expect(out.exitCode, out.stderr).toBe(0);
    const shards = (JSON.parse(out.stdout) as { include: { shard: string }[] }).include.map((e) => e.shard);
    expect(shards).toEqual(PLATFORMS.map((p) => `image:${m.name}:${p}`));
    const runs = await Promise.all(
      shards.map((shard) => {
        const dir = path.join(tempDir(), "runner");
        execFileSync("cp", ["-a", m.dir, dir]);
        return runFlotilla(["publish", "--skip-build", "--shard", shard], { cwd: dir, env });
      }),
    );
    for (const r of runs) expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const final = await runFlotilla(["publish", "--skip-build"], { cwd: m.dir, env });
    expect(final.exitCode, final.stdout + final.stderr).toBe(0);
    expect(final.stdout).not.toContain("built and pushed"); // the platforms came from the shards
    expect(final.stdout).toContain(`pushed the image index ${tb.registry.host}/${m.repo}:1.2.0 over linux/amd64, linux/arm64`);
    expect(await images(m.repo)).toEqual(want);
    expect(remoteTagNames(m.origin)).toEqual([`${m.name}@1.2.0`]);
  });
});

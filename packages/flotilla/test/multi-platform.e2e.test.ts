/**
 * Multi-platform images without emulation (issue 13, item 2, the part that is done): a
 * `FROM scratch` + `COPY` Dockerfile (no RUN: nothing executes) builds for linux/arm64 and
 * linux/amd64 on the testbed's amd64 daemon, each platform is pushed on its own, and the OCI
 * client assembles the image index over them; `docker pull --platform` of each resolves to that
 * platform's image.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { describe, expect, it } from "vitest";
import { buildImage, dockerClient, pushImage } from "../src/adapters/docker.ts";
import { OCI_INDEX, parsePlatform, pushImageIndex } from "../src/adapters/oci-index.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { tempDir } from "./helpers/fixtures.ts";
import { testbed, uniqueScope } from "./helpers/testbed.ts";

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

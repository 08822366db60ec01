import { execFile } from "node:child_process";
import pLimit from "p-limit";
import { remoteTags } from "../adapters/git.ts";
import type { GitHub } from "../adapters/github.ts";
import type { NpmRegistry, Packument } from "../adapters/npm-registry.ts";
import { type OciRegistry, splitImageName } from "../adapters/oci-registry.ts";
import type { ImageTagKind } from "../config/schema.ts";
import { coveredTags } from "../github/changelog.ts";
import { imageTagsFor } from "../plan/image-tags.ts";
import type { RegistryState } from "../plan/publish-plan.ts";

/**
 * Reads the sources of truth (SPEC §5.3): one packument per public package, many in flight
 * over kept-alive connections, and one `git ls-remote --tags origin` for all tags.
 */
export async function observeState(input: {
  rootDir: string;
  npmPackages: { name: string; registry: NpmRegistry }[];
  readGit: boolean;
  /** Ask origin for its tags (default: readGit); false where there is no origin to ask. */
  readRemoteTags?: boolean;
  /** Image repositories to read, with the versions released into them. */
  images: { name: string; registry: OciRegistry; version: string }[];
  imageTagKinds: readonly ImageTagKind[];
  /** The commit being released, for the optional `sha-<7>` tag. */
  sha?: string;
  concurrency?: number;
  /** When set, existing GitHub releases are read too. */
  github?: GitHub;
}): Promise<RegistryState> {
  const limit = pLimit(input.concurrency ?? 32);
  const npm = new Map<string, Packument | null>();
  const images = new Map<string, { tags: string[]; digests: Map<string, string | null> }>();
  const readImage = async (img: { name: string; registry: OciRegistry; version: string }) => {
    const { repo } = splitImageName(img.name);
    const tags = await img.registry.tags(repo);
    const intended = imageTagsFor(img.version, tags, { kinds: input.imageTagKinds, ...(input.sha ? { sha: input.sha } : {}) }).tags;
    const digests = new Map<string, string | null>();
    await Promise.all(intended.map(async (t) => digests.set(t, tags.includes(t) ? await img.registry.digest(repo, t) : null)));
    images.set(img.name, { tags, digests });
  };
  const [remote, local, releases] = await Promise.all([
    (input.readRemoteTags ?? input.readGit) ? remoteTags(input.rootDir) : Promise.resolve(new Map<string, string>()),
    input.readGit ? localTags(input.rootDir) : Promise.resolve(new Set<string>()),
    input.github
      ? input.github.releasesByTag().then((m) => new Set([...m.values()].flatMap((r) => coveredTags(r.tag, r.body))))
      : Promise.resolve(undefined),
    Promise.all(input.npmPackages.map((p) => limit(async () => npm.set(p.name, await p.registry.packument(p.name))))),
    Promise.all(input.images.map((img) => limit(() => readImage(img)))),
  ]);
  return { npm, remoteTags: new Set(remote.keys()), localTags: local, images, ...(releases ? { releases } : {}) };
}

async function localTags(cwd: string): Promise<Set<string>> {
  // Node's execFile: this module is loaded by every publish, and execa is ~140 modules.
  const out = await new Promise<string>((resolve) =>
    execFile("git", ["tag", "--list"], { cwd, maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => resolve(err ? "" : stdout)),
  );
  return new Set(out.split("\n").filter(Boolean));
}

import { execa } from "execa";
import pLimit from "p-limit";
import { remoteTags } from "../adapters/git.ts";
import type { NpmRegistry, Packument } from "../adapters/npm-registry.ts";
import type { RegistryState } from "../plan/publish-plan.ts";

/**
 * Reads the sources of truth (SPEC §5.3): one packument per public package, many in flight
 * over kept-alive connections, and one `git ls-remote --tags origin` for all tags.
 */
export async function observeState(input: {
  rootDir: string;
  npmPackages: { name: string; registry: NpmRegistry }[];
  readGit: boolean;
  concurrency?: number;
}): Promise<RegistryState> {
  const limit = pLimit(input.concurrency ?? 32);
  const npm = new Map<string, Packument | null>();
  const [remote, local] = await Promise.all([
    input.readGit ? remoteTags(input.rootDir) : Promise.resolve(new Map<string, string>()),
    input.readGit ? localTags(input.rootDir) : Promise.resolve(new Set<string>()),
    Promise.all(input.npmPackages.map((p) => limit(async () => npm.set(p.name, await p.registry.packument(p.name))))),
  ]);
  return { npm, remoteTags: new Set(remote.keys()), localTags: local };
}

async function localTags(cwd: string): Promise<Set<string>> {
  const r = await execa("git", ["tag", "--list"], { cwd, reject: false });
  return new Set(r.exitCode === 0 ? r.stdout.split("\n").filter(Boolean) : []);
}

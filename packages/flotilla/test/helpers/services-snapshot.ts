/**
 * "Nothing changed", seen from every service a release touches (issue 11 item 5): the npm
 * registry's packuments of a scope, the OCI registry's repositories and tags under it, origin's
 * refs, the GitHub stand-in's state of one repository, and the work tree (files and local refs).
 * Take one before and one after a run and compare them with toEqual.
 */
import { execFileSync } from "node:child_process";
import type { Testbed } from "../../../../tools/src/testbed/index.ts";
import { treeDigest } from "./fixtures.ts";
import { packument } from "./testbed.ts";

export interface ServicesSnapshot {
  npm: Record<string, unknown>;
  oci: Record<string, string[]>;
  origin: string;
  github: unknown;
  tree: string;
  localRefs: string;
}

export async function snapshotServices(
  tb: Testbed,
  opts: { scope: string; packages: string[]; dir: string; origin?: string; githubRepo?: string },
): Promise<ServicesSnapshot> {
  const npm: Record<string, unknown> = {};
  await Promise.all(
    opts.packages.map(async (name) => {
      const doc = await packument(tb, name);
      // Verdaccio rewrites `_rev`/`time.modified` on every write: comparing the whole document catches any write.
      npm[name] = doc;
    }),
  );
  return {
    npm,
    oci: await ociTags(tb, opts.scope),
    origin: opts.origin ? git(opts.dir, "ls-remote", opts.origin) : "",
    github: opts.githubRepo ? await githubState(tb, opts.githubRepo) : undefined,
    tree: treeDigest(opts.dir),
    localRefs: git(opts.dir, "show-ref", "--head"),
  };
}

function git(cwd: string, ...args: string[]): string {
  try {
    return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    // show-ref exits 1 when there is no ref at all; that is a state too.
    return `(git ${args[0]} failed: ${(err as { status?: number }).status})`;
  }
}

async function ociTags(tb: Testbed, scope: string): Promise<Record<string, string[]>> {
  const auth = { authorization: `Basic ${Buffer.from(`${tb.registry.username}:${tb.registry.password}`).toString("base64")}` };
  const catalog = (await (await fetch(`${tb.registry.url}/v2/_catalog?n=100000`, { headers: auth })).json()) as { repositories?: string[] };
  const out: Record<string, string[]> = {};
  for (const repo of (catalog.repositories ?? []).filter((r) => r.startsWith(`${scope}/`))) {
    const res = await fetch(`${tb.registry.url}/v2/${repo}/tags/list`, { headers: auth });
    out[repo] = res.ok ? (((await res.json()) as { tags?: string[] | null }).tags ?? []).sort() : [];
  }
  return out;
}

/** The stand-in's state of one repository: releases, pull requests, invented tags, and every write request. */
async function githubState(tb: Testbed, repo: string): Promise<unknown> {
  const res = await fetch(`${tb.github.url}/_stub/state?repo=${repo.toLowerCase()}`);
  const state = (await res.json()) as { repos: unknown; requests: { method: string; path: string; status: number }[] };
  // Reads are logged too; only writes change anything.
  return { repos: state.repos, writes: state.requests.filter((r) => r.method !== "GET" && r.method !== "HEAD") };
}

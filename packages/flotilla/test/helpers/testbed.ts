import { execFileSync } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createBareRemote } from "../../../../tools/src/testbed/git.ts";
import { readTestbed, type Testbed, testbedEnv } from "../../../../tools/src/testbed/index.ts";
import { REPO_ROOT } from "./cli.ts";
import { copyTree, gitCommitAll, type PkgSpec, packageFiles, tempDir, writeTree } from "./fixtures.ts";

export function testbed(): Testbed {
  const tb = readTestbed();
  if (!tb) throw new Error("testbed not running (vitest's global setup starts it)");
  return tb;
}

/** flotilla's environment against the testbed (owner from GITHUB_REPOSITORY). */
export function envFor(tb: Testbed, extra: Record<string, string> = {}): Record<string, string> {
  return { ...testbedEnv(tb), GITHUB_REPOSITORY: "acme/acme-monorepo", ...extra };
}

/** A unique npm scope per test, so tests share one Verdaccio without seeing each other. */
export function uniqueScope(): string {
  return `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

/**
 * A releasable workspace: packages at their versions, `pnpm install` done (pnpm pack needs the
 * workspace links), everything committed on main and pushed to a bare `origin`.
 */
export function releasableWorkspace(packages: PkgSpec[], extra: Record<string, string | object> = {}): { dir: string; origin: string } {
  const files: Record<string, string | object> = {
    "package.json": { name: "fixture-root", private: true },
    "pnpm-workspace.yaml": "packages:\n  - packages/*\n  - apps/*\n",
    ".gitignore": "node_modules/\ndist/\n.turbo/\n",
    ".changeset/config.json": {
      changelog: false,
      commit: false,
      access: "restricted",
      baseBranch: "main",
      privatePackages: { version: true, tag: true },
    },
    ...extra,
  };
  const pkgFiles = packageFiles(packages, (p, dir) => ({
    manifest: { repository: { type: "git", url: "https://github.com/acme/acme-monorepo.git", directory: dir } },
    files: { "index.js": `module.exports = ${JSON.stringify(p.name)};\n` },
  }));
  // `extra` last: a test's own Dockerfile or package files win.
  const dir = writeTree({ ...pkgFiles, ...files });
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  gitCommitAll(dir, "initial");
  const origin = createBareRemote(path.join(tempDir(), "origin.git"));
  execFileSync("git", ["remote", "add", "origin", origin], { cwd: dir });
  execFileSync("git", ["push", "--quiet", "origin", "main"], { cwd: dir });
  return { dir, origin };
}

export interface LoggedRequest {
  method: string;
  url: string;
  status: number;
}

/** Requests Verdaccio logged whose path names a package of `scope`. */
export function verdaccioRequests(tb: Testbed, scope: string): LoggedRequest[] {
  const out: LoggedRequest[] = [];
  for (const line of readFileSync(tb.npm.logFile, "utf8").split("\n")) {
    if (!line.includes(`@${scope}`)) continue;
    try {
      const j = JSON.parse(line) as { request?: { method: string; url: string }; status?: number };
      if (j.request && j.status !== undefined)
        out.push({ method: j.request.method, url: decodeURIComponent(j.request.url), status: j.status });
    } catch {
      /* not a request line */
    }
  }
  return out;
}

export async function packument(
  tb: Testbed,
  name: string,
): Promise<{ "dist-tags": Record<string, string>; versions: Record<string, { dependencies?: Record<string, string> }> } | null> {
  const res = await fetch(`${tb.npm.url}/${name.replace("/", "%2f")}`, { headers: { authorization: `Bearer ${tb.npm.token}` } });
  if (res.status === 404) return null;
  return (await res.json()) as never;
}

export function remoteTagNames(origin: string): string[] {
  return execFileSync("git", ["ls-remote", "--tags", "--refs", origin], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split("refs/tags/")[1]!)
    .sort();
}

export function setVersion(dir: string, pkgDir: string, version: string): void {
  const file = path.join(dir, pkgDir, "package.json");
  const pj = JSON.parse(readFileSync(file, "utf8"));
  pj.version = version;
  writeTree({ [`${pkgDir}/package.json`]: pj }, dir);
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  gitCommitAll(dir, `version ${version}`);
}

/** examples/ under a unique scope and owner, installed, committed on main, with a bare origin. */
export function exampleRepo(scope: string): { dir: string; origin: string } {
  const examples = path.join(REPO_ROOT, "examples");
  const dir = copyTree(examples);
  for (const f of execFileSync("git", ["ls-files"], { cwd: examples, encoding: "utf8" }).split("\n").filter(Boolean)) {
    const p = path.join(dir, f);
    if (statSync(p).isFile())
      writeFileSync(p, readFileSync(p, "utf8").replaceAll("@acme/", `@${scope}/`).replace('"owner": "acme"', `"owner": "${scope}"`));
  }
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir });
  gitCommitAll(dir, "initial");
  const origin = createBareRemote(path.join(tempDir(), "origin.git"));
  execFileSync("git", ["remote", "add", "origin", origin], { cwd: dir });
  execFileSync("git", ["push", "-q", "origin", "main"], { cwd: dir });
  return { dir, origin };
}

/**
 * examples/ as a release job checks it out: exampleRepo, then `changeset version` and a fresh
 * install, committed as "Version Packages" (pushed to origin when asked). Every e2e test that
 * releases examples/ starts here, so they release the same thing.
 */
export function versionedExamples(
  scope: string,
  opts: { tweak?: (dir: string) => void; push?: boolean } = {},
): { dir: string; origin: string } {
  const { dir, origin } = exampleRepo(scope);
  execFileSync(path.join(REPO_ROOT, "node_modules/.bin/changeset"), ["version"], { cwd: dir });
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir });
  opts.tweak?.(dir);
  gitCommitAll(dir, "Version Packages");
  if (opts.push) execFileSync("git", ["push", "--quiet", "origin", "main"], { cwd: dir });
  return { dir, origin };
}

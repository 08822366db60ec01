import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
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

/**
 * examples/ made ready once per test process under a placeholder scope, in two states: installed
 * (`initial`) and after `changeset version` and a fresh install (`versioned`). A test's copy is
 * the template with the placeholder (and the template's path, which pnpm's state file holds)
 * replaced by its own scope and path, which is byte for byte what copying examples/ and running
 * pnpm and changesets in the copy writes (a test compares the commits' trees), without one
 * `changeset version` and two `pnpm install`s per test: ~1 CPU-s each time, and ~50 tests
 * start here (issue 11, the suite's time).
 */
const PLACEHOLDER = "tplscopezq7";
let templates: { initial: string; versioned: string; built: string; initialCommit: string } | undefined;

function exampleTemplates(): { initial: string; versioned: string; built: string; initialCommit: string } {
  if (templates) return templates;
  const examples = path.join(REPO_ROOT, "examples");
  const initial = copyTree(examples);
  for (const f of execFileSync("git", ["ls-files"], { cwd: examples, encoding: "utf8" }).split("\n").filter(Boolean)) {
    const p = path.join(initial, f);
    if (statSync(p).isFile())
      writeFileSync(
        p,
        readFileSync(p, "utf8").replaceAll("@acme/", `@${PLACEHOLDER}/`).replace('"owner": "acme"', `"owner": "${PLACEHOLDER}"`),
      );
  }
  execFileSync("pnpm", ["install", "--silent"], { cwd: initial });
  const versioned = tempDir();
  materialize(initial, versioned, initial, PLACEHOLDER);
  gitCommitAll(versioned, "initial");
  execFileSync(path.join(REPO_ROOT, "node_modules/.bin/changeset"), ["version"], { cwd: versioned, stdio: "ignore" });
  execFileSync("pnpm", ["install", "--silent"], { cwd: versioned });
  const built = tempDir();
  materialize(versioned, built, versioned, PLACEHOLDER);
  execFileSync("pnpm", ["-r", "--silent", "run", "build"], { cwd: built, stdio: "ignore" });
  templates = { initial, versioned, built, initialCommit: headCommit(versioned) };
  return templates;
}

const headCommit = (dir: string) => execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();

/**
 * Copies `from` (its .git left out) into `to`, with the placeholder scope and `fromRoot`'s path
 * in file contents and folder names replaced by `scope` and `to`'s path (and, when given, in the
 * changelogs, the template's initial commit by the copy's); symlinks as they are
 * (pnpm's links are relative), file modes kept.
 */
function materialize(from: string, to: string, fromRoot: string, scope: string, commits?: [string, string]): void {
  const short = commits?.map((c) => c.slice(0, 7));
  const rewrite = (s: string, changelog = false) => {
    const out = s.replaceAll(PLACEHOLDER, scope).replaceAll(fromRoot, to);
    return short && changelog ? out.replaceAll(short[0]!, short[1]!) : out;
  };
  const walk = (src: string, dst: string) => {
    mkdirSync(dst, { recursive: true });
    for (const e of readdirSync(src, { withFileTypes: true })) {
      if (e.name === ".git") continue;
      const s = path.join(src, e.name);
      const d = path.join(dst, rewrite(e.name));
      if (e.isSymbolicLink()) symlinkSync(readlinkSync(s), d);
      else if (e.isDirectory()) walk(s, d);
      // latin1 both ways: any byte survives (the names replaced are ASCII).
      else writeFileSync(d, rewrite(readFileSync(s, "latin1"), e.name === "CHANGELOG.md"), { encoding: "latin1", mode: statSync(s).mode });
    }
  };
  walk(from, to);
}

/** Removes everything in `dir` but its .git. */
function emptyWorkTree(dir: string): void {
  for (const e of readdirSync(dir)) if (e !== ".git") rmSync(path.join(dir, e), { recursive: true, force: true });
}

/** examples/ under a unique scope and owner, installed, committed on main, with a bare origin. */
export function exampleRepo(scope: string): { dir: string; origin: string } {
  const { initial } = exampleTemplates();
  const dir = tempDir();
  materialize(initial, dir, initial, scope);
  gitCommitAll(dir, "initial");
  const origin = createBareRemote(path.join(tempDir(), "origin.git"));
  execFileSync("git", ["remote", "add", "origin", origin], { cwd: dir });
  execFileSync("git", ["push", "-q", "origin", "main"], { cwd: dir });
  return { dir, origin };
}

/**
 * examples/ as a release job checks it out: exampleRepo, then `changeset version` and a fresh
 * install (from the template), committed as "Version Packages" (pushed to origin when asked).
 * Every e2e test that releases examples/ starts here, so they release the same thing. `built`:
 * also `pnpm -r run build`'s output (dist/, ignored by git), made before `tweak` runs.
 */
export function versionedExamples(
  scope: string,
  opts: { tweak?: (dir: string) => void; push?: boolean; built?: boolean } = {},
): { dir: string; origin: string } {
  const { dir, origin } = exampleRepo(scope);
  const { versioned, built, initialCommit } = exampleTemplates();
  emptyWorkTree(dir);
  const from = opts.built ? built : versioned;
  materialize(from, dir, from, scope, [initialCommit, headCommit(dir)]);
  opts.tweak?.(dir);
  gitCommitAll(dir, "Version Packages");
  if (opts.push) execFileSync("git", ["push", "--quiet", "origin", "main"], { cwd: dir });
  return { dir, origin };
}

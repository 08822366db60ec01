import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** A fresh temporary folder. */
export function tempDir(prefix = "flotilla-test-"): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes `files` (path → content; objects become JSON) under a new temporary folder. */
export function writeTree(files: Record<string, string | object>, dir = tempDir()): string {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, typeof content === "string" ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
  return dir;
}

export interface PkgSpec {
  name: string;
  version: string;
  private?: boolean;
  dir?: string;
  dependencies?: Record<string, string>;
  dockerfile?: boolean;
}

/** Each package's folder: package.json (and a Dockerfile when asked), plus `more(dir)`'s files. */
export function packageFiles(
  packages: PkgSpec[],
  more: (p: PkgSpec, dir: string) => { manifest?: object; files?: Record<string, string> } = () => ({}),
): Record<string, string | object> {
  const files: Record<string, string | object> = {};
  for (const p of packages) {
    const dir = p.dir ?? `packages/${p.name.replace(/^@[^/]+\//, "")}`;
    const extra = more(p, dir);
    files[`${dir}/package.json`] = {
      name: p.name,
      version: p.version,
      ...(p.private ? { private: true } : {}),
      ...(p.dependencies ? { dependencies: p.dependencies } : {}),
      ...extra.manifest,
    };
    if (p.dockerfile) files[`${dir}/Dockerfile`] = "FROM node:24-slim\nCOPY package.json /app/\n";
    for (const [f, c] of Object.entries(extra.files ?? {})) files[`${dir}/${f}`] = c;
  }
  return files;
}

/**
 * A pnpm workspace with the given packages, changesets (id → front matter map) and changesets
 * config, committed on `main` in a real git repository (changesets' CLI needs one).
 */
export function makeWorkspace(opts: {
  packages: PkgSpec[];
  changesets?: Record<string, Record<string, string> | string>;
  changesetConfig?: object;
  preState?: object;
  extra?: Record<string, string | object>;
}): string {
  const files: Record<string, string | object> = {
    "package.json": { name: "fixture-root", private: true },
    "pnpm-workspace.yaml": "packages:\n  - packages/*\n  - apps/*\n",
    ".changeset/config.json": {
      changelog: false,
      commit: false,
      fixed: [],
      linked: [],
      access: "restricted",
      baseBranch: "main",
      updateInternalDependencies: "patch",
      ignore: [],
      format: false,
      ...opts.changesetConfig,
    },
  };
  Object.assign(files, packageFiles(opts.packages));
  for (const [id, cs] of Object.entries(opts.changesets ?? {})) {
    files[`.changeset/${id}.md`] =
      typeof cs === "string"
        ? cs
        : `---\n${Object.entries(cs)
            .map(([n, t]) => `"${n}": ${t}`)
            .join("\n")}\n---\n\nChange ${id}.\n`;
  }
  if (opts.preState) files[".changeset/pre.json"] = opts.preState;
  Object.assign(files, opts.extra ?? {});
  const dir = writeTree(files);
  gitCommitAll(dir);
  return dir;
}

export function gitCommitAll(dir: string, message = "fixture"): void {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  try {
    git("rev-parse", "--git-dir");
  } catch {
    git("init", "--quiet", "--initial-branch=main");
    git("config", "user.email", "test@example.test");
    git("config", "user.name", "Test");
    git("config", "commit.gpgsign", "false");
  }
  git("add", "-A");
  git("commit", "--quiet", "--allow-empty", "-m", message);
}

/** Copies a folder (e.g. examples/) to a new temporary folder. */
export function copyTree(src: string): string {
  const dir = tempDir();
  cpSync(src, dir, { recursive: true, filter: (s) => !s.includes(`${path.sep}node_modules`) && !s.includes(`${path.sep}.turbo`) });
  return dir;
}

/** A digest of every file (path + content) under `dir`, `.git` excluded: proves "nothing changed". */
export function treeDigest(dir: string): string {
  const h = createHash("sha256");
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      if (e === ".git" || e === "node_modules") continue;
      const p = path.join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else
        h.update(`${path.relative(dir, p)}\0`)
          .update(readFileSync(p))
          .update("\0");
    }
  };
  walk(dir);
  return h.digest("hex");
}

/** A repository with one commit, and a bare origin holding it as main (real git, no testbed). */
export function repoWithOrigin(): { dir: string; origin: string; head: string } {
  const origin = tempDir();
  execFileSync("git", ["init", "--quiet", "--bare", origin]);
  const dir = writeTree({ "README.md": "x\n" });
  gitCommitAll(dir);
  execFileSync("git", ["remote", "add", "origin", origin], { cwd: dir });
  execFileSync("git", ["push", "--quiet", "origin", "HEAD:refs/heads/main"], { cwd: dir });
  const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir }).toString().trim();
  return { dir, origin, head };
}

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { InputError } from "../errors.ts";

/**
 * Environment for every pnpm process flotilla starts: no update notice, and no switching to the
 * root's `packageManager` pin — pnpm 12.4.2 cannot fetch most other versions that way
 * (ERR_PNPM_BAD_CONFIG_DEP) and would fail a pack or a script run that needs no other pnpm.
 */
export const PNPM_ENV = { npm_config_update_notifier: "false", pnpm_config_manage_package_manager_versions: "false" } as const;

/**
 * External tools as data (STYLE 6): every pnpm/turbo/git invocation flotilla makes is built here
 * as [command, args], so logs, dry runs and tests read the same table. Arguments are arrays,
 * never shell strings (SPEC §9).
 */
export type Invocation = readonly [command: string, args: readonly string[]];

export const tools = {
  pnpmPack: (filters: string[], dest: string): Invocation => [
    "pnpm",
    ["-r", ...filters.flatMap((f) => ["--filter", f]), "pack", "--pack-destination", dest, "--json"],
  ],
  turboRun: (bin: string, tasks: string[], filters: string[]): Invocation => [
    bin,
    ["run", ...tasks, ...filters.map((f) => `--filter=${f}`), "--output-logs=new-only", "--log-order=grouped"],
  ],
  /** turbo's own check of the workspace and the tasks, without running anything (preflight). */
  turboDryRun: (bin: string, tasks: string[]): Invocation => [bin, ["run", ...tasks, "--dry-run=json"]],
  /**
   * One task over the selection with pnpm's own topological run (no turbo.json): `pkg...` also
   * selects the package's workspace dependencies, built first; packages without the script are
   * skipped (--if-present).
   */
  pnpmRunRecursive: (task: string, selectors: string[]): Invocation => [
    "pnpm",
    ["-r", ...selectors.flatMap((f) => ["--filter", f]), "run", "--if-present", task],
  ],
  pnpmVersion: (): Invocation => ["pnpm", ["--version"]],
  /** The lockfile refresh after `version`, with the pnpm on PATH or, via npm, the pinned one. */
  pnpmLockfileRefresh: (pinned?: string): Invocation =>
    pinned
      ? ["npm", ["exec", "--yes", `--package=pnpm@${pinned}`, "--", "pnpm", "install", "--lockfile-only", "--ignore-scripts"]]
      : ["pnpm", ["install", "--lockfile-only", "--ignore-scripts"]],
  gitLsRemoteTags: (): Invocation => ["git", ["ls-remote", "--tags", "--refs", "origin"]],
  gitTag: (tag: string, commit?: string): Invocation => ["git", ["tag", "-a", tag, "-m", tag, ...(commit ? [commit] : [])]],
  gitPushTags: (tags: string[]): Invocation => ["git", ["push", "--atomic", "origin", ...tags.map((t) => `refs/tags/${t}:refs/tags/${t}`)]],
  gitStatus: (): Invocation => ["git", ["status", "--porcelain", "--untracked-files=normal"]],
  /** Changes to tracked files only: what publish's preflight refuses (untracked files are build output). */
  gitStatusTracked: (): Invocation => ["git", ["status", "--porcelain", "--untracked-files=no"]],
  /** Files in `dirs` that git does not track and .gitignore does not ignore, NUL-separated. */
  gitUntracked: (dirs: string[]): Invocation => ["git", ["ls-files", "-z", "--others", "--exclude-standard", "--", ...dirs]],
  gitHead: (): Invocation => ["git", ["rev-parse", "HEAD"]],
} as const;

/**
 * The workspace's own turbo when installed, else the one flotilla depends on. The bundled CLI and
 * the action carry no turbo (a platform binary): a workspace with turbo.json installs its own.
 */
export function turboBin(rootDir: string): string {
  const local = path.join(rootDir, "node_modules", ".bin", "turbo");
  if (existsSync(local)) return local;
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve("turbo/package.json")), "bin", "turbo");
  } catch {
    throw new InputError([
      {
        code: "TURBO_NOT_INSTALLED",
        file: "turbo.json",
        message: "turbo.json is present but turbo is not installed in the workspace (no node_modules/.bin/turbo)",
        hint: "add it (pnpm add -Dw turbo) and run pnpm install before flotilla, or pass --skip-build",
      },
    ]);
  }
}

export function show(inv: Invocation): string {
  return [inv[0], ...inv[1].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))].join(" ");
}

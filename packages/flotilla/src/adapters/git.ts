import { execFile } from "node:child_process";
import { tools } from "./tools.ts";

// execa (≈100 modules) loads on first use: `plan` reaches this file only for originUrl, and its
// start-up should stay close to `changeset status`'s (issue 8).
const execa = async (file: string, args: readonly string[], options: { cwd: string; reject?: boolean }) =>
  (await import("execa")).execa(file, args, options);

/** The origin remote's URL, or undefined when there is no repository or no origin. Read-only. */
export function originUrl(cwd: string): Promise<string | undefined> {
  // node's own execFile, not execa: this is the one git call `plan` makes (see above).
  return new Promise((resolve) =>
    execFile("git", ["remote", "get-url", "origin"], { cwd }, (err, stdout) => resolve(err ? undefined : stdout.trim() || undefined)),
  );
}

/** Tags on origin (one `git ls-remote` for all): name → commit. */
export async function remoteTags(cwd: string): Promise<Map<string, string>> {
  const [cmd, args] = tools.gitLsRemoteTags();
  const r = await execa(cmd, args, { cwd });
  const tags = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const m = /^([0-9a-f]+)\s+refs\/tags\/(.+)$/.exec(line.trim());
    if (m) tags.set(m[2]!, m[1]!);
  }
  return tags;
}

export async function localTagExists(cwd: string, tag: string): Promise<boolean> {
  const r = await execa("git", ["rev-parse", "--verify", "--quiet", `refs/tags/${tag}`], { cwd, reject: false });
  return r.exitCode === 0;
}

/** The commit a local tag points at, or undefined when there is no such tag. */
export async function localTagCommit(cwd: string, tag: string): Promise<string | undefined> {
  const r = await execa("git", ["rev-parse", "--verify", "--quiet", `refs/tags/${tag}^{commit}`], { cwd, reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function createTag(cwd: string, tag: string, commit?: string): Promise<void> {
  const [cmd, args] = tools.gitTag(tag, commit);
  await execa(cmd, args, { cwd });
}

export async function pushTags(cwd: string, tags: string[]): Promise<void> {
  const [cmd, args] = tools.gitPushTags(tags);
  await execa(cmd, args, { cwd });
}

/** Uncommitted changes (porcelain lines); empty when clean. */
export async function dirtyFiles(cwd: string): Promise<string[]> {
  const [cmd, args] = tools.gitStatus();
  const r = await execa(cmd, args, { cwd, reject: false });
  if (r.exitCode !== 0) return [];
  return r.stdout.split("\n").filter(Boolean);
}

export async function headCommit(cwd: string): Promise<string | undefined> {
  const [cmd, args] = tools.gitHead();
  const r = await execa(cmd, args, { cwd, reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export async function hasOrigin(cwd: string): Promise<boolean> {
  return (await originUrl(cwd)) !== undefined;
}

import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";

/** A bare repository to serve as `origin` (a real git remote on the local filesystem). */
export function createBareRemote(dir: string): string {
  mkdirSync(dir, { recursive: true });
  execFileSync("git", ["init", "--bare", "--quiet", "--initial-branch=main", dir]);
  return dir;
}

/**
 * Makes `dir` a git repository on `main` with one commit of its current files and `origin`
 * pointing at `remote` (pushed). Identity is local to the repository.
 */
export function initRepoWithRemote(dir: string, remote: string): void {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  git("init", "--quiet", "--initial-branch=main");
  git("config", "user.email", "release-bot@example.test");
  git("config", "user.name", "Release Bot");
  git("config", "commit.gpgsign", "false");
  git("add", "-A");
  git("commit", "--quiet", "-m", "initial commit");
  git("remote", "add", "origin", remote);
  git("push", "--quiet", "-u", "origin", "main");
}

import os from "node:os";
import { execa } from "execa";

/** Who holds a release lock: written into the lock commit's message. */
export interface LockHolder {
  host: string;
  pid: number;
  started: string;
}

export interface ReleaseLock {
  ref: string;
  /** True when another run held the lock first: the registries changed, the caller re-reads them. */
  waited: boolean;
  release(): Promise<void>;
}

/**
 * One release of a commit at a time (SPEC §5a.4), held on origin so two CI jobs see it: the ref
 * `refs/flotilla/lock/<commit>` is created with a lease that expects it absent (git's ref
 * transaction makes the create atomic on the server). The loser waits for the holder to finish,
 * then re-reads the registries. A lock whose holder is gone (a process on this host that no
 * longer exists, or older than `staleMs`) is taken over with a lease on its exact value.
 * Hand-written: no library does locking through a git remote.
 */
export async function acquireReleaseLock(
  cwd: string,
  commit: string,
  opts: { waitMs: number; staleMs: number; pollMs?: number; log: (m: string) => void },
): Promise<ReleaseLock> {
  const ref = `refs/flotilla/lock/${commit}`;
  const git = (args: string[]) => execa("git", args, { cwd, reject: false });
  const holder: LockHolder = { host: os.hostname(), pid: process.pid, started: new Date().toISOString() };
  const made = await execa(
    "git",
    [
      "-c",
      "user.name=flotilla",
      "-c",
      "user.email=flotilla@localhost",
      "commit-tree",
      `${commit}^{tree}`,
      "-p",
      commit,
      "-m",
      JSON.stringify(holder),
    ],
    { cwd },
  );
  const mine = made.stdout.trim();
  const push = (expect: string) => git(["push", "--quiet", `--force-with-lease=${ref}:${expect}`, "origin", `${mine}:${ref}`]);
  const deadline = Date.now() + opts.waitMs;
  let waited = false;
  let refused = 0;
  for (;;) {
    const pushed = await push("");
    if (pushed.exitCode === 0) break;
    const current = await remoteRef(cwd, ref);
    if (!current) {
      // No lock there, yet the push failed: released between our push and the read (try again),
      // or origin refuses the ref / cannot be reached — then stop instead of spinning.
      if (++refused >= 3 || Date.now() > deadline) {
        throw Object.assign(
          new Error(
            `cannot take the release lock ${ref} on origin, so nothing was changed: ${pushed.stderr.trim() || `git push exited ${pushed.exitCode}`} (flotilla needs to push refs/flotilla/* to origin; check the token's contents: write permission and rules on ref creation)`,
          ),
          { code: "RELEASE_LOCKED" },
        );
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
      continue;
    }
    refused = 0;
    const other = await readHolder(cwd, ref);
    if (other && isStale(other, opts.staleMs)) {
      opts.log(`taking over the release lock of a run that is gone (pid ${other.pid} on ${other.host}, since ${other.started})`);
      if ((await push(current)).exitCode === 0) break;
      continue;
    }
    if (Date.now() > deadline) {
      throw Object.assign(
        new Error(
          `another flotilla run is releasing commit ${commit.slice(0, 7)} (${other ? `pid ${other.pid} on ${other.host}, since ${other.started}` : "holder unknown"}) and did not finish within ${Math.round(opts.waitMs / 1000)} s; run again once it is done, or, if that run is gone, delete its lock: git push origin --delete ${ref}`,
        ),
        { code: "RELEASE_LOCKED" },
      );
    }
    if (!waited)
      opts.log(
        `another flotilla run is releasing commit ${commit.slice(0, 7)}${other ? ` (pid ${other.pid} on ${other.host})` : ""}: waiting for it`,
      );
    waited = true;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
  }
  return {
    ref,
    waited,
    async release() {
      // Only our own lock: the lease expects our commit.
      await git(["push", "--quiet", `--force-with-lease=${ref}:${mine}`, "origin", `:${ref}`]);
    },
  };
}

async function remoteRef(cwd: string, ref: string): Promise<string | undefined> {
  const r = await execa("git", ["ls-remote", "origin", ref], { cwd, reject: false });
  return r.stdout.split(/\s/)[0] || undefined;
}

async function readHolder(cwd: string, ref: string): Promise<LockHolder | undefined> {
  const f = await execa("git", ["fetch", "--quiet", "--no-tags", "origin", ref], { cwd, reject: false });
  if (f.exitCode !== 0) return undefined;
  const m = await execa("git", ["log", "-1", "--format=%B", "FETCH_HEAD"], { cwd, reject: false });
  try {
    return JSON.parse(m.stdout.trim()) as LockHolder;
  } catch {
    return undefined;
  }
}

function isStale(h: LockHolder, staleMs: number): boolean {
  if (Date.now() - Date.parse(h.started) > staleMs) return true;
  if (h.host !== os.hostname()) return false;
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (err) {
    return (err as { code?: string }).code === "ESRCH";
  }
}

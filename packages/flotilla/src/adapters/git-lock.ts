import { readFileSync, readlinkSync } from "node:fs";
import os from "node:os";
import { execa } from "execa";

/** Who holds a release lock: written into the lock commit's message, refreshed by its heartbeat. */
export interface LockHolder {
  host: string;
  pid: number;
  started: string;
  /** The holder's last sign of life (ISO time); absent in locks of older flotilla versions. */
  heartbeat?: string;
  /** Seconds between the holder's heartbeats. */
  every?: number;
  /** When the holder's process started (Linux: /proc/<pid>/stat's starttime): tells a reused pid from the holder. */
  pidStart?: string;
  /**
   * Where `pid` means something: this boot of this machine and the pid namespace (Linux). A host
   * name is shared by containers with their own pids (`--network host`, hostNetwork pods).
   */
  pidSpace?: string;
}

export interface ReleaseLock {
  ref: string;
  /** The commit the lock is for. */
  commit: string;
  /** True when another run held the lock first (the caller says so when it left nothing to do). */
  waited: boolean;
  /**
   * Deletes the lock (only while it is ours). `with`: more refspecs pushed in the same atomic
   * push (the release record), so origin sees both or neither; true when that push went through.
   * Releasing twice does nothing the second time.
   */
  release(with_?: string[]): Promise<boolean>;
}

/** A holder is gone once its last heartbeat is older than this many of its own intervals. */
const MISSED_BEATS = 4;

/**
 * One release of a commit at a time (SPEC §5a.4), held on origin so two CI jobs see it: the ref
 * `refs/flotilla/lock/<commit>` is created with a lease that expects it absent (git's ref
 * transaction makes the create atomic on the server). The loser waits for the holder to finish;
 * its caller reads the registries once it holds the lock. While a run holds the lock it re-pushes
 * it every `heartbeatMs` (a new commit whose message has the time, with a lease on its previous
 * value), so a holder that was cancelled on another runner is known gone after a few missed
 * beats, on any host. A gone holder's lock (no heartbeat for MISSED_BEATS intervals; a process of
 * this host that no longer exists, or whose pid now names a process started at another time; a
 * lock without heartbeat older than `staleMs`) is taken over with a lease on its exact value: of
 * two waiters, one wins. Hand-written: no library does locking through a git remote.
 */
export async function acquireReleaseLock(
  cwd: string,
  commit: string,
  opts: {
    waitMs: number;
    staleMs: number;
    /** Between two heartbeats of the holder (default 30 s). */
    heartbeatMs?: number;
    pollMs?: number;
    /** This machine's name in the lock (tests stand in for another runner). */
    host?: string;
    log: (m: string) => void;
  },
): Promise<ReleaseLock> {
  const ref = `refs/flotilla/lock/${commit}`;
  const git = (args: string[]) => execa("git", args, { cwd, reject: false });
  const every = opts.heartbeatMs ?? 30_000;
  const started = new Date().toISOString();
  // A fresh commit for every push: the heartbeat in it is the time of that push, so a lock won
  // after a long wait does not look stale to the next waiter.
  const lockCommit = async (): Promise<string> => {
    const holder: LockHolder = {
      host: opts.host ?? os.hostname(),
      pid: process.pid,
      started,
      heartbeat: new Date().toISOString(),
      every: every / 1000,
      pidStart: processStart(process.pid),
      pidSpace: pidSpace(),
    };
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
    return made.stdout.trim();
  };
  const push = (value: string, expect: string) =>
    git(["push", "--quiet", `--force-with-lease=${ref}:${expect}`, "origin", `${value}:${ref}`]);
  const deadline = Date.now() + opts.waitMs;
  let waited = false;
  let refused = 0;
  let mine = "";
  const pushedByUs = new Set<string>(); // a push that went through while its answer was lost is ours
  for (;;) {
    mine = await lockCommit();
    pushedByUs.add(mine);
    const pushed = await push(mine, "");
    if (pushed.exitCode === 0) break;
    const current = await remoteRef(cwd, ref);
    if (current && pushedByUs.has(current)) {
      mine = current; // a push of ours went through, its answer did not
      break;
    }
    if (!current) {
      // No lock there, yet the push failed: released between our push and the read (try again),
      // or origin refuses the ref / cannot be reached — then stop instead of spinning. A refusal
      // origin states (a hook or a ruleset "declined" it, no permission) is final at once: trying
      // again only meets it again. A rejection for a ref updated at the same moment ("cannot
      // lock ref", "already exists") is not one: it is tried again.
      const stated = /declined|permission .*denied|\b403\b|forbidden/i.test(pushed.stderr);
      if (stated || ++refused >= 3 || Date.now() > deadline) {
        throw Object.assign(
          new Error(
            `cannot take the release lock ${ref} on origin, so nothing was changed: ${gitReason(pushed.stderr) || `git push exited ${pushed.exitCode}`}`,
          ),
          { code: "RELEASE_LOCKED", refused: true },
        );
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
      continue;
    }
    refused = 0;
    const other = await readHolder(cwd, ref);
    if (other && isStale(other, opts.staleMs, opts.host)) {
      opts.log(
        `taking over the release lock of a run that is gone (pid ${other.pid} on ${other.host}, since ${other.started}, last heartbeat ${other.heartbeat ?? "none"})`,
      );
      mine = await lockCommit();
      pushedByUs.add(mine);
      if ((await push(mine, current)).exitCode === 0) break;
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
  // The heartbeat: one beat at a time; a lease on our own last value, so a beat never overwrites
  // a lock another run took over (then we stop beating and say so). A beat origin cannot take
  // (network) is tried again at the next interval.
  let lost = false;
  let released = false;
  let beating: Promise<void> = Promise.resolve();
  const beat = async () => {
    const next = await lockCommit();
    const r = await push(next, mine);
    if (r.exitCode === 0) {
      mine = next;
      return;
    }
    const now = await git(["ls-remote", "origin", ref]);
    const value = now.stdout.split(/\s/)[0] || undefined;
    if (now.exitCode === 0 && value === next)
      mine = next; // the beat went through, its answer did not
    else if (now.exitCode === 0 && value !== mine) {
      lost = true;
      clearInterval(timer);
      opts.log(
        `the release lock ${ref} was taken over by another run (this run's heartbeat was late): the rest of this run is not exclusive`,
      );
    }
  };
  const timer = setInterval(() => {
    beating = beating.then(beat, beat).catch(() => {});
  }, every);
  timer.unref();
  return {
    ref,
    commit,
    waited,
    async release(with_ = []) {
      if (released) return false;
      released = true;
      clearInterval(timer);
      await beating;
      // Only our own lock: the lease expects our last value. With more refs, one atomic push:
      // when it fails (the lock was taken over, a ref refused), nothing of it happened, and the
      // lock alone is deleted as without them.
      if (lost) return false;
      const lease = `--force-with-lease=${ref}:${mine}`;
      if (with_.length && (await git(["push", "--quiet", "--atomic", lease, "origin", `:${ref}`, ...with_])).exitCode === 0) return true;
      await git(["push", "--quiet", lease, "origin", `:${ref}`]);
      return false;
    },
  };
}

/** What origin said, from `git push`'s stderr: its own lines and the rejection, one line (not git's "To …" and "error: failed to push"). */
function gitReason(stderr: string): string {
  return stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^To |^error: failed to push some refs/.test(l))
    .join(" / ");
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

/**
 * A holder is gone when its heartbeat stopped (any host; runners' clocks are NTP-synced, and
 * MISSED_BEATS intervals leave room for skew and a slow push), when its process no longer exists
 * on this host, or (a lock without heartbeat, from an older flotilla) when it is older than staleMs.
 */
function isStale(h: LockHolder, staleMs: number, host = os.hostname()): boolean {
  const beat = h.heartbeat ? Date.parse(h.heartbeat) : Number.NaN;
  if (Number.isFinite(beat) && h.every && h.every > 0) {
    if (Date.now() - beat > MISSED_BEATS * h.every * 1000) return true;
  } else if (Date.now() - Date.parse(h.started) > staleMs) return true;
  if (h.host !== host) return false;
  // Same host name, other machine or pid namespace: its pid says nothing here (the heartbeat decides).
  if (h.pidSpace !== undefined && h.pidSpace !== pidSpace()) return false;
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    return (err as { code?: string }).code === "ESRCH";
  }
  // The pid exists, but pids are reused (Linux's default pid_max is 32,768: a busy CI machine
  // wraps it in minutes): the holder is gone when that pid's process started at another time.
  const now = h.pidStart ? processStart(h.pid) : undefined;
  return now !== undefined && now !== h.pidStart;
}

/** This boot's id and this process's pid namespace ("" off Linux): a pid names the same process only within both. */
function pidSpace(): string {
  try {
    return `${readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()} ${readlinkSync("/proc/self/ns/pid")}`;
  } catch {
    return "";
  }
}

/** A process's start time in clock ticks after boot (field 22 of /proc/<pid>/stat), or undefined off Linux. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

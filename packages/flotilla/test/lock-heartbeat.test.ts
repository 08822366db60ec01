/**
 * The release lock's heartbeat (adapters/git-lock.ts), with real git and a bare origin: a lock
 * whose holder stopped beating is taken over on any host, quickly; a holder that beats is waited
 * for, however long it runs; two waiters never both take a stale lock.
 */
import { execFileSync } from "node:child_process";
import os from "node:os";
import { describe, expect, it } from "vitest";
import { acquireReleaseLock, processStart } from "../src/adapters/git-lock.ts";
import { repoWithOrigin, tempDir } from "./helpers/fixtures.ts";

/** A clone of origin: another runner's checkout. */
function cloneOf(origin: string): string {
  const dir = tempDir();
  execFileSync("git", ["clone", "--quiet", origin, dir]);
  return dir;
}

const lockValue = (origin: string, head: string) =>
  execFileSync("git", ["for-each-ref", "--format=%(objectname)", `refs/flotilla/lock/${head}`], { cwd: origin })
    .toString()
    .trim();
const lockHolder = (origin: string, head: string) =>
  JSON.parse(execFileSync("git", ["log", "-1", "--format=%B", `refs/flotilla/lock/${head}`], { cwd: origin }).toString()) as {
    host: string;
    heartbeat: string;
    every: number;
  };

/** Leaves a lock on origin as a run on another runner would, last beating `ago` ms ago. */
function leaveLock(dir: string, head: string, holder: object, force = false): void {
  const c = execFileSync(
    "git",
    ["-c", "user.name=x", "-c", "user.email=x@x", "commit-tree", `${head}^{tree}`, "-p", head, "-m", JSON.stringify(holder)],
    { cwd: dir },
  )
    .toString()
    .trim();
  execFileSync("git", ["push", "--quiet", ...(force ? ["--force"] : []), "origin", `${c}:refs/flotilla/lock/${head}`], { cwd: dir });
}

/** A holder on this host (this test's pid) that beat just now, every 30 s; `more` sets its pid start and namespace. */
const beatingHolderHere = (more: { pidStart: string | undefined; pidSpace?: string }) => {
  const now = new Date().toISOString();
  return { host: os.hostname(), pid: process.pid, ...more, started: now, heartbeat: now, every: 30 };
};

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: Error & { code?: string }) => e,
  );

describe("the release lock's heartbeat", () => {
  it("a lock from another runner whose heartbeat stopped is taken over at once (not after FLOTILLA_LOCK_STALE_SECONDS)", async () => {
    const { dir, origin, head } = repoWithOrigin();
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    // A cancelled CI job: pid 1 on a runner that is not this one, started and last beating 10 minutes ago.
    leaveLock(dir, head, { host: "runner-cancelled", pid: 1, started: tenMinutesAgo, heartbeat: tenMinutesAgo, every: 30 });
    const log: string[] = [];
    const started = Date.now();
    const lock = await acquireReleaseLock(dir, head, { waitMs: 20_000, staleMs: 6 * 3600_000, pollMs: 100, log: (m) => log.push(m) });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(log.join("\n")).toMatch(/taking over the release lock of a run that is gone \(pid 1 on runner-cancelled/);
    // The lock is ours now, with a fresh heartbeat.
    const holder = lockHolder(origin, head);
    expect(holder.host).not.toBe("runner-cancelled");
    expect(Date.now() - Date.parse(holder.heartbeat)).toBeLessThan(10_000);
    await lock.release();
    expect(lockValue(origin, head)).toBe("");
  });

  it("a killed holder on this host whose pid was reused by another process is taken over at once (its heartbeat still fresh)", async () => {
    const { dir, origin, head } = repoWithOrigin();
    const now = new Date().toISOString();
    // The pid is alive (this test's own process) but started at another time than the holder did:
    // the holder was SIGKILLed and its pid reused. Its last beat is fresh, so only the start time tells.
    expect(processStart(process.pid)).toMatch(/^\d+$/);
    leaveLock(dir, head, { host: os.hostname(), pid: process.pid, pidStart: "1", started: now, heartbeat: now, every: 30 });
    const log: string[] = [];
    const started = Date.now();
    const lock = await acquireReleaseLock(dir, head, { waitMs: 20_000, staleMs: 6 * 3600_000, pollMs: 100, log: (m) => log.push(m) });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(log.join("\n")).toMatch(new RegExp(`taking over the release lock of a run that is gone \\(pid ${process.pid} on `));
    await lock.release();
    expect(lockValue(origin, head)).toBe("");
  });

  it("a beating holder with this host's name but another pid namespace (a container sharing the host name) is waited for, whatever its pid names here", async () => {
    const { dir, head } = repoWithOrigin();
    // Its pid is alive here (this test's own process) with another start time: in the holder's own
    // pid namespace that says nothing about the holder, which beats.
    leaveLock(dir, head, beatingHolderHere({ pidStart: "1", pidSpace: "00000000-0000-0000-0000-000000000000 pid:[1]" }));
    const log: string[] = [];
    const err = await rejection(
      acquireReleaseLock(dir, head, { waitMs: 1500, staleMs: 6 * 3600_000, pollMs: 500, log: (m) => log.push(m) }),
    );
    expect(log.join("\n")).not.toMatch(/taking over/);
    expect(err?.code).toBe("RELEASE_LOCKED");
  });

  it("a holder on this host whose process is alive (same pid, same start) and beats is waited for", async () => {
    const { dir, head } = repoWithOrigin();
    leaveLock(dir, head, beatingHolderHere({ pidStart: processStart(process.pid) }));
    const err = await rejection(acquireReleaseLock(dir, head, { waitMs: 1500, staleMs: 6 * 3600_000, pollMs: 500, log: () => {} }));
    expect(err?.code).toBe("RELEASE_LOCKED");
  });

  it("a live holder on another runner beats: its lock is waited for, even long after its heartbeat would have gone stale", async () => {
    const { dir, origin, head } = repoWithOrigin();
    const other = cloneOf(origin);
    // The holder beats every 2.5 s: stale after 10 s without a beat (a beat is two git processes: slow on a loaded machine).
    const holder = await acquireReleaseLock(other, head, {
      waitMs: 5_000,
      staleMs: 6 * 3600_000,
      heartbeatMs: 2_500,
      host: "runner-a",
      log: () => {},
    });
    const first = lockValue(origin, head);
    await new Promise((r) => setTimeout(r, 4_000));
    expect(lockValue(origin, head)).not.toBe(first); // it beat
    expect(Date.now() - Date.parse(lockHolder(origin, head).heartbeat)).toBeLessThan(10_000);
    const log: string[] = [];
    const err = await rejection(
      acquireReleaseLock(dir, head, { waitMs: 12_000, staleMs: 6 * 3600_000, pollMs: 1_000, log: (m) => log.push(m) }),
    );
    expect(err?.code).toBe("RELEASE_LOCKED");
    expect(err?.message).toMatch(/another flotilla run is releasing commit [0-9a-f]{7} \(pid \d+ on runner-a/);
    expect(log.join("\n")).not.toMatch(/taking over/);
    expect(lockHolder(origin, head).host).toBe("runner-a");
    // The holder's own release still works after many beats (its lease follows its last value).
    await holder.release();
    expect(lockValue(origin, head)).toBe("");
  });

  it("a holder whose lock was taken over stops beating, says so, and its release leaves the new holder's lock alone", async () => {
    const { dir, origin, head } = repoWithOrigin();
    const log: string[] = [];
    const late = await acquireReleaseLock(dir, head, {
      waitMs: 5_000,
      staleMs: 6 * 3600_000,
      heartbeatMs: 500,
      log: (m) => log.push(m),
    });
    // Another runner took it over (as a waiter does once the beats stopped): the lock is not ours any more.
    const now = new Date().toISOString();
    leaveLock(dir, head, { host: "runner-new", pid: 1, started: now, heartbeat: now, every: 30 }, true);
    const theirs = lockValue(origin, head);
    for (let i = 0; i < 40 && !log.some((m) => /taken over/.test(m)); i++) await new Promise((r) => setTimeout(r, 250));
    expect(log.join("\n")).toMatch(/the release lock refs\/flotilla\/lock\/[0-9a-f]+ was taken over by another run/);
    expect(lockValue(origin, head)).toBe(theirs); // no beat overwrote it
    await late.release();
    expect(lockValue(origin, head)).toBe(theirs);
  });

  it("two waiters on one stale lock: exactly one takes it (the take-over is a lease on the stale value)", async () => {
    const { dir, origin, head } = repoWithOrigin();
    const old = new Date(Date.now() - 3600_000).toISOString();
    leaveLock(dir, head, { host: "runner-gone", pid: 1, started: old, heartbeat: old, every: 30 });
    const other = cloneOf(origin);
    const opts = { waitMs: 3_000, staleMs: 6 * 3600_000, pollMs: 500, log: () => {} };
    // Each ends holding the lock or, after waiting for the winner, with RELEASE_LOCKED.
    const results = await Promise.allSettled([
      acquireReleaseLock(dir, head, { ...opts, host: "runner-b" }),
      acquireReleaseLock(other, head, { ...opts, host: "runner-c" }),
    ]);
    const held = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as { code?: string }).code] : []));
    expect(held).toHaveLength(1);
    expect(refused).toEqual(["RELEASE_LOCKED"]);
    expect(["runner-b", "runner-c"]).toContain(lockHolder(origin, head).host);
    await held[0]!.release();
  });
});

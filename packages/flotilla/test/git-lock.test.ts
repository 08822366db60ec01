import { execFileSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { acquireReleaseLock } from "../src/adapters/git-lock.ts";
import { repoWithOrigin } from "./helpers/fixtures.ts";

const refsOf = (origin: string) => execFileSync("git", ["for-each-ref", "--format=%(refname)"], { cwd: origin }).toString().trim();

describe("the release lock on origin", () => {
  it("is taken once and released (the ref is gone afterwards)", async () => {
    const { dir, origin, head } = repoWithOrigin();
    const lock = await acquireReleaseLock(dir, head, { waitMs: 5_000, staleMs: 60_000, log: () => {} });
    expect(lock.waited).toBe(false);
    expect(refsOf(origin)).toContain(`refs/flotilla/lock/${head}`);
    await lock.release();
    expect(refsOf(origin)).not.toContain("refs/flotilla/lock/");
  });

  it("stops with a clear error, instead of spinning, when origin refuses refs/flotilla/*", async () => {
    const { dir, origin, head } = repoWithOrigin();
    const hook = path.join(origin, "hooks", "pre-receive");
    writeFileSync(hook, '#!/bin/sh\necho "refs/flotilla is protected" >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const started = Date.now();
    const err = await acquireReleaseLock(dir, head, { waitMs: 60_000, staleMs: 60_000, pollMs: 50, log: () => {} }).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err?.code).toBe("RELEASE_LOCKED");
    expect(err?.message).toMatch(/cannot take the release lock refs\/flotilla\/lock\/[0-9a-f]+ on origin, so nothing was changed/);
    expect(err?.message).toMatch(/refs\/flotilla is protected/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

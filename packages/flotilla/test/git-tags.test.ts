/**
 * The git-tag steps' git work coalesced per repository (issue 12), against real repositories and
 * a bare origin: what becomes ready while a batch runs goes in the next one; a refused tag fails alone.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { pushTags } from "../src/adapters/git.ts";
import { coalesce, FALLBACK_CONCURRENCY, gitTags, PUSH_INTERVAL_MS } from "../src/adapters/git-tags.ts";
import { gitCommitAll, tempDir, writeTree } from "./helpers/fixtures.ts";

function repoWithOrigin() {
  const dir = writeTree({ "a.txt": "a\n" });
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
  gitCommitAll(dir, "one");
  const origin = path.join(tempDir(), "origin.git");
  execFileSync("git", ["init", "-q", "--bare", origin]);
  execFileSync("git", ["remote", "add", "origin", origin], { cwd: dir });
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, encoding: "utf8" }).trim();
  const remoteTags = () =>
    execFileSync("git", ["ls-remote", "--tags", origin], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l && !l.endsWith("^{}"))
      .map((l) => l.split("\t")[1]!.replace("refs/tags/", ""))
      .sort();
  return { dir, origin, git, remoteTags };
}

describe("tag pushes, retried (SPEC §5a.6)", () => {
  it("a push whose answer is lost (origin took the tags, then hung up) counts as done once origin is read back", async () => {
    const { dir, origin, git, remoteTags } = repoWithOrigin();
    git("tag", "-a", "p@1.0.0", "-m", "p@1.0.0");
    git("tag", "-a", "q@1.0.0", "-m", "q@1.0.0");
    // After updating the refs, origin's receive-pack dies before it can answer.
    const hook = path.join(origin, "hooks", "post-update");
    writeFileSync(hook, '#!/bin/sh\necho ran >> "$GIT_DIR/post-update.count"\nkill -9 $PPID\n', { mode: 0o755 });
    await pushTags(dir, ["p@1.0.0", "q@1.0.0"]);
    expect(remoteTags()).toEqual(["p@1.0.0", "q@1.0.0"]);
    expect(readFileSync(path.join(origin, "post-update.count"), "utf8")).toBe("ran\n"); // pushed once
  });

  it("a push that fails on the way (origin not reachable yet) is tried again; a refused one is not", async () => {
    const { dir, origin, git, remoteTags } = repoWithOrigin();
    git("tag", "-a", "p@1.0.0", "-m", "p@1.0.0");
    const away = `${origin}.away`;
    renameSync(origin, away);
    setTimeout(() => renameSync(away, origin), 400); // back after the first attempt
    await pushTags(dir, ["p@1.0.0"]);
    expect(remoteTags()).toEqual(["p@1.0.0"]);

    // The same tag name on another commit of origin: refused at once, not retried.
    git("tag", "-d", "p@1.0.0");
    writeFileSync(path.join(dir, "b.txt"), "b\n");
    gitCommitAll(dir, "two");
    git("tag", "-a", "p@1.0.0", "-m", "p@1.0.0");
    const started = Date.now();
    await expect(pushTags(dir, ["p@1.0.0"])).rejects.toThrow(/rejected|already exists/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("git tags, batched", () => {
  it("writes the very tag object `git tag -a <t> -m <t>` writes (same id, with the date pinned; same tagger and message, with the time now)", async () => {
    const { dir, git } = repoWithOrigin();
    const twin = path.join(tempDir(), "twin");
    execFileSync("git", ["clone", "-q", dir, twin]);
    const head = git("rev-parse", "HEAD");
    const inTwin = (...a: string[]) => execFileSync("git", a, { cwd: twin, encoding: "utf8" }).trim();
    const pinned = "1700000000 +0200";
    const before = process.env.GIT_COMMITTER_DATE;
    process.env.GIT_COMMITTER_DATE = pinned;
    try {
      await gitTags({}, dir).create("p@1.0.0", head);
      execFileSync("git", ["tag", "-a", "p@1.0.0", "-m", "p@1.0.0", head], { cwd: twin, env: process.env });
    } finally {
      if (before === undefined) delete process.env.GIT_COMMITTER_DATE;
      else process.env.GIT_COMMITTER_DATE = before;
    }
    expect(git("rev-parse", "refs/tags/p@1.0.0")).toBe(inTwin("rev-parse", "refs/tags/p@1.0.0"));

    // Unpinned: the time is the tag's own (not the run's start), as git's.
    const t0 = Math.floor(Date.now() / 1000);
    await gitTags({}, dir).create("q@1.0.0", "");
    inTwin("tag", "-a", "q@1.0.0", "-m", "q@1.0.0");
    const show = (run: typeof git) => run("cat-file", "-p", "refs/tags/q@1.0.0");
    const ours = show(git);
    const when = Number(/^tagger .* (\d+) [+-]\d{4}$/m.exec(ours)?.[1]);
    expect(when).toBeGreaterThanOrEqual(t0);
    expect(when).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    const strip = (s: string) => s.replace(/^(tagger .*) \d+ ([+-]\d{4})$/m, "$1 T $2");
    expect(strip(ours)).toBe(strip(show(inTwin)));
    git("fsck", "--strict", "--no-dangling"); // git's own check of every object, tags included: throws on a malformed one
  });

  it("the long-lived git processes do not keep a finished run alive", () => {
    const { dir, git } = repoWithOrigin();
    const src = path.join(path.dirname(fileURLToPath(import.meta.url)), "../src/adapters/git-tags.ts");
    const script = `const { gitTags } = await import(${JSON.stringify(src)});
      const t = gitTags({}, ${JSON.stringify(dir)});
      await Promise.all([t.create("a@1.0.0", ""), t.create("b@1.0.0", "")]);
      await t.create("c@1.0.0", "");
      await Promise.all(["a@1.0.0", "b@1.0.0", "c@1.0.0"].map((n) => t.push(n)));
      console.log("done");`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toBe("");
    expect(r.signal).toBeNull(); // not killed by the timeout: it ended by itself
    expect(r.stdout.trim()).toBe("done");
    expect(git("tag", "-l").split("\n").sort()).toEqual(["a@1.0.0", "b@1.0.0", "c@1.0.0"]);
  });

  it("the first push goes at once; tags ready within the interval after it go as one push; a tag after a quiet spell goes at once", async () => {
    const batches: number[][] = [];
    const push = coalesce(
      async (items: number[]) => {
        batches.push(items);
        return items;
      },
      async (i: number) => i,
      1_000, // wide margins: timers run late on a loaded machine
    );
    const at = (ms: number, i: number) => new Promise<number>((r) => setTimeout(() => r(push(i)), ms));
    expect(await Promise.all([at(0, 1), at(50, 2), at(100, 3), at(2_500, 4)])).toEqual([1, 2, 3, 4]);
    expect(batches).toEqual([[1], [2, 3], [4]]);
  });

  it("once the last expected tag is asked for, the waiting push goes at once instead of waiting out the interval", {
    timeout: 20_000,
  }, async () => {
    const batches: number[][] = [];
    let asked = 0;
    const push = coalesce(
      async (items: number[]) => {
        batches.push(items);
        return items;
      },
      async (i: number) => i,
      60_000, // an interval no test waits out: only the last tag's arrival ends the wait
      () => asked < 3,
    );
    const ask = (i: number) => {
      asked++;
      return push(i);
    };
    await ask(1); // the first goes at once
    const second = ask(2); // waits for more...
    await new Promise((r) => setTimeout(r, 20));
    expect(batches).toEqual([[1]]);
    await Promise.all([second, ask(3)]); // ...until the last one comes: both go now
    expect(batches).toEqual([[1], [2, 3]]);
  });

  it("pushes start at least the interval apart however fast tags come (PUSH_INTERVAL_MS)", async () => {
    const starts: number[] = [];
    const push = coalesce(
      async (items: number[]) => {
        starts.push(performance.now());
        await new Promise((r) => setTimeout(r, 10)); // a quick push: the interval, not the push, spaces them
        return items;
      },
      async (i: number) => i,
      PUSH_INTERVAL_MS,
    );
    const all: Promise<number>[] = [];
    for (let i = 0; i < 40; i++) {
      all.push(push(i));
      await new Promise((r) => setTimeout(r, 15));
    }
    expect(await Promise.all(all)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // 40 tags over ~0.6 s: 3–4 pushes, not one per tag.
    expect(starts.length).toBeLessThanOrEqual(Math.ceil((40 * 15) / PUSH_INTERVAL_MS) + 2);
    for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(PUSH_INTERVAL_MS - 2);
  });

  it("a ref lock a killed `git update-ref` left (SIGKILL mid-transaction) is removed before the next run's first tag; a newer one is not", async () => {
    const { dir, git } = repoWithOrigin();
    const head = git("rev-parse", "HEAD");
    /** A real `git update-ref` killed with SIGKILL once it holds the lock of refs/tags/<tag>. */
    const killedMidTransaction = async (tag: string) => {
      const child = spawn("git", ["update-ref", "--stdin"], { cwd: dir });
      child.stdin.write(`start\ncreate refs/tags/${tag} ${head}\nprepare\n`);
      await new Promise<void>((resolve) => child.stdout.on("data", (d: Buffer) => d.toString().includes("prepare: ok") && resolve()));
      child.kill("SIGKILL");
      await new Promise((r) => child.on("close", r));
      expect(existsSync(path.join(dir, `.git/refs/tags/${tag}.lock`))).toBe(true);
    };
    await killedMidTransaction("x@1.0.0");
    // git itself never gets past it.
    expect(spawnSync("git", ["tag", "-a", "x@1.0.0", "-m", "x@1.0.0"], { cwd: dir, encoding: "utf8" }).stderr).toMatch(/File exists/);
    const runStarted = Date.now() + 1; // the next run starts after the kill
    await new Promise((r) => setTimeout(r, 20));
    expect(await gitTags({}, dir, runStarted).create("x@1.0.0", head)).toEqual({ clearedStaleLock: true }); // the step's detail says so
    expect(git("rev-parse", "x@1.0.0^{commit}")).toBe(head);
    expect(existsSync(path.join(dir, ".git/refs/tags/x@1.0.0.lock"))).toBe(false);

    // A lock made after the run started may be a live writer's: left alone, and that tag fails.
    const before = Date.now() - 1_000;
    await killedMidTransaction("y@1.0.0");
    await expect(gitTags({}, dir, before).create("y@1.0.0", head)).rejects.toThrow(/y@1\.0\.0\.lock.*File exists|File exists/s);
    expect(existsSync(path.join(dir, ".git/refs/tags/y@1.0.0.lock"))).toBe(true);
  });

  it("creates annotated tags at the given commit in one batch, reads them back, and refuses one that exists", async () => {
    const { dir, git } = repoWithOrigin();
    const head = git("rev-parse", "HEAD");
    const tags = gitTags({}, dir);
    expect(await Promise.all([tags.create("a@1.0.0", head), tags.create("b@2.0.0", ""), tags.create("c@3.0.0", head)])).toEqual(
      Array(3).fill({ clearedStaleLock: false }),
    );
    for (const t of ["a@1.0.0", "b@2.0.0", "c@3.0.0"]) {
      expect(git("cat-file", "-t", `refs/tags/${t}`)).toBe("tag"); // annotated, as `git tag -a`
      expect(git("rev-parse", `refs/tags/${t}^{commit}`)).toBe(head);
      expect(git("tag", "-l", "--format=%(contents:subject)", t)).toBe(t);
    }
    expect(await Promise.all(["a@1.0.0", "nope@1.0.0"].map((t) => tags.commitOf(t)))).toEqual([head, undefined]);
    await expect(tags.create("a@1.0.0", head)).rejects.toThrow(/a@1\.0\.0/);
  });

  it("a failed batch is retried item by item a few at a time, not all at once (tag steps take no runner slot: a batch can hold every tag of the release)", async () => {
    let inFlight = 0;
    let most = 0;
    const run = coalesce(
      async (items: number[]) => {
        if (items.length > 1) throw new Error("refused whole");
        return items;
      },
      async (i: number) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        return i;
      },
    );
    const all = Array.from({ length: 200 }, (_, i) => run(i)); // the first goes alone, 199 queue as one batch
    expect(await Promise.all(all)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(FALLBACK_CONCURRENCY);
  });

  it("tags asked for while a push runs go out together in the next push; each caller learns its own tag is on origin", async () => {
    const { dir, git, remoteTags } = repoWithOrigin();
    for (const t of ["a@1.0.0", "b@1.0.0", "c@1.0.0", "d@1.0.0"]) git("tag", "-a", t, "-m", t);
    const batches: string[][] = [];
    const push = coalesce(
      async (tags: string[]) => {
        batches.push(tags);
        await pushTags(dir, tags);
        return tags.map(() => undefined);
      },
      (t) => pushTags(dir, [t]),
    );
    const first = push("a@1.0.0");
    // Ready while the first push is on its way: one push for the three.
    const rest = ["b@1.0.0", "c@1.0.0", "d@1.0.0"].map((t) => push(t));
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([["a@1.0.0"], ["b@1.0.0", "c@1.0.0", "d@1.0.0"]]);
    expect(remoteTags()).toEqual(["a@1.0.0", "b@1.0.0", "c@1.0.0", "d@1.0.0"]);
  });

  it("a batch origin refuses is retried tag by tag: only the refused tag fails, the others are on origin", async () => {
    const { dir, origin, git, remoteTags } = repoWithOrigin();
    // On origin already, at another commit: the release's own tag of that name is refused.
    git("tag", "-a", "x@1.0.0", "-m", "x");
    git("push", "-q", "origin", "refs/tags/x@1.0.0");
    git("tag", "-d", "x@1.0.0");
    writeTree({ "b.txt": "b\n" }, dir);
    gitCommitAll(dir, "two");
    for (const t of ["x@1.0.0", "y@1.0.0", "z@1.0.0"]) git("tag", "-a", t, "-m", t);
    const push = gitTags({}, dir).push;
    const hold = push("y@1.0.0"); // the others queue behind it and go as one batch, which fails whole
    const results = await Promise.allSettled([hold, push("x@1.0.0"), push("z@1.0.0")]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(remoteTags()).toEqual(["x@1.0.0", "y@1.0.0", "z@1.0.0"]);
    // x@1.0.0 on origin is still the first commit's: never rewritten (SPEC §5a.4).
    const peeled = execFileSync("git", ["ls-remote", origin, "refs/tags/x@1.0.0^{}"], { encoding: "utf8" }).split("\t")[0];
    expect(peeled).toBe(git("rev-parse", "HEAD~1"));
  });
});

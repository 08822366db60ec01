import { execFile } from "node:child_process";
import { statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pLimit from "p-limit";
import { createTag, GitPipe, pushTags } from "./git.ts";

/**
 * The git-tag steps' reads and writes, per repository and run (issue 12). Why: each git process
 * blocks Node's main thread while it starts (100–300 ms on a loaded 2-core machine), and three
 * per tag (read, create, push) made tags most of a first publish. Now:
 * - local tags are read once per run (one `for-each-ref`);
 * - tag objects go through one long-lived `git hash-object -w --stdin-paths` and their refs
 *   through one long-lived `git update-ref --stdin` (a transaction per batch): two processes a
 *   run, not one per tag; the tag object is byte for byte what `git tag -a <t> -m <t>` writes;
 * - pushes are batched: what becomes ready while a push runs goes in the next `git push
 *   --atomic`, and pushes start at most every PUSH_INTERVAL_MS (but the run's last expected one).
 * Each tag is still asked for only when its own step runs, i.e. once its package's artifacts
 * exist (SPEC §5a.1): batching changes when a tag goes out, never before what. A batch that
 * fails is retried item by item with the porcelain (`git tag -a`, `git push`), so one bad tag
 * fails only its own step.
 */
export interface GitTags {
  /** The commit a local tag points at (annotated tags peeled), or undefined. */
  commitOf(tag: string): Promise<string | undefined>;
  /** Creates annotated tag `tag` (message: its name, as `git tag -a tag -m tag`) at `commit` (HEAD when empty). */
  create(tag: string, commit: string): Promise<{ clearedStaleLock: boolean }>;
  /** Pushes the local tag to origin. */
  push(tag: string): Promise<void>;
  /**
   * How many pushes this run will ask for (its git-tag steps that push): once the last of them
   * is asked for, it goes without waiting out PUSH_INTERVAL_MS (the end of a release waits for
   * no tag that is not coming). A step that never pushes (its artifact failed) only means the
   * last push waits the interval, as without this.
   */
  expectPushes(count: number): void;
}

/**
 * How many items of a failed batch are retried at once (`git tag -a` / `git push` each). Tag
 * steps take no runner slot, so a batch can hold every tag of a release (a rerun, `--only git`
 * after a matrix): all at once, that was a process and a connection to origin per tag.
 */
export const FALLBACK_CONCURRENCY = 8;

/**
 * Items asked for while a batch runs are handled together in the next call of `run`. With
 * `intervalMs`, a batch also starts no sooner than that after the one before it started (the
 * first goes at once): what becomes ready meanwhile joins it — unless `more()` says no other
 * item is coming, and then the batch goes at once.
 */
export function coalesce<I, O>(
  run: (items: I[]) => Promise<O[]>,
  one: (item: I) => Promise<O>,
  intervalMs = 0,
  more: () => boolean = () => true,
): (item: I) => Promise<O> {
  let queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let draining = false;
  let lastStart = Number.NEGATIVE_INFINITY;
  let wake: (() => void) | undefined;
  const drain = async () => {
    draining = true;
    while (queue.length > 0) {
      const wait = lastStart + intervalMs - performance.now();
      if (wait > 0 && more())
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      wake = undefined;
      lastStart = performance.now();
      const batch = queue;
      queue = [];
      try {
        const out = await run(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(out[i]!);
      } catch (err) {
        const limit = pLimit(FALLBACK_CONCURRENCY);
        if (batch.length === 1) batch[0]!.reject(err);
        else
          await Promise.all(
            batch.map((b) =>
              limit(() => one(b.item)).then(
                (o) => b.resolve(o),
                (e) => b.reject(e),
              ),
            ),
          );
      }
    }
    draining = false;
  };
  return (item) =>
    new Promise<O>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      if (!draining) void drain();
      else if (wake && !more()) wake();
    });
}

function git(cwd: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, { cwd, maxBuffer: 256 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`git ${args[0]} failed: ${String(stderr).trim() || err.message}`)) : resolve(String(stdout)),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/**
 * Removes the ref lock of `tag` (`refs/tags/<tag>.lock`) when a git process killed
 * mid-transaction left it: when it was made before this run started. git never removes such a
 * lock, and while it is there every write of that tag fails ("cannot lock ref … File exists"),
 * so the rerun after a SIGKILL that landed inside `git update-ref` could never create the tag
 * (the kill-point sweep met it at "start git-tag", 1 Dec 2026). Only this run's own tags, the
 * release's `<name>@<version>`, are looked at; a live git holds a ref lock for a moment, not from
 * before this run started. True when a lock was removed.
 */
export async function clearStaleTagLock(gitCommonDir: string, tag: string, startedAt: number): Promise<boolean> {
  const lock = path.join(gitCommonDir, "refs", "tags", `${tag}.lock`);
  try {
    // Synchronous and without an error for the common case (no lock): at N = 1,000 an ENOENT
    // thrown per tag cost ~0.2 s of the main thread in stack traces alone (CPU profile).
    const found = statSync(lock, { throwIfNoEntry: false });
    if (!found || found.mtimeMs >= startedAt) return false;
    await rm(lock, { force: true });
    return true;
  } catch {
    return false; // unreadable, or gone meanwhile: the tag's own write says what is wrong
  }
}

/** Local tags → the commit each points at, in one `for-each-ref`. */
async function localTagCommits(cwd: string): Promise<Map<string, string>> {
  const out = await git(cwd, ["for-each-ref", "--format=%(refname:strip=2) %(objecttype) %(objectname) %(*objectname)", "refs/tags"]);
  const map = new Map<string, string>();
  for (const line of out.split("\n").filter(Boolean)) {
    const [name, type, obj, peeled] = line.split(" ") as [string, string, string, string | undefined];
    if (type === "commit") map.set(name, obj);
    else if (peeled) map.set(name, peeled);
  }
  return map;
}

/**
 * The least time between the starts of two tag pushes: at most four a second. Whatever becomes
 * ready while a push runs, or within this of the last push's start, goes out in the next push;
 * the first tag of a run goes at once, and so does any tag that comes after a quiet spell, so a
 * small release's tags wait at most this long. Without it (0 until 1 Dec 2026) a first publish of
 * 1,000 packages made 120 pushes of ~8 tags on a fast machine (each push ~0.1 CPU-s of git on
 * each side, and the advertisement of every tag origin holds), ~35 with it.
 */
export const PUSH_INTERVAL_MS = 250;

/** The tagger line as `git tag -a` would write it now (`git var` once a run; the time is taken per tag). */
function taggerNow(ident: string): string {
  // GIT_COMMITTER_DATE pins the date: git var already says it, as `git tag` would.
  // biome-ignore lint/suspicious/noUndeclaredEnvVars: git's own variable, read at run time, not a build input
  if (process.env.GIT_COMMITTER_DATE) return ident;
  const m = /^(.*) \d+ ([+-]\d{4})$/.exec(ident);
  return m ? `${m[1]} ${Math.floor(Date.now() / 1000)} ${m[2]}` : ident;
}

/** The writers of one run: annotated tags through two long-lived git processes. */
function tagWriter(cwd: string) {
  const hashObject = new GitPipe(cwd, ["hash-object", "-w", "-t", "tag", "--stdin-paths"]);
  const updateRef = new GitPipe(cwd, ["update-ref", "--stdin"]);
  let ident: Promise<string> | undefined;
  let head: Promise<string> | undefined;
  /** Annotated tags in one batch: their objects, then one ref transaction (a tag that exists by then fails the whole transaction). */
  return async (items: { tag: string; commit: string }[]): Promise<undefined[]> => {
    ident ??= git(cwd, ["var", "GIT_COMMITTER_IDENT"]).then((s) => s.trim());
    if (items.some((i) => !i.commit)) head ??= git(cwd, ["rev-parse", "HEAD"]).then((s) => s.trim());
    const [tagger, at] = [taggerNow(await ident), head ? await head : ""];
    const dir = await mkdtemp(path.join(os.tmpdir(), "flotilla-tags-"));
    const files = await Promise.all(
      items.map(async (it, i) => {
        const f = path.join(dir, String(i));
        await writeFile(f, `object ${it.commit || at}\ntype commit\ntag ${it.tag}\ntagger ${tagger}\n\n${it.tag}\n`);
        return f;
      }),
    );
    try {
      const ids = await hashObject.request(`${files.join("\n")}\n`, files.length);
      const creates = items.map((it, i) => `create refs/tags/${it.tag} ${ids[i]}\n`).join("");
      // One transaction: all the refs or none.
      await updateRef.request(`start\n${creates}prepare\ncommit\n`, 3);
      return items.map(() => undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
}

const perRun = new WeakMap<object, GitTags>();

/**
 * The batched tag operations of the repository at `cwd`, one set per `run` (its context object).
 * `startedAt`: when the run started (ms since the epoch; this process's start by default): ref
 * locks older than that are a killed run's.
 */
export function gitTags(run: object, cwd: string, startedAt = performance.timeOrigin): GitTags {
  const known = perRun.get(run);
  if (known) return known;
  // Local tags are read once: the ones that matter (left by a killed run) exist before this run
  // starts, and the ones this run makes are added as they are made.
  let local: Promise<Map<string, string>> | undefined;
  const create = coalesce(tagWriter(cwd), (it) => createTag(cwd, it.tag, it.commit || undefined));
  const localTags = () => {
    local ??= localTagCommits(cwd);
    return local;
  };
  // Where refs live (the common dir: a linked worktree shares it), asked once a run.
  let common: Promise<string> | undefined;
  let asked = 0;
  let expected = Number.POSITIVE_INFINITY;
  const push = coalesce(
    async (names: string[]) => {
      await pushTags(cwd, names);
      return names.map(() => undefined);
    },
    (n) => pushTags(cwd, [n]),
    PUSH_INTERVAL_MS,
    () => asked < expected,
  );
  const tags: GitTags = {
    commitOf: async (tag) => (await localTags()).get(tag),
    create: async (tag, commit) => {
      common ??= git(cwd, ["rev-parse", "--git-common-dir"]).then(
        (d) => path.resolve(cwd, d.trim()),
        () => "", // then the tag's own write says what is wrong
      );
      const dir = await common;
      const clearedStaleLock = dir ? await clearStaleTagLock(dir, tag, startedAt) : false; // a killed run's lock on this tag
      await create({ tag, commit });
      if (commit) (await localTags()).set(tag, commit);
      return { clearedStaleLock };
    },
    push: (tag) => {
      asked++;
      return push(tag);
    },
    expectPushes: (count) => {
      expected = count;
    },
  };
  perRun.set(run, tags);
  return tags;
}

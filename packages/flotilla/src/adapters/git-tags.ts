import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTag, pushTags } from "./git.ts";

/**
 * The git-tag steps' reads and writes, coalesced per repository: whatever is asked for while a
 * batch runs goes out together in the next one. Why: each git process cost a fork of the whole
 * flotilla process (≈100 ms of its main thread on a loaded 2-core machine), three per tag (read,
 * create, push), which made tags most of a first publish (issue 12). Local tags are read once per
 * run (one `for-each-ref`); a batch of creates is one `hash-object` + one `update-ref`
 * transaction (plumbing, since `git tag` makes one tag per process); a batch of pushes is one
 * `git push --atomic`.
 * Each tag is still asked for only when its own step runs, i.e. once its package's artifacts
 * exist (SPEC §5a.1): batching changes when a tag goes out, never before what. A batch that
 * fails is retried item by item with the porcelain, so one bad tag fails only its own step.
 */
export interface GitTags {
  /** The commit a local tag points at (annotated tags peeled), or undefined. */
  commitOf(tag: string): Promise<string | undefined>;
  /** Creates annotated tag `tag` (message: its name, as `git tag -a tag -m tag`) at `commit` (HEAD when empty). */
  create(tag: string, commit: string): Promise<void>;
  /** Pushes the local tag to origin. */
  push(tag: string): Promise<void>;
}

/** Items asked for while a batch runs are handled together in the next call of `run`. */
export function coalesce<I, O>(run: (items: I[]) => Promise<O[]>, one: (item: I) => Promise<O>): (item: I) => Promise<O> {
  let queue: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let draining = false;
  const drain = async () => {
    draining = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        const out = await run(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(out[i]!);
      } catch (err) {
        if (batch.length === 1) batch[0]!.reject(err);
        else
          await Promise.all(
            batch.map((b) =>
              one(b.item).then(
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

/** Annotated tags in one object write and one ref transaction (a tag that exists by then fails the whole transaction). */
async function createTags(cwd: string, items: { tag: string; commit: string }[]): Promise<undefined[]> {
  const tagger = (await git(cwd, ["var", "GIT_COMMITTER_IDENT"])).trim();
  const head = items.some((i) => !i.commit) ? (await git(cwd, ["rev-parse", "HEAD"])).trim() : "";
  const dir = await mkdtemp(path.join(os.tmpdir(), "flotilla-tags-"));
  try {
    const files = await Promise.all(
      items.map(async (it, i) => {
        const f = path.join(dir, String(i));
        await writeFile(f, `object ${it.commit || head}\ntype commit\ntag ${it.tag}\ntagger ${tagger}\n\n${it.tag}\n`);
        return f;
      }),
    );
    const ids = (await git(cwd, ["hash-object", "-t", "tag", "-w", "--stdin-paths"], `${files.join("\n")}\n`)).trim().split("\n");
    // One transaction: all the refs or none.
    await git(cwd, ["update-ref", "--stdin"], items.map((it, i) => `create refs/tags/${it.tag} ${ids[i]}\n`).join(""));
    return items.map(() => undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const perRun = new WeakMap<object, GitTags>();

/** The batched tag operations of the repository at `cwd`, one set per `run` (its context object). */
export function gitTags(run: object, cwd: string): GitTags {
  const known = perRun.get(run);
  if (known) return known;
  // Local tags are read once: the ones that matter (left by a killed run) exist before this run
  // starts, and the ones this run makes are added as they are made.
  let local: Promise<Map<string, string>> | undefined;
  const create = coalesce(
    // One tag: `git tag -a` (one process); several: the plumbing (two processes for all).
    (items: { tag: string; commit: string }[]) =>
      items.length === 1 ? createTag(cwd, items[0]!.tag, items[0]!.commit || undefined).then(() => [undefined]) : createTags(cwd, items),
    (it) => createTag(cwd, it.tag, it.commit || undefined),
  );
  const localTags = () => {
    local ??= localTagCommits(cwd);
    return local;
  };
  const tags: GitTags = {
    commitOf: async (tag) => (await localTags()).get(tag),
    create: async (tag, commit) => {
      await create({ tag, commit });
      if (commit) (await localTags()).set(tag, commit);
    },
    push: coalesce(
      async (names: string[]) => {
        await pushTags(cwd, names);
        return names.map(() => undefined);
      },
      (n) => pushTags(cwd, [n]),
    ),
  };
  perRun.set(run, tags);
  return tags;
}

import { type ChildProcessWithoutNullStreams, execFile, spawn } from "node:child_process";
import { createInterface } from "node:readline";
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

/**
 * Pushes the tags in one atomic push (all or none), retried (SPEC §5a.6): a push that failed on
 * the way (network, a remote that hung up) is tried again, but first origin is read — a push
 * whose answer was lost may have landed, and then it is done. Origin refusing the tags (one
 * already on another commit, a hook, no permission) is not retried: the caller falls back to
 * one tag at a time, so only the refused tag fails.
 */
export async function pushTags(cwd: string, tags: string[]): Promise<void> {
  const { withRetry } = await import("./retry.ts");
  await withRetry(() => pushOnce(cwd, tags), {
    settled: async () => ((await onOrigin(cwd, tags)) ? true : undefined),
    shouldRetry: (err) => !REFUSED.test((err as Error).message),
  });
}

/** What git prints when origin refused the push itself (trying again cannot change it). */
const REFUSED =
  /\[rejected\]|\[remote rejected\]|already exists|non-fast-forward|denied|Authentication failed|could not read Username|403/i;

function pushOnce(cwd: string, tags: string[]): Promise<true> {
  const [cmd, args] = tools.gitPushTags(tags);
  // node's execFile, not execa: a publish pushes while its npm PUTs run, and execa's own work
  // around each process (≈70 ms of the main thread under load, issue 12's profile) delays them.
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.slice(0, 3).join(" ")} … failed: ${String(stderr).trim() || err.message}`)) : resolve(true),
    ),
  );
}

/** True when every tag is on origin as the very object it is here (read back after a failed push). */
async function onOrigin(cwd: string, tags: string[]): Promise<boolean> {
  const refs = tags.map((t) => `refs/tags/${t}`);
  const run = (args: string[]) =>
    new Promise<string | undefined>((resolve) =>
      execFile("git", args, { cwd, maxBuffer: 64 << 20 }, (err, out) => resolve(err ? undefined : out)),
    );
  const [local, remote] = await Promise.all([
    run(["for-each-ref", "--format=%(objectname) %(refname)", ...refs]),
    run(["ls-remote", "origin", ...refs]),
  ]);
  if (local === undefined || remote === undefined) return false;
  const ids = (out: string) => new Map(out.split("\n").flatMap((l) => (l.trim() ? [l.split(/\s+/).reverse() as [string, string]] : [])));
  const here = ids(local);
  const there = ids(remote);
  return refs.every((r) => here.has(r) && there.get(r) === here.get(r));
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

/**
 * One long-lived git process (`hash-object --stdin-paths`, `update-ref --stdin`) fed requests
 * through stdin, one at a time; each answer is a known number of stdout lines. Why: starting a
 * process blocks Node's main thread until the child has exec'd (100–300 ms each on a loaded
 * 2-core machine), and a release of N packages asked for 2–3 per tag (issue 12). A process that
 * exits (git dies on a refused request, e.g. a ref that exists) fails the request in flight with
 * git's message and is started again for the next one. Idle, it does not keep Node alive; when
 * flotilla exits its stdin closes and git ends by itself.
 */
export class GitPipe {
  private child: ChildProcessWithoutNullStreams | undefined;
  private lines: string[] = [];
  private stderr = "";
  private waiter: { count: number; resolve: (l: string[]) => void; reject: (e: Error) => void } | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  private readonly cwd: string;
  private readonly args: readonly string[];

  constructor(cwd: string, args: readonly string[]) {
    this.cwd = cwd;
    this.args = args;
  }

  /** Writes `input` and resolves with the next `count` lines git prints. */
  request(input: string, count: number): Promise<string[]> {
    const next = this.chain.then(() => this.send(input, count));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private send(input: string, count: number): Promise<string[]> {
    const child = this.start();
    for (const h of handles(child)) h.ref();
    return new Promise<string[]>((resolve, reject) => {
      this.waiter = { count, resolve, reject };
      child.stdin.write(input);
      this.deliver();
    }).finally(() => {
      if (this.child) for (const h of handles(this.child)) h.unref();
    });
  }

  private deliver() {
    const w = this.waiter;
    if (!w || this.lines.length < w.count) return;
    this.waiter = undefined;
    w.resolve(this.lines.splice(0, w.count));
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const child = spawn("git", this.args, { cwd: this.cwd, stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.lines = [];
    this.stderr = "";
    createInterface({ input: child.stdout }).on("line", (l) => {
      this.lines.push(l);
      this.deliver();
    });
    child.stderr.on("data", (b: Buffer) => {
      this.stderr += b.toString();
    });
    child.stdin.on("error", () => {}); // EPIPE once git has died: reported by "close" below
    const gone = (err?: Error) => {
      if (this.child !== child) return;
      this.child = undefined;
      const w = this.waiter;
      this.waiter = undefined;
      w?.reject(new Error(`git ${this.args[0]} failed: ${this.stderr.trim() || err?.message || "exited"}`));
    };
    child.on("error", gone);
    child.on("close", () => gone());
    return child;
  }
}

/** The process and its pipes (sockets), whose references keep Node's event loop alive. */
const handles = (c: ChildProcessWithoutNullStreams) => [c, c.stdin, c.stdout, c.stderr] as unknown as { ref(): void; unref(): void }[];

import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { ReleaseLock } from "../adapters/git-lock.ts";
import type { PackAhead } from "../adapters/pnpm.ts";
import { show, tools } from "../adapters/tools.ts";
import { planBuild } from "../build/plan.ts";
import { type CommonOptions, discover, gitOutput, ociFor, type ReleaseContext, registryFor } from "../context.ts";
import { FlotillaError, formatProblem, InputError, type Problem, ReleaseError } from "../errors.ts";
import { describeStep } from "../execute/describe.ts";
import { runSteps, type StepOutcome } from "../execute/runner.ts";
import { coverageOf, readRecord, recordedPlan, recordOf, recordRefspec, writeRecord } from "../observe/record.ts";
import { observeState } from "../observe/state.ts";
import { checkInvariants } from "../plan/invariants.ts";
import { type PublishPlan, planPublish, type Step } from "../plan/publish-plan.ts";
import { shardPlan } from "../plan/shard.ts";
import { preflightChecks, publishCycles, tagsOnOtherCommits } from "../preflight.ts";
import { type EmitEvent, stepEnded, stepStarted } from "../report/events.ts";
import { writeGithubOutputs } from "../report/github.ts";
import type { Logger } from "../report/log.ts";
import { type PublishResult, summarize } from "../report/result.ts";
import type { Progress } from "../report/tty.ts";

export interface PublishOptions extends CommonOptions {
  dryRun?: boolean;
  skipBuild?: boolean;
  allowDirty?: boolean;
  concurrency?: number;
  verbose?: boolean;
  /** `--shard <id>` (SPEC §11): only that matrix entry's artifact steps (plan/shard.ts). */
  shard?: string;
  /** Read every registry even where origin holds a release record (observe/record.ts). */
  verify?: boolean;
  log: Logger;
  /** `--log-format json`: step and run events (report/events.ts). */
  events?: EmitEvent;
  /** A live display of the steps (the terminal's task list); plain log lines when absent. */
  progress?: (steps: Step[]) => Promise<Progress>;
}

export interface PublishOutcome {
  result: PublishResult;
  /** The plan, with every step (what a dry run printed). */
  plan: PublishPlan;
  exitCode: 0 | 1;
  dryRun: boolean;
}

/**
 * `flotilla publish` (SPEC §5): discover → preflight → lock → diff → build → publish → tags → report.
 * Each phase is a function below; side effects start only after preflight passed.
 */
export async function publishCommand(opts: PublishOptions): Promise<PublishOutcome> {
  const started = Date.now();
  const { log } = opts;
  const discovered = await discover(opts);
  checkLatestConfig(discovered);
  await warnPendingChangesets(discovered, log);
  // Public packages without a version are skipped (never released): say so, once.
  const unversioned = [...discovered.workspace.unversioned.values()]
    .filter((u) => !u.private)
    .map((u) => u.name)
    .sort();
  if (unversioned.length) log.warn(`not released, no "version" in package.json: ${unversioned.join(", ")} (add one, or mark them private)`);
  // One release of a commit at a time (SPEC §5a.4): the lock is taken once preflight has passed
  // and before the registries are read, so the one diff is read under it (no second read).
  const lockFirst = !opts.dryRun && !opts.shard && lockable(discovered);
  const diffed = await preflightAndDiff(discovered, opts, lockFirst);
  const { ctx, lock, ahead } = diffed;
  let out: PublishOutcome;
  let outcomes = new Map<string, StepOutcome>();
  let plan: PublishPlan;
  try {
    plan = checked(diffed.plan);
    if (opts.shard) return await publishShard(ctx, checked(shardPlan(plan, opts.shard)), opts, started);
    if (!opts.dryRun) planEvent(plan, opts);
    if (!plan.units.some((u) => u.hasWork)) {
      if (fromRecord.has(plan)) {
        log.info("Nothing to release: origin's release record covers every version (--verify reads every registry).");
        return await finish(ctx, plan, outcomes, started, false);
      }
      log.info(
        lock?.waited
          ? "Nothing to release: every version was released by another run of this commit."
          : "Nothing to release: every version is already released.",
      );
      out = await finish(ctx, plan, outcomes, started, false);
    } else if (opts.dryRun) {
      return { ...(await finish(ctx, plan, await describe(ctx, plan, opts), started, false, false)), dryRun: true };
    } else {
      await build(ctx, plan, opts);
      outcomes = await execute(ctx, plan, opts, ahead);
      out = await finish(ctx, plan, outcomes, started, true);
    }
    // The record last, in the same atomic push that deletes the lock: a run killed before it
    // leaves the lock and no record, and its rerun takes the lock over, reads every registry,
    // finds nothing to do and writes the record. (Written before the lock's deletion, a kill
    // between them left a lock that no rerun ever took: the record answered first.) A run with
    // nothing to do writes it too (it read every source): the next no-op can trust it.
    if (out.exitCode === 0 && !opts.dryRun) await certify(ctx, plan, outcomes, opts, lock);
  } finally {
    await ahead?.dispose();
    await lock?.release(); // nothing left to do when certify released it
  }
  return out;
}

/**
 * One matrix entry (SPEC §11): its artifact steps only, never a pointer, tag, release or record.
 * No release lock: shards of one commit run at once by design and each writes only its own
 * artifacts; the final plain run takes the lock and finishes.
 */
async function publishShard(ctx: ReleaseContext, plan: PublishPlan, opts: PublishOptions, started: number): Promise<PublishOutcome> {
  if (plan.steps.length === 0) {
    opts.log.info(`Nothing to do in shard ${opts.shard}: its artifacts are in the registries already.`);
    return finish(ctx, plan, new Map(), started, false);
  }
  if (opts.dryRun) return { ...(await finish(ctx, plan, await describe(ctx, plan, opts), started, false, false)), dryRun: true };
  planEvent(plan, opts);
  await build(ctx, plan, opts);
  return finish(ctx, plan, await execute(ctx, plan, opts), started, true);
}

/** What is left to release at the commit, reading only (`flotilla matrix`): discover, then the diff. */
export async function remainingPlan(opts: CommonOptions): Promise<PublishPlan> {
  const discovered = await discover(opts);
  checkLatestConfig(discovered);
  return checked(await diff(discovered));
}

function planEvent(plan: PublishPlan, opts: PublishOptions): void {
  opts.events?.({ event: "plan", releases: plan.units.filter((u) => u.hasWork).length, steps: plan.steps.length });
}

/** `github.latest` must name a package of the workspace (else no release would ever be Latest, silently). */
function checkLatestConfig(ctx: ReleaseContext): void {
  const name = ctx.config.github.latest;
  if (typeof name !== "string" || ctx.workspace.byName.has(name)) return;
  throw new InputError([
    {
      code: "CONFIG_LATEST_UNKNOWN",
      ...(ctx.config.file ? { file: path.relative(ctx.rootDir, ctx.config.file) } : {}),
      field: "github.latest",
      message: `${JSON.stringify(name)} is not a releasable package of this workspace`,
      hint: `name one of: ${ctx.workspace.packages.map((p) => p.name).join(", ")}; or false for no Latest`,
    },
  ]);
}

/** Every plan is checked against SPEC §5a before anything runs: a violation is a bug, exit 1. */
function checked(plan: PublishPlan): PublishPlan {
  const violations = checkInvariants(plan);
  if (violations.length > 0) {
    throw new ReleaseError(
      `the release plan breaks ${violations.length} invariant(s), nothing was done (a bug in flotilla, please report it):\n${violations.map((v) => `  ${v.rule}: ${v.message}`).join("\n")}`,
    );
  }
  return plan;
}

/**
 * Two runs of one commit at once (two CI jobs) must end in one state (SPEC §5a.4): a lock on
 * origin, taken once preflight has passed and before the registries are read, so what is left is
 * read once, by the run that will do it. Only where flotilla pushes to origin anyway (git stage,
 * git.push, an origin remote), and never in a dry run or a matrix shard.
 */
function lockable(ctx: ReleaseContext): boolean {
  return ctx.stages.has("git") && ctx.config.git.push && Boolean(ctx.checkout.head) && ctx.checkout.origin !== undefined;
}

async function lockRelease(ctx: ReleaseContext, opts: PublishOptions): Promise<ReleaseLock> {
  const commit = ctx.checkout.head!;
  const seconds = (name: string, dflt: number) => {
    const n = Number(ctx.env[name]);
    return (Number.isFinite(n) && n > 0 ? n : dflt) * 1000;
  };
  try {
    const { acquireReleaseLock } = await import("../adapters/git-lock.ts");
    return await acquireReleaseLock(ctx.rootDir, commit, {
      waitMs: seconds("FLOTILLA_LOCK_WAIT_SECONDS", 1800),
      staleMs: seconds("FLOTILLA_LOCK_STALE_SECONDS", 6 * 3600),
      heartbeatMs: seconds("FLOTILLA_LOCK_HEARTBEAT_SECONDS", 30),
      log: (m) => opts.log.info(m),
    });
  } catch (err) {
    if ((err as { code?: string }).code !== "RELEASE_LOCKED") throw err;
    // Origin would not take the lock ref at all (no holder: a hook, a ruleset, no permission, or
    // origin unreachable): nothing was changed, so it is a failed preflight (exit 2) with its fix.
    if ((err as { refused?: boolean }).refused)
      throw Object.assign(
        new InputError([
          {
            code: "RELEASE_LOCK_REFUSED",
            message: (err as Error).message,
            field: "git.push",
            hint: "let this job push refs/flotilla/* to origin (GitHub Actions: `permissions: contents: write`; a ruleset or hook on ref creation must allow refs/flotilla/*), or set git.push false, or run with --only excluding git",
          },
        ]),
        { refused: true },
      );
    throw new ReleaseError((err as Error).message);
  }
}

/**
 * Preflight (exit 2 on any problem), the release lock when `lockFirst` (then the promote-last
 * probe), and the diff against the registries. Local checks run first: when one fails (no token,
 * no origin, a bad name), the run ends at exit 2 without reading any registry, remote or API —
 * those reads could not succeed or would be wasted (issue 8). Network checks still run, each only
 * when what it needs is there, so every problem is reported at once. With promote-last, the
 * dist-tag probe (a no-op write) waits for preflight, and may switch the plan to direct dist-tags.
 *
 * With the lock, the diff is read once it is held: a run that waited for another reads what that
 * run left, and a run that did not wait reads a state no other run of this commit is changing.
 * (When the diff was read before the lock, a second read under it was needed for that: at
 * N = 1,000, one more read of every packument, ~3 s of one Verdaccio.) Without the lock (a dry
 * run, a shard, no origin), the diff only reads, so it runs beside the network checks, whose
 * verdict still comes first. The caller releases the lock; an error here releases it first.
 */
async function preflightAndDiff(
  ctx: ReleaseContext,
  opts: PublishOptions,
  lockFirst: boolean,
): Promise<{ ctx: ReleaseContext; plan: PublishPlan; lock?: ReleaseLock; ahead?: PackAhead }> {
  const local = await preflight(ctx, opts, false);
  // Origin's record says this commit is fully released: the run writes nothing, so the network
  // checks (credentials, daemon, GitHub) have nothing to protect; it says so. Without a record
  // they run as below (one `git fetch` later than before).
  const recorded = local.length === 0 ? await planFromRecord(ctx, opts.verify) : undefined;
  if (recorded && !recorded.units.some((u) => u.hasWork)) {
    opts.log.info("origin's release record covers this commit: registries, credentials and services not checked (nothing to write)");
    return { ctx, plan: recorded };
  }
  const promoteLast = ctx.config.npm.promote === "last";
  const diffed = local.length === 0 && !promoteLast && !lockFirst ? fullDiff(ctx) : undefined;
  diffed?.catch(() => {}); // awaited below, once preflight has passed
  const problems = [...local, ...(await preflight(ctx, opts, true, local.length > 0))];
  if (problems.length) throw new InputError(problems);
  let lock: ReleaseLock | undefined;
  if (lockFirst) {
    try {
      lock = await lockRelease(ctx, opts);
    } catch (err) {
      // Origin refuses the lock ref itself (a job that may not push refs/flotilla/*): a run with
      // nothing to do needs no lock, and ends as it did before the lock came first (exit 0);
      // with work, the refusal stands (exit 2, nothing changed).
      if (!(err as { refused?: boolean }).refused) throw err;
      const plan = await checkedDiff(promoteLast ? await promoteFallback(ctx, opts) : ctx);
      if (plan.units.some((u) => u.hasWork)) throw err;
      return { ctx, plan };
    }
  }
  let ahead: PackAhead | undefined;
  try {
    if (lock) opts.events?.({ event: "lock", commit: lock.commit, waited: lock.waited });
    ahead = await packAhead(ctx, opts, recorded !== undefined);
    // The promote-last probe writes `latest` (unchanged): under the lock, so it cannot undo a
    // move made by a run that holds it.
    const effective = promoteLast ? await promoteFallback(ctx, opts) : ctx;
    // The early diff ran beside the preflight, which waits out a service down for its first
    // seconds while the diff's reads give up sooner: once the preflight has passed, a failed early
    // diff is read once more (a failure for good fails again, and is reported then).
    const plan = await checkedDiff(effective, diffed);
    return { ctx: effective, plan, ...(lock ? { lock } : {}), ...(ahead ? { ahead } : {}) };
  } catch (err) {
    await ahead?.dispose();
    await lock?.release();
    throw err;
  }
}

/**
 * The tarballs made while the registries are read (adapters/pnpm.ts, PackAhead): only for a run
 * that builds nothing (`--skip-build`), on a tree not declared changing (no `--allow-dirty`),
 * writes for real, without a release record to go by, and publishes to npm. Every public package of the run is packed; the plan takes what it publishes.
 */
async function packAhead(ctx: ReleaseContext, opts: PublishOptions, recorded: boolean): Promise<PackAhead | undefined> {
  if (opts.dryRun || opts.shard || !opts.skipBuild || opts.allowDirty || recorded || !ctx.stages.has("npm")) return undefined;
  const { PackAhead } = await import("../adapters/pnpm.ts");
  return PackAhead.start(
    ctx.rootDir,
    ctx.workspace.packages.filter((p) => !p.private && (!ctx.only || ctx.only.has(p.name))),
  );
}

/** The diff (`early`, when it already ran), refused on input errors only it reveals: a publish cycle, a tag on another commit. */
async function checkedDiff(ctx: ReleaseContext, early?: Promise<PublishPlan>): Promise<PublishPlan> {
  const plan = await (early ? early.catch(() => fullDiff(ctx)) : fullDiff(ctx));
  const cycles = publishCycles(plan.units.filter((u) => u.npm?.action === "publish").map((u) => u.pkg));
  if (cycles.length) throw new InputError(cycles);
  const tagsElsewhere = ctx.stages.has("git") ? await tagsOnOtherCommits(ctx.rootDir, plan.units, plan.commit) : [];
  if (tagsElsewhere.length) throw new InputError(tagsElsewhere);
  return plan;
}

/**
 * publish releases versions, not changesets: say so when some are still waiting to be applied.
 * "Pending" is what `plan` counts (changesets' release plan: in pre mode, the changesets pre.json
 * lists as consumed are not pending). Changesets that cannot be read are warned about, not fatal:
 * publish does not need them, `version` will refuse them.
 */
async function warnPendingChangesets(ctx: ReleaseContext, log: Logger): Promise<void> {
  if (!(await hasChangesetFiles(ctx.rootDir))) return;
  let pending: number;
  try {
    const { readChangesetsState } = await import("../changesets/release-plan.ts");
    pending = (await readChangesetsState(ctx.workspace)).plan.changesets.length;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    const shown = err.problems.filter((p) => !["CHANGESET_DIR_MISSING", "CHANGESET_CONFIG_MISSING"].includes(p.code));
    for (const p of shown) log.warn(`pending changesets cannot be planned (\`flotilla version\` will refuse them): ${formatProblem(p)}`);
    return;
  }
  if (pending > 0) {
    log.warn(
      `${pending} changeset${pending === 1 ? " is" : "s are"} pending: their versions are released after \`flotilla version\` (or the merged Version Packages pull request)`,
    );
  }
}

/**
 * Whether `.changeset` (or its `pre/`) holds a Markdown file other than a README: without one
 * nothing is pending, and changesets' libraries (and their planning) are not loaded at all — the
 * common case of a publish after `flotilla version`. Any other file falls through to changesets'
 * own reading, which applies its exact rules.
 */
async function hasChangesetFiles(rootDir: string): Promise<boolean> {
  const dir = path.join(rootDir, ".changeset");
  const names = [...(await readdir(dir).catch(() => [])), ...(await readdir(path.join(dir, "pre")).catch(() => []))];
  return names.some((n) => n.endsWith(".md") && !/^readme\.md$/i.test(n));
}

/**
 * `npm.promote: "last"` moves dist-tags at the end; where a registry cannot move them (SPEC
 * §5.9), versions are published with their final dist-tag directly instead, and the user is told.
 */
async function promoteFallback(ctx: ReleaseContext, opts: PublishOptions): Promise<ReleaseContext> {
  if (ctx.config.npm.promote !== "last" || opts.dryRun || !ctx.stages.has("npm") || !ctx.npmToken) return ctx;
  const names = ctx.workspace.packages.filter((p) => !p.private).map((p) => p.name);
  for (const reg of ctx.registries.values()) {
    const r = await reg
      .canMoveDistTags(names.filter((n) => registryFor(ctx, n) === reg))
      .catch(() => ({ result: "unknown" as const, detail: "" }));
    if (r.result === "no") {
      opts.log.warn(`${reg.url} cannot move dist-tags (${r.detail}): publishing with final dist-tags directly`);
      return { ...ctx, config: { ...ctx.config, npm: { ...ctx.config.npm, promote: "direct" } } };
    }
  }
  return ctx;
}

/** Runs the local (`network` false) or the network preflight checks; warnings are logged, problems returned. */
async function preflight(ctx: ReleaseContext, opts: PublishOptions, network: boolean, localFailed = false): Promise<Problem[]> {
  const packages = ctx.workspace.packages.filter((p) => !ctx.only || ctx.only.has(p.name));
  const checks = preflightChecks({
    ...ctx,
    packages,
    allowDirty: opts.allowDirty ?? false,
    skipBuild: opts.skipBuild ?? false,
    docker: () => dockerOf(ctx),
  });
  const phase = checks.filter((c) => (network ? c.network || (c.afterLocal && !localFailed) : !c.network && !c.afterLocal));
  const results = await Promise.all(phase.map((c) => c.run()));
  for (const w of results.flatMap((r) => r.warnings)) opts.log.warn(w);
  return results.flatMap((r) => r.problems);
}

/**
 * The side-effect modules (Docker's client, npm's publishing, the step handlers, the lock, pnpm
 * and turbo) load when a phase first needs them: a no-op answered by the release record never
 * does, and their ~400 files were most of its start-up (issue 12).
 */
const dockerOf = async (ctx: ReleaseContext) => (await import("../adapters/docker.ts")).dockerClient(ctx.env);

/** Plans answered by origin's release record instead of the registries. */
const fromRecord = new WeakSet<PublishPlan>();

/** A record is kept only where flotilla pushes to origin anyway (its tags go there). */
function recordable(ctx: ReleaseContext): boolean {
  return ctx.stages.has("git") && ctx.config.git.push && ctx.checkout.origin !== undefined;
}

/**
 * The plan's inputs other than the registries' state (read once here: the planner stays pure).
 * `notes` false: without the CHANGELOGs (one file per package), for plans that create no
 * release — the record's coverage and a plan answered by the record do not depend on them.
 */
async function planInputs(ctx: ReleaseContext, sha: string | undefined, notes = true) {
  return {
    workspace: ctx.workspace,
    config: ctx.config,
    tagPrivate: ctx.tagPrivate,
    stages: ctx.stages,
    only: ctx.only,
    imageNames: ctx.imageNames,
    sha,
    ...(await releaseInputs(ctx, notes)),
  };
}

/**
 * Writes the release record after a run that left nothing undone (observe/record.ts), with the
 * lock's deletion in one atomic push when the run holds the lock (one push fewer at the end of
 * every release; when that push fails, the lock is deleted alone and the record pushed after).
 * The record only saves the next no-op its reads: when it cannot be written, the run says so and
 * still succeeds.
 */
async function certify(
  ctx: ReleaseContext,
  plan: PublishPlan,
  outcomes: Map<string, StepOutcome>,
  opts: PublishOptions,
  lock?: ReleaseLock,
): Promise<void> {
  if (!plan.commit || !recordable(ctx)) return;
  const digests = new Map<string, string>();
  for (const s of plan.steps) {
    const d = outcomes.get(s.id)?.result?.digest;
    if (d && (s.kind === "image-build-push" || s.kind === "image-index" || s.kind === "image-promote")) digests.set(s.payload.image, d);
  }
  try {
    const rec = recordOf(await planInputs(ctx, plan.commit, false), plan, digests);
    if (lock && (await lock.release([await recordRefspec(ctx.rootDir, rec)]))) return;
    await writeRecord(ctx.rootDir, rec);
  } catch (err) {
    opts.log.warn(`the release record was not written (the next run reads every registry): ${(err as Error).message}`);
  }
}

/**
 * The plan answered by origin's release record covering exactly this commit and scope (one `git
 * fetch` instead of every registry), or undefined when there is none (or with --verify).
 */
async function planFromRecord(ctx: ReleaseContext, verify = false): Promise<PublishPlan | undefined> {
  const sha = ctx.checkout.head;
  if (verify || !sha || !recordable(ctx)) return undefined;
  const inputs = await planInputs(ctx, sha, false);
  const rec = await readRecord(ctx.rootDir, sha, coverageOf(inputs));
  if (!rec) return undefined;
  const plan = recordedPlan(inputs, rec); // reports the record's dist-tags and image tags
  fromRecord.add(plan);
  return plan;
}

/** What is left to release: the record when it covers this commit, else every source of truth. */
async function diff(ctx: ReleaseContext, verify = false): Promise<PublishPlan> {
  return (await planFromRecord(ctx, verify)) ?? fullDiff(ctx);
}

/** Reads the registries, origin's tags and GitHub's releases (SPEC §5.3) and plans against them. */
async function fullDiff(ctx: ReleaseContext): Promise<PublishPlan> {
  // Tags follow artifacts (SPEC §5a.1): with --only git, the npm versions and images are read too.
  const tagsFollow = ctx.stages.has("git") && ctx.config.git.tags;
  const npmPackages =
    ctx.stages.has("npm") || tagsFollow
      ? ctx.workspace.packages
          .filter((p) => !p.private && (!ctx.only || ctx.only.has(p.name)))
          .map((p) => ({ name: p.name, registry: registryFor(ctx, p.name) }))
      : [];
  const images =
    ctx.stages.has("images") || tagsFollow
      ? ctx.workspace.packages
          .filter((p) => p.dockerfile && (!ctx.only || ctx.only.has(p.name)))
          .map((p) => {
            const name = ctx.imageNames.get(p.name)!;
            return { name, registry: ociFor(ctx, name), version: p.version };
          })
      : [];
  const sha = ctx.checkout.head;
  const inputs = await planInputs(ctx, sha);
  const readGit = ctx.stages.has("git") && ctx.config.git.tags;
  const state = await observeState({
    rootDir: ctx.rootDir,
    ...(sha ? { sha } : {}),
    github: ctx.stages.has("github") && ctx.config.github.releases !== false ? ctx.github : undefined,
    npmPackages,
    images,
    imageTagKinds: ctx.config.images.tags,
    readGit,
    // No origin (allowed with git.push false): there is nothing to ask, so no `git ls-remote`.
    readRemoteTags: readGit && ctx.checkout.origin !== undefined,
  }).catch((err: unknown) => {
    // A registry, origin or GitHub that cannot be read: a failure of this run, not a bug.
    if (err instanceof FlotillaError) throw err;
    throw new ReleaseError(`could not read what is already released, so nothing was changed: ${(err as Error).message}`, { cause: err });
  });
  return planPublish({ ...inputs, state });
}

/** A dry run is the executor describing the plan: reads ran, writes are printed (STYLE 2). */
async function describe(ctx: ReleaseContext, plan: PublishPlan, opts: PublishOptions): Promise<Map<string, StepOutcome>> {
  const { log } = opts;
  log.info(`Dry run: ${plan.units.filter((u) => u.hasWork).length} release(s) with work; these steps would run, in this order:`);
  const toBuild = buildFilters(plan);
  for (const b of opts.skipBuild ? [] : (planBuild(ctx.rootDir, ctx.config.build.tasks, toBuild, () => "turbo")?.steps ?? []))
    log.info(`  ${show(b.invocation)}`);
  const toPack = packList(plan);
  if (toPack.length) log.info(`  ${show(tools.pnpmPack(toPack, "<temporary folder>"))}`);
  const { stepHandlers } = await import("../execute/handlers.ts");
  return runSteps(plan.steps, stepHandlers({ ctx, packed: new Map(), docker: () => dockerOf(ctx) }), {
    concurrency: 1,
    mode: "describe",
    onSettled: (s, o) => {
      const waits = [...s.deps, ...(s.after ?? []).map((a) => `${a} (any outcome)`)];
      log.info(`  ${o.detail}${waits.length ? `  (after ${waits.join(", ")})` : ""}`);
    },
  });
}

/** Packages whose artifacts are built in this run: turbo (or pnpm) builds and tests them. */
function buildFilters(plan: PublishPlan): string[] {
  return plan.units.filter((u) => u.npm?.action === "publish" || u.image?.action === "build").map((u) => u.name);
}

/**
 * Files in a published package's folder that git neither tracks nor ignores are not refused
 * (builds and pack scripts leave them, README "Untracked files do not make the tree dirty"), but
 * pnpm packs them when the package's `files` and .npmignore let them in, so the tarball would
 * hold what the tagged commit does not: said, by name (a stray notes file or `.env` is a leak).
 */
async function warnUntracked(ctx: ReleaseContext, plan: PublishPlan, log: Logger): Promise<void> {
  const dirs = plan.units.filter((u) => u.npm?.action === "publish").map((u) => u.pkg.relDir || ".");
  if (dirs.length === 0) return;
  const out = await gitOutput(ctx.rootDir, tools.gitUntracked(dirs));
  const files = (out ?? "").split("\0").filter(Boolean);
  if (files.length === 0) return;
  log.warn(
    `not in git, yet in the folders of packages being published (packed if their "files" and .npmignore let them in): ${files
      .slice(0, 10)
      .join(", ")}${files.length > 10 ? `, … (${files.length} in all)` : ""}; add them to .gitignore, commit or delete them`,
  );
}

/** Packages whose npm version is published in this run: pnpm packs them. */
function packList(plan: PublishPlan): string[] {
  return plan.units.filter((u) => u.npm?.action === "publish").map((u) => u.name);
}

async function build(ctx: ReleaseContext, plan: PublishPlan, opts: PublishOptions): Promise<void> {
  if (opts.skipBuild) return;
  const names = buildFilters(plan);
  const b = planBuild(ctx.rootDir, ctx.config.build.tasks, names);
  if (!b) return;
  const started = Date.now();
  if (b.runner === "pnpm") opts.log.info("no turbo.json: building with pnpm's topological run (pnpm -r run)");
  for (const { title, invocation } of b.steps) {
    await opts.log.group(`${title} (${names.length} package${names.length === 1 ? "" : "s"})`, async () => {
      const { runStreaming } = await import("../adapters/turbo.ts");
      const r = await runStreaming(ctx.rootDir, invocation, opts.log.raw);
      if (!r.ok) throw new ReleaseError(`${title} failed (exit ${r.exitCode}): nothing was published`);
    });
  }
  opts.events?.({ event: "build", packages: names.length, durationMs: Date.now() - started });
}

async function execute(ctx: ReleaseContext, plan: PublishPlan, opts: PublishOptions, ahead?: PackAhead): Promise<Map<string, StepOutcome>> {
  const { log } = opts;
  const tmp = await mkdtemp(path.join(os.tmpdir(), "flotilla-pack-"));
  try {
    const toPack = packList(plan);
    await warnUntracked(ctx, plan, log);
    const packStarted = Date.now();
    const { packEach } = await import("../adapters/pnpm.ts");
    const packed = toPack.length
      ? await log.group(`pnpm pack (${toPack.length})`, async () => {
          const made = await ahead?.take(toPack);
          if (made) log.info("packed while the registries were read (--skip-build, no pack scripts)");
          else if (ahead?.failure) log.info(`packing ahead failed (${ahead.failure}): packing again`);
          return made ?? packEach(ctx.rootDir, toPack, tmp);
        })
      : new Map();
    if (toPack.length) opts.events?.({ event: "pack", packages: toPack.length, durationMs: Date.now() - packStarted });
    const progress = opts.progress ? await opts.progress([...plan.steps]) : undefined;
    const pushes = plan.steps.filter((s) => s.kind === "git-tag" && s.payload.push).length;
    if (pushes) (await import("../adapters/git-tags.ts")).gitTags(ctx, ctx.rootDir).expectPushes(pushes);
    const { stepHandlers } = await import("../execute/handlers.ts");
    const outcomes = await runSteps(plan.steps, stepHandlers({ ctx, packed, docker: () => dockerOf(ctx) }), {
      concurrency: opts.concurrency ?? 8,
      ...(opts.events ? { onStart: (step: Step) => opts.events!(stepStarted(step)) } : {}),
      onSettled: (step: Step, o: StepOutcome) => {
        // Under --log-format json the end event carries the detail and the error: no text line as well.
        if (opts.events) return opts.events(stepEnded(step, o));
        if (progress) return progress.settled(step, o);
        const what = describeStep(step);
        log.info(
          o.status === "failed"
            ? `FAILED ${what}: ${o.error}${opts.verbose && o.cause instanceof Error && o.cause.stack ? `\n${o.cause.stack}` : ""}`
            : o.status === "skipped"
              ? `skipped ${what}: ${o.detail}`
              : (o.detail ?? what),
        );
      },
    });
    await progress?.done();
    return outcomes;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function finish(
  ctx: ReleaseContext,
  plan: PublishPlan,
  outcomes: Map<string, StepOutcome>,
  started: number,
  ran: boolean,
  outputs = true,
): Promise<PublishOutcome> {
  const releases = summarize(plan, outcomes);
  const result: PublishResult = JSON.parse(ctx.secrets.redact(JSON.stringify({ releases, durationMs: Date.now() - started })));
  if (outputs) await writeGithubOutputs(result.releases, ctx.env);
  // The exit code is decided here, once: any release that did not go through after side effects began.
  const failed = result.releases.some((r) => r.status === "failed" || r.status === "skipped");
  return { result, plan, exitCode: ran && failed ? 1 : 0, dryRun: false };
}

/** Inputs of the plan that come from files, read once here (the planner stays pure). */
async function releaseInputs(ctx: ReleaseContext, notes: boolean) {
  const changelogs = new Map<string, string>();
  await Promise.all(
    (notes ? ctx.workspace.packages : []).map(async (p) =>
      changelogs.set(p.name, await readFile(path.join(p.dir, "CHANGELOG.md"), "utf8").catch(() => "")),
    ),
  );
  const rootName = (ctx.workspace.manypkg.rootPackage?.packageJson as { name?: string } | undefined)?.name;
  return {
    changelogs,
    source: await repositoryUrl(ctx),
    ...(ctx.repo ? { repository: { owner: ctx.repo.owner, name: ctx.repo.repo } } : {}),
    ...(rootName ? { rootName } : {}),
  };
}

/**
 * The repository URL for `org.opencontainers.image.source` (ghcr links the package through it):
 * the root package.json's `repository`, else GITHUB_SERVER_URL/GITHUB_REPOSITORY, else origin.
 */
async function repositoryUrl(ctx: ReleaseContext): Promise<string> {
  const repo = ctx.workspace.manypkg.rootPackage?.packageJson as { repository?: string | { url?: string } } | undefined;
  const fromPkg = typeof repo?.repository === "string" ? repo.repository : repo?.repository?.url;
  if (fromPkg) return httpsUrl(fromPkg);
  if (ctx.env.GITHUB_REPOSITORY) return `${ctx.env.GITHUB_SERVER_URL ?? "https://github.com"}/${ctx.env.GITHUB_REPOSITORY}`;
  return ctx.checkout.origin ? httpsUrl(ctx.checkout.origin) : "";
}

function httpsUrl(url: string): string {
  const scp = /^[\w.-]+@([\w.-]+):(.+?)(\.git)?$/.exec(url);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  return url.replace(/^git\+/, "").replace(/\.git$/, "");
}

import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { buildImage, dockerClient, pushImage } from "../adapters/docker.ts";
import { createTag, headCommit, originUrl, pushTags } from "../adapters/git.ts";
import { splitImageName } from "../adapters/oci-registry.ts";
import { packEach, readPacked } from "../adapters/pnpm.ts";
import { turboRun } from "../adapters/turbo.ts";
import { InputError, ReleaseError } from "../errors.ts";
import { orderSteps, runSteps, type StepHandler, type StepOutcome } from "../execute/runner.ts";
import { changelogSection } from "../github/changelog.ts";
import { observeState } from "../observe/state.ts";
import { type PublishPlan, planPublish, STAGING_TAG, type Step } from "../plan/publish-plan.ts";
import { preflightChecks } from "../preflight.ts";
import { writeGithubOutputs } from "../report/github.ts";
import type { Logger } from "../report/log.ts";
import { type PublishResult, summarize } from "../report/result.ts";
import type { Progress } from "../report/tty.ts";
import { type CommonOptions, discover, ociFor, type ReleaseContext, registryFor } from "./context.ts";

export interface PublishOptions extends CommonOptions {
  dryRun?: boolean;
  skipBuild?: boolean;
  allowDirty?: boolean;
  concurrency?: number;
  log: Logger;
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
 * `flotilla publish` (SPEC §5): discover → preflight → diff → build → publish → tags → report.
 * Each phase is a function below; side effects start only after preflight passed.
 */
export async function publishCommand(opts: PublishOptions): Promise<PublishOutcome> {
  const started = Date.now();
  const ctx = await discover(opts);
  const { log } = opts;
  // The diff only reads, so it runs beside preflight; preflight's verdict still comes first.
  const [checked, diffed] = await Promise.allSettled([preflight(ctx, opts), diff(ctx)]);
  if (checked.status === "rejected") throw checked.reason;
  if (diffed.status === "rejected") throw diffed.reason;
  const plan = diffed.value;
  const work = plan.units.filter((u) => u.hasWork);
  if (work.length === 0) {
    log.info("Nothing to release: every version is already released.");
    return finish(ctx, plan, new Map(), started, false);
  }
  if (opts.dryRun) {
    describe(plan, log);
    return { result: { releases: summarizeDry(plan), durationMs: Date.now() - started }, plan, exitCode: 0, dryRun: true };
  }
  await build(ctx, plan, opts);
  const outcomes = await execute(ctx, plan, opts);
  return finish(ctx, plan, outcomes, started, true);
}

async function preflight(ctx: ReleaseContext, opts: PublishOptions): Promise<void> {
  const packages = ctx.workspace.packages.filter((p) => !ctx.only || ctx.only.has(p.name));
  const checks = preflightChecks({ ...ctx, packages, allowDirty: opts.allowDirty ?? false, docker: () => dockerClient(ctx.env) });
  const results = await Promise.all(checks.map((c) => c.run()));
  for (const w of results.flatMap((r) => r.warnings)) opts.log.warn(w);
  const problems = results.flatMap((r) => r.problems);
  if (problems.length) throw new InputError(problems);
}

async function diff(ctx: ReleaseContext): Promise<PublishPlan> {
  const npmPackages = ctx.stages.has("npm")
    ? ctx.workspace.packages
        .filter((p) => !p.private && (!ctx.only || ctx.only.has(p.name)))
        .map((p) => ({ name: p.name, registry: registryFor(ctx, p.name) }))
    : [];
  const images = ctx.stages.has("images")
    ? ctx.workspace.packages
        .filter((p) => p.dockerfile && (!ctx.only || ctx.only.has(p.name)))
        .map((p) => {
          const name = ctx.imageNames.get(p.name)!;
          return { name, registry: ociFor(ctx, name), version: p.version };
        })
    : [];
  const state = await observeState({
    rootDir: ctx.rootDir,
    github: ctx.stages.has("github") && ctx.config.github.releases !== false ? ctx.github : undefined,
    npmPackages,
    images,
    imageTagKinds: ctx.config.images.tags,
    readGit: ctx.stages.has("git") && ctx.config.git.tags,
  });
  return planPublish({
    workspace: ctx.workspace,
    config: ctx.config,
    tagPrivate: ctx.tagPrivate,
    state,
    stages: ctx.stages,
    only: ctx.only,
    imageNames: ctx.imageNames,
    sha: await headCommit(ctx.rootDir),
  });
}

/** A dry run is the executor describing the plan: reads ran, writes are printed (STYLE 2). */
function describe(plan: PublishPlan, log: Logger): void {
  log.info(`Dry run: ${plan.units.filter((u) => u.hasWork).length} release(s) with work; these steps would run, in this order:`);
  for (const s of orderSteps(plan.steps)) log.info(`  ${s.describe}${s.deps.length ? `  (after ${s.deps.join(", ")})` : ""}`);
}

function summarizeDry(plan: PublishPlan) {
  return summarize(plan, new Map()).map((r) => ({
    ...r,
    status: plan.units.find((u) => u.name === r.name)!.hasWork ? ("skipped" as const) : r.status,
  }));
}

async function build(ctx: ReleaseContext, plan: PublishPlan, opts: PublishOptions): Promise<void> {
  if (opts.skipBuild) return;
  const names = plan.units.filter((u) => u.npm?.action === "publish" || u.image?.action === "build").map((u) => u.name);
  if (names.length === 0) return;
  const tasks = ctx.config.build.tasks;
  await opts.log.group(`turbo run ${tasks.join(" ")} (${names.length} package${names.length === 1 ? "" : "s"})`, async () => {
    const r = await turboRun(ctx.rootDir, tasks, names, opts.log.raw);
    if (!r.ok) throw new ReleaseError(`turbo run ${tasks.join(" ")} failed (exit ${r.exitCode}): nothing was published`);
  });
}

async function execute(ctx: ReleaseContext, plan: PublishPlan, opts: PublishOptions): Promise<Map<string, StepOutcome>> {
  const { log } = opts;
  const tmp = await mkdtemp(path.join(os.tmpdir(), "flotilla-pack-"));
  try {
    const toPack = plan.units.filter((u) => u.npm?.action === "publish").map((u) => u.name);
    const packed = toPack.length ? await log.group(`pnpm pack (${toPack.length})`, () => packEach(ctx.rootDir, toPack, tmp)) : new Map();
    const created: string[] = [];
    const digests = new Map<string, string>();
    const releaseUrls = new Map<string, string>();
    const docker = await dockerClient(ctx.env);
    const revision = (await headCommit(ctx.rootDir)) ?? "";
    const source = await repositoryUrl(ctx);
    const handler: StepHandler = async (step) => {
      const u = plan.units.find((x) => x.name === step.pkg);
      switch (step.kind) {
        case "npm-publish": {
          const npm = u!.npm!;
          const p = packed.get(u!.name);
          if (!p || p instanceof Error) return { status: "failed", error: p?.message ?? "pnpm pack produced no tarball" };
          const { manifest, data } = await readPacked(p.tarball);
          const reg = registryFor(ctx, u!.name);
          const promoteLast = ctx.config.npm.promote === "last";
          const r = await reg.publish(manifest, data, { tag: promoteLast ? STAGING_TAG : npm.distTag, access: ctx.config.npm.access });
          // GitHub Packages does not move `latest` by itself: set the final dist-tag explicitly.
          if (!promoteLast) await reg.setDistTag(npm.name, npm.version, npm.distTag);
          return r === "published"
            ? { status: "done", detail: `published ${npm.name}@${npm.version} (${promoteLast ? STAGING_TAG : npm.distTag})` }
            : { status: "noop", detail: `${npm.name}@${npm.version} was already on the registry` };
        }
        case "npm-promote": {
          const npm = u!.npm!;
          const reg = registryFor(ctx, u!.name);
          await reg.setDistTag(npm.name, npm.version, npm.distTag);
          if (ctx.config.npm.promote === "last") await reg.removeDistTag(npm.name, STAGING_TAG);
          return { status: "done", detail: `dist-tag ${npm.distTag} → ${npm.name}@${npm.version}` };
        }
        case "image-build-push": {
          const img = u!.image!;
          const app = ctx.config.images.apps[u!.name];
          const context = path.resolve(u!.pkg.dir, app?.context ?? ".");
          const dockerfile = path.relative(context, path.resolve(u!.pkg.dir, u!.pkg.dockerfile!));
          const m = u!.pkg.manifest as { description?: string; license?: string };
          const labels: Record<string, string> = {
            "org.opencontainers.image.source": source,
            "org.opencontainers.image.version": u!.version,
            "org.opencontainers.image.revision": revision,
            "org.opencontainers.image.created": new Date().toISOString(),
            "org.opencontainers.image.title": u!.name,
            ...(m.description ? { "org.opencontainers.image.description": m.description.slice(0, 512) } : {}),
            ...(m.license ? { "org.opencontainers.image.licenses": m.license } : {}),
          };
          await buildImage(docker, {
            context,
            dockerfile,
            tag: `${img.name}:${img.versionTag}`,
            buildArgs: { ...app?.buildArgs, VERSION: u!.version },
            labels,
            ...(app?.platforms?.[0] ? { platform: app.platforms[0] } : {}),
          });
          const { host } = splitImageName(img.name);
          const digest = await pushImage(docker, img.name, img.versionTag, {
            username: ctx.imageAuth.username ?? "",
            password: ctx.imageAuth.password ?? "",
            serveraddress: host,
          });
          digests.set(u!.name, digest);
          return { status: "done", detail: `built and pushed ${img.name}:${img.versionTag} (${digest.slice(0, 19)})` };
        }
        case "image-promote": {
          const img = u!.image!;
          const reg = ociFor(ctx, img.name);
          const { repo } = splitImageName(img.name);
          for (const t of img.floating) await reg.copyTag(repo, img.versionTag, t);
          if (!digests.has(u!.name)) digests.set(u!.name, (await reg.digest(repo, img.versionTag)) ?? "");
          return { status: "done", detail: `${img.name}: ${img.floating.join(", ")} → ${img.versionTag}` };
        }
        case "github-release": {
          const rel = u!.release!;
          const gh = ctx.github!;
          const changelog = await readFile(path.join(u!.pkg.dir, "CHANGELOG.md"), "utf8").catch(() => "");
          const body = changelogSection(changelog, u!.version) || `Release of ${u!.name}@${u!.version}.`;
          const url = await gh.createRelease({ tag: rel.tag, name: rel.tag, body, prerelease: rel.prerelease, makeLatest: rel.makeLatest });
          releaseUrls.set(u!.name, url);
          return { status: "done", detail: `GitHub release ${rel.tag}: ${url}` };
        }
        case "git-tag": {
          await createTag(ctx.rootDir, u!.gitTag!.tag);
          created.push(u!.gitTag!.tag);
          return { status: "done", detail: `tagged ${u!.gitTag!.tag}` };
        }
        case "git-push": {
          const ready = new Set(created);
          for (const x of plan.units) if (x.gitTag?.action === "push" && releaseOk(plan, x.name, outcomesSoFar)) ready.add(x.gitTag.tag);
          if (ready.size === 0) return { status: "noop", detail: "no tag to push" };
          await pushTags(ctx.rootDir, [...ready]);
          return { status: "done", detail: `pushed ${[...ready].join(", ")}` };
        }
      }
    };
    const outcomesSoFar = new Map<string, StepOutcome>();
    const progress = opts.progress ? await opts.progress(plan.steps) : undefined;
    const outcomes = await runSteps(plan.steps, handler, {
      concurrency: opts.concurrency ?? 8,
      onSettled: (step: Step, o: StepOutcome) => {
        outcomesSoFar.set(step.id, o);
        if (progress) return progress.settled(step, o);
        const what =
          o.status === "failed"
            ? `FAILED ${step.describe}: ${o.error}`
            : o.status === "skipped"
              ? `skipped ${step.describe}: ${o.detail}`
              : (o.detail ?? step.describe);
        log.info(what);
      },
    });
    await progress?.done();
    for (const [name, d] of digests) plan.units.find((x) => x.name === name)!.image!.digest = d;
    for (const [name, url] of releaseUrls) plan.units.find((x) => x.name === name)!.releaseUrl = url;
    return outcomes;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Every step of a package succeeded (or it had none). */
function releaseOk(plan: PublishPlan, name: string, outcomes: ReadonlyMap<string, StepOutcome>): boolean {
  return plan.steps.filter((s) => s.pkg === name).every((s) => ["done", "noop"].includes(outcomes.get(s.id)?.status ?? "failed"));
}

async function finish(
  ctx: ReleaseContext,
  plan: PublishPlan,
  outcomes: Map<string, StepOutcome>,
  started: number,
  ran: boolean,
): Promise<PublishOutcome> {
  const push = outcomes.get("git-push");
  const releases = summarize(plan, outcomes, { pushFailed: push?.status === "failed" ? push.error : undefined });
  const result: PublishResult = JSON.parse(ctx.secrets.redact(JSON.stringify({ releases, durationMs: Date.now() - started })));
  await writeGithubOutputs(result.releases, ctx.env);
  const failed = result.releases.some((r) => r.status === "failed" || r.status === "skipped") || push?.status === "failed";
  return { result, plan, exitCode: ran && failed ? 1 : 0, dryRun: false };
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
  const origin = await originUrl(ctx.rootDir);
  return origin ? httpsUrl(origin) : "";
}

function httpsUrl(url: string): string {
  const scp = /^[\w.-]+@([\w.-]+):(.+?)(\.git)?$/.exec(url);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  return url.replace(/^git\+/, "").replace(/\.git$/, "");
}

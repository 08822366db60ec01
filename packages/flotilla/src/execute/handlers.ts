import { readFile } from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import { buildImage, pushImage } from "../adapters/docker.ts";
import { createTag, pushTags } from "../adapters/git.ts";
import { splitImageName } from "../adapters/oci-registry.ts";
import type { PackedPackage } from "../adapters/pnpm.ts";
import { ociFor, type ReleaseContext, registryFor } from "../context.ts";
import { changelogSection, coveredTagsMarker } from "../github/changelog.ts";
import { publishTarball } from "../npm/publish.ts";
import { ociLabels } from "../plan/image-labels.ts";
import { type PublishPlan, type ReleaseUnit, STAGING_TAG, type Step } from "../plan/publish-plan.ts";
import type { StepHandler, StepOutcome } from "./runner.ts";

export interface HandlerDeps {
  ctx: ReleaseContext;
  plan: PublishPlan;
  /** Tarballs packed for this run (or the error that kept one from being packed). */
  packed: ReadonlyMap<string, PackedPackage | Error>;
  docker: () => Promise<Docker>;
  /** For image labels. */
  revision: string;
  source: string;
  /** Outcomes so far (git-push pushes only what belongs to finished releases). */
  outcomes: ReadonlyMap<string, StepOutcome>;
}

/** What the handlers learnt while running, for the report. */
export interface HandlerFacts {
  digests: Map<string, string>;
  releaseUrls: Map<string, string>;
}

/**
 * The side effects, one small function per step kind; the runner decides when each runs.
 * Expected failures come back as outcomes; anything thrown is turned into a failed outcome by
 * the runner.
 */
export function makeHandler(deps: HandlerDeps): { handler: StepHandler; facts: HandlerFacts } {
  const facts: HandlerFacts = { digests: new Map(), releaseUrls: new Map() };
  const created: string[] = [];
  const { ctx, plan } = deps;
  const unitOf = (step: Step): ReleaseUnit => {
    const u = plan.units.find((x) => x.name === step.pkg);
    if (!u) throw new Error(`step ${step.id} names no release`);
    return u;
  };

  const kinds: Record<Step["kind"], (step: Step) => Promise<StepOutcome>> = {
    async "npm-publish"(step) {
      const u = unitOf(step);
      const npm = u.npm!;
      const p = deps.packed.get(u.name);
      if (!p || p instanceof Error) return { status: "failed", error: p?.message ?? "pnpm pack produced no tarball" };
      const reg = registryFor(ctx, u.name);
      const promoteLast = ctx.config.npm.promote === "last";
      const tag = promoteLast ? STAGING_TAG : npm.distTag;
      const target = { name: u.name, version: u.version, dir: u.pkg.dir, tag, access: ctx.config.npm.access ?? null };
      const r = await publishTarball(ctx, target, p.tarball); // README, access, provenance, publish scripts: npm/publish.ts
      // GitHub Packages does not move `latest` by itself: the final dist-tag is set explicitly.
      if (!promoteLast) await reg.setDistTag(npm.name, npm.version, npm.distTag);
      return r === "published"
        ? { status: "done", detail: `published ${npm.name}@${npm.version} (${tag})` }
        : { status: "noop", detail: `${npm.name}@${npm.version} was already on the registry` };
    },

    async "npm-promote"(step) {
      const npm = unitOf(step).npm!;
      const reg = registryFor(ctx, npm.name);
      await reg.setDistTag(npm.name, npm.version, npm.distTag);
      if (ctx.config.npm.promote === "last") await reg.removeDistTag(npm.name, STAGING_TAG);
      return { status: "done", detail: `dist-tag ${npm.distTag} → ${npm.name}@${npm.version}` };
    },

    async "image-build-push"(step) {
      const u = unitOf(step);
      const img = u.image!;
      const app = ctx.config.images.apps[u.name];
      const context = path.resolve(u.pkg.dir, app?.context ?? ".");
      const docker = await deps.docker();
      const manifest = u.pkg.manifest as { description?: string; license?: string };
      await buildImage(docker, {
        context,
        dockerfile: path.relative(context, path.resolve(u.pkg.dir, u.pkg.dockerfile!)),
        tag: `${img.name}:${img.versionTag}`,
        buildArgs: { ...app?.buildArgs, VERSION: u.version },
        labels: ociLabels({
          ...manifest,
          name: u.name,
          version: u.version,
          source: deps.source,
          revision: deps.revision,
          created: new Date(),
        }),
        ...(app?.platforms?.[0] ? { platform: app.platforms[0] } : {}),
      });
      const auth = {
        username: ctx.imageAuth.username ?? "",
        password: ctx.imageAuth.password ?? "",
        serveraddress: splitImageName(img.name).host,
      };
      const digest = await pushImage(docker, img.name, img.versionTag, auth);
      facts.digests.set(u.name, digest);
      return { status: "done", detail: `built and pushed ${img.name}:${img.versionTag} (${digest.slice(0, 19)})` };
    },

    async "image-promote"(step) {
      const u = unitOf(step);
      const img = u.image!;
      const reg = ociFor(ctx, img.name);
      const { repo } = splitImageName(img.name);
      for (const t of img.floating) await reg.copyTag(repo, img.versionTag, t);
      if (!facts.digests.has(u.name)) facts.digests.set(u.name, (await reg.digest(repo, img.versionTag)) ?? "");
      return { status: "done", detail: `${img.name}: ${img.floating.join(", ")} → ${img.versionTag}` };
    },

    async "git-tag"(step) {
      const tag = unitOf(step).gitTag!.tag;
      await createTag(ctx.rootDir, tag);
      created.push(tag);
      return { status: "done", detail: `tagged ${tag}` };
    },

    async "git-push"() {
      // Tags made now, and tags an earlier run made but did not push (once their release is whole).
      const ready = new Set(created);
      for (const u of plan.units) if (u.gitTag?.action === "push" && releaseOk(plan, u.name, deps.outcomes)) ready.add(u.gitTag.tag);
      if (ready.size === 0) return { status: "noop", detail: "no tag to push" };
      await pushTags(ctx.rootDir, [...ready]);
      return { status: "done", detail: `pushed ${[...ready].join(", ")}` };
    },

    async "github-release"(step) {
      if (!step.pkg) return combinedRelease();
      const u = unitOf(step);
      const rel = u.release!;
      const changelog = await readFile(path.join(u.pkg.dir, "CHANGELOG.md"), "utf8").catch(() => "");
      const body = changelogSection(changelog, u.version) || `Release of ${u.name}@${u.version}.`;
      const url = await ctx.github!.createRelease({
        tag: rel.tag,
        name: rel.tag,
        body,
        prerelease: rel.prerelease,
        makeLatest: rel.makeLatest,
      });
      facts.releaseUrls.set(u.name, url);
      return { status: "done", detail: `GitHub release ${rel.tag}: ${url}` };
    },
  };

  /** `github.releases: "combined"`: one release for every package whose release went through. */
  async function combinedRelease(): Promise<StepOutcome> {
    const push = deps.outcomes.get("git-push");
    if (push && push.status !== "done" && push.status !== "noop") return { status: "skipped", detail: "the tags were not pushed" };
    const units = plan.units.filter((u) => u.release?.action === "create" && releaseOk(plan, u.name, deps.outcomes));
    if (units.length === 0) return { status: "skipped", detail: "no package was released" };
    const sections: string[] = [];
    for (const u of units) {
      const changelog = await readFile(path.join(u.pkg.dir, "CHANGELOG.md"), "utf8").catch(() => "");
      sections.push(`## ${u.name}@${u.version}`, "", changelogSection(changelog, u.version) || "(no changelog entry)", "");
    }
    const tags = units.map((u) => u.release!.tag);
    const body = [...sections, coveredTagsMarker(tags)].join("\n");
    const date = new Date().toISOString().slice(0, 10);
    const url = await ctx.github!.createRelease({
      tag: tags[0]!,
      name: `Release ${date}: ${units.length} package${units.length === 1 ? "" : "s"}`,
      body,
      prerelease: units.every((u) => u.release!.prerelease),
      makeLatest: units.some((u) => u.release!.makeLatest),
    });
    for (const u of units) facts.releaseUrls.set(u.name, url);
    return { status: "done", detail: `GitHub release for ${tags.length} tag(s): ${url}` };
  }

  return { handler: (step) => kinds[step.kind](step), facts };
}

/** Every step of a package succeeded (or it had none). */
function releaseOk(plan: PublishPlan, name: string, outcomes: ReadonlyMap<string, StepOutcome>): boolean {
  return plan.steps.filter((s) => s.pkg === name).every((s) => ["done", "noop"].includes(outcomes.get(s.id)?.status ?? "failed"));
}

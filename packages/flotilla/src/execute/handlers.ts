import type Docker from "dockerode";
import pLimit, { type LimitFunction } from "p-limit";
import { buildImage, pushImage } from "../adapters/docker.ts";
import { gitTags } from "../adapters/git-tags.ts";
import { splitImageName } from "../adapters/oci-registry.ts";
import type { PackedPackage } from "../adapters/pnpm.ts";
import { ociFor, type ReleaseContext, registryFor } from "../context.ts";
import { coveredTagsMarker } from "../github/changelog.ts";
import { publishTarball } from "../npm/publish.ts";
import type { Step, StepOf } from "../plan/publish-plan.ts";
import { describers, describeStep } from "./describe.ts";
import { runImageIndex } from "./image-index.ts";
import type { StepHandlers, StepOutcome } from "./runner.ts";

/** The outside world as the handlers reach it, built in one place (publish's execute phase). */
export interface HandlerIO {
  ctx: ReleaseContext;
  /** Tarballs packed for this run (or the error that kept one from being packed), by package name. */
  packed: ReadonlyMap<string, PackedPackage | Error>;
  docker: () => Promise<Docker>;
}

type Outcome = Omit<StepOutcome, "durationMs">;
type Handler<K extends Step["kind"]> = {
  describe: (p: StepOf<K>["payload"]) => string;
  run: (p: StepOf<K>["payload"], deps: ReadonlyMap<string, StepOutcome>, io: HandlerIO) => Promise<Outcome>;
};
const ok = (o: StepOutcome | undefined) => o?.status === "done" || o?.status === "noop";

/**
 * Image builds at once: as many as the daemon has CPUs (a build is CPU-bound on the
 * daemon's side; more at once only share those CPUs and delay the first push), at least one.
 * Pushes are not bounded here: they wait on the network, not the daemon's CPUs.
 */
let buildSlots: Promise<LimitFunction> | undefined;
const buildLimit = (docker: Docker) =>
  (buildSlots ??= docker.info().then(
    (i: { NCPU?: number }) => pLimit(Math.max(1, Number(i.NCPU) || 1)),
    () => pLimit(2),
  ));

/**
 * The side effects, one handler per step kind: everything a handler needs is in its payload,
 * its deps' outcomes and the io; results go back in the outcome. Expected failures come back as
 * outcomes; anything thrown is a failed outcome (the runner catches it).
 */
export const handlers: { [K in Step["kind"]]: Handler<K> } = {
  "npm-publish": {
    describe: describers["npm-publish"],
    async run(p, _deps, { ctx, packed }) {
      const pk = packed.get(p.name);
      if (!pk || pk instanceof Error) return { status: "failed", error: pk?.message ?? "pnpm pack produced no tarball" };
      const reg = registryFor(ctx, p.name);
      const r = await publishTarball(ctx, p, pk.tarball); // README, access, provenance, publish scripts: npm/publish.ts
      // GitHub Packages does not move `latest` by itself: the final dist-tag is set explicitly.
      if (p.distTag) await reg.setDistTag(p.name, p.version, p.distTag);
      return r === "published"
        ? { status: "done", detail: `published ${p.name}@${p.version} (${p.distTag ?? p.tag})` }
        : { status: "noop", detail: `${p.name}@${p.version} was already on the registry` };
    },
  },

  "npm-dist-tag": {
    describe: describers["npm-dist-tag"],
    async run(p, _deps, { ctx }) {
      const reg = registryFor(ctx, p.name);
      await reg.setDistTag(p.name, p.version, p.distTag);
      if (p.remove) await reg.removeDistTag(p.name, p.remove);
      return { status: "done", detail: `dist-tag ${p.distTag} → ${p.name}@${p.version}` };
    },
  },

  "image-build-push": {
    describe: describers["image-build-push"],
    async run(p, _deps, { ctx, docker: dockerClient }) {
      const reg = ociFor(ctx, p.image);
      const { repo, host } = splitImageName(p.image);
      // A version tag is never rewritten (SPEC §5a.4): another run may have pushed it meanwhile.
      const existing = await reg.digest(repo, p.versionTag);
      if (existing)
        return {
          status: "noop",
          detail: `${p.image}:${p.versionTag} already exists (${existing.slice(0, 19)})`,
          result: { digest: existing },
        };
      const docker = await dockerClient();
      const slot = await buildLimit(docker);
      await slot(() =>
        buildImage(docker, {
          context: p.context,
          dockerfile: p.dockerfile,
          tag: `${p.image}:${p.versionTag}`,
          buildArgs: p.buildArgs,
          labels: { ...p.labels, "org.opencontainers.image.created": new Date().toISOString() },
          ...(p.platform ? { platform: p.platform } : {}),
          builder: ctx.config.images.builder,
        }),
      );
      // Checked again right before the push: the build took a while.
      const raced = await reg.digest(repo, p.versionTag);
      if (raced)
        return {
          status: "noop",
          detail: `${p.image}:${p.versionTag} was pushed by another run (${raced.slice(0, 19)})`,
          result: { digest: raced },
        };
      const auth = { username: ctx.imageAuth.username ?? "", password: ctx.imageAuth.password ?? "", serveraddress: host };
      const digest = await pushImage(docker, p.image, p.versionTag, auth);
      const after = await reg.digest(repo, p.versionTag);
      if (after !== digest) {
        return {
          status: "failed",
          error: `${p.image}:${p.versionTag} points at ${after ?? "nothing"} after pushing ${digest}: another run pushed it at the same time`,
        };
      }
      return { status: "done", detail: `built and pushed ${p.image}:${p.versionTag} (${digest.slice(0, 19)})`, result: { digest } };
    },
  },

  "image-index": {
    describe: describers["image-index"],
    run: (p, _deps, { ctx }) => runImageIndex(ociFor(ctx, p.image), p),
  },

  "image-promote": {
    describe: describers["image-promote"],
    async run(p, _deps, { ctx }) {
      const reg = ociFor(ctx, p.image);
      const { repo } = splitImageName(p.image);
      // The version tag's manifest, read once: each floating tag gets these bytes.
      const src = await reg.rawManifest(repo, p.versionTag, "pull,push");
      const digest = src?.digest;
      // A tag an earlier (killed) run already pointed here is not written again. The floating tags
      // are independent of each other (each only waits for every artifact of the run), so they
      // move side by side; the step ends once every write has ended, and fails with the first error.
      const moved = await Promise.allSettled(
        p.tags.map(async (t) => {
          if (src && (await reg.digest(repo, t)) === digest) return;
          await (src ? reg.putManifest(repo, t, src.mediaType, src.bytes) : reg.copyTag(repo, p.versionTag, t));
        }),
      );
      const failed = moved.find((m) => m.status === "rejected");
      if (failed) throw failed.reason;
      return { status: "done", detail: `${p.image}: ${p.tags.join(", ")} → ${p.versionTag}`, ...(digest ? { result: { digest } } : {}) };
    },
  },

  "git-tag": {
    describe: describers["git-tag"],
    async run(p, _deps, { ctx }) {
      const tags = gitTags(ctx, ctx.rootDir); // batched with the other tag steps running now (see git-tags.ts)
      const at = await tags.commitOf(p.tag);
      if (at && p.commit && at !== p.commit) {
        return {
          status: "failed",
          error: `local tag ${p.tag} points at ${at.slice(0, 7)}, not the release commit ${p.commit.slice(0, 7)}: delete it (git tag -d ${p.tag})`,
        };
      }
      const made = at ? undefined : await tags.create(p.tag, p.commit);
      if (p.push) await tags.push(p.tag);
      // Said, not silent: a ref lock a killed git left behind was deleted to make this tag.
      const cleared = made?.clearedStaleLock ? ` (removed refs/tags/${p.tag}.lock, left by a killed run)` : "";
      return { status: "done", detail: `${p.push ? `tagged ${p.tag} and pushed it` : `tagged ${p.tag}`}${cleared}` };
    },
  },

  "github-release": {
    describe: describers["github-release"],
    async run(p, deps, { ctx }) {
      const github = ctx.github;
      if (!github) return { status: "failed", error: "no GitHub client (GITHUB_TOKEN or the repository is missing)" };
      let { tag, body, name, prerelease, latest } = p;
      let covers: string[] | undefined;
      if (p.combined) {
        // Only the tags that went out (their tag step ended well, or they were on origin already).
        const out = p.combined.filter((c) => c.requires.every((id) => ok(deps.get(id))));
        if (out.length === 0) return { status: "skipped", detail: "no package was released" };
        covers = out.map((c) => c.tag);
        tag = covers[0]!;
        prerelease = out.every((c) => c.prerelease);
        body = [...out.flatMap((c) => [`## ${c.tag}`, "", c.body || "(no changelog entry)", ""]), coveredTagsMarker(covers)].join("\n");
        name = `Release ${new Date().toISOString().slice(0, 10)}: ${out.length} package${out.length === 1 ? "" : "s"}`;
        latest = p.latest;
      }
      const url = await github.createRelease({ tag, name, body, prerelease, makeLatest: latest, targetCommitish: p.commit || undefined });
      return { status: "done", detail: `GitHub release ${tag}: ${url}`, result: { url, ...(covers ? { covers } : {}) } };
    },
  },
};

/** The handlers bound to one run's io, as the runner calls them. */
export function stepHandlers(io: HandlerIO): StepHandlers {
  return {
    describe: describeStep,
    run: (step, deps) =>
      (handlers[step.kind].run as (p: Step["payload"], d: typeof deps, io: HandlerIO) => Promise<Outcome>)(step.payload, deps, io),
  };
}

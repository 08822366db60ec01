import path from "node:path";
import semver from "semver";
import type { Config } from "../config/load.ts";
import { changelogSection } from "../github/changelog.ts";
import { publishScripts, type Scripts } from "../npm/scripts.ts";
import type { Workspace, WorkspacePackage } from "../workspace/discover.ts";
import { publishOrder } from "../workspace/discover.ts";
import { distTagFor } from "./dist-tag.ts";
import { latestPackage, pickLatest } from "./github-latest.ts";
import { ociLabels } from "./image-labels.ts";
import { imageTagsFor, toImageTag } from "./image-tags.ts";
import { npmRegistryFor } from "./release-plan.ts";

/** The staging dist-tag of `npm.promote: "last"`: versions wait under it until promotion. */
export const STAGING_TAG = "flotilla-staging";

export type Stage = "npm" | "images" | "git" | "github";

/** What the sources of truth hold (SPEC §5.3), read by the observer. */
export interface RegistryState {
  /** Packument per public package name; null = never published. */
  npm: ReadonlyMap<string, { versions: ReadonlySet<string>; distTags: Readonly<Record<string, string>> } | null>;
  /** Tags on origin. */
  remoteTags: ReadonlySet<string>;
  /** Tags in the local repository (created by an earlier run that died before pushing). */
  localTags: ReadonlySet<string>;
  /** Per image repository (full name): its tags, and the digest of each tag that matters. */
  images: ReadonlyMap<string, { tags: readonly string[]; digests: ReadonlyMap<string, string | null> }>;
  /** Tags that have a GitHub release (drafts included); undefined when GitHub is not read. */
  releases?: ReadonlySet<string>;
}

export interface GithubReleaseWork {
  tag: string;
  prerelease: boolean;
  /** Becomes the repository's "Latest" (SPEC §5.8). */
  makeLatest: boolean;
  action: "create" | "none";
}

export interface ImageWork {
  /** Full repository name, e.g. `ghcr.io/acme/web`. */
  name: string;
  versionTag: string;
  /** Every tag this version should carry (SPEC §6), the version tag first. */
  tags: string[];
  /** Floating tags, moved last. */
  floating: string[];
  /** Floating tags that exist and point elsewhere: they will move. */
  moves: string[];
  /** "build": the version tag is missing; "retag": it exists, some tag is missing or elsewhere; "none". */
  action: "build" | "retag" | "none";
  /** Digest of the version tag when it exists. */
  digest: string | null;
  /**
   * Multi-platform images (more than one `platforms`): each platform's own tag and whether the
   * registry has it (a rerun or the final job of a matrix does not build it again); empty otherwise.
   */
  platforms: { platform: string; tag: string; pushed: boolean }[];
}

export interface NpmWork {
  name: string;
  version: string;
  registry: string;
  /** Final dist-tag (SPEC §6). */
  distTag: string;
  /** "publish": the version is missing; "tag": present, but its dist-tag is not set; "none": done. */
  action: "publish" | "tag" | "none";
}

export interface GitTagWork {
  tag: string;
  /** "create": not on origin and not local; "push": local only; "none": on origin. */
  action: "create" | "push" | "none";
}

export interface ReleaseUnit {
  name: string;
  version: string;
  pkg: WorkspacePackage;
  npm: NpmWork | null;
  image: ImageWork | null;
  gitTag: GitTagWork | null;
  release: GithubReleaseWork | null;
  /**
   * The package's artifacts that are not in the registries and that this run does not make
   * (`--only` without their stage): its tag (and release) wait for them, so none is made.
   * Each names the artifact, e.g. `npm @acme/core@1.2.0 on https://npm.pkg.github.com`.
   */
  missing: string[];
  /** True when something is missing. */
  hasWork: boolean;
}

// ---- Steps: each kind carries everything its handler needs (SPEC §5a), nothing is looked up by name.

export interface NpmPublishPayload {
  name: string;
  version: string;
  registry: string;
  /** Package folder (absolute); the tarball is packed from it before the steps run. */
  dir: string;
  /** Dist-tag the version is published under (the staging tag when promoting last). */
  tag: string;
  /** Final dist-tag written right after the publish (GitHub Packages does not move `latest` by itself); null when promoting last. */
  distTag: string | null;
  access: "public" | "restricted" | null;
  /** The package's lifecycle scripts this publish runs, in order (listed by the dry run); absent in older plans. */
  scripts?: string[];
}
export interface NpmDistTagPayload {
  name: string;
  version: string;
  registry: string;
  distTag: string;
  /** Dist-tag removed afterwards (the staging tag), if any. */
  remove: string | null;
  /** A floating pointer moved last (promote-last), not part of the version's own release. */
  floating: boolean;
}
export interface ImageBuildPayload {
  pkg: string;
  image: string;
  version: string;
  versionTag: string;
  /** Build context (absolute) and the Dockerfile relative to it. */
  context: string;
  dockerfile: string;
  buildArgs: Record<string, string>;
  /** OCI labels, except `created` (the build's own time). */
  labels: Record<string, string>;
  platform: string | null;
}
export interface ImageIndexPayload {
  image: string;
  /** The tag the index goes under (the version's artifact). */
  versionTag: string;
  /** Each platform and the tag its image was pushed under, in the config's order (the index's). */
  platforms: { platform: string; tag: string }[];
}
export interface ImagePromotePayload {
  image: string;
  versionTag: string;
  /** Floating tags pointed at the version tag. */
  tags: string[];
  /** Floating tags that exist and point elsewhere: they move. */
  moves: string[];
}
export interface GitTagPayload {
  tag: string;
  commit: string;
  /** false: the tag exists locally (an earlier run died before pushing); only the push is left. */
  create: boolean;
  push: boolean;
}
export interface ReleaseNotePart {
  tag: string;
  /** That version's CHANGELOG.md section. */
  body: string;
  prerelease: boolean;
  /** Steps that must end done or noop for the release to cover this tag (its tag step, else its artifacts). */
  requires: string[];
}
export interface GithubReleasePayload {
  /** The tag the release is created for (a combined release: the first covered tag that went out). */
  tag: string;
  name: string;
  commit: string;
  body: string;
  prerelease: boolean;
  latest: boolean;
  /** A combined release: every tag it may cover; those whose tag step did not go through are left out. */
  combined: ReleaseNotePart[] | null;
}

interface StepBase {
  id: string;
  /** Package the step belongs to (none for a combined release). */
  pkg?: string;
  /** Runs only when every one of these ended done or noop; else skipped. */
  deps: readonly string[];
  /** Runs after these have ended, whatever their outcome (ordering only). */
  after?: readonly string[];
}
export type Step =
  | (StepBase & { kind: "npm-publish"; payload: NpmPublishPayload })
  | (StepBase & { kind: "npm-dist-tag"; payload: NpmDistTagPayload })
  | (StepBase & { kind: "image-build-push"; payload: ImageBuildPayload })
  | (StepBase & { kind: "image-index"; payload: ImageIndexPayload })
  | (StepBase & { kind: "image-promote"; payload: ImagePromotePayload })
  | (StepBase & { kind: "git-tag"; payload: GitTagPayload })
  | (StepBase & { kind: "github-release"; payload: GithubReleasePayload });
export type StepKind = Step["kind"];
export type StepOf<K extends StepKind> = Extract<Step, { kind: K }>;

/** Steps that create a version's artifact (tags wait for them; floating pointers wait for all of them). */
export const isArtifact = (s: Step): boolean => s.kind === "npm-publish" || s.kind === "image-build-push" || s.kind === "image-index";
/** Steps that move a floating pointer (SPEC §5.9: only once every artifact of the run exists). */
export const isFloating = (s: Step): boolean => s.kind === "image-promote" || (s.kind === "npm-dist-tag" && s.payload.floating);

export const PLAN_SCHEMA = 1;

export interface PublishPlan {
  schema: typeof PLAN_SCHEMA;
  /** The release commit: every tag and release points here. */
  commit: string;
  repository: { owner: string; name: string } | null;
  /** The package whose release is GitHub's "Latest" at this commit, decided from every version at the commit. */
  latest: { pkg: string; tag: string } | null;
  units: readonly ReleaseUnit[];
  steps: readonly Step[];
}

export interface PublishPlanInput {
  workspace: Workspace;
  config: Config;
  /** changesets' `privatePackages.tag`: private packages get git tags. */
  tagPrivate: boolean;
  state: RegistryState;
  stages: ReadonlySet<Stage>;
  /** Only these packages (already matched against --filter); all when undefined. */
  only?: ReadonlySet<string>;
  /** Image repository name per image package (SPEC §3). */
  imageNames: ReadonlyMap<string, string>;
  /** The release commit (also the optional `sha-<7>` image tag). */
  sha?: string;
  /** CHANGELOG.md text per package name (read by the caller), for release bodies. */
  changelogs?: ReadonlyMap<string, string>;
  /** Repository URL for the image `source` label. */
  source?: string;
  repository?: { owner: string; name: string };
  /** The root package.json's name (the Latest rule's second choice). */
  rootName?: string;
}

/**
 * Pure: workspace versions + registry state → what is missing and the steps that make it, each
 * step with its payload and the steps it waits for. A version is released when its npm version
 * (with its dist-tag) is on the registry and its git tag is on origin; anything missing is the work.
 * The result is frozen: the executor reads it, nothing writes to it.
 */
export function planPublish(input: PublishPlanInput): PublishPlan {
  const { workspace, config, state, stages } = input;
  const units: ReleaseUnit[] = [];
  const wantsRelease = (pkg: WorkspacePackage) =>
    config.git.tags &&
    stages.has("git") &&
    (!pkg.private || input.tagPrivate) &&
    !!state.releases &&
    stages.has("github") &&
    config.github.releases !== false;
  for (const pkg of workspace.packages) {
    if (input.only && !input.only.has(pkg.name)) continue;
    let npm: NpmWork | null = null;
    if (!pkg.private && stages.has("npm")) {
      const doc = state.npm.get(pkg.name) ?? null;
      const distTag = distTagFor(pkg.version, doc?.distTags.latest);
      const present = doc?.versions.has(pkg.version) ?? false;
      const current = doc?.distTags[distTag];
      const tagged = current !== undefined && semver.valid(current) !== null && semver.gte(current, pkg.version);
      npm = {
        name: pkg.name,
        version: pkg.version,
        registry: npmRegistryFor(pkg.manifest, config.npm),
        distTag,
        action: !present ? "publish" : tagged ? "none" : "tag",
      };
    }
    let image: ImageWork | null = null;
    const imageName = input.imageNames.get(pkg.name);
    if (pkg.dockerfile && imageName && stages.has("images")) {
      const st = state.images.get(imageName) ?? { tags: [] as string[], digests: new Map<string, string | null>() };
      const t = imageTagsFor(pkg.version, st.tags, { kinds: config.images.tags, sha: input.sha });
      const versionTag = toImageTag(pkg.version);
      const digest = st.digests.get(versionTag) ?? null;
      const aligned = digest !== null && t.tags.every((tag) => st.digests.get(tag) === digest);
      image = {
        name: imageName,
        versionTag,
        tags: t.tags,
        floating: t.floating,
        moves: t.floating.filter((tag) => st.tags.includes(tag) && st.digests.get(tag) !== digest),
        action: digest === null ? "build" : aligned ? "none" : "retag",
        digest,
        platforms: platformTags(config.images.apps[pkg.name]?.platforms, versionTag, st.tags),
      };
    }
    const taggable = config.git.tags && stages.has("git") && (!pkg.private || input.tagPrivate);
    let gitTag: GitTagWork | null = null;
    const missing: string[] = [];
    if (taggable) {
      const tag = `${pkg.name}@${pkg.version}`;
      gitTag = { tag, action: state.remoteTags.has(tag) ? "none" : state.localTags.has(tag) ? "push" : "create" };
      if (gitTag.action !== "none") missing.push(...unmadeArtifacts(pkg, imageName, input));
    }
    let release: GithubReleaseWork | null = null;
    if (gitTag && wantsRelease(pkg)) {
      release = {
        tag: gitTag.tag,
        prerelease: semver.prerelease(pkg.version) !== null,
        makeLatest: false,
        action: state.releases!.has(gitTag.tag) ? "none" : "create",
      };
    }
    const hasWork = [npm?.action, image?.action, gitTag?.action, release?.action].some((a) => a !== undefined && a !== "none");
    units.push({ name: pkg.name, version: pkg.version, pkg, npm, image, gitTag, release, missing, hasWork: hasWork || missing.length > 0 });
  }
  // Latest: from every version at this commit that gets a release, whatever this run still has
  // to do and whatever --filter narrows (SPEC §5a.3), so a rerun picks the same one.
  const atCommit = workspace.packages
    .filter(wantsRelease)
    .map((p) => ({ name: p.name, version: p.version, tag: `${p.name}@${p.version}` }));
  const pkgName = latestPackage(atCommit, {
    choice: config.github.latest,
    repoName: input.repository?.name,
    rootName: input.rootName,
  });
  const latestTag = pkgName
    ? pickLatest(
        atCommit.filter((r) => r.name === pkgName),
        [...state.remoteTags],
      )
    : undefined;
  for (const u of units) if (u.release && u.release.tag === latestTag) u.release.makeLatest = true;
  const plan: PublishPlan = {
    schema: PLAN_SCHEMA,
    commit: input.sha ?? "",
    repository: input.repository ?? null,
    latest: latestTag && pkgName ? { pkg: pkgName, tag: latestTag } : null,
    units,
    steps: stepsFor(units, input),
  };
  return deepFreeze(plan);
}

/**
 * `--only` without npm or images (SPEC §5a.1): this run does not make that kind of artifact, but
 * a tag still follows it, so its presence is read (the caller observes those registries too) and
 * what is not there is named. A registry that was not read counts as missing: no tag on a guess.
 */
function unmadeArtifacts(pkg: WorkspacePackage, imageName: string | undefined, input: PublishPlanInput): string[] {
  const { state, stages, config } = input;
  const out: string[] = [];
  if (!pkg.private && !stages.has("npm") && !state.npm.get(pkg.name)?.versions.has(pkg.version))
    out.push(`npm ${pkg.name}@${pkg.version} on ${npmRegistryFor(pkg.manifest, config.npm)}`);
  const versionTag = toImageTag(pkg.version);
  if (pkg.dockerfile && imageName && !stages.has("images") && !state.images.get(imageName)?.digests.get(versionTag))
    out.push(`image ${imageName}:${versionTag}`);
  return out;
}

/**
 * Each platform's tag (`<version>-<os>-<arch>[-<variant>]`) when an app names more than one
 * platform: the classic daemon pushes by tag only, and the tag is how a later run finds that
 * platform done (the registry is the journal).
 */
function platformTags(platforms: readonly string[] | undefined, versionTag: string, existing: readonly string[]): ImageWork["platforms"] {
  if (!platforms || platforms.length < 2) return [];
  return platforms.map((platform) => {
    const tag = `${versionTag}-${platform.replaceAll("/", "-")}`;
    return { platform, tag, pushed: existing.includes(tag) };
  });
}

function stepsFor(units: ReleaseUnit[], input: PublishPlanInput): Step[] {
  const { config } = input;
  const commit = input.sha ?? "";
  const steps: Step[] = [];
  const has = (id: string) => steps.some((s) => s.id === id);
  const promoteLast = config.npm.promote === "last";
  const publishing = new Map(units.filter((u) => u.npm?.action === "publish").map((u) => [u.name, u]));
  // npm publishes in dependency order: a package waits for the workspace packages it depends on
  // that are published in this run (the others are on the registry already).
  const order = publishOrder([...publishing.values()].map((u) => ({ name: u.name, internalDeps: u.pkg.internalDeps })));
  for (const name of order) {
    const u = publishing.get(name)!;
    const npm = u.npm!;
    steps.push({
      id: `npm-publish:${name}`,
      kind: "npm-publish",
      pkg: name,
      // Only edges to packages earlier in the order: a dependency cycle is broken, never a deadlock.
      deps: u.pkg.internalDeps.filter((d) => publishing.has(d) && order.indexOf(d) < order.indexOf(name)).map((d) => `npm-publish:${d}`),
      payload: {
        name,
        version: npm.version,
        registry: npm.registry,
        dir: u.pkg.dir,
        tag: promoteLast ? STAGING_TAG : npm.distTag,
        distTag: promoteLast || !setsDistTagApart(npm.registry) ? null : npm.distTag,
        access: config.npm.access ?? null,
        scripts: publishScripts(u.pkg.manifest.scripts as Scripts),
      },
    });
  }
  for (const u of units) {
    if (u.image?.action !== "build") continue;
    const app = config.images.apps[u.name];
    const context = path.resolve(u.pkg.dir, app?.context ?? ".");
    const manifest = u.pkg.manifest as { description?: string; license?: string };
    const { "org.opencontainers.image.created": _created, ...labels } = ociLabels({
      ...manifest,
      name: u.name,
      version: u.version,
      source: input.source ?? "",
      revision: commit,
      created: new Date(0),
    });
    const build = (id: string, versionTag: string, platform: string | null): Step => ({
      id,
      kind: "image-build-push",
      pkg: u.name,
      deps: [],
      payload: {
        pkg: u.name,
        image: u.image!.name,
        version: u.version,
        versionTag,
        context,
        dockerfile: path.relative(context, path.resolve(u.pkg.dir, u.pkg.dockerfile!)),
        buildArgs: { ...app?.buildArgs, VERSION: u.version },
        labels,
        platform,
      },
    });
    if (u.image.platforms.length === 0) {
      steps.push(build(`image-build-push:${u.name}`, u.image.versionTag, app?.platforms?.[0] ?? null));
      continue;
    }
    // Multi-platform (SPEC §11): each platform not yet in the registry built on its own, then
    // the index over all of them under the version tag.
    const builds = u.image.platforms
      .filter((p) => !p.pushed)
      .map((p) => build(`image-build-push:${u.name}:${p.platform}`, p.tag, p.platform));
    steps.push(...builds, {
      id: `image-index:${u.name}`,
      kind: "image-index",
      pkg: u.name,
      deps: builds.map((b) => b.id),
      payload: {
        image: u.image.name,
        versionTag: u.image.versionTag,
        platforms: u.image.platforms.map(({ platform, tag }) => ({ platform, tag })),
      },
    });
  }
  // Every artifact of the run: floating pointers move only once all of them exist (SPEC §5.9).
  const artifactSteps = steps.map((s) => s.id);
  for (const u of units) {
    const img = u.image;
    if (!img || img.action === "none" || img.floating.length === 0) continue;
    steps.push({
      id: `image-promote:${u.name}`,
      kind: "image-promote",
      pkg: u.name,
      deps: artifactSteps,
      payload: { image: img.name, versionTag: img.versionTag, tags: img.floating, moves: img.moves },
    });
  }
  for (const u of units) {
    const npm = u.npm;
    if (!npm || npm.action === "none") continue;
    if (npm.action === "tag" || promoteLast) {
      steps.push({
        id: `npm-dist-tag:${u.name}`,
        kind: "npm-dist-tag",
        pkg: u.name,
        deps: promoteLast ? artifactSteps : npm.action === "publish" ? [`npm-publish:${u.name}`] : [],
        payload: {
          name: npm.name,
          version: npm.version,
          registry: npm.registry,
          distTag: npm.distTag,
          remove: promoteLast ? STAGING_TAG : null,
          floating: promoteLast,
        },
      });
    }
  }
  // A tag (made now, or left local by a killed run) goes out once its own package's artifacts
  // exist (SPEC §5a.1); floating pointers are not the version's artifacts and are not waited for.
  const push = config.git.push;
  for (const u of units) {
    if (!u.gitTag || u.gitTag.action === "none" || u.missing.length > 0) continue;
    if (u.gitTag.action === "push" && !push) continue;
    const own = steps.filter((s) => s.pkg === u.name && !isFloating(s)).map((s) => s.id);
    steps.push({
      id: `git-tag:${u.name}`,
      kind: "git-tag",
      pkg: u.name,
      deps: own,
      payload: { tag: u.gitTag.tag, commit, create: u.gitTag.action === "create", push },
    });
  }
  // A release is made only for a tag on origin (SPEC §5a.2): it waits for its tag step (which
  // waits for the package's artifacts); without push, tags stay local and no release is made.
  const releasable = units.filter((u) => u.release?.action === "create" && u.missing.length === 0 && (push || u.gitTag?.action === "none"));
  const tagStep = (u: ReleaseUnit) => (has(`git-tag:${u.name}`) ? [`git-tag:${u.name}`] : []);
  // Its tag step, which waits for the package's artifacts; a tag already on origin: the artifacts themselves.
  const releaseDeps = (u: ReleaseUnit) => {
    const t = tagStep(u);
    return t.length ? t : steps.filter((s) => s.pkg === u.name && !isFloating(s) && s.kind !== "github-release").map((s) => s.id);
  };
  const body = (u: ReleaseUnit) => changelogSection(input.changelogs?.get(u.name) ?? "", u.version);
  if (config.github.releases === "combined") {
    if (releasable.length === 0) return steps;
    const parts = releasable.map((u) => ({
      tag: u.release!.tag,
      body: body(u),
      prerelease: u.release!.prerelease,
      requires: releaseDeps(u),
    }));
    steps.push({
      id: "github-release:combined",
      kind: "github-release",
      deps: [],
      // One release for the run: it covers the packages whose tag went out, whatever the others did.
      after: [...new Set(parts.flatMap((p) => p.requires))],
      payload: {
        tag: parts[0]!.tag,
        name: "",
        commit,
        body: "",
        prerelease: parts.every((p) => p.prerelease),
        latest: releasable.some((u) => u.release!.makeLatest),
        combined: parts,
      },
    });
    return steps;
  }
  const releaseIds: string[] = [];
  for (const u of releasable) {
    const rel = u.release!;
    const id = `github-release:${u.name}`;
    steps.push({
      id,
      kind: "github-release",
      pkg: u.name,
      deps: releaseDeps(u),
      payload: {
        tag: rel.tag,
        name: rel.tag,
        commit,
        body: body(u) || `Release of ${u.name}@${u.version}.`,
        prerelease: rel.prerelease,
        latest: rel.makeLatest,
        combined: null,
      },
    });
    releaseIds.push(id);
  }
  // The Latest release is created last (SPEC §5a.3): after every other release step, whatever they did.
  const latest = steps.find((s) => s.kind === "github-release" && s.payload.latest);
  if (latest) (latest as { after?: readonly string[] }).after = releaseIds.filter((id) => id !== latest.id);
  return steps;
}

/**
 * Registries where a publish's own dist-tag is not enough: GitHub Packages (npm.pkg.github.com,
 * GHEC's npm.<sub>.ghe.com, GHES's npm.<host> or <host>/_registry/npm/) does not move `latest`
 * by itself (REGISTRIES A7), so the dist-tag is written again after the PUT. Elsewhere the PUT's
 * `dist-tags` sets it, and a second write per package would only add a request (issue 12).
 */
export function setsDistTagApart(registry: string): boolean {
  return /^https?:\/\/npm\.|\/_registry\/npm(\/|$)/.test(registry);
}

/** The plan as a file: JSON with its schema version (SPEC §11 fan-out reads it in another job). */
export function serializePlan(plan: PublishPlan): string {
  return JSON.stringify(plan, null, 2);
}

export function parsePlan(text: string): PublishPlan {
  const plan = JSON.parse(text) as PublishPlan;
  if (plan?.schema !== PLAN_SCHEMA)
    throw new Error(`release plan schema ${JSON.stringify(plan?.schema)} is not supported (expected ${PLAN_SCHEMA})`);
  return deepFreeze(plan);
}

/** Freezes the plan; a unit's `pkg` is the workspace's own object and stays as it is. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const [k, v] of Object.entries(value)) if (k !== "pkg" || typeof v !== "object") deepFreeze(v);
  }
  return value;
}

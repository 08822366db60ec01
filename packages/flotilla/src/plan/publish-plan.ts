import semver from "semver";
import type { Config } from "../config/load.ts";
import type { Workspace, WorkspacePackage } from "../workspace/discover.ts";
import { publishOrder } from "../workspace/discover.ts";
import { distTagFor } from "./dist-tag.ts";
import { pickLatest } from "./github-latest.ts";
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
  /** URL of the GitHub release once created (filled in by the executor). */
  releaseUrl?: string;
  /** True when something is missing. */
  hasWork: boolean;
}

export type StepKind = "npm-publish" | "npm-promote" | "image-build-push" | "image-promote" | "git-tag" | "git-push" | "github-release";

export interface Step {
  id: string;
  kind: StepKind;
  /** Package this step belongs to (none for git-push). */
  pkg?: string;
  deps: string[];
  /** Run once deps have settled, whatever their outcome (git-push pushes what exists). */
  settle?: boolean;
  /** Run only when every dep succeeded, else skipped (promotion waits for the whole release). */
  requireAllOk?: boolean;
  /** One line saying what the step does (dry run and logs). */
  describe: string;
}

export interface PublishPlan {
  units: ReleaseUnit[];
  steps: Step[];
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
  /** Commit for the optional `sha-<7>` tag. */
  sha?: string;
}

/**
 * Pure: workspace versions + registry state → what is missing and the steps that make it, each
 * step with the steps it waits for. A version is released when its npm version (with its
 * dist-tag) is on the registry and its git tag is on origin; anything missing is the work.
 */
export function planPublish(input: PublishPlanInput): PublishPlan {
  const { workspace, config, state, stages } = input;
  const units: ReleaseUnit[] = [];
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
      };
    }
    const taggable = config.git.tags && stages.has("git") && (!pkg.private || input.tagPrivate);
    let gitTag: GitTagWork | null = null;
    if (taggable) {
      const tag = `${pkg.name}@${pkg.version}`;
      gitTag = { tag, action: state.remoteTags.has(tag) ? "none" : state.localTags.has(tag) ? "push" : "create" };
    }
    let release: GithubReleaseWork | null = null;
    if (gitTag && state.releases && stages.has("github") && config.github.releases !== false) {
      release = {
        tag: gitTag.tag,
        prerelease: semver.prerelease(pkg.version) !== null,
        makeLatest: false,
        action: state.releases.has(gitTag.tag) ? "none" : "create",
      };
    }
    const hasWork = [npm?.action, image?.action, gitTag?.action, release?.action].some((a) => a !== undefined && a !== "none");
    units.push({ name: pkg.name, version: pkg.version, pkg, npm, image, gitTag, release, hasWork });
  }
  const newReleases = units
    .filter((u) => u.release?.action === "create")
    .map((u) => ({ tag: u.release!.tag, name: u.name, version: u.version }));
  const latest = pickLatest(newReleases, [...state.remoteTags]);
  for (const u of units) if (u.release && u.release.tag === latest) u.release.makeLatest = true;
  return { units, steps: stepsFor(units, config) };
}

function stepsFor(units: ReleaseUnit[], config: Config): Step[] {
  const steps: Step[] = [];
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
      describe: `publish ${name}@${npm.version} to ${npm.registry} under dist-tag "${promoteLast ? STAGING_TAG : npm.distTag}"`,
    });
  }
  for (const u of units) {
    if (u.image?.action !== "build") continue;
    steps.push({
      id: `image-build-push:${u.name}`,
      kind: "image-build-push",
      pkg: u.name,
      deps: [],
      describe: `build ${u.image.name}:${u.image.versionTag} from ${u.pkg.relDir}/${u.pkg.dockerfile} and push it`,
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
      requireAllOk: true,
      describe: `point ${img.floating.map((t) => `${img.name}:${t}`).join(", ")} at ${img.versionTag}${img.moves.length ? ` (moves ${img.moves.join(", ")})` : ""}`,
    });
  }
  for (const u of units) {
    const npm = u.npm;
    if (!npm || npm.action === "none") continue;
    if (npm.action === "tag" || promoteLast) {
      steps.push({
        id: `npm-promote:${u.name}`,
        kind: "npm-promote",
        pkg: u.name,
        // Promotion waits for every artifact of the run (SPEC §5.9) when promoting last.
        deps: promoteLast ? artifactSteps : npm.action === "publish" ? [`npm-publish:${u.name}`] : [],
        requireAllOk: promoteLast,
        describe: `point dist-tag "${npm.distTag}" of ${u.name} at ${npm.version}`,
      });
    }
  }
  const tagSteps: string[] = [];
  for (const u of units) {
    if (!u.gitTag || u.gitTag.action !== "create") continue;
    const own = [`npm-publish:${u.name}`, `npm-promote:${u.name}`, `image-build-push:${u.name}`, `image-promote:${u.name}`];
    const deps = own.filter((id) => steps.some((s) => s.id === id));
    steps.push({ id: `git-tag:${u.name}`, kind: "git-tag", pkg: u.name, deps, describe: `create git tag ${u.gitTag.tag}` });
    tagSteps.push(`git-tag:${u.name}`);
  }
  const pushable = units.filter((u) => u.gitTag && u.gitTag.action !== "none");
  if (config.git.push && pushable.length > 0) {
    steps.push({
      id: "git-push",
      kind: "git-push",
      deps: tagSteps,
      settle: true,
      describe: `push ${pushable.map((u) => u.gitTag!.tag).join(", ")} to origin`,
    });
  }
  const pushed = steps.some((s) => s.id === "git-push");
  if (config.github.releases === "combined") {
    const covered = units.filter((u) => u.release?.action === "create");
    if (covered.length > 0) {
      steps.push({
        id: "github-release:combined",
        kind: "github-release",
        deps: pushed ? ["git-push"] : covered.flatMap((u) => steps.filter((s) => s.id === `git-tag:${u.name}`).map((s) => s.id)),
        // One release for the run: it covers the packages whose release went through.
        settle: true,
        describe: `create one GitHub release for ${covered.map((u) => u.release!.tag).join(", ")}`,
      });
    }
    return steps;
  }
  for (const u of units) {
    if (u.release?.action !== "create") continue;
    const deps = pushed ? ["git-push"] : steps.some((s) => s.id === `git-tag:${u.name}`) ? [`git-tag:${u.name}`] : [];
    steps.push({
      id: `github-release:${u.name}`,
      kind: "github-release",
      pkg: u.name,
      deps,
      describe: `create GitHub release ${u.release.tag}${u.release.prerelease ? " (prerelease)" : ""}${u.release.makeLatest ? " (Latest)" : ""}`,
    });
  }
  return steps;
}

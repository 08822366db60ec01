import type { Config as ChangesetsConfig, ReleasePlan as ChangesetsPlan, VersionType } from "@changesets/types";
import type { Config } from "../config/load.ts";
import type { PackageKind, Workspace } from "../workspace/discover.ts";
import { distTagFor } from "./dist-tag.ts";
import { type ImageTagPlan, imageTagsFor } from "./image-tags.ts";

export type ReleaseReason = "changeset" | "dependent" | "group";

/** Placeholder shown for an unknown owner: unmistakably not a real name (display only). */
export const UNKNOWN_OWNER = "<owner>";

export interface NpmArtifact {
  name: string;
  version: string;
  registry: string;
  distTag: string;
}

export interface ImageArtifact extends ImageTagPlan {
  /** Repository without tag, e.g. `ghcr.io/acme/web`. */
  name: string;
}

export interface PlannedRelease {
  name: string;
  kind: PackageKind;
  /** "none": a dependent whose dependency ranges `flotilla version` rewrites, without a release. */
  type: VersionType;
  oldVersion: string;
  newVersion: string;
  reason: ReleaseReason;
  changesets: string[];
  npm: NpmArtifact | null;
  image: ImageArtifact | null;
  /** Why the package is an image, e.g. "Dockerfile in apps/web", "images.apps config". */
  imageReason: string | null;
  gitTag: string | null;
}

export interface Plan {
  rootDir: string;
  owner: string | undefined;
  preMode: { tag: string } | null;
  changesets: string[];
  releases: PlannedRelease[];
  /**
   * Workspace packages without a usable version: never released. `rangeUpdate`: changesets lists
   * it as a dependent (bump "none"), so `flotilla version` may rewrite its dependency ranges.
   */
  unversioned: { name: string; dir: string; version: unknown; rangeUpdate?: true }[];
  /** Packages with a Dockerfile that is not released as an image, and why. */
  dockerfilesIgnored: { name: string; reason: string }[];
  /** What changesets' libraries printed while planning. */
  warnings: string[];
  /** flotilla's own warnings about the plan (e.g. a released package depending on an unversioned one). */
  notes: string[];
}

/** What the registries already hold, when known (`plan` works offline: then nothing is known). */
export interface RegistryFacts {
  /** npm `latest` dist-tag per package name. */
  npmLatest?: ReadonlyMap<string, string | undefined>;
  /** Existing tags per image repository name. */
  imageTags?: ReadonlyMap<string, readonly string[]>;
}

/**
 * Pure: workspace + changesets' release plan + config (+ registry facts) → flotilla's plan,
 * with every artifact each release will produce.
 */
export function buildPlan(input: {
  workspace: Workspace;
  changesetsPlan: ChangesetsPlan;
  changesetsConfig: ChangesetsConfig;
  config: Config;
  owner: string | undefined;
  facts?: RegistryFacts;
  sha?: string;
  warnings?: string[];
  notes?: string[];
}): Plan {
  const { workspace, changesetsPlan, changesetsConfig, config, owner, facts } = input;
  const named = new Set(changesetsPlan.changesets.flatMap((c) => c.releases.filter((r) => r.type !== "none").map((r) => r.name)));
  const fixedMembers = new Set(changesetsConfig.fixed.flat());
  // changesets lists version-less dependents with bump "none" and no version; `changeset version`
  // rewrites their ranges (62 example apps in TanStack/query), so the plan says so.
  const unversionedDependents = new Set(
    changesetsPlan.releases.filter((r) => r.type === "none" && workspace.unversioned.has(r.name)).map((r) => r.name),
  );
  const releases: PlannedRelease[] = [];
  for (const r of changesetsPlan.releases) {
    const pkg = workspace.byName.get(r.name);
    if (!pkg || !r.newVersion || !r.oldVersion) continue;
    const newVersion = r.newVersion;
    if (r.type === "none") {
      // Kept (changesets lists it, `flotilla version` rewrites its ranges) with no artifact.
      const rangeOnly = { npm: null, image: null, imageReason: null, gitTag: null };
      releases.push({
        name: r.name,
        kind: pkg.kind,
        type: r.type,
        oldVersion: r.oldVersion,
        newVersion,
        reason: "dependent",
        changesets: r.changesets,
        ...rangeOnly,
      });
      continue;
    }
    const reason: ReleaseReason = named.has(r.name) ? "changeset" : fixedMembers.has(r.name) ? "group" : "dependent";
    const npm: NpmArtifact | null = pkg.private
      ? null
      : {
          name: pkg.name,
          version: newVersion,
          registry: npmRegistryFor(pkg.manifest, config.npm),
          distTag: distTagFor(newVersion, facts?.npmLatest?.get(pkg.name)),
        };
    let image: ImageArtifact | null = null;
    if (pkg.dockerfile) {
      const name = imageNameFor(pkg.name, config, owner);
      image = { name, ...imageTagsFor(newVersion, facts?.imageTags?.get(name) ?? [], { kinds: config.images.tags, sha: input.sha }) };
    }
    const tagged = config.git.tags && (!pkg.private || changesetsConfig.privatePackages.tag);
    releases.push({
      name: r.name,
      kind: pkg.kind,
      type: r.type,
      oldVersion: r.oldVersion,
      newVersion,
      reason,
      changesets: r.changesets,
      npm,
      image,
      imageReason: image ? (pkg.imageReason ?? null) : null,
      gitTag: tagged ? `${r.name}@${newVersion}` : null,
    });
  }
  releases.sort((a, b) => a.name.localeCompare(b.name));
  return {
    rootDir: workspace.rootDir,
    owner,
    preMode: changesetsPlan.preState?.mode === "pre" ? { tag: changesetsPlan.preState.tag } : null,
    changesets: changesetsPlan.changesets.map((c) => c.id),
    releases,
    unversioned: [...workspace.unversioned.values()]
      .map((u) => ({
        name: u.name,
        dir: u.relDir,
        version: u.version,
        ...(unversionedDependents.has(u.name) ? { rangeUpdate: true as const } : {}),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    dockerfilesIgnored: workspace.packages.flatMap((p) => (p.dockerfileIgnored ? [{ name: p.name, reason: p.dockerfileIgnored }] : [])),
    warnings: input.warnings ?? [],
    notes: input.notes ?? [],
  };
}

/**
 * The registry a package goes to: FLOTILLA_NPM_REGISTRY when set (an explicit override, used by
 * the demo and the tests), else `publishConfig.registry` as npm and pnpm do, else the config's.
 */
export function npmRegistryFor(manifest: Record<string, unknown>, npm: Pick<Config["npm"], "registry" | "registryFromEnv">): string {
  if (npm.registryFromEnv) return npm.registry;
  const pc = manifest.publishConfig as { registry?: unknown } | undefined;
  return typeof pc?.registry === "string" ? pc.registry.replace(/\/+$/, "") : npm.registry;
}

/**
 * `<registry>/<owner>/<name without scope>`, lowercased (SPEC §3), unless config names it. An
 * unknown owner shows as `<owner>`, which no registry accepts: preflight refuses it before use.
 */
export function imageNameFor(pkgName: string, config: Pick<Config, "images">, owner: string | undefined): string {
  const ownerPart = owner?.toLowerCase() ?? UNKNOWN_OWNER;
  const configured = config.images.apps[pkgName]?.name;
  if (configured) return configured.includes("/") ? configured : `${config.images.registry}/${ownerPart}/${configured}`;
  const base = pkgName.replace(/^@[^/]+\//, "").toLowerCase();
  return `${config.images.registry.toLowerCase()}/${ownerPart}/${base}`;
}

import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Packages } from "@changesets/types";
import { getPackagesSync } from "@manypkg/get-packages";
import { graphSequencer } from "@pnpm/deps.graph-sequencer";
import picomatch from "picomatch";
import semver from "semver";
import { parse as parseYaml } from "yaml";
import type { Config } from "../config/load.ts";
import { InputError, type Problem } from "../errors.ts";

/** What flotilla makes of a workspace package (SPEC §3). */
export type PackageKind = "npm" | "image" | "both" | "private";

export interface WorkspacePackage {
  name: string;
  version: string;
  /** Absolute folder. */
  dir: string;
  /** Folder relative to the workspace root, POSIX separators. */
  relDir: string;
  private: boolean;
  kind: PackageKind;
  /** Dockerfile path relative to `dir`, when the package is an image. */
  dockerfile: string | undefined;
  /** Why the package is an image ("Dockerfile in apps/web", "images.apps config"), when it is one. */
  imageReason?: string | undefined;
  /** Why a Dockerfile in the package folder is not released as an image, when there is one. */
  dockerfileIgnored?: string | undefined;
  /** Names of workspace packages this one depends on (dependencies, peer, optional). */
  internalDeps: string[];
  /** Same for devDependencies (build order only). */
  internalDevDeps: string[];
  manifest: Record<string, unknown> & { name: string; version: string };
}

/**
 * A workspace package without a usable version (`"version"` missing, null, or not semver):
 * common for private fixtures, playgrounds and examples. It is never released (no npm, no
 * image, no tag); an error is raised only where a command would release it or a dependent.
 */
export interface UnversionedPackage {
  name: string;
  /** The raw `version` value (undefined when the field is missing). */
  version: unknown;
  dir: string;
  relDir: string;
  private: boolean;
  /** True when a Dockerfile is in its folder (it still is no image without a version). */
  hasDockerfile: boolean;
  /** Names of workspace packages this one depends on (dependencies, peer, optional). */
  internalDeps: string[];
}

export interface Workspace {
  rootDir: string;
  /** Packages with a valid semver version: the ones flotilla can release. */
  packages: WorkspacePackage[];
  byName: Map<string, WorkspacePackage>;
  /** Packages without a usable version, by name (never released). */
  unversioned: Map<string, UnversionedPackage>;
  /** The raw manypkg result, as changesets' libraries want it (unversioned packages included). */
  manypkg: Packages;
}

/**
 * The workspace root: the nearest folder upward from `cwd` whose `pnpm-workspace.yaml` lists
 * `packages:`. A settings-only pnpm-workspace.yaml (pnpm 10+ keeps settings there; nested ones
 * appear in fixtures and sub-projects) does not define a monorepo, so the walk goes on above it;
 * when no file above has `packages:`, the nearest one is the root (a single-package workspace).
 */
export function findWorkspaceRoot(cwd: string): string {
  let dir = path.resolve(cwd);
  let nearest: string | undefined;
  for (;;) {
    const file = path.join(dir, "pnpm-workspace.yaml");
    if (existsSync(file)) {
      nearest ??= dir;
      if (listsPackages(file)) return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (nearest) return nearest;
  throw new InputError([
    {
      code: "WORKSPACE_NOT_FOUND",
      file: path.join(path.resolve(cwd), "pnpm-workspace.yaml"),
      message: `no pnpm-workspace.yaml in ${path.resolve(cwd)} or any folder above it`,
      hint: "run flotilla inside a pnpm workspace, or pass --cwd <workspace root>",
    },
  ]);
}

/** Whether a pnpm-workspace.yaml has a `packages` key (an unparsable file counts: it is reported later). */
function listsPackages(file: string): boolean {
  try {
    const doc = parseYaml(readFileSync(file, "utf8")) as unknown;
    return typeof doc === "object" && doc !== null && "packages" in doc;
  } catch {
    return true;
  }
}

export interface DiscoverOptions {
  /**
   * "artifacts" (default): a non-semver version string is an error for a package that has
   * artifacts (npm or image), the ones `publish` releases. "lenient": never an error here; the
   * caller checks the packages it releases with `releaseVersionProblems` (plan, version).
   */
  versions?: "artifacts" | "lenient";
}

export async function discoverWorkspace(cwd: string, config: Pick<Config, "images">, opts: DiscoverOptions = {}): Promise<Workspace> {
  const rootDir = findWorkspaceRoot(cwd);
  let manypkg: Packages;
  try {
    // The synchronous variant: a thousand small package.json files read one after another cost
    // less CPU than a thousand promises through the thread pool (measured at N = 1,000); the
    // only other work under way is the two git processes context.ts started, which wait in
    // their pipes meanwhile.
    manypkg = getPackagesSync(rootDir) as Packages;
  } catch (err) {
    throw new InputError(await diagnoseWorkspace(rootDir, err as Error));
  }
  const names = new Set(manypkg.packages.map((p) => p.packageJson.name));
  const problems: Problem[] = duplicateNames(rootDir, manypkg);
  const packages: WorkspacePackage[] = [];
  const unversioned = new Map<string, UnversionedPackage>();
  const selector = imageSelector(config);
  for (const p of manypkg.packages) {
    const pj = p.packageJson as WorkspacePackage["manifest"];
    const relDir = path.relative(rootDir, p.dir).split(path.sep).join("/");
    const isPrivate = pj.private === true;
    const hasDockerfile = existsSync(path.join(p.dir, "Dockerfile"));
    const deps = (field: string) =>
      Object.keys((pj[field] as Record<string, string> | undefined) ?? {}).filter((d) => names.has(d) && d !== pj.name);
    const internalDeps = [...new Set([...deps("dependencies"), ...deps("peerDependencies"), ...deps("optionalDependencies")])];
    const image = selector(pj.name, relDir, hasDockerfile);
    const raw = (pj as Record<string, unknown>).version;
    if (typeof raw !== "string" || !semver.valid(raw)) {
      // A version string that is not semver on a package publish would release is a mistake;
      // a missing/null version marks a package that is not meant to be released.
      if (typeof raw === "string" && opts.versions !== "lenient" && (!isPrivate || image.dockerfile)) {
        problems.push(invalidVersion(pj.name, relDir, raw));
      }
      unversioned.set(pj.name, { name: pj.name, version: raw, dir: p.dir, relDir, private: isPrivate, hasDockerfile, internalDeps });
      continue;
    }
    const kind: PackageKind = image.dockerfile ? (isPrivate ? "image" : "both") : isPrivate ? "private" : "npm";
    packages.push({
      name: pj.name,
      version: pj.version,
      dir: p.dir,
      relDir,
      private: isPrivate,
      kind,
      dockerfile: image.dockerfile,
      imageReason: image.reason,
      dockerfileIgnored: image.ignored,
      internalDeps,
      internalDevDeps: deps("devDependencies"),
      manifest: pj,
    });
  }
  for (const name of [...Object.keys(config.images.apps), ...config.images.disabled]) {
    if (!names.has(name)) {
      problems.push({
        code: "CONFIG_UNKNOWN_PACKAGE",
        file: "flotilla.config.json",
        field: `images.apps.${name}`,
        message: `no workspace package is named "${name}"`,
        hint: `use one of: ${[...names].join(", ")}`,
      });
    }
  }
  if (problems.length) throw new InputError(problems);
  packages.sort((a, b) => a.name.localeCompare(b.name));
  return { rootDir, packages, byName: new Map(packages.map((p) => [p.name, p])), unversioned, manypkg };
}

/**
 * Which packages are images (README "Which Dockerfiles are images"): `images.apps.<pkg>: false`
 * never; an `images.apps.<pkg>` entry always (its `dockerfile`, default `Dockerfile`); otherwise
 * a `Dockerfile` in the package folder, unless `images.include` does not match the folder or
 * name, or `images.exclude` does.
 */
function imageSelector(config: Pick<Config, "images">) {
  const { apps, disabled, include, exclude } = config.images;
  const globs = (list: string[]) => {
    const m = picomatch(list.map((g) => g.replace(/\/+$/, "")));
    return (name: string, relDir: string) => m(relDir) || m(name);
  };
  const included = include ? globs(include) : () => true;
  const excluded = exclude.length ? globs(exclude) : () => false;
  return (name: string, relDir: string, hasDockerfile: boolean) => {
    const none = { dockerfile: undefined, reason: undefined };
    if (disabled.includes(name)) return { ...none, ignored: hasDockerfile ? `images.apps["${name}"] is false` : undefined };
    const app = apps[name];
    if (app) return { dockerfile: app.dockerfile ?? "Dockerfile", reason: "images.apps config", ignored: undefined };
    if (!hasDockerfile) return { ...none, ignored: undefined };
    if (!included(name, relDir)) return { ...none, ignored: "not matched by images.include" };
    if (excluded(name, relDir)) return { ...none, ignored: "matched by images.exclude" };
    return { dockerfile: "Dockerfile", reason: `Dockerfile in ${relDir || "."}`, ignored: undefined };
  };
}

/**
 * Two packages of one name, one of them public: which one a release publishes is undecidable
 * (manypkg keeps both, silently). Private copies alone are tolerated, as changesets does (test
 * apps copied under one name, as in sveltejs/kit).
 */
function duplicateNames(rootDir: string, manypkg: Packages): Problem[] {
  const byName = new Map<string, string[]>();
  const published = new Set(
    manypkg.packages.filter((p) => (p.packageJson as { private?: boolean }).private !== true).map((p) => p.packageJson.name),
  );
  for (const p of manypkg.packages) {
    if (!published.has(p.packageJson.name)) continue;
    const file = `${path.relative(rootDir, p.dir).split(path.sep).join("/")}/package.json`;
    byName.set(p.packageJson.name, [...(byName.get(p.packageJson.name) ?? []), file]);
  }
  return [...byName]
    .filter(([, files]) => files.length > 1)
    .map(([name, files]) => ({
      code: "PACKAGE_DUPLICATE_NAME",
      file: files[1]!,
      field: "name",
      package: name,
      message: `${name} is the name of ${files.length} packages: ${files.join(", ")}`,
      hint: "give each package its own name (or remove the copy from the folders pnpm-workspace.yaml matches)",
    }));
}

function invalidVersion(name: string, relDir: string, value: unknown): Problem {
  return {
    code: "PACKAGE_INVALID_VERSION",
    file: `${relDir}/package.json`,
    field: "version",
    message: `${name} has version ${JSON.stringify(value) ?? "(none)"}, which is not a valid semver version, and it would be released`,
    hint: 'use a version such as "1.0.0"; a package that is never released may have none (private, not an image, in no changeset)',
  };
}

/** Version problems of the packages a command releases (`releasing`, by name): each needs a valid version. */
export function releaseVersionProblems(ws: Workspace, releasing: Iterable<string>): Problem[] {
  const problems: Problem[] = [];
  for (const name of new Set(releasing)) {
    const u = ws.unversioned.get(name);
    if (u) problems.push(invalidVersion(name, u.relDir, u.version));
  }
  return problems;
}

/**
 * Released packages that depend at run time on a package without a version: `pnpm pack` cannot
 * turn such a `workspace:` range into a real one. `changeset status` accepts it (the dependency
 * may be bundled), so this is a warning, not an error.
 */
export function unversionedDependencyWarnings(ws: Workspace, releasing: Iterable<string>): string[] {
  const out: string[] = [];
  for (const name of new Set(releasing)) {
    const pkg = ws.byName.get(name);
    if (!pkg || pkg.private) continue;
    for (const dep of pkg.internalDeps.filter((d) => ws.unversioned.has(d))) {
      out.push(
        `${name} depends on ${dep}, which has no version: its published range cannot be resolved (bundle it, or move it to devDependencies)`,
      );
    }
  }
  return out;
}

/**
 * Publish order: a package after the workspace packages it depends on (deps outside the set are
 * ignored), with pnpm's own graph sequencer; a cycle is broken, never blocks a release.
 */
export function publishOrder(pkgs: Pick<WorkspacePackage, "name" | "internalDeps">[]): string[] {
  const names = pkgs.map((p) => p.name);
  const inSet = new Set(names);
  const graph = new Map(pkgs.map((p) => [p.name, p.internalDeps.filter((d) => inSet.has(d))]));
  return graphSequencer(graph, names).order;
}

/**
 * manypkg's error does not say which file is broken: find the package.json files that
 * pnpm-workspace.yaml matches and name the ones that do not parse.
 */
async function diagnoseWorkspace(rootDir: string, cause: Error): Promise<Problem[]> {
  let globs: string[] = [];
  try {
    globs = (
      (parseYaml(await readFile(path.join(rootDir, "pnpm-workspace.yaml"), "utf8")) as { packages?: string[] } | null)?.packages ?? []
    ).filter((g) => !g.startsWith("!"));
  } catch (err) {
    return [
      {
        code: "WORKSPACE_YAML_INVALID",
        file: "pnpm-workspace.yaml",
        message: `not valid YAML: ${(err as Error).message}`,
        hint: "fix the YAML syntax (packages: a list of globs)",
      },
    ];
  }
  const match = picomatch(globs.map((g) => g.replace(/\/+$/, "")));
  const problems: Problem[] = [];
  // The root package.json is read too (manypkg's message names neither).
  const rootText = await readFile(path.join(rootDir, "package.json"), "utf8").catch(() => undefined);
  if (rootText !== undefined) {
    try {
      JSON.parse(rootText);
    } catch (err) {
      problems.push({
        code: "PACKAGE_JSON_INVALID",
        file: "package.json",
        message: `not valid JSON: ${(err as Error).message}`,
        hint: "fix the JSON syntax",
      });
    }
  }
  const walk = async (rel: string, depth: number): Promise<void> => {
    if (depth > 6) return;
    for (const e of await readdir(path.join(rootDir, rel), { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory() || e.name === "node_modules" || e.name.startsWith(".")) continue;
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (match(child)) {
        const file = `${child}/package.json`;
        const text = await readFile(path.join(rootDir, file), "utf8").catch(() => undefined);
        if (text !== undefined) {
          try {
            JSON.parse(text);
          } catch (err) {
            problems.push({
              code: "PACKAGE_JSON_INVALID",
              file,
              message: `not valid JSON: ${(err as Error).message}`,
              hint: "fix the JSON syntax",
            });
          }
        }
      }
      await walk(child, depth + 1);
    }
  };
  await walk("", 0);
  if (problems.length > 0) return problems;
  return [
    {
      code: "WORKSPACE_UNREADABLE",
      file: "pnpm-workspace.yaml",
      message: `cannot read the workspace packages: ${cause.message}`,
      hint: "check pnpm-workspace.yaml and the package.json files it matches",
    },
  ];
}

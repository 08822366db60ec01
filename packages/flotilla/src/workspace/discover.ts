import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Packages } from "@changesets/types";
import { getPackages } from "@manypkg/get-packages";
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
  /** Names of workspace packages this one depends on (dependencies, peer, optional). */
  internalDeps: string[];
  /** Same for devDependencies (build order only). */
  internalDevDeps: string[];
  manifest: Record<string, unknown> & { name: string; version: string };
}

export interface Workspace {
  rootDir: string;
  packages: WorkspacePackage[];
  byName: Map<string, WorkspacePackage>;
  /** The raw manypkg result, as changesets' libraries want it. */
  manypkg: Packages;
}

/** The nearest folder upward from `cwd` holding `pnpm-workspace.yaml` (SPEC §3). */
export function findWorkspaceRoot(cwd: string): string {
  let dir = path.resolve(cwd);
  for (;;) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new InputError([
        {
          code: "WORKSPACE_NOT_FOUND",
          file: path.join(path.resolve(cwd), "pnpm-workspace.yaml"),
          message: `no pnpm-workspace.yaml in ${path.resolve(cwd)} or any folder above it`,
          hint: "run flotilla inside a pnpm workspace, or pass --cwd <workspace root>",
        },
      ]);
    }
    dir = parent;
  }
}

export async function discoverWorkspace(cwd: string, config: Pick<Config, "images">): Promise<Workspace> {
  const rootDir = findWorkspaceRoot(cwd);
  let manypkg: Packages;
  try {
    manypkg = (await getPackages(rootDir)) as Packages;
  } catch (err) {
    throw new InputError(await diagnoseWorkspace(rootDir, err as Error));
  }
  const names = new Set(manypkg.packages.map((p) => p.packageJson.name));
  const problems: Problem[] = [];
  const packages: WorkspacePackage[] = [];
  for (const p of manypkg.packages) {
    const pj = p.packageJson as WorkspacePackage["manifest"];
    const relDir = path.relative(rootDir, p.dir).split(path.sep).join("/");
    if (typeof pj.version !== "string" || !semver.valid(pj.version)) {
      problems.push({
        code: "PACKAGE_INVALID_VERSION",
        file: `${relDir}/package.json`,
        field: "version",
        message: `${pj.name} has version ${JSON.stringify(pj.version)}, which is not a valid semver version`,
        hint: 'use a version such as "1.0.0"',
      });
    }
    const app = config.images.apps[pj.name];
    const dockerfile = app?.dockerfile ?? (existsSync(path.join(p.dir, "Dockerfile")) ? "Dockerfile" : undefined);
    const isPrivate = pj.private === true;
    const kind: PackageKind = dockerfile ? (isPrivate ? "image" : "both") : isPrivate ? "private" : "npm";
    const deps = (field: string) =>
      Object.keys((pj[field] as Record<string, string> | undefined) ?? {}).filter((d) => names.has(d) && d !== pj.name);
    packages.push({
      name: pj.name,
      version: pj.version,
      dir: p.dir,
      relDir,
      private: isPrivate,
      kind,
      dockerfile,
      internalDeps: [...new Set([...deps("dependencies"), ...deps("peerDependencies"), ...deps("optionalDependencies")])],
      internalDevDeps: deps("devDependencies"),
      manifest: pj,
    });
  }
  for (const name of Object.keys(config.images.apps)) {
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
  return { rootDir, packages, byName: new Map(packages.map((p) => [p.name, p])), manypkg };
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
    return [{ code: "WORKSPACE_YAML_INVALID", file: "pnpm-workspace.yaml", message: `not valid YAML: ${(err as Error).message}` }];
  }
  const match = picomatch(globs.map((g) => g.replace(/\/+$/, "")));
  const problems: Problem[] = [];
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

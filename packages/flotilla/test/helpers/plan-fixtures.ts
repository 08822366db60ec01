import type { RegistryState, Stage } from "../../src/plan/publish-plan.ts";
import type { Workspace, WorkspacePackage } from "../../src/workspace/discover.ts";

/** Fixtures for the pure planner's unit tests (no files, no services). */
export const SHA = "c0ffee0000000000000000000000000000000000";
export const ALL: ReadonlySet<Stage> = new Set(["npm", "images", "git", "github"]);

/** A workspace package as discovery would describe it, under /ws/<name>. */
export function pkg(name: string, version: string, o: { deps?: string[]; private?: boolean; dockerfile?: boolean } = {}): WorkspacePackage {
  return {
    name,
    version,
    dir: `/ws/${name}`,
    relDir: name,
    private: o.private ?? false,
    kind: o.dockerfile ? (o.private ? "image" : "both") : o.private ? "private" : "npm",
    dockerfile: o.dockerfile ? "Dockerfile" : undefined,
    internalDeps: o.deps ?? [],
    internalDevDeps: [],
    manifest: { name, version },
  };
}

/** Registries, origin and GitHub holding nothing, with `s` on top. */
export const state = (s: Partial<RegistryState> = {}): RegistryState => ({
  npm: new Map(),
  remoteTags: new Set(),
  localTags: new Set(),
  images: new Map(),
  releases: new Set(),
  ...s,
});

/** A workspace of these packages, as discovery would return it (planner tests: no files). */
export function ws(...packages: WorkspacePackage[]): Workspace {
  return {
    rootDir: "/ws",
    packages,
    byName: new Map(packages.map((p) => [p.name, p])),
    unversioned: new Map(),
    manypkg: { rootDir: "/ws", packages: [], tool: { type: "pnpm" } },
  };
}

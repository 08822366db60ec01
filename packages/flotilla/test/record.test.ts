/**
 * The release record's pure side (observe/record.ts): the state a complete release leaves plans
 * no work, and the coverage names exactly what a plan checks.
 */
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.ts";
import { coverageOf, recordOf, releasedPlan } from "../src/observe/record.ts";
import type { Stage } from "../src/plan/publish-plan.ts";
import type { Workspace, WorkspacePackage } from "../src/workspace/discover.ts";
import { ALL, pkg, SHA } from "./helpers/plan-fixtures.ts";

const ws = (...packages: WorkspacePackage[]): Workspace => ({
  rootDir: "/ws",
  packages,
  byName: new Map(packages.map((p) => [p.name, p])),
  unversioned: new Map(),
  manypkg: { rootDir: "/ws", packages: [], tool: { type: "pnpm" } },
});

const inputs = (over: Record<string, unknown> = {}) => ({
  workspace: ws(
    pkg("@a/lib", "1.2.0"),
    pkg("@a/beta", "2.0.0-beta.3"),
    pkg("@a/web", "1.4.0", { private: true, dockerfile: true }),
    pkg("@a/both", "0.1.0", { dockerfile: true }),
    pkg("@a/internal", "1.0.0", { private: true }),
  ),
  config: resolveConfig({ images: { tags: ["version", "minor", "major", "latest", "sha"] } }, {}),
  tagPrivate: true,
  stages: ALL,
  imageNames: new Map([
    ["@a/web", "reg.test/a/web"],
    ["@a/both", "reg.test/a/both"],
  ]),
  sha: SHA,
  ...over,
});

describe("release record", () => {
  it("the state a complete release leaves plans no work: every unit released, no step", () => {
    for (const stages of [ALL, new Set<Stage>(["npm", "git"]), new Set<Stage>(["images"])]) {
      const plan = releasedPlan(inputs({ stages }));
      expect(plan.units.filter((u) => u.hasWork).map((u) => u.name)).toEqual([]);
      expect(plan.steps).toEqual([]);
    }
  });

  it("the coverage is the same for the same inputs and changes with anything the plan checks", () => {
    const base = coverageOf(inputs());
    expect(coverageOf(inputs())).toBe(base);
    const bumped = inputs();
    bumped.workspace = ws(...bumped.workspace.packages.map((p) => (p.name === "@a/lib" ? pkg("@a/lib", "1.2.1") : p)));
    expect(coverageOf(bumped)).not.toBe(base);
    expect(coverageOf(inputs({ stages: new Set<Stage>(["npm", "git"]) }))).not.toBe(base);
    expect(coverageOf(inputs({ only: new Set(["@a/lib"]) }))).not.toBe(base);
    expect(coverageOf(inputs({ sha: "d".repeat(40) }))).not.toBe(base);
    expect(coverageOf(inputs({ imageNames: new Map([["@a/both", "reg.test/a/both"]]) }))).not.toBe(base);
  });

  it("lists every artifact with its dist-tag, image tags and the digest the run reported", () => {
    const i = inputs();
    const rec = recordOf(i, releasedPlan(i), new Map([["reg.test/a/web", "sha256:web"]]));
    expect(rec.coverage).toBe(coverageOf(i));
    const by = new Map(rec.artifacts.map((a) => [a.name, a]));
    expect(by.get("@a/lib")).toMatchObject({ npm: { distTag: "latest" }, gitTag: "@a/lib@1.2.0", release: "@a/lib@1.2.0" });
    expect(by.get("@a/beta")!.npm!.distTag).toBe("beta");
    expect(by.get("@a/web")!.image).toMatchObject({ name: "reg.test/a/web", digest: "sha256:web" });
    expect(by.get("@a/web")!.image!.tags).toEqual(expect.arrayContaining(["1.4.0", "1.4", "1", "latest", `sha-${SHA.slice(0, 7)}`]));
  });
});

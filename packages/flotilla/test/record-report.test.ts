/**
 * What a no-op answered by the release record reports (observe/record.ts, recordedPlan): the
 * record's own dist-tags and image tags, which the releasing run took from the registries; the
 * state the planner imagines for a complete release (every version the newest) would name
 * `latest` for a backport.
 */
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.ts";
import { coverageOf, type ReleaseRecord, recordedPlan, releasedPlan } from "../src/observe/record.ts";
import type { PublishPlanInput } from "../src/plan/publish-plan.ts";
import { ALL, pkg, SHA } from "./helpers/plan-fixtures.ts";

const lib = pkg("@a/lib", "1.2.4");
const web = pkg("@a/web", "1.2.4", { private: true, dockerfile: true });
const input: Omit<PublishPlanInput, "state"> = {
  workspace: {
    rootDir: "/ws",
    packages: [lib, web],
    byName: new Map([lib, web].map((p) => [p.name, p])),
    unversioned: new Map(),
    manypkg: { rootDir: "/ws", packages: [], tool: { type: "pnpm" } },
  },
  config: resolveConfig({}, {}),
  tagPrivate: true,
  stages: ALL,
  imageNames: new Map([["@a/web", "reg.test/a/web"]]),
  sha: SHA,
};

/** The record a backport's run wrote: 2.0.0 was the newest, so latest-1 and no `latest` tag. */
const backport: ReleaseRecord = {
  schema: 1,
  commit: SHA,
  coverage: coverageOf(input),
  artifacts: [
    {
      name: "@a/lib",
      version: "1.2.4",
      npm: { registry: "https://npm.pkg.github.com", distTag: "latest-1" },
      gitTag: "@a/lib@1.2.4",
      release: "@a/lib@1.2.4",
    },
    {
      name: "@a/web",
      version: "1.2.4",
      image: { name: "reg.test/a/web", tags: ["1.2.4", "1.2", "1"], digest: "sha256:bb" },
      gitTag: "@a/web@1.2.4",
      release: "@a/web@1.2.4",
    },
  ],
};

describe("a no-op from the release record", () => {
  it("reports the record's dist-tag and image tags (a backport: latest-1; 1.2.4, 1.2, 1), with no work", () => {
    const imagined = releasedPlan(input);
    expect(imagined.units.find((u) => u.name === "@a/lib")!.npm!.distTag).toBe("latest"); // what was reported before
    const plan = recordedPlan(input, backport);
    expect(plan.steps).toEqual([]);
    expect(plan.units.every((u) => !u.hasWork)).toBe(true);
    const byName = new Map(plan.units.map((u) => [u.name, u]));
    expect(byName.get("@a/lib")!.npm!.distTag).toBe("latest-1");
    expect(byName.get("@a/web")!.image).toMatchObject({ tags: ["1.2.4", "1.2", "1"], floating: ["1.2", "1"], digest: "sha256:bb" });
  });
});

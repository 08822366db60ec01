/**
 * `--only git` (SPEC §5a.1, pure planner and report): a tag is planned only for a package whose
 * artifacts the registries hold; one whose npm version or image version tag is missing gets no
 * tag and no release, and the report names the missing artifact and the fix.
 */
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.ts";
import { checkInvariants } from "../src/plan/invariants.ts";
import { planPublish, type RegistryState, type Stage } from "../src/plan/publish-plan.ts";
import { summarize } from "../src/report/result.ts";
import { pkg, SHA, state, ws } from "./helpers/plan-fixtures.ts";

const plan = (stages: Stage[], s: Partial<RegistryState>) =>
  planPublish({
    workspace: ws(pkg("lib", "1.0.0"), pkg("other", "2.0.0"), pkg("web", "1.4.0", { private: true, dockerfile: true })),
    config: resolveConfig({}, {}),
    tagPrivate: true,
    state: state(s),
    stages: new Set(stages),
    imageNames: new Map([["web", "ghcr.io/acme/web"]]),
    sha: SHA,
  });

const published = (version: string) => ({ versions: new Set([version]), distTags: { latest: version } });
const image = (tag: string) => ({ tags: [tag], digests: new Map([[tag, "sha256:aa"]]) });

describe("--only git", () => {
  it("tags the packages whose artifacts exist; one whose npm version or image is missing gets no tag step, and the report says which artifact and the fix", () => {
    const p = plan(["git", "github"], {
      npm: new Map([["lib", published("1.0.0")]]), // other@2.0.0 is not on the registry
      images: new Map([["ghcr.io/acme/web", image("1.3.0")]]), // web's 1.4.0 is not pushed
    });
    expect(checkInvariants(p)).toEqual([]);
    expect(p.steps.map((s) => s.id)).toEqual(["git-tag:lib", "github-release:lib"]);
    expect(p.steps.find((s) => s.id === "git-tag:lib")!.deps).toEqual([]);
    const byName = new Map(p.units.map((u) => [u.name, u]));
    expect(byName.get("lib")!.missing).toEqual([]);
    expect(byName.get("other")!.missing).toEqual(["npm other@2.0.0 on https://npm.pkg.github.com"]);
    expect(byName.get("web")!.missing).toEqual(["image ghcr.io/acme/web:1.4.0"]);

    const report = new Map(summarize(p, new Map()).map((r) => [r.name, r]));
    expect(report.get("other")).toMatchObject({ status: "skipped", gitTag: "other@2.0.0" });
    expect(report.get("other")!.error).toMatch(
      /no git tag other@2\.0\.0: not in the registry: npm other@2\.0\.0 on https:\/\/npm\.pkg\.github\.com/,
    );
    expect(report.get("other")!.error).toMatch(/flotilla publish without --only, or --only npm/);
    expect(report.get("web")!.error).toMatch(/image ghcr\.io\/acme\/web:1\.4\.0.*--only images/);
    expect(report.get("lib")!.status).not.toBe("skipped");
  });

  it("a registry that was not read counts as missing (no tag on a guess); a tag already on origin is not held back", () => {
    const p = plan(["git"], { remoteTags: new Set(["other@2.0.0"]) });
    expect(p.steps).toEqual([]);
    const byName = new Map(p.units.map((u) => [u.name, u]));
    expect(byName.get("lib")!.missing).toHaveLength(1);
    expect(byName.get("other")).toMatchObject({ missing: [], hasWork: false });
  });

  it("with every stage, nothing is held back: the tag waits for this run's own artifact steps", () => {
    const p = plan(["npm", "images", "git", "github"], {});
    expect(p.units.every((u) => u.missing.length === 0)).toBe(true);
    expect(p.steps.find((s) => s.id === "git-tag:web")!.deps).toEqual(["image-build-push:web"]);
  });

  it("--only npm --only git: npm is made here, the image is read (missing: no tag for it)", () => {
    const p = plan(["npm", "git"], {});
    const byName = new Map(p.units.map((u) => [u.name, u]));
    expect(byName.get("lib")!.missing).toEqual([]);
    expect(byName.get("web")!.missing).toEqual(["image ghcr.io/acme/web:1.4.0"]);
    expect(p.steps.some((s) => s.id === "git-tag:web")).toBe(false);
    expect(p.steps.find((s) => s.id === "git-tag:lib")!.deps).toEqual(["npm-publish:lib"]);
  });
});

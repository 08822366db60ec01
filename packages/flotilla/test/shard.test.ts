/** Fan-out as data (SPEC §11): the matrix of a plan and one shard's plan (pure). */
import { describe, expect, it } from "vitest";
import { loadConfig, resolveConfig } from "../src/config/load.ts";
import { InputError } from "../src/errors.ts";
import { checkInvariants } from "../src/plan/invariants.ts";
import { isArtifact, type PublishPlan, planPublish, type RegistryState } from "../src/plan/publish-plan.ts";
import { matrixOf, shardPlan } from "../src/plan/shard.ts";
import type { Workspace } from "../src/workspace/discover.ts";
import { writeTree } from "./helpers/fixtures.ts";
import { ALL, pkg, SHA } from "./helpers/plan-fixtures.ts";

/** Two libraries (b depends on a), an app image on arm64, a library that also ships an image; `done` already in the registries. */
function plan(opts: { promote?: "last"; state?: Partial<RegistryState>; webPlatforms?: string[] } = {}): PublishPlan {
  const packages = [
    pkg("a", "1.0.0"),
    pkg("b", "1.1.0", { deps: ["a"] }),
    pkg("web", "2.0.0", { private: true, dockerfile: true }),
    pkg("tool", "3.0.0", { dockerfile: true }),
  ];
  const workspace: Workspace = {
    rootDir: "/ws",
    packages,
    byName: new Map(packages.map((p) => [p.name, p])),
    unversioned: new Map(),
    manypkg: { rootDir: "/ws", packages: [], tool: { type: "pnpm" } },
  } as Workspace;
  return planPublish({
    workspace,
    config: resolveConfig(
      {
        images: { apps: { web: { platforms: opts.webPlatforms ?? ["linux/arm64"] } } },
        ...(opts.promote ? { npm: { promote: "last" } } : {}),
      },
      {},
    ),
    tagPrivate: true,
    state: { npm: new Map(), remoteTags: new Set(), localTags: new Set(), images: new Map(), releases: new Set(), ...opts.state },
    stages: ALL,
    imageNames: new Map([
      ["web", "ghcr.io/acme/web"],
      ["tool", "ghcr.io/acme/tool"],
    ]),
    sha: SHA,
  });
}

describe("matrixOf", () => {
  it("one entry for npm, one per image build (with its platform when configured), npm first", () => {
    expect(matrixOf(plan())).toEqual({ include: [{ shard: "npm" }, { shard: "image:tool" }, { shard: "image:web:linux/arm64" }] });
  });

  it("nothing left to build or publish → an empty include (pointers, tags and releases are the final run's)", () => {
    const released = plan({
      state: {
        npm: new Map(
          ["a", "b", "tool"].map((n) => [n, { versions: new Set([n === "a" ? "1.0.0" : n === "b" ? "1.1.0" : "3.0.0"]), distTags: {} }]),
        ),
        images: new Map([
          ["ghcr.io/acme/web", { tags: ["2.0.0"], digests: new Map([["2.0.0", "sha256:1"]]) }],
          ["ghcr.io/acme/tool", { tags: ["3.0.0"], digests: new Map([["3.0.0", "sha256:2"]]) }],
        ]),
      },
    });
    expect(released.steps.length).toBeGreaterThan(0); // dist-tags, floating image tags, git tags, releases
    expect(matrixOf(released)).toEqual({ include: [] });
  });
});

describe("shardPlan", () => {
  it("keeps only the shard's artifact steps, their order inside the shard, and passes the invariants", () => {
    for (const promote of [undefined, "last"] as const) {
      const full = plan(promote ? { promote } : {});
      const npm = shardPlan(full, "npm");
      expect(npm.steps.map((s) => s.id).sort()).toEqual(["npm-publish:a", "npm-publish:b", "npm-publish:tool"]);
      expect(npm.steps.find((s) => s.id === "npm-publish:b")!.deps).toEqual(["npm-publish:a"]);
      expect(npm.units.map((u) => [u.name, !!u.npm, !!u.image, u.gitTag, u.release])).toEqual([
        ["a", true, false, null, null],
        ["b", true, false, null, null],
        ["tool", true, false, null, null],
      ]);
      const web = shardPlan(full, "image:web:linux/arm64");
      expect(web.steps.map((s) => s.id)).toEqual(["image-build-push:web"]);
      expect(shardPlan(full, "image:tool").units.map((u) => [u.name, !!u.npm, !!u.image])).toEqual([["tool", false, true]]);
      for (const p of [npm, web]) {
        expect(checkInvariants(p)).toEqual([]);
        expect(p.steps.every(isArtifact)).toBe(true);
        expect(p.latest).toBeNull();
      }
    }
  });

  it("an id of nothing left (a rerun of a finished shard) is an empty plan; a malformed id or one naming no image is an input error", () => {
    expect(shardPlan(plan(), "image:web:linux/amd64").steps).toEqual([]);
    expect(() => shardPlan(plan(), "image:wbe")).toThrow(/names no image of this workspace \(wbe\)/);
    expect(() => shardPlan(plan(), "image:a")).toThrow(InputError);
    expect(() => shardPlan(plan(), "image:web linux")).toThrow(InputError);
    expect(() => shardPlan(plan(), "git")).toThrow(/"git" is not a shard id/);
  });
});

describe("multi-platform images in the plan", () => {
  const both = ["linux/amd64", "linux/arm64"];

  it("one build per platform (its own tag), then the index under the version tag; tags and floating tags wait for the index", () => {
    const p = plan({ webPlatforms: both });
    const ids = p.steps.map((s) => s.id);
    expect(ids).toContain("image-build-push:web:linux/amd64");
    expect(ids).toContain("image-build-push:web:linux/arm64");
    const index = p.steps.find((s) => s.id === "image-index:web")!;
    expect(index.deps).toEqual(["image-build-push:web:linux/amd64", "image-build-push:web:linux/arm64"]);
    expect(index.payload).toEqual({
      image: "ghcr.io/acme/web",
      versionTag: "2.0.0",
      platforms: [
        { platform: "linux/amd64", tag: "2.0.0-linux-amd64" },
        { platform: "linux/arm64", tag: "2.0.0-linux-arm64" },
      ],
    });
    const arm = p.steps.find((s) => s.id === "image-build-push:web:linux/arm64")!;
    expect(arm.kind === "image-build-push" && [arm.payload.versionTag, arm.payload.platform]).toEqual(["2.0.0-linux-arm64", "linux/arm64"]);
    expect(p.steps.find((s) => s.id === "git-tag:web")!.deps).toContain("image-index:web");
    expect(p.steps.find((s) => s.id === "image-promote:web")!.deps).toContain("image-index:web");
    expect(checkInvariants(p)).toEqual([]);
    // One matrix entry per platform; the index is the final run's.
    expect(matrixOf(p).include.map((e) => e.shard)).toEqual(["npm", "image:tool", "image:web:linux/amd64", "image:web:linux/arm64"]);
    expect(shardPlan(p, "image:web:linux/arm64").steps.map((s) => s.id)).toEqual(["image-build-push:web:linux/arm64"]);
  });

  it("a platform whose tag is in the registry is not built again; the index still waits for the other", () => {
    const p = plan({
      webPlatforms: both,
      state: { images: new Map([["ghcr.io/acme/web", { tags: ["2.0.0-linux-arm64"], digests: new Map() }]]) },
    });
    expect(p.steps.filter((s) => s.pkg === "web" && s.kind === "image-build-push").map((s) => s.id)).toEqual([
      "image-build-push:web:linux/amd64",
    ]);
    expect(p.steps.find((s) => s.id === "image-index:web")!.deps).toEqual(["image-build-push:web:linux/amd64"]);
    expect(checkInvariants(p)).toEqual([]);
  });

  it("a platform that is not os/arch[/variant], or one listed twice, is a config error naming the field", async () => {
    for (const [platforms, message] of [
      [["arm64"], "must be os/arch[/variant], e.g. linux/arm64"],
      [["linux/amd64", "linux/amd64"], "lists a platform twice"],
    ] as const) {
      const dir = writeTree({ "flotilla.config.json": { images: { apps: { web: { platforms } } } } });
      const err = await loadConfig(dir, { env: {} }).catch((e: InputError) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).message).toContain(message);
      expect((err as InputError).message).toContain("images.apps.web.platforms");
    }
  });
});

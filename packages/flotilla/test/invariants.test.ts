/**
 * SPEC §5a as checks on the plan (pure): each rule catches a plan that breaks it, every plan
 * the planner makes passes them all (random workspaces and registry states), and the runner
 * keeps them when random steps fail.
 */
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.ts";
import { runSteps, type StepOutcome } from "../src/execute/runner.ts";
import { checkInvariants } from "../src/plan/invariants.ts";
import { isArtifact, isFloating, type PublishPlan, planPublish, type Stage, type Step } from "../src/plan/publish-plan.ts";
import type { Workspace, WorkspacePackage } from "../src/workspace/discover.ts";
import { ALL, pkg, SHA, state } from "./helpers/plan-fixtures.ts";

const ws = (packages: WorkspacePackage[]): Workspace => ({
  rootDir: "/ws",
  packages,
  byName: new Map(packages.map((p) => [p.name, p])),
  unversioned: new Map(),
  manypkg: { rootDir: "/ws", packages: [], tool: { type: "pnpm" } },
});

/** A small release: two libraries (b depends on a), an app with an image, all new. */
function basePlan(file: object = {}): PublishPlan {
  return planPublish({
    workspace: ws([pkg("a", "1.0.0"), pkg("b", "1.1.0", { deps: ["a"] }), pkg("web", "2.0.0", { private: true, dockerfile: true })]),
    config: resolveConfig(file, {}),
    tagPrivate: true,
    state: state(),
    stages: ALL,
    imageNames: new Map([["web", "ghcr.io/acme/web"]]),
    sha: SHA,
  });
}
/** A mutable copy, to break one rule at a time. */
const thaw = (p: PublishPlan) =>
  JSON.parse(JSON.stringify(p)) as { -readonly [K in keyof PublishPlan]: PublishPlan[K] } & {
    steps: (Step & { deps: string[]; after?: string[] })[];
  };
const rules = (p: PublishPlan) => [...new Set(checkInvariants(p).map((v) => v.rule))];
const stepOf = (p: ReturnType<typeof thaw>, id: string) => p.steps.find((s) => s.id === id)!;

describe("checkInvariants: one check per rule of SPEC §5a", () => {
  it("a plan from the planner passes", () => {
    expect(checkInvariants(basePlan())).toEqual([]);
    expect(checkInvariants(basePlan({ github: { releases: "combined" } }))).toEqual([]);
    expect(checkInvariants(basePlan({ npm: { promote: "last" } }))).toEqual([]);
  });

  it("tags follow artifacts: a tag that does not wait for its package's image", () => {
    const p = thaw(basePlan());
    stepOf(p, "git-tag:web").deps = [];
    expect(rules(p)).toEqual(["tags-follow-artifacts", "releases-follow-tags"]);
  });

  it("tags follow artifacts with --only git: a tag planned while its package's version is on no registry and no step publishes it", () => {
    const plan = (tagEvenIfMissing: boolean) => {
      const p = thaw(
        planPublish({
          workspace: ws([pkg("a", "1.0.0"), pkg("b", "1.1.0")]),
          config: resolveConfig({}, {}),
          tagPrivate: true,
          // a@1.0.0 is on the registry, b@1.1.0 is not; this run does git only.
          state: state({ npm: new Map([["a", { versions: new Set(["1.0.0"]), distTags: { latest: "1.0.0" } }]]) }),
          stages: new Set<Stage>(["git"]),
          imageNames: new Map(),
          sha: SHA,
        }),
      );
      // What a planner that forgot to hold b's tag back would plan.
      if (tagEvenIfMissing)
        p.steps.push({
          ...stepOf(p, "git-tag:a"),
          id: "git-tag:b",
          pkg: "b",
          payload: { ...stepOf(p, "git-tag:a").payload, tag: "b@1.1.0" },
        } as never);
      return p;
    };
    expect(plan(false).steps.map((s) => s.id)).toEqual(["git-tag:a"]);
    expect(checkInvariants(plan(false))).toEqual([]);
    expect(checkInvariants(plan(true))).toEqual([
      expect.objectContaining({
        rule: "tags-follow-artifacts",
        step: "git-tag:b",
        message: expect.stringMatching(/^b@1\.1\.0 is planned while npm b@1\.1\.0 .* is not there/),
      }),
    ]);
  });

  it("releases follow tags on origin: a release that does not wait for its tag, or whose tag is never pushed", () => {
    const p = thaw(basePlan());
    stepOf(p, "github-release:a").deps = [];
    expect(rules(p)).toContain("releases-follow-tags");
    const q = thaw(basePlan());
    (stepOf(q, "git-tag:b").payload as { push: boolean }).push = false;
    expect(rules(q)).toEqual(["releases-follow-tags"]);
  });

  it("bound to the commit: a release naming another target", () => {
    const p = thaw(basePlan());
    (stepOf(p, "github-release:b").payload as { commit: string }).commit = "main";
    expect(rules(p)).toEqual(["bound-to-commit"]);
  });

  it("one Latest: two Latest releases, or a Latest other than the commit's", () => {
    const p = thaw(basePlan());
    expect(p.latest).toEqual({ pkg: "a", tag: "a@1.0.0" });
    (stepOf(p, "github-release:b").payload as { latest: boolean }).latest = true;
    expect(rules(p)).toContain("one-latest");
  });

  it("Latest is created last: after every other release", () => {
    const p = thaw(basePlan());
    stepOf(p, "github-release:a").after = [];
    expect(rules(p)).toEqual(["latest-last"]);
  });

  it("floating pointers move last: after every artifact of the run", () => {
    const p = thaw(basePlan());
    stepOf(p, "image-promote:web").deps = ["image-build-push:web"];
    expect(rules(p)).toEqual(["floating-last"]);
  });

  it("the graph: unknown deps and cycles", () => {
    const p = thaw(basePlan());
    stepOf(p, "npm-publish:a").deps = ["git-tag:b"];
    expect(rules(p)).toEqual(["graph"]);
  });
});

// A seeded generator, so a failure names a seed that reproduces it (no property-testing library is installed).
function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, chance: (p: number) => next() < p, pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]! };
}

function randomPlan(seed: number): PublishPlan {
  const r = rng(seed);
  const n = 1 + Math.floor(r.next() * 7);
  const names = Array.from({ length: n }, (_, i) => (r.chance(0.3) ? `@acme/p${i}` : `p${i}`));
  const packages = names.map((name, i) =>
    pkg(name, r.pick(["1.0.0", "2.3.4", "0.1.0", "3.0.0-rc.1", "1.9.1"]), {
      deps: names.slice(0, i).filter(() => r.chance(0.3)),
      private: r.chance(0.3),
      dockerfile: r.chance(0.35),
    }),
  );
  const npm = new Map<string, { versions: Set<string>; distTags: Record<string, string> } | null>();
  const remoteTags = new Set<string>();
  const localTags = new Set<string>();
  const releases = new Set<string>();
  const images = new Map<string, { tags: string[]; digests: Map<string, string | null> }>();
  for (const p of packages) {
    const tag = `${p.name}@${p.version}`;
    if (r.chance(0.4)) npm.set(p.name, { versions: new Set([p.version]), distTags: r.chance(0.5) ? { latest: p.version } : {} });
    const where = r.pick(["none", "local", "remote"]);
    if (where === "remote") remoteTags.add(tag);
    if (where === "local") localTags.add(tag);
    if (r.chance(0.2)) remoteTags.add(`${p.name}@5.0.0`);
    if (where === "remote" && r.chance(0.5)) releases.add(tag);
    if (p.dockerfile && r.chance(0.4))
      images.set(`ghcr.io/acme/${p.name}`, { tags: [p.version], digests: new Map([[p.version, "sha256:x"]]) });
  }
  const stages: Stage[] = ["npm", "images", "git", "github"].filter(() => r.chance(0.85)) as Stage[];
  return planPublish({
    workspace: ws(packages),
    config: resolveConfig(
      {
        npm: { promote: r.pick(["direct", "last"]) },
        git: { push: r.chance(0.9) },
        github: {
          releases: r.pick(["per-package", "combined", "per-package"]),
          ...(r.chance(0.3) ? { latest: r.pick([...names, false]) } : {}),
        },
      },
      {},
    ),
    tagPrivate: r.chance(0.5),
    state: state({ npm, remoteTags, localTags, releases, images }),
    stages: new Set(stages.length ? stages : ALL),
    ...(r.chance(0.2) ? { only: new Set(names.filter(() => r.chance(0.5))) } : {}),
    imageNames: new Map(packages.filter((p) => p.dockerfile).map((p) => [p.name, `ghcr.io/acme/${p.name}`])),
    sha: SHA,
    ...(r.chance(0.5) ? { repository: { owner: "acme", name: r.pick(names).replace(/^@acme\//, "") } } : {}),
  });
}

describe("generated plans", () => {
  it("every plan the planner makes passes every rule (500 random workspaces and registry states)", () => {
    for (let seed = 1; seed <= 500; seed++) expect(checkInvariants(randomPlan(seed)), `seed ${seed}`).toEqual([]);
  });

  it("with random failures, the runner keeps the rules: no tag or release after a failure of its package, floating and Latest last", async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const plan = randomPlan(seed);
      const r = rng(seed * 7919);
      const fails = new Set(plan.steps.filter(() => r.chance(0.25)).map((s) => s.id));
      const order: string[] = [];
      const outcomes = await runSteps(
        plan.steps,
        {
          describe: (s) => s.id,
          run: async (s): Promise<StepOutcome> => {
            await new Promise((res) => setTimeout(res, Math.floor(r.next() * 2)));
            order.push(s.id);
            return fails.has(s.id) ? { status: "failed", error: "injected" } : { status: "done" };
          },
        },
        { concurrency: 4 },
      );
      const okd = (id: string) => ["done", "noop"].includes(outcomes.get(id)?.status ?? "");
      for (const s of plan.steps) {
        if (!order.includes(s.id)) continue;
        const mine = plan.steps.filter((x) => isArtifact(x) && x.pkg === s.pkg).map((x) => x.id);
        if (s.kind === "git-tag") for (const a of mine) expect(okd(a), `seed ${seed}: ${s.id} ran after ${a} did not succeed`).toBe(true);
        if (s.kind === "github-release" && !s.payload.combined) {
          for (const a of mine) expect(okd(a), `seed ${seed}: ${s.id} after ${a}`).toBe(true);
          const tag = plan.steps.find((x) => x.kind === "git-tag" && x.pkg === s.pkg);
          if (tag) expect(okd(tag.id), `seed ${seed}: ${s.id} without its tag`).toBe(true);
        }
        if (isFloating(s)) for (const a of plan.steps.filter(isArtifact)) expect(okd(a.id), `seed ${seed}: ${s.id} moved early`).toBe(true);
        if (s.kind === "github-release" && s.payload.latest) {
          const others = plan.steps.filter((x) => x.kind === "github-release" && x.id !== s.id && order.includes(x.id));
          for (const o of others) expect(order.indexOf(o.id), `seed ${seed}: Latest before ${o.id}`).toBeLessThan(order.indexOf(s.id));
        }
      }
    }
  });
});

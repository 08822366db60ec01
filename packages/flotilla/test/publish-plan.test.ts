import { describe, expect, it } from "vitest";
import { resolveConfig } from "../src/config/load.ts";
import { runSteps, type StepHandlers, type StepOutcome } from "../src/execute/runner.ts";
import { checkInvariants } from "../src/plan/invariants.ts";
import {
  type PublishPlan,
  parsePlan,
  planPublish,
  type RegistryState,
  type Step,
  serializePlan,
  setsDistTagApart,
} from "../src/plan/publish-plan.ts";
import { ALL, pkg, state, ws } from "./helpers/plan-fixtures.ts";

const config = (file = {}) => resolveConfig(file, {});

describe("planPublish (pure)", () => {
  it("publishes what is missing, in dependency order, and tags after the artifacts", () => {
    const plan = planPublish({
      workspace: ws(pkg("a", "1.0.0"), pkg("b", "1.0.0", { deps: ["a"] }), pkg("c", "2.0.0")),
      config: config(),
      tagPrivate: false,
      state: state({
        npm: new Map([["c", { versions: new Set(["2.0.0"]), distTags: { latest: "2.0.0" } }]]),
        remoteTags: new Set(["c@2.0.0"]),
        releases: new Set(["c@2.0.0"]),
      }),
      stages: ALL,
      imageNames: new Map(),
    });
    expect(plan.units.map((u) => [u.name, u.hasWork])).toEqual([
      ["a", true],
      ["b", true],
      ["c", false],
    ]);
    const byId = new Map(plan.steps.map((s) => [s.id, s]));
    expect(byId.get("npm-publish:b")!.deps).toEqual(["npm-publish:a"]);
    expect(byId.get("git-tag:b")!.deps).toEqual(["npm-publish:b"]);
    // A release waits for its own tag on origin, which waits for its own package's artifacts.
    expect(byId.get("github-release:a")!.deps).toEqual(["git-tag:a"]);
    expect(byId.get("git-tag:a")!.payload).toMatchObject({ tag: "a@1.0.0", create: true, push: true });
    expect(byId.has("npm-publish:c")).toBe(false);
    expect(checkInvariants(plan)).toEqual([]);
  });

  it("the dist-tag is written again after the PUT only on GitHub Packages (it does not move latest itself)", () => {
    expect(setsDistTagApart("https://npm.pkg.github.com/")).toBe(true);
    expect(setsDistTagApart("https://npm.acme.ghe.com")).toBe(true);
    expect(setsDistTagApart("https://ghes.example.com/_registry/npm/")).toBe(true);
    expect(setsDistTagApart("https://registry.npmjs.org/")).toBe(false);
    expect(setsDistTagApart("http://127.0.0.1:4873/")).toBe(false);
    const publishOn = (registry: string) => {
      const p = pkg("@acme/a", "1.0.0");
      const plan = planPublish({
        workspace: ws({ ...p, manifest: { ...p.manifest, publishConfig: { registry } } }),
        config: config(),
        tagPrivate: false,
        state: state(),
        stages: ALL,
        imageNames: new Map(),
      });
      return plan.steps.find((s) => s.kind === "npm-publish")!.payload as { tag: string; distTag: string | null };
    };
    expect(publishOn("https://npm.pkg.github.com")).toMatchObject({ tag: "latest", distTag: "latest" });
    expect(publishOn("http://127.0.0.1:4873/")).toMatchObject({ tag: "latest", distTag: null });
  });

  it("a version present without its dist-tag needs only the dist-tag; a newer latest is never moved back", () => {
    const plan = planPublish({
      workspace: ws(pkg("a", "1.0.0"), pkg("b", "1.5.0")),
      config: config(),
      tagPrivate: false,
      state: state({
        npm: new Map<string, { versions: Set<string>; distTags: Record<string, string> }>([
          ["a", { versions: new Set(["1.0.0"]), distTags: {} }],
          ["b", { versions: new Set(["1.5.0", "2.0.0"]), distTags: { latest: "2.0.0", "latest-1": "1.5.0" } }],
        ]),
      }),
      stages: new Set(["npm"]),
      imageNames: new Map(),
    });
    expect(plan.units.map((u) => u.npm!.action)).toEqual(["tag", "none"]);
    expect(plan.units[1]!.npm!.distTag).toBe("latest-1");
    expect(plan.steps.map((s) => s.id)).toEqual(["npm-dist-tag:a"]);
  });

  it("images: build when the version tag is missing, retag when only floating tags are; floating tags wait for every artifact", () => {
    const plan = planPublish({
      workspace: ws(
        pkg("lib", "1.0.0"),
        pkg("web", "1.1.0", { private: true, dockerfile: true }),
        pkg("api", "2.0.0", { private: true, dockerfile: true }),
      ),
      config: config(),
      tagPrivate: true,
      state: state({
        images: new Map([
          [
            "ghcr.io/acme/web",
            {
              tags: ["1.0.0", "1.0", "1", "latest"],
              digests: new Map([
                ["1.1.0", null],
                ["1.1", null],
                ["1", "sha256:old"],
                ["latest", "sha256:old"],
              ]),
            },
          ],
          [
            "ghcr.io/acme/api",
            {
              tags: ["2.0.0"],
              digests: new Map([
                ["2.0.0", "sha256:api"],
                ["2.0", null],
                ["2", null],
                ["latest", null],
              ]),
            },
          ],
        ]),
      }),
      stages: new Set(["npm", "images", "git"]),
      imageNames: new Map([
        ["web", "ghcr.io/acme/web"],
        ["api", "ghcr.io/acme/api"],
      ]),
    });
    const web = plan.units.find((u) => u.name === "web")!.image!;
    expect(web).toMatchObject({ action: "build", tags: ["1.1.0", "1.1", "1", "latest"], moves: ["1", "latest"] });
    expect(plan.units.find((u) => u.name === "api")!.image!.action).toBe("retag");
    const promote = plan.steps.find((s) => s.id === "image-promote:web")!;
    expect([...promote.deps].sort()).toEqual(["image-build-push:web", "npm-publish:lib"]);
    expect(plan.steps.some((s) => s.id === "image-build-push:api")).toBe(false);
    // The tag waits for the version's artifacts, not for the floating tags (those wait for the whole run).
    expect(plan.steps.find((s) => s.id === "git-tag:web")!.deps).toEqual(["image-build-push:web"]);
    expect(checkInvariants(plan)).toEqual([]);
  });

  it("a dependency cycle gives an order, not a deadlock", async () => {
    const plan = planPublish({
      workspace: ws(pkg("a", "1.0.0", { deps: ["b"] }), pkg("b", "1.0.0", { deps: ["a"] })),
      config: config(),
      tagPrivate: false,
      state: state(),
      stages: new Set(["npm"]),
      imageNames: new Map(),
    });
    const deps = plan.steps.map((s) => s.deps.length).sort();
    expect(deps).toEqual([0, 1]);
    const out = await runSteps(
      plan.steps,
      fake(async () => ({ status: "done" })),
      { concurrency: 2 },
    );
    expect([...out.values()].every((o) => o.status === "done")).toBe(true);
  });

  it("--filter and --only narrow the work", () => {
    const plan = planPublish({
      workspace: ws(pkg("a", "1.0.0"), pkg("b", "1.0.0")),
      config: config(),
      tagPrivate: false,
      state: state(),
      stages: new Set(["npm"]),
      only: new Set(["b"]),
      imageNames: new Map(),
    });
    expect(plan.steps.map((s) => s.id)).toEqual(["npm-publish:b"]);
  });
});

const fake = (run: StepHandlers["run"]): StepHandlers => ({ describe: (s) => `do ${s.id}`, run });

/** The most handlers the runner had running at once over `steps` (each takes a few ms). */
async function peakConcurrency(steps: Step[], concurrency: number): Promise<number> {
  let now = 0;
  let peak = 0;
  await runSteps(
    steps,
    fake(async () => {
      peak = Math.max(peak, ++now);
      await new Promise((r) => setTimeout(r, 3));
      now--;
      return { status: "done" };
    }),
    { concurrency },
  );
  return peak;
}

describe("runSteps", () => {
  const step = (id: string, deps: string[] = [], extra: { after?: string[]; pkg?: string; kind?: Step["kind"] } = {}): Step =>
    ({
      id,
      kind: extra.kind ?? "npm-publish",
      pkg: extra.pkg ?? id,
      deps,
      ...(extra.after ? { after: extra.after } : {}),
      payload: {
        name: id,
        version: "1.0.0",
        registry: "r",
        dir: "/",
        tag: "latest",
        distTag: null,
        access: null,
        image: id,
        versionTag: "1.0.0",
        tags: [],
        moves: [],
      },
    }) as Step;

  it("skips the dependents of a failure, runs the rest; `after` runs whatever the outcome; floating steps say they wait for the whole release", async () => {
    const ran: string[] = [];
    const out = await runSteps(
      [
        step("a"),
        step("b", ["a"]),
        step("c", ["b"]),
        step("d"),
        step("release", [], { after: ["b", "d"] }),
        step("promote", ["a", "d"], { kind: "image-promote" }),
      ],
      fake(async (s): Promise<StepOutcome> => {
        ran.push(s.id);
        if (s.id === "a") throw new Error("registry said no");
        return { status: "done" };
      }),
      { concurrency: 2 },
    );
    expect(out.get("a")).toMatchObject({ status: "failed", error: "registry said no" });
    expect((out.get("a")!.cause as Error).message).toBe("registry said no");
    expect(out.get("b")).toMatchObject({ status: "skipped", detail: "a failed" });
    expect(out.get("c")).toMatchObject({ status: "skipped", detail: "b was skipped" });
    expect(out.get("d")!.status).toBe("done");
    expect(out.get("release")!.status).toBe("done");
    expect(out.get("promote")).toMatchObject({ status: "skipped", detail: "waiting for the whole release: a failed" });
    expect(ran.sort()).toEqual(["a", "d", "release"]);
  });

  it("describe mode runs nothing and reports every step planned with the handler's description", async () => {
    const ran: string[] = [];
    const out = await runSteps(
      [step("a"), step("b", ["a"])],
      {
        describe: (s) => `would ${s.id}`,
        run: async (s) => {
          ran.push(s.id);
          return { status: "done" };
        },
      },
      {
        concurrency: 1,
        mode: "describe",
      },
    );
    expect(ran).toEqual([]);
    expect(out.get("b")).toEqual({ status: "planned", detail: "would b" });
  });

  it("never runs more than `concurrency` handlers at once", async () => {
    expect(
      await peakConcurrency(
        Array.from({ length: 10 }, (_, i) => step(`s${i}`)),
        3,
      ),
    ).toBe(3);
  });

  it("slots are per service: tag steps waiting for their push never hold the slots npm uploads need; --concurrency 1 runs every step alone", async () => {
    const tags = Array.from({ length: 4 }, (_, i) => step(`git-tag:t${i}`, [], { kind: "git-tag" }));
    const npm = Array.from({ length: 4 }, (_, i) => step(`npm-publish:n${i}`));
    const releases = Array.from({ length: 2 }, (_, i) => step(`github-release:r${i}`, [], { kind: "github-release" }));
    let pushed!: () => void;
    const push = new Promise<void>((r) => {
      pushed = r;
    });
    const others: string[] = [];
    const out = runSteps(
      [...tags, ...npm, ...releases],
      fake(async (s) => {
        if (s.kind === "git-tag")
          await push; // every tag waits for one slow push
        else others.push(s.id);
        if (others.length === npm.length + releases.length) pushed();
        return { status: "done" };
      }),
      { concurrency: 2 },
    );
    // With one pool of 2 slots the tags would hold both and nothing else could run: a deadlock here.
    expect([...(await out).values()].every((o) => o.status === "done")).toBe(true);

    expect(await peakConcurrency([...tags, ...npm, ...releases], 1)).toBe(1);
  });
});

describe("the plan as data", () => {
  it("serialises to JSON with its schema and commit, round-trips, is frozen, and refuses an unknown schema", () => {
    const plan = planPublish({
      workspace: ws(pkg("a", "1.0.0"), pkg("web", "2.0.0", { private: true, dockerfile: true })),
      config: config(),
      tagPrivate: true,
      state: state(),
      stages: ALL,
      imageNames: new Map([["web", "ghcr.io/acme/web"]]),
      sha: "0123456789abcdef0123456789abcdef01234567",
      changelogs: new Map([["a", "# a\n\n## 1.0.0\n\n- first\n"]]),
    });
    const text = serializePlan(plan);
    expect(JSON.parse(text)).toMatchObject({ schema: 1, commit: "0123456789abcdef0123456789abcdef01234567" });
    const back: PublishPlan = parsePlan(text);
    expect(back).toEqual(JSON.parse(JSON.stringify(plan)));
    expect(serializePlan(back)).toBe(text);
    expect(Object.isFrozen(plan.steps[0]!.payload)).toBe(true);
    const rel = back.steps.find((s) => s.id === "github-release:a")!;
    expect(rel.payload).toMatchObject({ tag: "a@1.0.0", commit: plan.commit, body: "- first" });
    const build = back.steps.find((s) => s.kind === "image-build-push")!;
    expect(build.payload).toMatchObject({
      image: "ghcr.io/acme/web",
      versionTag: "2.0.0",
      dockerfile: "Dockerfile",
      buildArgs: { VERSION: "2.0.0" },
    });
    expect(() => parsePlan(JSON.stringify({ ...plan, schema: 2 }))).toThrow(/schema 2 is not supported/);
  });
});

describe("GitHub Latest, decided from the versions at the commit (SPEC §5a.3)", () => {
  const latestOf = (s: Partial<RegistryState>, file: object = {}, extra: { only?: Set<string>; repo?: string; root?: string } = {}) => {
    const plan = planPublish({
      workspace: ws(pkg("@acme/lib", "1.0.0"), pkg("@acme/cli", "2.0.0"), pkg("@acme/beta", "3.0.0-rc.1")),
      config: config(file),
      tagPrivate: false,
      state: state(s),
      stages: ALL,
      imageNames: new Map(),
      sha: "abc",
      ...(extra.only ? { only: extra.only } : {}),
      ...(extra.repo ? { repository: { owner: "acme", name: extra.repo } } : {}),
      ...(extra.root ? { rootName: extra.root } : {}),
    });
    expect(checkInvariants(plan)).toEqual([]);
    return { plan, latestSteps: plan.steps.filter((x) => x.kind === "github-release" && x.payload.latest).map((x) => x.id) };
  };

  it("default: the package named like the repository, else the root's name, else the first by name", () => {
    expect(latestOf({}, {}, { repo: "cli" }).plan.latest).toEqual({ pkg: "@acme/cli", tag: "@acme/cli@2.0.0" });
    expect(latestOf({}, {}, { root: "@acme/lib" }).plan.latest?.pkg).toBe("@acme/lib");
    // First by name is @acme/beta, a prerelease: no release of this commit is Latest.
    expect(latestOf({}).plan.latest).toBeNull();
  });

  it("config github.latest names the package; false: none; a prerelease or backport is never Latest", () => {
    expect(latestOf({}, { github: { latest: "@acme/cli" } }).latestSteps).toEqual(["github-release:@acme/cli"]);
    expect(latestOf({}, { github: { latest: false } }).latestSteps).toEqual([]);
    expect(latestOf({}, { github: { latest: "@acme/beta" } }).latestSteps).toEqual([]);
    expect(latestOf({ remoteTags: new Set(["@acme/cli@2.1.0"]) }, { github: { latest: "@acme/cli" } }).latestSteps).toEqual([]);
  });

  it("a rerun after the other releases were made, or after the Latest one was: the same Latest, never a second", () => {
    const file = { github: { latest: "@acme/cli" } };
    const tags = ["@acme/lib@1.0.0", "@acme/cli@2.0.0", "@acme/beta@3.0.0-rc.1"];
    // Killed after lib's and beta's releases: cli's is still Latest.
    const a = latestOf({ remoteTags: new Set(tags), releases: new Set(["@acme/lib@1.0.0", "@acme/beta@3.0.0-rc.1"]) }, file);
    expect(a.latestSteps).toEqual(["github-release:@acme/cli"]);
    // Killed after cli's (the last one created) and before... nothing else: no other release becomes Latest.
    const b = latestOf({ remoteTags: new Set(tags), releases: new Set(["@acme/cli@2.0.0"]) }, file);
    expect(b.latestSteps).toEqual([]);
    expect(b.plan.steps.filter((s) => s.kind === "github-release").length).toBe(2);
    // --filter does not change which package is Latest.
    expect(latestOf({}, file, { only: new Set(["@acme/lib"]) }).latestSteps).toEqual([]);
  });

  it("the Latest release is created after every other release, whatever their outcome", () => {
    const { plan } = latestOf({}, { github: { latest: "@acme/cli" } });
    const cli = plan.steps.find((s) => s.id === "github-release:@acme/cli")!;
    expect([...(cli.after ?? [])].sort()).toEqual(["github-release:@acme/beta", "github-release:@acme/lib"]);
  });

  it("a tag left local by a killed run is pushed once its package's artifacts exist, and its release waits for that push", () => {
    const plan = planPublish({
      workspace: ws(pkg("a", "1.0.0")),
      config: config(),
      tagPrivate: false,
      state: state({ localTags: new Set(["a@1.0.0"]) }),
      stages: ALL,
      imageNames: new Map(),
      sha: "abc",
    });
    const tag = plan.steps.find((s) => s.id === "git-tag:a")!;
    expect(tag.payload).toEqual({ tag: "a@1.0.0", commit: "abc", create: false, push: true });
    expect(tag.deps).toEqual(["npm-publish:a"]);
    expect(plan.steps.find((s) => s.id === "github-release:a")!.deps).toEqual(["git-tag:a"]);
  });
});

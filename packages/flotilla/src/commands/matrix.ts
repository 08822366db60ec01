import type { CommonOptions } from "../context.ts";
import { type MatrixEntry, matrixOf } from "../plan/shard.ts";
import { remainingPlan } from "./publish.ts";

/**
 * `flotilla matrix` (SPEC §11): what is left to release at the commit, as a GitHub Actions
 * `strategy.matrix` (one entry per image build, one for the npm packages). Reads only: the
 * diff against the registries, as `publish` computes it. Written to GITHUB_OUTPUT as `matrix`
 * (and `count`, so a workflow can skip the matrix job when nothing is left).
 */
export async function matrixCommand(opts: CommonOptions): Promise<{ include: MatrixEntry[] }> {
  const matrix = matrixOf(await remainingPlan(opts));
  if (opts.env.GITHUB_OUTPUT) {
    const core = await import("@actions/core");
    core.setOutput("matrix", JSON.stringify(matrix));
    core.setOutput("count", String(matrix.include.length));
  }
  return matrix;
}

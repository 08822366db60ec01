import { originUrl } from "../adapters/git.ts";
import { readChangesetsState } from "../changesets/release-plan.ts";
import { type Config, type Env, loadConfig } from "../config/load.ts";
import { InputError } from "../errors.ts";
import { buildPlan, type Plan } from "../plan/release-plan.ts";
import {
  discoverWorkspace,
  findWorkspaceRoot,
  releaseVersionProblems,
  unversionedDependencyWarnings,
  type Workspace,
} from "../workspace/discover.ts";
import { resolveOwner } from "../workspace/owner.ts";

export interface PlanOptions {
  cwd: string;
  configPath?: string;
  env: Env;
}

export interface PlanContext {
  workspace: Workspace;
  config: Config;
  plan: Plan;
}

/** `flotilla plan`: pending changesets → the release plan. No side effects; works offline. */
export async function planCommand(opts: PlanOptions): Promise<PlanContext> {
  const rootDir = findWorkspaceRoot(opts.cwd);
  const config = await loadConfig(rootDir, { configPath: opts.configPath, env: opts.env });
  // Versions are checked only for what this plan releases (and what those depend on).
  const workspace = await discoverWorkspace(rootDir, config, { versions: "lenient" });
  const owner = resolveOwner(config.owner, opts.env, await originUrl(rootDir));
  const cs = await readChangesetsState(workspace);
  const releasing = cs.plan.releases.filter((r) => r.type !== "none").map((r) => r.name);
  const problems = releaseVersionProblems(workspace, releasing);
  if (problems.length) throw new InputError(problems);
  const notes = unversionedDependencyWarnings(workspace, releasing);
  const plan = buildPlan({ workspace, changesetsPlan: cs.plan, changesetsConfig: cs.config, config, owner, warnings: cs.warnings, notes });
  return { workspace, config, plan };
}

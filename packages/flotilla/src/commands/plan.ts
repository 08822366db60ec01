import { originUrl } from "../adapters/git.ts";
import { readChangesetsState } from "../changesets/release-plan.ts";
import { type Config, type Env, loadConfig } from "../config/load.ts";
import { buildPlan, type Plan } from "../plan/release-plan.ts";
import { discoverWorkspace, findWorkspaceRoot, type Workspace } from "../workspace/discover.ts";
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
  const workspace = await discoverWorkspace(rootDir, config);
  const owner = resolveOwner(config.owner, opts.env, await originUrl(rootDir));
  const cs = await readChangesetsState(workspace);
  const plan = buildPlan({ workspace, changesetsPlan: cs.plan, changesetsConfig: cs.config, config, owner });
  return { workspace, config, plan };
}

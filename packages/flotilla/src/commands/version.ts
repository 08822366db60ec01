import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { applyReleasePlan } from "@changesets/apply-release-plan";
import type { Config as ChangesetsConfig } from "@changesets/types";
import { execa } from "execa";
import { readChangesetsState } from "../changesets/release-plan.ts";
import { type Env, loadConfig } from "../config/load.ts";
import type { Logger } from "../report/log.ts";
import { discoverWorkspace, findWorkspaceRoot } from "../workspace/discover.ts";

export interface VersionOutcome {
  releases: { name: string; oldVersion: string; newVersion: string }[];
  changedFiles: string[];
  lockfileRefreshed: boolean;
}

/**
 * `flotilla version`: applies the pending changesets with changesets' own library (versions,
 * dependents' ranges, CHANGELOG.md, pre mode, consumed changesets deleted), then refreshes
 * pnpm-lock.yaml when versions in it changed (`pnpm install --lockfile-only`).
 */
export async function versionCommand(opts: { cwd: string; configPath?: string; env: Env; log: Logger }): Promise<VersionOutcome> {
  const rootDir = findWorkspaceRoot(opts.cwd);
  const config = await loadConfig(rootDir, { configPath: opts.configPath, env: opts.env });
  const ws = await discoverWorkspace(rootDir, config);
  const cs = await readChangesetsState(ws);
  const releases = cs.plan.releases
    .filter((r) => r.type !== "none" && r.newVersion && r.oldVersion)
    .map((r) => ({ name: r.name, oldVersion: r.oldVersion!, newVersion: r.newVersion! }));
  if (cs.plan.changesets.length === 0 && !cs.preState) {
    opts.log.info("No pending changesets: nothing to version.");
    return { releases: [], changedFiles: [], lockfileRefreshed: false };
  }
  const changedFiles = await applyReleasePlan(cs.plan, ws.manypkg, withResolvableChangelog(cs.config, rootDir));
  for (const r of releases) opts.log.info(`${r.name}: ${r.oldVersion} → ${r.newVersion}`);
  let lockfileRefreshed = false;
  if (existsSync(path.join(rootDir, "pnpm-lock.yaml")) && changedFiles.some((f) => f.endsWith("package.json"))) {
    await execa("pnpm", ["install", "--lockfile-only", "--ignore-scripts"], { cwd: rootDir });
    lockfileRefreshed = true;
    opts.log.info("refreshed pnpm-lock.yaml");
  }
  return { releases, changedFiles: changedFiles.map((f) => path.relative(rootDir, f)), lockfileRefreshed };
}

/**
 * changesets' default generator, `@changesets/cli/changelog`, is `@changesets/changelog-git`
 * re-exported. A workspace without @changesets/cli installed could not load it; flotilla then
 * uses its own copy of the same generator, so the output is identical.
 */
function withResolvableChangelog(config: ChangesetsConfig, rootDir: string): ChangesetsConfig {
  const changelog = config.changelog;
  if (changelog === false || changelog[0] !== "@changesets/cli/changelog") return config;
  try {
    createRequire(path.join(rootDir, ".changeset", "x.js")).resolve("@changesets/cli/changelog");
    return config;
  } catch {
    const own = createRequire(import.meta.url).resolve("@changesets/changelog-git");
    return { ...config, changelog: [own, changelog[1]] };
  }
}

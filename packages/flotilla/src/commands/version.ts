import path from "node:path";
import { applyReleasePlan } from "@changesets/apply-release-plan";
import { readChangesetsState } from "../changesets/release-plan.ts";
import { type Env, loadConfig } from "../config/load.ts";
import type { Logger } from "../report/log.ts";
import { changesetsWarningLines } from "../report/plan-table.ts";
import { watchGenerator } from "../version/changelog-generator.ts";
import { runVersionHook } from "../version/hook.ts";
import { refreshLockfile } from "../version/lockfile.ts";
import { discoverWorkspace, findWorkspaceRoot } from "../workspace/discover.ts";

export interface VersionOutcome {
  releases: { name: string; oldVersion: string; newVersion: string }[];
  changedFiles: string[];
  lockfileRefreshed: boolean;
  /** Why the lockfile was not refreshed although versions changed (the pinned pnpm could not run). */
  lockfileSkipped?: string;
  /** `version.command` ran (and succeeded). */
  versionCommand?: string;
  /** What changesets' libraries printed while planning (as in `plan --json`). */
  warnings: string[];
}

/**
 * `flotilla version`: applies the pending changesets with changesets' own library (versions,
 * dependents' ranges, CHANGELOG.md, pre mode, consumed changesets deleted), runs the team's
 * `version.command`, then refreshes pnpm-lock.yaml with the pinned pnpm when a package.json changed.
 */
export async function versionCommand(opts: { cwd: string; configPath?: string; env: Env; log: Logger }): Promise<VersionOutcome> {
  const rootDir = findWorkspaceRoot(opts.cwd);
  const config = await loadConfig(rootDir, { configPath: opts.configPath, env: opts.env });
  const ws = await discoverWorkspace(rootDir, config);
  const cs = await readChangesetsState(ws);
  // Captured by readChangesetsState (never printed raw): shown as plan shows them, one heading.
  if (cs.warnings.length) {
    const [heading, ...rest] = changesetsWarningLines(cs.warnings, false, "`flotilla plan --verbose` lists all");
    opts.log.warn(heading ?? "");
    for (const l of rest) opts.log.raw(`${l}\n`);
  }
  const warnings = cs.warnings;
  const releases = cs.plan.releases
    .filter((r) => r.type !== "none" && r.newVersion && r.oldVersion)
    .map((r) => ({ name: r.name, oldVersion: r.oldVersion!, newVersion: r.newVersion! }));
  if (cs.plan.changesets.length === 0 && !cs.preState) {
    opts.log.info("No pending changesets: nothing to version.");
    return { releases: [], changedFiles: [], lockfileRefreshed: false, warnings };
  }
  const generator = await watchGenerator(cs.config, rootDir, opts.env);
  let changedFiles: string[];
  try {
    changedFiles = await applyReleasePlan(cs.plan, ws.manypkg, generator.config);
  } catch (err) {
    throw generator.explain(err) ?? err;
  } finally {
    generator.release();
  }
  for (const r of releases) opts.log.info(`${r.name}: ${r.oldVersion} → ${r.newVersion}`);
  const command = config.version.command;
  if (command) await runVersionHook(rootDir, command, opts.log);
  // The hook may change package.json files too (its own version fields, say).
  const lockfile = changedFiles.some((f) => f.endsWith("package.json")) || command ? await refreshLockfile(rootDir, opts.log) : undefined;
  if (lockfile?.status === "refreshed") opts.log.info(`refreshed pnpm-lock.yaml (pnpm ${lockfile.pnpm})`);
  return {
    releases,
    changedFiles: changedFiles.map((f) => path.relative(rootDir, f)),
    lockfileRefreshed: lockfile?.status === "refreshed",
    ...(lockfile?.status === "skipped" && lockfile.reason !== "no pnpm-lock.yaml" ? { lockfileSkipped: lockfile.reason } : {}),
    ...(command ? { versionCommand: command } : {}),
    warnings,
  };
}

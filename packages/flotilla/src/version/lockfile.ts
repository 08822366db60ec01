import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import semver from "semver";
import { show, tools } from "../adapters/tools.ts";
import { ReleaseError } from "../errors.ts";
import type { Logger } from "../report/log.ts";

/** pnpm on PATH must not try to switch itself to the pin (pnpm 12.4.2 fails doing so; see below). */
const NO_SWITCH = { pnpm_config_manage_package_manager_versions: "false" };

/** The pnpm version (or range) the root package.json pins: `packageManager`, else `devEngines.packageManager`. */
export async function pinnedPnpm(rootDir: string): Promise<string | undefined> {
  const pj = JSON.parse(await readFile(path.join(rootDir, "package.json"), "utf8").catch(() => "{}")) as {
    packageManager?: unknown;
    devEngines?: { packageManager?: { name?: unknown; version?: unknown } | { name?: unknown; version?: unknown }[] };
  };
  if (typeof pj.packageManager === "string") {
    const m = /^pnpm@([^+]+)/.exec(pj.packageManager);
    return m?.[1];
  }
  const dev = pj.devEngines?.packageManager;
  const pnpm = (Array.isArray(dev) ? dev : dev ? [dev] : []).find((d) => d.name === "pnpm");
  return typeof pnpm?.version === "string" ? pnpm.version : undefined;
}

export type LockfileRefresh = { status: "refreshed"; pnpm: string; via: "path" | "pin" } | { status: "skipped"; reason: string };

/**
 * `pnpm install --lockfile-only` after the versions changed, with the pnpm the repository pins:
 * another pnpm rewrites the whole lockfile its own way (thousands of lines). When the pin is not
 * the pnpm on PATH, the pinned one runs through `npm exec` (from the npm registry). pnpm's own
 * switching is not used: pnpm 12.4.2 looks for platform packages that most other versions do not
 * have (ERR_PNPM_BAD_CONFIG_DEP). If the pinned pnpm cannot be had, the refresh is skipped with a
 * warning naming both versions: a lockfile written by the wrong pnpm is worse than a stale one.
 */
export async function refreshLockfile(rootDir: string, log: Logger): Promise<LockfileRefresh> {
  if (!existsSync(path.join(rootDir, "pnpm-lock.yaml"))) return { status: "skipped", reason: "no pnpm-lock.yaml" };
  const pin = await pinnedPnpm(rootDir);
  const [vcmd, vargs] = tools.pnpmVersion();
  const onPath = (await execa(vcmd, vargs, { cwd: rootDir, reject: false, env: NO_SWITCH })).stdout.trim();
  const pinMatches = !pin || !semver.validRange(pin) || (semver.valid(onPath) !== null && semver.satisfies(onPath, pin));
  const inv = tools.pnpmLockfileRefresh(pinMatches ? undefined : pin);
  if (!pinMatches)
    log.info(
      `package.json pins pnpm ${pin}, pnpm on PATH is ${onPath || "missing"}: refreshing the lockfile with pnpm ${pin} (${show(inv)})`,
    );
  const child = execa(inv[0], inv[1], {
    cwd: rootDir,
    reject: false,
    all: true,
    env: pinMatches ? NO_SWITCH : { npm_config_update_notifier: "false" },
  });
  let output = "";
  child.all?.on("data", (c: Buffer) => {
    output += c.toString("utf8");
    log.raw(c.toString("utf8"));
  });
  const r = await child;
  if (r.exitCode === 0) return { status: "refreshed", pnpm: pinMatches ? onPath : pin!, via: pinMatches ? "path" : "pin" };
  const why = output.trim().split("\n").filter(Boolean).slice(-3).join(" ").slice(0, 400);
  if (pinMatches) throw new ReleaseError(`pnpm install --lockfile-only failed (exit ${r.exitCode}): ${why}`);
  const reason = `package.json pins pnpm ${pin}, pnpm on PATH is ${onPath || "missing"}, and pnpm ${pin} could not be run (${why}): pnpm-lock.yaml was NOT refreshed; run \`pnpm install --lockfile-only\` with pnpm ${pin} and commit it`;
  log.warn(reason);
  return { status: "skipped", reason };
}

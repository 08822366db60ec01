import { execa } from "execa";
import { type Invocation, PNPM_ENV } from "../adapters/tools.ts";
import { BEFORE_PACK, type Scripts } from "./scripts.ts";

export { AFTER_PUBLISH, BEFORE_PACK, type Scripts } from "./scripts.ts";

/** `pnpm run NAME` in the package folder: the environment pnpm gives scripts, none built by hand. */
const pnpmRun = (name: string): Invocation => ["pnpm", ["run", name]];

export class ScriptError extends Error {}

/**
 * Runs the package's `name` script as `pnpm publish` would: in the package folder, through
 * `pnpm run` (the same environment variables `pnpm publish` gives its scripts, checked against
 * pnpm 12.4.2), and nothing else. `pnpm run X` would also run `preX`/`postX`; where those exist
 * (`pnpm run publish` would run `prepublish` a second time) pnpm is told not to, through
 * `pnpm_config_enable_pre_post_scripts=false`, which that one script then sees as well.
 * A missing script is no error. A failing one throws with the end of its output.
 */
export async function runScript(dir: string, scripts: Scripts, name: string): Promise<boolean> {
  if (typeof scripts?.[name] !== "string") return false;
  const companions = scripts[`pre${name}`] !== undefined || scripts[`post${name}`] !== undefined;
  const [cmd, args] = pnpmRun(name);
  const r = await execa(cmd, args, {
    cwd: dir,
    reject: false,
    all: true,
    stdin: "ignore",
    env: { ...PNPM_ENV, ...(companions ? { pnpm_config_enable_pre_post_scripts: "false" } : {}) },
  });
  if (r.exitCode !== 0) {
    const tail = (r.all ?? "").trim().split("\n").slice(-15).join("\n");
    throw new ScriptError(`the ${name} script failed (exit ${r.exitCode ?? r.signal})${tail ? `:\n${tail}` : ""}`);
  }
  return true;
}

/** Runs each of `names` in turn (the first failure stops the rest). Returns the ones that ran. */
export async function runScripts(dir: string, scripts: Scripts, names: readonly string[]): Promise<string[]> {
  const ran: string[] = [];
  for (const n of names) if (await runScript(dir, scripts, n)) ran.push(n);
  return ran;
}

/**
 * Before `pnpm pack`: each package's `prepublishOnly` and `prepublish`, in the package folder,
 * one package at a time in dependency order (a dependent's script may use what its dependency's
 * generated). Returns the packages whose scripts failed, with the error; those are not packed.
 */
export async function runBeforePack(rootDir: string, names: string[]): Promise<Map<string, Error>> {
  const failed = new Map<string, Error>();
  const { getPackages } = await import("@manypkg/get-packages");
  const { graphSequencer } = await import("@pnpm/deps.graph-sequencer");
  const all = (await getPackages(rootDir)).packages;
  const wanted = new Set(names);
  const pkgs = all.filter((p) => wanted.has(p.packageJson.name));
  if (!pkgs.some((p) => BEFORE_PACK.some((s) => typeof (p.packageJson as { scripts?: Scripts }).scripts?.[s] === "string"))) return failed;
  const depsOf = (pj: Record<string, unknown>) =>
    ["dependencies", "peerDependencies", "optionalDependencies"].flatMap((f) => Object.keys((pj[f] as object | undefined) ?? {}));
  const graph = new Map(pkgs.map((p) => [p.packageJson.name, depsOf(p.packageJson as never).filter((d) => wanted.has(d))]));
  const byName = new Map(pkgs.map((p) => [p.packageJson.name, p]));
  for (const name of graphSequencer(graph, [...graph.keys()]).order) {
    const p = byName.get(name)!;
    try {
      await runScripts(p.dir, (p.packageJson as { scripts?: Scripts }).scripts, BEFORE_PACK);
    } catch (err) {
      failed.set(name, err as Error);
    }
  }
  return failed;
}

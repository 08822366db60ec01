import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";

/**
 * The CLI the tests run: the package's bin, the bundle (`pnpm build` makes it; the action runs
 * the same files), or another entry: FLOTILLA_TEST_BIN=packages/flotilla/bin/flotilla.js runs
 * tsc's dist/ instead.
 */
// biome-ignore lint/suspicious/noUndeclaredEnvVars: read by vitest, which turbo does not run.
const testBin = process.env.FLOTILLA_TEST_BIN;
export const FLOTILLA_BIN = testBin
  ? path.resolve(testBin)
  : path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../bundle/flotilla.mjs");
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built `flotilla` binary as a user would (a real process, the built bundle). The
 * environment is cleared of GitHub/flotilla variables of the caller so tests see only `env`.
 */
export async function runFlotilla(args: string[], opts: { cwd: string; env?: Record<string, string>; bin?: string }): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GITHUB_|FLOTILLA_|NODE_AUTH_TOKEN|RUNNER_|CI$)/.test(k)));
  const r = await execa(process.execPath, [opts.bin ?? FLOTILLA_BIN, ...args], {
    cwd: opts.cwd,
    env: { ...base, ...opts.env },
    extendEnv: false,
    reject: false,
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

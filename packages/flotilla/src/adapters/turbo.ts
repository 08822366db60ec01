import { stripVTControlCharacters } from "node:util";
import { execa } from "execa";
import { type Invocation, PNPM_ENV, tools, turboBin } from "./tools.ts";

/**
 * turbo's remote-cache variables (TURBO_TOKEN, TURBO_TEAM, TURBO_API) pass through untouched;
 * telemetry is off. pnpm is told not to switch itself to the root's `packageManager` pin: pnpm
 * 12.4.2 cannot fetch most other versions that way (ERR_PNPM_BAD_CONFIG_DEP) and would fail a
 * build that only runs package scripts.
 */
const BUILD_ENV = { TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1", ...PNPM_ENV };

/** Runs one build-tool invocation in the workspace root; output streams to `out` as it comes. */
export async function runStreaming(
  rootDir: string,
  [cmd, args]: Invocation,
  out: (chunk: string) => void,
): Promise<{ ok: boolean; exitCode: number }> {
  const child = execa(cmd, args, { cwd: rootDir, reject: false, all: true, env: BUILD_ENV });
  child.all?.on("data", (c: Buffer) => out(c.toString("utf8")));
  const r = await child;
  return { ok: r.exitCode === 0, exitCode: r.exitCode ?? 1 };
}

/** `turbo run <tasks> --dry-run=json`: does turbo accept this workspace and these tasks? Reads only. */
export async function turboCheck(rootDir: string, tasks: string[]): Promise<{ ok: true } | { ok: false; message: string }> {
  const [cmd, args] = tools.turboDryRun(turboBin(rootDir), tasks);
  const r = await execa(cmd, args, { cwd: rootDir, reject: false, env: BUILD_ENV });
  if (r.exitCode === 0) return { ok: true };
  // turbo's diagnostics: "  x <what>" lines, box-drawing and ANSI colours around them.
  const text = stripVTControlCharacters(r.stderr)
    .split("\n")
    .filter((l) => !/^\s*WARNING\s/.test(l) && l.trim() !== "")
    .map((l) => l.replace(/^[\s|`>:x×─╰▶-]+/, "").trim())
    .filter(Boolean)
    .join(" ");
  return { ok: false, message: text || `turbo exited with ${r.exitCode}` };
}

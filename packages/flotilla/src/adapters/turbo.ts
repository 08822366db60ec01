import { execa } from "execa";
import { tools, turboBin } from "./tools.ts";

/**
 * `turbo run <tasks> --filter=<pkg>…`: builds and tests exactly the packages with work (their
 * dependencies come through the tasks' `^build`). Output streams to `out` as it comes. Turbo's
 * remote-cache variables (TURBO_TOKEN, TURBO_TEAM, TURBO_API) pass through untouched.
 */
export async function turboRun(
  rootDir: string,
  tasks: string[],
  filters: string[],
  out: (chunk: string) => void,
): Promise<{ ok: boolean; exitCode: number }> {
  const [cmd, args] = tools.turboRun(turboBin(rootDir), tasks, filters);
  const child = execa(cmd, args, { cwd: rootDir, reject: false, all: true, env: { TURBO_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" } });
  child.all?.on("data", (c: Buffer) => out(c.toString("utf8")));
  const r = await child;
  return { ok: r.exitCode === 0, exitCode: r.exitCode ?? 1 };
}

import { existsSync } from "node:fs";
import path from "node:path";
import { type Invocation, tools, turboBin } from "../adapters/tools.ts";

export interface BuildPlan {
  runner: "turbo" | "pnpm";
  /** Run one after another; the first failure stops the build. `title` names each in logs. */
  steps: { title: string; invocation: Invocation }[];
}

/** Does this workspace build with turbo? Only when it has a root turbo.json (turbo.jsonc too). */
export function usesTurbo(rootDir: string): boolean {
  return existsSync(path.join(rootDir, "turbo.json")) || existsSync(path.join(rootDir, "turbo.jsonc"));
}

/**
 * What builds and tests the packages with work (`names`). With a turbo.json: one `turbo run`,
 * whose task graph (`^build`) brings the dependencies in. Without one (repositories that build
 * with nx or plain scripts): one pnpm topological run per task, in the order of `build.tasks`;
 * the task `build` also runs over the packages' workspace dependencies first (as turbo's
 * `dependsOn: ["^build"]` would), every other task (`test`, `lint`…) over the packages alone.
 * No tasks or no packages: nothing runs.
 */
export function planBuild(rootDir: string, tasks: string[], names: string[], turboPath = turboBin): BuildPlan | undefined {
  if (tasks.length === 0 || names.length === 0) return undefined;
  if (usesTurbo(rootDir))
    return {
      runner: "turbo",
      steps: [{ title: `turbo run ${tasks.join(" ")}`, invocation: tools.turboRun(turboPath(rootDir), tasks, names) }],
    };
  return {
    runner: "pnpm",
    steps: tasks.map((t) => ({
      title: `pnpm -r run ${t}`,
      invocation: tools.pnpmRunRecursive(t, t === "build" ? names.map((n) => `${n}...`) : names),
    })),
  };
}

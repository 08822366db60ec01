import { readFile } from "node:fs/promises";
import path from "node:path";
import { getPackages } from "@manypkg/get-packages";
import type { Problem } from "../errors.ts";
import type { PreflightCheck, PreflightInput } from "../preflight.ts";
import { usesTurbo } from "./plan.ts";

/** A `packageManager` value turbo accepts: a name, `@`, an exact version, an optional `+hash`. */
const PACKAGE_MANAGER = /^(npm|pnpm|yarn|bun)@\d+\.\d+\.\d+(-[\w.]+)?(\+[\w.]+)?$/;

/**
 * turbo refuses whole workspaces that pnpm and changesets take: no `packageManager` in the root
 * package.json, two packages with one name (private test fixtures, often). Found here, before
 * anything is published, with the fix; then turbo itself checks the workspace and the tasks
 * (`--dry-run`, which runs nothing) for the refusals this list does not know. Nothing to check
 * when the build is skipped, has no tasks, or runs through pnpm (no turbo.json).
 */
export function buildChecks(
  input: Pick<PreflightInput, "rootDir" | "config"> & { skipBuild?: boolean },
): { name: string; network: false; afterLocal?: boolean; run: () => Promise<PreflightCheck> }[] {
  const tasks = input.config.build.tasks;
  if (input.skipBuild || tasks.length === 0 || !usesTurbo(input.rootDir)) return [];
  const name = "turbo accepts the workspace (build)";
  return [
    {
      name,
      // Local: files and turbo's own dry run, no service is asked.
      network: false,
      run: async () => {
        const problems = [...(await packageManagerProblems(input.rootDir)), ...(await duplicateNameProblems(input.rootDir))];
        return { name, ok: problems.length === 0, problems, warnings: [] };
      },
    },
    {
      name: "turbo accepts the tasks (turbo run --dry-run)",
      network: false,
      // turbo's dry run takes seconds on a big workspace: only once the cheap checks passed.
      afterLocal: true,
      run: async () => {
        const problems = [...(await packageManagerProblems(input.rootDir)), ...(await duplicateNameProblems(input.rootDir))];
        if (problems.length > 0) return { name: "turbo accepts the tasks", ok: true, problems: [], warnings: [] };
        const { turboCheck } = await import("../adapters/turbo.ts"); // execa: loaded only when turbo is asked
        const r = await turboCheck(input.rootDir, tasks);
        const refused = r.ok ? [] : [turboRefusal(r.message, tasks)];
        return { name: "turbo accepts the tasks", ok: r.ok, problems: refused, warnings: [] };
      },
    },
  ];
}

const SKIP = "or pass --skip-build and build the packages yourself before flotilla publish";

async function packageManagerProblems(rootDir: string): Promise<Problem[]> {
  const pj = JSON.parse(await readFile(path.join(rootDir, "package.json"), "utf8").catch(() => "{}")) as {
    packageManager?: unknown;
    devEngines?: { packageManager?: unknown };
  };
  if (pj.devEngines?.packageManager !== undefined && pj.packageManager === undefined) return [];
  if (pj.packageManager === undefined) {
    return [
      {
        code: "BUILD_NO_PACKAGE_MANAGER",
        file: "package.json",
        field: "packageManager",
        message: 'turbo refuses a workspace whose root package.json has no "packageManager"',
        hint: `add "packageManager": "pnpm@<the version you use, e.g. the output of pnpm --version>" to package.json, ${SKIP}`,
      },
    ];
  }
  if (typeof pj.packageManager !== "string" || !PACKAGE_MANAGER.test(pj.packageManager)) {
    return [
      {
        code: "BUILD_BAD_PACKAGE_MANAGER",
        file: "package.json",
        field: "packageManager",
        message: `turbo refuses "packageManager": ${JSON.stringify(pj.packageManager)}: it must be <name>@<exact version>`,
        hint: `write it as e.g. "pnpm@12.4.2", ${SKIP}`,
      },
    ];
  }
  return [];
}

async function duplicateNameProblems(rootDir: string): Promise<Problem[]> {
  const { packages } = await getPackages(rootDir).catch(() => ({ packages: [] }));
  const dirs = new Map<string, string[]>();
  for (const p of packages) {
    const rel = path.relative(rootDir, p.dir).split(path.sep).join("/");
    dirs.set(p.packageJson.name, [...(dirs.get(p.packageJson.name) ?? []), rel]);
  }
  return [...dirs]
    .filter(([, where]) => where.length > 1)
    .map(([pkg, where]) => ({
      code: "BUILD_DUPLICATE_PACKAGE_NAME",
      file: `${where[1]}/package.json`,
      field: "name",
      message: `turbo refuses two workspace packages named "${pkg}" (${where.join(", ")})`,
      hint: `rename one of them, or leave the extra folders out of pnpm-workspace.yaml (e.g. "!${where[1]}"), ${SKIP}`,
    }));
}

function turboRefusal(message: string, tasks: string[]): Problem {
  const missingTask = /Could not find task `([^`]+)`/.exec(message)?.[1];
  if (missingTask) {
    return {
      code: "BUILD_TASK_NOT_IN_TURBO",
      file: "turbo.json",
      field: "build.tasks",
      message: `turbo has no task "${missingTask}" (build.tasks is ${JSON.stringify(tasks)})`,
      hint: `add "${missingTask}" to turbo.json's "tasks", or set "build": {"tasks": [...]} in flotilla.config.json without it`,
    };
  }
  return {
    code: "BUILD_TURBO_REFUSED",
    message: `turbo refuses to run ${tasks.join(" ")}: ${message}`,
    hint: `fix what turbo names (turbo.json, package.json), ${SKIP}`,
  };
}

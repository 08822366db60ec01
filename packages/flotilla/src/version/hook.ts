import { execa } from "execa";
import { ReleaseError } from "../errors.ts";
import type { Logger } from "../report/log.ts";

/**
 * `version.command` (changesets/action's `version` input): the team's own step after the
 * changesets are applied (`pnpm -r generate:version`, say), a shell command as in a package.json
 * script, run in the workspace root with its output streamed. It fails the run with exit 1: the
 * changesets are already applied in the working tree by then.
 */
export async function runVersionHook(rootDir: string, command: string, log: Logger): Promise<void> {
  await log.group(`version.command: ${command}`, async () => {
    const child = execa(command, { shell: true, cwd: rootDir, reject: false, all: true });
    child.all?.on("data", (c: Buffer) => log.raw(c.toString("utf8")));
    const r = await child;
    if (r.exitCode !== 0) {
      throw new ReleaseError(
        `version.command \`${command}\` failed (exit ${r.exitCode ?? "signal"}): the changesets are applied in the working tree, pnpm-lock.yaml was not refreshed`,
      );
    }
  });
}

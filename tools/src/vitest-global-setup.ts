import { registerGithubRepo, startTestbed, stopTestbed } from "./testbed/index.ts";

/**
 * Starts the testbed once for the whole run (or reuses a running one) and stops it afterwards
 * if this run started it, so a test run never leaves processes behind.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const { started, testbed } = await startTestbed({ log: (s) => process.stderr.write(`${s}\n`) });
  // The repository the end-to-end tests release (GITHUB_REPOSITORY=acme/acme-monorepo).
  await registerGithubRepo(testbed, "acme", "acme-monorepo");
  return async () => {
    if (started) await stopTestbed();
  };
}

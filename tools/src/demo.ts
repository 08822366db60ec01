/**
 * The demo (README Quick start): a release of examples/ against the testbed's local services.
 *
 * examples/ is copied to a temporary folder and made a git repository whose origin is a local
 * bare repository, so the demo never touches this checkout. flotilla then runs as a user would
 * run it, pointed at the local registries through its documented environment variables.
 */
import { cpSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { createBareRemote, initRepoWithRemote } from "./testbed/git.ts";
import { startTestbed, stopTestbed, testbedEnv } from "./testbed/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const bin = path.join(root, "packages/flotilla/bin/flotilla.js");
const keep = process.argv.includes("--keep");

const step = (s: string) => console.log(`\n\x1b[1m▶ ${s}\x1b[0m`);

async function flotilla(args: string[], cwd: string, env: Record<string, string>) {
  console.log(`$ flotilla ${args.join(" ")}`);
  const r = await execa(process.execPath, [bin, ...args], { cwd, env: { ...process.env, ...env }, stdio: "inherit", reject: false });
  return r.exitCode ?? 1;
}

step("Starting the local services (dockerd, OCI registry, Verdaccio, GitHub API stand-in)");
const { testbed, started } = await startTestbed({ log: (s) => console.log(`  ${s}`) });
let code = 0;
try {
  const work = mkdtempSync(path.join(os.tmpdir(), "flotilla-demo-"));
  const repo = path.join(work, "acme");
  cpSync(path.join(root, "examples"), repo, { recursive: true, filter: (s) => !/node_modules|\.turbo|[/\\]dist$/.test(s) });
  initRepoWithRemote(repo, createBareRemote(path.join(work, "origin.git")));
  console.log(`  example monorepo: ${repo} (origin: ${path.join(work, "origin.git")})`);
  const env = { ...testbedEnv(testbed), GITHUB_REPOSITORY: "acme/acme-monorepo" };

  step("What the pending changesets will release");
  code = await flotilla(["plan"], repo, env);
} finally {
  if (started && !keep) {
    step("Stopping the local services");
    await stopTestbed();
  }
}
process.exitCode = code;

/**
 * The demo (README Quick start): a release of examples/ against the testbed's local services.
 *
 * examples/ is copied to a temporary folder and made a git repository whose origin is a local
 * bare repository, so the demo never touches this checkout. flotilla then runs as a user would
 * run it, pointed at the local registries through its documented environment variables.
 */

import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { execa } from "execa";
import { createBareRemote, initRepoWithRemote } from "./testbed/git.ts";
import { githubState, registerGithubRepo, startTestbed, stopTestbed, testbedEnv } from "./testbed/index.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
// The package's bin: the bundle `pnpm build` makes (what npm users and the action run).
const bin = path.join(root, "packages/flotilla/bundle/flotilla.mjs");
const keep = process.argv.includes("--keep");

const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();
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
  execFileSync("pnpm", ["install", "--frozen-lockfile", "--silent"], { cwd: repo, stdio: "inherit" });
  initRepoWithRemote(repo, createBareRemote(path.join(work, "origin.git")));
  console.log(`  example monorepo: ${repo} (origin: ${path.join(work, "origin.git")})`);
  const env = { ...testbedEnv(testbed), GITHUB_REPOSITORY: "acme/acme-monorepo" };
  await registerGithubRepo(testbed, "acme", "acme-monorepo");

  step("What the pending changesets will release");
  code = await flotilla(["plan"], repo, env);
  if (code !== 0) throw new Error("flotilla plan failed");

  step("flotilla version: apply the changesets (what the merged Version Packages PR holds)");
  code = await flotilla(["version"], repo, env);
  if (code !== 0) throw new Error("flotilla version failed");
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "Version Packages");

  step("flotilla publish: npm packages, images, git tags");
  code = await flotilla(["publish"], repo, env);

  step("What the registries and origin hold now");
  const auth = { authorization: `Bearer ${testbed.npm.token}` };
  for (const name of ["@acme/tokens", "@acme/core", "@acme/ui"]) {
    const doc = (await (await fetch(`${testbed.npm.url}/${name.replace("/", "%2f")}`, { headers: auth })).json()) as {
      "dist-tags": Record<string, string>;
    };
    console.log(`  npm  ${name}  dist-tags ${JSON.stringify(doc["dist-tags"])}`);
  }
  const basic = `Basic ${Buffer.from(`${testbed.registry.username}:${testbed.registry.password}`).toString("base64")}`;
  for (const app of ["web", "api"]) {
    const t = (await (await fetch(`${testbed.registry.url}/v2/acme/${app}/tags/list`, { headers: { authorization: basic } })).json()) as {
      tags: string[];
    };
    console.log(`  image ${testbed.registry.host}/acme/${app}  tags ${t.tags.sort().join(", ")}`);
  }
  console.log(
    `  git tags on origin: ${git(repo, "ls-remote", "--tags", "--refs", "origin")
      .split("\n")
      .map((l) => l.split("refs/tags/")[1])
      .join(", ")}`,
  );

  const releases = (await githubState(testbed)).repos["acme/acme-monorepo"]?.releases ?? [];
  for (const r of releases)
    console.log(
      `  GitHub release ${r.tag_name}${r.make_latest === "true" ? " (Latest)" : ""}: ${r.body.split("\n").find((l) => l.startsWith("- ")) ?? ""}`,
    );

  step("docker run of a pushed image (pulled from the registry)");
  const docker = new Docker({ socketPath: testbed.docker.host.replace("unix://", "") });
  const image = `${testbed.registry.host}/acme/web:latest`;
  await docker
    .getImage(`${testbed.registry.host}/acme/web:1.4.0`)
    .remove({ force: true })
    .catch(() => {});
  const pull = await docker.pull(image, {
    authconfig: { username: testbed.registry.username, password: testbed.registry.password, serveraddress: testbed.registry.host },
  });
  await new Promise((resolve, reject) => docker.modem.followProgress(pull, (err: Error | null) => (err ? reject(err) : resolve(null))));
  const run = await execa("docker", ["run", "--rm", image], { env: { DOCKER_HOST: testbed.docker.host } });
  console.log(`$ docker run --rm ${image}\n${run.stdout}`);

  step("Run it again: nothing left to do");
  const again = await flotilla(["publish"], repo, env);
  if (code === 0) code = again;
} finally {
  if (started && !keep) {
    step("Stopping the local services");
    await stopTestbed();
  }
}
process.exitCode = code;

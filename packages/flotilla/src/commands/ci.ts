import { readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { dirtyFiles } from "../adapters/git.ts";
import { readChangesetsState } from "../changesets/release-plan.ts";
import { discover } from "../context.ts";
import { InputError } from "../errors.ts";
import { changelogSection } from "../github/changelog.ts";
import { type PublishOptions, type PublishOutcome, publishCommand } from "./publish.ts";
import { versionCommand } from "./version.ts";

export const PR_TITLE = "Version Packages";

export interface CiOutcome {
  hasChangesets: boolean;
  pullRequest?: { number: number; url: string; created: boolean };
  publish?: PublishOutcome;
}

/**
 * `flotilla ci`, run on the release branch: pending changesets → the "Version Packages" pull
 * request (created, or the open one updated); none → `flotilla publish`.
 */
export async function ciCommand(opts: PublishOptions): Promise<CiOutcome> {
  const ctx = await discover({ ...opts, only: ["github"] });
  const cs = await readChangesetsState(ctx.workspace);
  if (cs.plan.changesets.length === 0) {
    opts.log.info("No pending changesets: publishing what is not yet released.");
    return { hasChangesets: false, publish: await publishCommand(opts) };
  }
  if (opts.dryRun) {
    opts.log.info(
      `Dry run: ${cs.plan.changesets.length} pending changeset(s) would be versioned on ${ctx.config.github.versionBranch} and the "${PR_TITLE}" pull request created or updated`,
    );
    return { hasChangesets: true };
  }
  if (!ctx.github || !ctx.repo) {
    throw new InputError([
      {
        code: "GITHUB_NOT_CONFIGURED",
        message: "pending changesets need a Version Packages pull request, but GITHUB_TOKEN or the repository is missing",
        hint: "set GITHUB_TOKEN and GITHUB_REPOSITORY (GitHub Actions sets both)",
      },
    ]);
  }
  const check = await ctx.github.check();
  if (!check.ok)
    throw new InputError([
      {
        code: "GITHUB_UNREACHABLE",
        message: `${ctx.config.github.apiUrl}: ${check.reason}`,
        hint: "check GITHUB_TOKEN and GITHUB_REPOSITORY",
      },
    ]);

  // Everything in the tree goes into the version commit: it must hold only what is committed.
  const dirty = opts.allowDirty ? [] : await dirtyFiles(ctx.rootDir);
  if (dirty.length > 0) {
    throw new InputError([
      {
        code: "GIT_DIRTY",
        message: `the working tree has uncommitted changes (${dirty.map((l) => l.slice(3)).join(", ")})`,
        hint: "commit or stash them first",
      },
    ]);
  }
  const git = (...args: string[]) => execa("git", args, { cwd: ctx.rootDir });
  const base = (await git("rev-parse", "--abbrev-ref", "HEAD")).stdout.trim();
  const baseRef = base === "HEAD" ? (opts.env.GITHUB_REF_NAME ?? cs.config.baseBranch) : base;
  const branch = ctx.config.github.versionBranch;
  const { log } = opts;

  await git("checkout", "-q", "-B", branch);
  let body: string;
  try {
    const version = await versionCommand({
      cwd: ctx.rootDir,
      env: opts.env,
      ...(opts.configPath ? { configPath: opts.configPath } : {}),
      log,
    });
    body = await pullRequestBody(version.releases, ctx.workspace.byName);
    await git("add", "-A");
    // The repository's own identity when it has one, else GitHub Actions' bot.
    const bot = ["-c", "user.name=github-actions[bot]", "-c", "user.email=41898282+github-actions[bot]@users.noreply.github.com"];
    await git(...((await hasIdentity(ctx.rootDir)) ? [] : bot), "commit", "-q", "-m", PR_TITLE);
    await git("push", "-q", "--force", "origin", `HEAD:refs/heads/${branch}`);
    log.info(`pushed ${branch}`);
  } catch (err) {
    // Nothing was committed (a failing changelog generator, version.command or lockfile
    // refresh): leave the base branch as it was. The tree was clean before (checked above), so
    // everything in it now came from the version step; with --allow-dirty it is left alone.
    if (!opts.allowDirty) {
      await git("checkout", "-q", "-f", baseRef);
      await git("clean", "-q", "-fd");
    }
    throw err;
  } finally {
    await git("checkout", "-q", baseRef);
  }
  const open = await ctx.github.findOpenPull(branch, baseRef);
  if (open) {
    await ctx.github.updatePull(open.number, { title: PR_TITLE, body });
    log.info(`updated pull request #${open.number}: ${open.url}`);
    return { hasChangesets: true, pullRequest: { ...open, created: false } };
  }
  const pr = await ctx.github.createPull({ head: branch, base: baseRef, title: PR_TITLE, body });
  log.info(`created pull request #${pr.number}: ${pr.url}`);
  return { hasChangesets: true, pullRequest: { ...pr, created: true } };
}

async function hasIdentity(cwd: string): Promise<boolean> {
  const r = await execa("git", ["config", "user.email"], { cwd, reject: false });
  return r.exitCode === 0 && r.stdout.trim() !== "";
}

async function pullRequestBody(
  releases: { name: string; oldVersion: string; newVersion: string }[],
  byName: Map<string, { dir: string }>,
): Promise<string> {
  const parts = [
    "This pull request was opened by flotilla. When you are ready to release, merge it: the next run on the release branch publishes the versions below.",
    "",
    "# Releases",
  ];
  for (const r of [...releases].sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = byName.get(r.name)?.dir;
    const changelog = dir ? await readFile(path.join(dir, "CHANGELOG.md"), "utf8").catch(() => "") : "";
    parts.push("", `## ${r.name}@${r.newVersion}`, "", changelogSection(changelog, r.newVersion) || `(from ${r.oldVersion})`);
  }
  return parts.join("\n");
}

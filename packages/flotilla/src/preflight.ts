import { existsSync } from "node:fs";
import path from "node:path";
import { graphSequencer } from "@pnpm/deps.graph-sequencer";
import type Docker from "dockerode";
import validateNpmName from "validate-npm-package-name";
import { hasOrigin, headCommit } from "./adapters/git.ts";
import type { GitHub, RepoRef } from "./adapters/github.ts";
import type { NpmRegistry } from "./adapters/npm-registry.ts";
import { type OciRegistry, splitImageName } from "./adapters/oci-registry.ts";
import { tools } from "./adapters/tools.ts";
import { buildChecks } from "./build/preflight.ts";
import type { Config } from "./config/load.ts";
import { type Checkout, gitOutput } from "./context.ts";
import type { Problem } from "./errors.ts";
import { provenanceProblems } from "./npm/provenance.ts";
import type { Stage } from "./plan/publish-plan.ts";
import { npmRegistryFor } from "./plan/release-plan.ts";
import type { WorkspacePackage } from "./workspace/discover.ts";

export interface PreflightInput {
  rootDir: string;
  config: Config;
  owner: string | undefined;
  stages: ReadonlySet<Stage>;
  /** Packages in scope (after --filter). */
  packages: WorkspacePackage[];
  npmToken: string | undefined;
  registries: Map<string, NpmRegistry>;
  allowDirty: boolean;
  imageNames: Map<string, string>;
  ociRegistries: Map<string, OciRegistry>;
  imageAuth: { username: string | undefined; password: string | undefined };
  docker: () => Promise<Docker>;
  github: GitHub | undefined;
  repo: RepoRef | undefined;
  tagPrivate: boolean;
  env: Record<string, string | undefined>;
  /** --skip-build: turbo's refusals do not matter then. */
  skipBuild?: boolean;
  /** HEAD and origin as discover read them (context.ts); read here when absent. */
  checkout?: Checkout;
}

/** OCI repository path rule (distribution spec). */
const OCI_REPO = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;

export interface PreflightCheck {
  name: string;
  ok: boolean;
  problems: Problem[];
  warnings: string[];
  /** Why a network check did not read (what it needs is missing; a local check reports that). */
  skipped?: string;
}

/** True for GitHub Packages' npm registry (github.com, GHEC data residency, GHES). */
/** One problem for every package that needs the owner (a repository-wide cause, told once). */
function ownerUnknown(what: string, names: string[]): Problem {
  const shown = names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");
  return {
    code: "OWNER_UNKNOWN",
    message: `${what} ${shown}: no owner known`,
    hint: 'set "owner" in flotilla.config.json, or GITHUB_REPOSITORY_OWNER (or an origin remote on GitHub)',
  };
}

const plural = (xs: unknown[]) => (xs.length === 1 ? "" : "s");

export function isGithubPackages(registry: string): boolean {
  const host = new URL(registry).host;
  return (
    host === "npm.pkg.github.com" ||
    (/^npm\.[\w.-]+$/.test(host) && host.endsWith(".ghe.com")) ||
    new URL(registry).pathname.startsWith("/_registry/npm")
  );
}

/**
 * One check. Local checks (files, git's own state, which tokens are set) answer at once; a
 * network check reads a registry, the daemon or GitHub, and skips itself when what it needs (a
 * token, credentials, a repository) is missing — the local check already reported that.
 */
export interface PreflightEntry {
  name: string;
  /** Absent: a local check. */
  network?: boolean;
  /**
   * A slow local check (turbo's own dry run: seconds on a large workspace): run beside the network
   * checks, and only when every cheap local check passed, so a missing token is told at once.
   */
  afterLocal?: boolean;
  run: () => Promise<PreflightCheck>;
}

/**
 * Every check of SPEC §5.2, with no side effects. Each returns its problems; publish collects
 * them all and stops with exit 2, doctor prints each as it runs.
 */
export function preflightChecks(input: PreflightInput): PreflightEntry[] {
  const publicPkgs = input.packages.filter((p) => !p.private);
  const npmOn = input.stages.has("npm") && publicPkgs.length > 0;
  /** `network`: the check reads a remote service; local checks run first (see PreflightEntry). */
  const check = (name: string, fn: (c: PreflightCheck) => Promise<void> | void, network = false): PreflightEntry => ({
    name,
    network,
    run: async () => {
      const c: PreflightCheck = { name, ok: true, problems: [], warnings: [] };
      await fn(c);
      c.ok = c.problems.length === 0;
      return c;
    },
  });
  const checks = [
    check("git working tree is clean", async (c) => {
      // Without a repository (or a commit) there is nothing to tag and `git status` says nothing.
      if ((input.checkout ? input.checkout.head : await headCommit(input.rootDir)) === undefined) {
        c.problems.push({
          code: "GIT_NOT_A_REPOSITORY",
          message: `${input.rootDir} is not a git repository with a commit: releases are tagged at a commit`,
          hint: "run flotilla in a clone of the repository (git init and commit, or git clone)",
        });
        return;
      }
      if (input.allowDirty) return;
      // Tracked files only: a changed one means the release would differ from the commit. Untracked
      // files are what builds and the packages' own lifecycle scripts (prepublishOnly, prepack)
      // leave; counting them made the rerun after a successful release refuse the tree that run
      // left (exit 2 instead of "nothing to release"). `ci`'s version commit still counts them.
      const dirty = ((await gitOutput(input.rootDir, tools.gitStatusTracked())) ?? "").split("\n").filter(Boolean);
      if (dirty.length) {
        c.problems.push({
          code: "GIT_DIRTY",
          message: `the working tree has uncommitted changes (${dirty
            .slice(0, 5)
            .map((l) => l.slice(3))
            .join(", ")}${dirty.length > 5 ? ", …" : ""})`,
          hint: "commit or stash them, or pass --allow-dirty",
        });
      }
    }),
  ];
  if (input.stages.has("git") && input.config.git.tags && input.config.git.push) {
    checks.push(
      check("git remote origin exists", async (c) => {
        if (!(input.checkout ? input.checkout.origin !== undefined : await hasOrigin(input.rootDir))) {
          c.problems.push({
            code: "GIT_NO_ORIGIN",
            message: "the repository has no `origin` remote to push tags to",
            hint: 'add one (git remote add origin URL) or set "git": {"push": false}',
          });
        }
      }),
    );
  }
  const tagged = input.packages.filter((p) => !p.private || input.tagPrivate);
  if (input.stages.has("github") && input.config.github.releases !== false && input.config.git.tags && tagged.length > 0) {
    checks.push(
      check("GitHub token and repository known", (c) => {
        if (input.env.GITHUB_TOKEN && input.repo) return;
        c.problems.push({
          code: "GITHUB_NOT_CONFIGURED",
          message: !input.env.GITHUB_TOKEN
            ? "no GITHUB_TOKEN: GitHub releases cannot be created"
            : "cannot tell the GitHub repository (no GITHUB_REPOSITORY, origin is not a GitHub URL)",
          hint: `set ${[!input.env.GITHUB_TOKEN && "GITHUB_TOKEN", !input.repo && "GITHUB_REPOSITORY (OWNER/REPO)"].filter(Boolean).join(" and ")}, or turn releases off ("github": {"releases": false}) or pass --only npm --only images --only git`,
        });
      }),
      check(
        "GitHub repository reachable with the token",
        async (c) => {
          if (!input.env.GITHUB_TOKEN || !input.repo || !input.github) {
            c.skipped = !input.env.GITHUB_TOKEN ? "no GITHUB_TOKEN" : "repository unknown";
            return;
          }
          const r = await input.github.check();
          if (!r.ok) {
            c.problems.push({
              code: r.status === 401 ? "GITHUB_TOKEN_REFUSED" : r.status === 404 ? "GITHUB_REPO_NOT_FOUND" : "GITHUB_UNREACHABLE",
              message: `${input.config.github.apiUrl}: ${r.reason}`,
              hint:
                r.status === 401
                  ? "check GITHUB_TOKEN"
                  : r.status === 404
                    ? "check GITHUB_REPOSITORY and the token's access (contents: write)"
                    : "check GITHUB_API_URL (github.apiUrl)",
            });
          }
        },
        true,
      ),
    );
  }
  const imagePkgs = input.packages.filter((p) => p.dockerfile);
  if (input.stages.has("images") && imagePkgs.length > 0) {
    checks.push(
      check("Dockerfiles present and image names valid", (c) => {
        const unnamed: string[] = [];
        for (const p of imagePkgs) {
          const app = input.config.images.apps[p.name];
          const context = path.resolve(p.dir, app?.context ?? ".");
          const dockerfile = path.resolve(p.dir, p.dockerfile!);
          if (!existsSync(dockerfile)) {
            c.problems.push({
              code: "DOCKERFILE_MISSING",
              file: path.relative(input.rootDir, dockerfile),
              field: `images.apps.${p.name}.dockerfile`,
              message: `${p.name}: Dockerfile not found`,
              hint: "fix images.apps.<package>.dockerfile in flotilla.config.json (relative to the package folder)",
            });
          } else if (path.relative(context, dockerfile).startsWith("..")) {
            c.problems.push({
              code: "DOCKERFILE_OUTSIDE_CONTEXT",
              file: path.relative(input.rootDir, dockerfile),
              message: `${p.name}: the Dockerfile is outside the build context ${path.relative(input.rootDir, context) || "."}`,
              hint: "move it into the context or widen images.apps.<package>.context",
            });
          }
          const name = input.imageNames.get(p.name)!;
          if (!input.owner && !app?.name?.includes("/")) {
            unnamed.push(p.name);
          } else if (!OCI_REPO.test(splitImageName(name).repo)) {
            c.problems.push({
              code: "IMAGE_NAME_INVALID",
              field: `images.apps.${p.name}.name`,
              message: `${p.name}: "${name}" is not a valid image name (lowercase letters, digits, and . _ - separators)`,
              hint: `set images.apps["${p.name}"].name in flotilla.config.json`,
            });
          }
        }
        if (unnamed.length) c.problems.push(ownerUnknown(`cannot name the image${plural(unnamed)}`, unnamed));
      }),
      check("image registry credentials present", (c) => {
        if (input.imageAuth.username && input.imageAuth.password) return;
        c.problems.push({
          code: "IMAGE_CREDENTIALS_MISSING",
          message: `no credentials for ${[...input.ociRegistries.keys()].join(", ")}`,
          hint: "set FLOTILLA_IMAGE_REGISTRY_USERNAME/PASSWORD, or GITHUB_ACTOR and GITHUB_TOKEN",
        });
      }),
      check(
        "Docker daemon reachable",
        async (c) => {
          const { pingDocker } = await import("./adapters/docker.ts"); // tar-fs and dockerignore: only when images are on
          const r = await pingDocker(await input.docker());
          if (!r.ok)
            c.problems.push({
              code: "DOCKER_UNREACHABLE",
              message: `the Docker daemon does not answer: ${r.reason}`,
              hint: "start dockerd, or set DOCKER_HOST",
            });
        },
        true,
      ),
      check(
        "image registry credentials accepted",
        async (c) => {
          if (!input.imageAuth.username || !input.imageAuth.password) {
            c.skipped = "no credentials";
            return;
          }
          for (const [host, reg] of input.ociRegistries) {
            const r = await reg.check();
            if (!r.ok)
              c.problems.push({
                code: r.reason === "credentials refused" ? "IMAGE_CREDENTIALS_REFUSED" : "IMAGE_REGISTRY_UNREACHABLE",
                message: `${host}: ${r.reason}`,
                hint: "check FLOTILLA_IMAGE_REGISTRY_USERNAME/PASSWORD (or GITHUB_ACTOR/GITHUB_TOKEN with packages: write)",
              });
          }
        },
        true,
      ),
    );
  }
  if (npmOn) {
    checks.push(
      check("npm token present", (c) => {
        if (!input.npmToken) {
          c.problems.push({
            code: "NPM_TOKEN_MISSING",
            message: `no npm token: it is needed to read and publish ${publicPkgs.length} public package(s)`,
            hint: "set NODE_AUTH_TOKEN or GITHUB_TOKEN (in GitHub Actions: permissions: packages: write)",
          });
        }
      }),
      check("npm package names valid", (c) => {
        for (const p of publicPkgs) {
          const v = validateNpmName(p.name);
          if (v.validForNewPackages) continue;
          c.problems.push({
            code: "NPM_NAME_INVALID",
            file: `${p.relDir}/package.json`,
            field: "name",
            package: p.name,
            message: `"${p.name}" is not a valid npm package name: ${[...(v.errors ?? []), ...(v.warnings ?? [])].join("; ")}`,
            hint: 'rename the package (lowercase, URL-safe: @scope/name), or mark it "private": true if it is not published',
          });
        }
      }),
      check("npm provenance possible where publishConfig asks for it", (c) => {
        const registry = (p: WorkspacePackage) => npmRegistryFor(p.manifest, input.config.npm);
        const pkgs = publicPkgs.map((p) => ({ ...p, registry: registry(p), githubPackages: isGithubPackages(registry(p)) }));
        c.problems.push(...provenanceProblems(pkgs, input.env));
      }),
      check("GitHub Packages rules (scope = owner, repository field)", (c) => {
        const unchecked: string[] = [];
        for (const p of publicPkgs) {
          const registry = npmRegistryFor(p.manifest, input.config.npm);
          if (!isGithubPackages(registry)) continue;
          const scope = /^@([^/]+)\//.exec(p.name)?.[1];
          const file = `${p.relDir}/package.json`;
          if (!scope) {
            c.problems.push({
              code: "GHP_UNSCOPED",
              file,
              field: "name",
              message: `${p.name} has no scope; GitHub Packages only takes scoped packages (@OWNER/name)`,
              hint: `rename it to @${input.owner ?? "OWNER"}/${p.name}`,
            });
          } else if (!input.owner) {
            unchecked.push(p.name);
          } else if (scope.toLowerCase() !== input.owner.toLowerCase()) {
            c.problems.push({
              code: "GHP_SCOPE_NOT_OWNER",
              file,
              field: "name",
              message: `${p.name}: scope @${scope} is not the owner "${input.owner}"; GitHub Packages would refuse it`,
              hint: `rename it to @${input.owner.toLowerCase()}/${p.name.split("/")[1]}, or set publishConfig.registry to another registry, or set FLOTILLA_NPM_REGISTRY`,
            });
          }
          if (!p.manifest.repository)
            c.warnings.push(
              `${file}: no "repository" field; GitHub links the package to its repository through it (add {"type": "git", "url": "https://github.com/${input.repo ? `${input.repo.owner}/${input.repo.repo}` : `${input.owner ?? "OWNER"}/REPO`}.git", "directory": "${p.relDir}"})`,
            );
        }
        if (unchecked.length) c.problems.push(ownerUnknown(`cannot check the scope of the package${plural(unchecked)}`, unchecked));
      }),
      check(
        "npm registry reachable and token accepted",
        async (c) => {
          if (!input.npmToken) {
            c.skipped = "no npm token";
            return;
          }
          for (const [url, reg] of input.registries) {
            const r = await reg.whoami();
            if (!r.ok) {
              // Say which variable the token came from: without NODE_AUTH_TOKEN it is GITHUB_TOKEN's,
              // which only GitHub Packages takes (found by a helper trying the CLI as a new user).
              const from = input.env.NODE_AUTH_TOKEN ? "NODE_AUTH_TOKEN" : "GITHUB_TOKEN";
              const refused = r.reason === "token refused";
              c.problems.push({
                code: refused ? "NPM_TOKEN_REFUSED" : "NPM_REGISTRY_UNREACHABLE",
                message: refused
                  ? `${url}: token refused (the token from ${from}${from === "GITHUB_TOKEN" ? "; NODE_AUTH_TOKEN is not set" : ""})`
                  : `${url}: ${r.reason}`,
                hint: refused
                  ? from === "GITHUB_TOKEN"
                    ? `set NODE_AUTH_TOKEN to a token ${url} accepts for publishing (GITHUB_TOKEN is used only when it is unset)`
                    : "check NODE_AUTH_TOKEN and its packages:write permission"
                  : "check the registry URL (npm.registry, FLOTILLA_NPM_REGISTRY) and the network",
              });
            }
          }
        },
        true,
      ),
    );
  }
  checks.push(...buildChecks(input));
  return checks;
}

/**
 * Dependency cycles among the packages this run publishes (SPEC §4: knowable before any side
 * effect, so exit 2): pnpm's graph sequencer finds them, as it orders `pnpm -r publish`.
 */
export function publishCycles(pkgs: Pick<WorkspacePackage, "name" | "internalDeps" | "relDir">[]): Problem[] {
  const names = new Set(pkgs.map((p) => p.name));
  const graph = new Map(pkgs.map((p) => [p.name, p.internalDeps.filter((d) => names.has(d))]));
  const { cycles } = graphSequencer(graph, [...names]);
  return cycles.map((cycle) => ({
    code: "NPM_DEPENDENCY_CYCLE",
    file: `${pkgs.find((p) => p.name === cycle[0])?.relDir}/package.json`,
    package: cycle[0],
    message: `dependency cycle among packages to publish: ${[...cycle, cycle[0]].join(" → ")}; no order publishes each after its dependencies`,
    hint: "break the cycle (move one of these dependencies to devDependencies), or make one of the packages private",
  }));
}

/**
 * A release tag `<name>@<version>` that origin already has on ANOTHER commit, for a version whose
 * artifacts this run would still publish or build (SPEC §4: knowable before any side effect, so
 * exit 2). Publishing would put this commit's content under a version whose tag names another
 * commit, and the tag would be skipped silently (tags never move). A tag elsewhere is normal for a
 * version released earlier (later commits keep its version): then nothing is built, and this
 * check stays quiet. Reads origin only when such a unit exists (rare), peeling annotated tags.
 */
export async function tagsOnOtherCommits(
  rootDir: string,
  units: readonly {
    name: string;
    version: string;
    pkg: { relDir: string };
    npm: { action: string } | null;
    image: { action: string } | null;
    gitTag: { tag: string; action: string } | null;
  }[],
  head: string | undefined,
): Promise<Problem[]> {
  const suspects = units.filter((u) => u.gitTag?.action === "none" && (u.npm?.action === "publish" || u.image?.action === "build"));
  if (!head || suspects.length === 0) return [];
  // `git ls-remote` directly (not adapters/git's remoteTags): that one reads `--refs`, which does
  // not peel annotated tags to their commits.
  const { execa } = await import("execa"); // rare: only when such a unit exists
  const r = await execa("git", ["ls-remote", "--tags", "origin", ...suspects.map((u) => `refs/tags/${u.gitTag!.tag}`)], {
    cwd: rootDir,
    reject: false,
  });
  const commits = new Map<string, string>();
  for (const line of r.stdout.split("\n")) {
    const m = /^([0-9a-f]+)\s+refs\/tags\/(.+?)(\^\{\})?$/.exec(line.trim());
    if (m && (m[3] || !commits.has(m[2]!))) commits.set(m[2]!, m[1]!);
  }
  return suspects.flatMap((u) => {
    const at = commits.get(u.gitTag!.tag);
    if (!at || at === head) return [];
    const what = [u.npm?.action === "publish" ? "npm" : "", u.image?.action === "build" ? "image" : ""].filter(Boolean).join(" and ");
    return [
      {
        code: "GIT_TAG_ON_OTHER_COMMIT",
        file: `${u.pkg.relDir}/package.json`,
        field: "version",
        package: u.name,
        message: `tag ${u.gitTag!.tag} is on origin at ${at.slice(0, 12)}, not at this commit ${head.slice(0, 12)}, but the ${what} release of ${u.name}@${u.version} does not exist yet: releasing it here would publish this commit's content under a tag that names another commit`,
        hint: `release from ${at.slice(0, 12)} (git checkout ${at.slice(0, 12)}), or bump the version of ${u.name}; if the tag is wrong, delete it on origin first (git push origin :refs/tags/${u.gitTag!.tag})`,
      },
    ];
  });
}

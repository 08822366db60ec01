import { dirtyFiles, hasOrigin } from "./adapters/git.ts";
import type { NpmRegistry } from "./adapters/npm-registry.ts";
import type { Config } from "./config/load.ts";
import type { Problem } from "./errors.ts";
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
}

export interface PreflightCheck {
  name: string;
  ok: boolean;
  problems: Problem[];
  warnings: string[];
}

/** True for GitHub Packages' npm registry (github.com, GHEC data residency, GHES). */
export function isGithubPackages(registry: string): boolean {
  const host = new URL(registry).host;
  return (
    host === "npm.pkg.github.com" ||
    (/^npm\.[\w.-]+$/.test(host) && host.endsWith(".ghe.com")) ||
    new URL(registry).pathname.startsWith("/_registry/npm")
  );
}

/**
 * Every check of SPEC §5.2, with no side effects. Each returns its problems; publish collects
 * them all and stops with exit 2, doctor prints each as it runs.
 */
export function preflightChecks(input: PreflightInput): { name: string; run: () => Promise<PreflightCheck> }[] {
  const publicPkgs = input.packages.filter((p) => !p.private);
  const npmOn = input.stages.has("npm") && publicPkgs.length > 0;
  const check = (name: string, fn: (c: PreflightCheck) => Promise<void> | void) => ({
    name,
    run: async () => {
      const c: PreflightCheck = { name, ok: true, problems: [], warnings: [] };
      await fn(c);
      c.ok = c.problems.length === 0;
      return c;
    },
  });
  const checks = [
    check("git working tree is clean", async (c) => {
      if (input.allowDirty) return;
      const dirty = await dirtyFiles(input.rootDir);
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
        if (!(await hasOrigin(input.rootDir))) {
          c.problems.push({
            code: "GIT_NO_ORIGIN",
            message: "the repository has no `origin` remote to push tags to",
            hint: 'add one (git remote add origin URL) or set "git": {"push": false}',
          });
        }
      }),
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
      check("GitHub Packages rules (scope = owner, repository field)", (c) => {
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
            c.problems.push({
              code: "OWNER_UNKNOWN",
              file,
              message: `cannot check ${p.name} against the owner: no owner known`,
              hint: 'set "owner" in flotilla.config.json or GITHUB_REPOSITORY_OWNER',
            });
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
              `${file}: no "repository" field; GitHub links the package to its repository through it (add {"type": "git", "url": "https://github.com/${input.owner ?? "OWNER"}/REPO.git", "directory": "${p.relDir}"})`,
            );
        }
      }),
      check("npm registry reachable and token accepted", async (c) => {
        if (!input.npmToken) return;
        for (const [url, reg] of input.registries) {
          const r = await reg.whoami();
          if (!r.ok) {
            c.problems.push({
              code: r.reason === "token refused" ? "NPM_TOKEN_REFUSED" : "NPM_REGISTRY_UNREACHABLE",
              message: `${url}: ${r.reason}`,
              hint:
                r.reason === "token refused"
                  ? "check NODE_AUTH_TOKEN / GITHUB_TOKEN and its packages:write permission"
                  : "check the registry URL (npm.registry, FLOTILLA_NPM_REGISTRY) and the network",
            });
          }
        }
      }),
    );
  }
  return checks;
}

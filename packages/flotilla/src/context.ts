import { readConfig as readChangesetsConfig } from "@changesets/config";
import picomatch from "picomatch";
import { originUrl } from "./adapters/git.ts";
import { GitHub, type RepoRef, repoRef } from "./adapters/github.ts";
import { NpmRegistry } from "./adapters/npm-registry.ts";
import { OciRegistry, splitImageName } from "./adapters/oci-registry.ts";
import { type Config, type Env, loadConfig } from "./config/load.ts";
import { InputError } from "./errors.ts";
import type { Stage } from "./plan/publish-plan.ts";
import { imageNameFor, npmRegistryFor } from "./plan/release-plan.ts";
import { type Secrets, secretsFromEnv } from "./secrets.ts";
import { discoverWorkspace, findWorkspaceRoot, type Workspace } from "./workspace/discover.ts";
import { resolveOwner } from "./workspace/owner.ts";

export interface CommonOptions {
  cwd: string;
  configPath?: string;
  env: Env;
  filter?: string[];
  only?: Stage[];
}

/** Everything discovered before any check or side effect (SPEC §5.1), passed explicitly (STYLE 5). */
export interface ReleaseContext {
  rootDir: string;
  config: Config;
  workspace: Workspace;
  owner: string | undefined;
  env: Env;
  secrets: Secrets;
  npmToken: string | undefined;
  /** One client per distinct npm registry. */
  registries: Map<string, NpmRegistry>;
  stages: Set<Stage>;
  /** Package names matched by --filter (undefined: all). */
  only: Set<string> | undefined;
  tagPrivate: boolean;
  /** Image repository name per package with a Dockerfile. */
  imageNames: Map<string, string>;
  /** One OCI client per registry host. */
  ociRegistries: Map<string, OciRegistry>;
  imageAuth: { username: string | undefined; password: string | undefined };
  /** GitHub client when the github stage can run (token and repository known). */
  github: GitHub | undefined;
  repo: RepoRef | undefined;
}

export async function discover(opts: CommonOptions): Promise<ReleaseContext> {
  const rootDir = findWorkspaceRoot(opts.cwd);
  const config = await loadConfig(rootDir, { configPath: opts.configPath, env: opts.env });
  const workspace = await discoverWorkspace(rootDir, config);
  const owner = resolveOwner(config.owner, opts.env, await originUrl(rootDir));
  const secrets = secretsFromEnv(opts.env);
  const npmToken = opts.env.NODE_AUTH_TOKEN || opts.env.GITHUB_TOKEN || undefined;
  const registries = new Map<string, NpmRegistry>();
  for (const p of workspace.packages) {
    if (p.private) continue;
    const url = npmRegistryFor(p.manifest, config.npm);
    if (!registries.has(url)) registries.set(url, new NpmRegistry({ url, token: npmToken }));
  }
  let only: Set<string> | undefined;
  if (opts.filter?.length) {
    const match = picomatch(opts.filter);
    only = new Set(workspace.packages.filter((p) => match(p.name)).map((p) => p.name));
    if (only.size === 0) {
      throw new InputError([
        {
          code: "FILTER_NO_MATCH",
          field: "--filter",
          message: `no workspace package matches ${opts.filter.map((f) => JSON.stringify(f)).join(", ")}`,
          hint: `packages: ${workspace.packages.map((p) => p.name).join(", ")}`,
        },
      ]);
    }
  }
  const stages = new Set<Stage>(opts.only?.length ? opts.only : ["npm", "images", "git", "github"]);
  const cs = await readChangesetsConfig(rootDir, workspace.manypkg).catch(() => undefined);
  const tagPrivate = cs?.config?.privatePackages.tag ?? false;
  const imageNames = new Map<string, string>();
  const ociRegistries = new Map<string, OciRegistry>();
  const imageAuth = {
    username: opts.env.FLOTILLA_IMAGE_REGISTRY_USERNAME || opts.env.GITHUB_ACTOR || undefined,
    password: opts.env.FLOTILLA_IMAGE_REGISTRY_PASSWORD || opts.env.GITHUB_TOKEN || undefined,
  };
  for (const p of workspace.packages) {
    if (!p.dockerfile) continue;
    const name = imageNameFor(p.name, config, owner);
    imageNames.set(p.name, name);
    const { host } = splitImageName(name);
    if (!ociRegistries.has(host)) ociRegistries.set(host, new OciRegistry({ host, ...imageAuth }));
  }
  const repo = repoRef(opts.env, await originUrl(rootDir));
  const github =
    stages.has("github") && opts.env.GITHUB_TOKEN && repo
      ? await GitHub.create({ token: opts.env.GITHUB_TOKEN, baseUrl: config.github.apiUrl, ref: repo })
      : undefined;
  return {
    rootDir,
    config,
    workspace,
    owner,
    env: opts.env,
    secrets,
    npmToken,
    registries,
    stages,
    only,
    tagPrivate,
    imageNames,
    ociRegistries,
    imageAuth,
    github,
    repo,
  };
}

/** The registry client for a package (its `publishConfig.registry`, or the configured one). */
export function registryFor(ctx: ReleaseContext, name: string): NpmRegistry {
  const pkg = ctx.workspace.byName.get(name);
  if (!pkg) throw new Error(`unknown package ${name}`);
  const reg = ctx.registries.get(npmRegistryFor(pkg.manifest, ctx.config.npm));
  if (!reg) throw new Error(`no registry client for ${name}`);
  return reg;
}

export function ociFor(ctx: ReleaseContext, imageName: string): OciRegistry {
  const reg = ctx.ociRegistries.get(splitImageName(imageName).host);
  if (!reg) throw new Error(`no registry client for ${imageName}`);
  return reg;
}

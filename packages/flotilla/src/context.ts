import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
import { originUrl } from "./adapters/git.ts";
import { GitHub, type RepoRef, repoRef } from "./adapters/github.ts";
import { NpmRegistry } from "./adapters/npm-registry.ts";
import { OciRegistry, splitImageName } from "./adapters/oci-registry.ts";
import { tools } from "./adapters/tools.ts";
import { type Config, type Env, loadConfig } from "./config/load.ts";
import { InputError, type Problem } from "./errors.ts";
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
  /**
   * The commit being released and origin's URL, read once here: every phase asks for them, and
   * each ask was a git process (0.1–0.5 s apiece on a loaded runner; issue 12's no-op).
   */
  checkout: Checkout;
}

/** HEAD (undefined: no repository or no commit) and origin's URL (undefined: no origin remote). */
export interface Checkout {
  head: string | undefined;
  origin: string | undefined;
}

export async function discover(opts: CommonOptions): Promise<ReleaseContext> {
  const rootDir = findWorkspaceRoot(opts.cwd);
  // The two git processes run while this process reads the config and the workspace (neither
  // fails: no repository or no origin reads as undefined).
  const checkout = Promise.all([originUrl(rootDir), gitOutput(rootDir, tools.gitHead()).then((h) => h?.trim() || undefined)]);
  const config = await loadConfig(rootDir, { configPath: opts.configPath, env: opts.env });
  const workspace = await discoverWorkspace(rootDir, config);
  const endpointProblems = checkEndpoints(config, workspace, opts.env);
  if (endpointProblems.length) throw new InputError(endpointProblems);
  const [origin, head] = await checkout;
  const owner = resolveOwner(config.owner, opts.env, origin);
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
  const tagPrivate = await tagsPrivatePackages(rootDir);
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
  const repo = repoRef(opts.env, origin);
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
    checkout: { head, origin },
  };
}

/**
 * changesets' `privatePackages.tag` (whether private packages get git tags): `true` or
 * `{ "version": true, "tag": true }`; absent, false, or any other form: false (changesets 3's
 * defaults). Read from .changeset/config.json directly, not through @changesets/config, whose
 * validation builds the dependents graph of every package to answer this one boolean (31 ms of
 * a 1,000-package no-op). `{ "version": false, "tag": true }` is invalid to changesets and reads
 * as false, as does a file that is not JSON. One difference, deliberate: a config changesets
 * refuses for another field (`"access": "bogus"`) gave false before and now honours its
 * `privatePackages` (`plan` and `version` read the whole config through changesets and refuse it).
 */
export async function tagsPrivatePackages(rootDir: string): Promise<boolean> {
  let cfg: { privatePackages?: unknown };
  try {
    cfg = JSON.parse(await readFile(path.join(rootDir, ".changeset", "config.json"), "utf8")) as typeof cfg;
  } catch {
    return false;
  }
  const pp = cfg?.privatePackages as boolean | { version?: unknown; tag?: unknown } | undefined;
  if (pp === true) return true;
  return typeof pp === "object" && pp !== null && pp.tag === true && pp.version === true;
}

/**
 * stdout of a read-only git command (untrimmed), undefined when it fails. Node's execFile, not
 * execa (as adapters/git's originUrl): execa's ~140 modules were a third of what a no-op publish
 * loaded.
 */
export function gitOutput(cwd: string, [cmd, args]: readonly [string, readonly string[]]): Promise<string | undefined> {
  return new Promise((resolve) =>
    execFile(cmd, args, { cwd, maxBuffer: 256 * 1024 * 1024 }, (err, stdout) => resolve(err ? undefined : stdout)),
  );
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

const isHttpUrl = (v: string) => {
  try {
    return ["http:", "https:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
};

/** An OCI registry host as image references spell it: `host[:port]`, optionally a namespace path. */
const REGISTRY_HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/**
 * Registry and API endpoints that cannot be addressed are input errors (SPEC §4), reported before
 * any client is built: a bad URL would otherwise surface as an "unexpected error" or as retries
 * of requests that can never be sent. Each problem names the variable, config field or package.
 */
export function checkEndpoints(config: Config, workspace: Workspace, env: Env): Problem[] {
  const problems: Problem[] = [];
  const configFile = config.file ? "flotilla.config.json" : undefined;
  const url = (value: string | undefined, envName: string, field: string, example: string) => {
    if (value === undefined || isHttpUrl(value)) return;
    const fromEnv = Boolean(env[envName]);
    problems.push({
      code: "ENDPOINT_INVALID",
      ...(fromEnv ? { field: envName } : { ...(configFile ? { file: configFile } : {}), field }),
      message: `${JSON.stringify(value)} is not an http(s) URL`,
      hint: fromEnv ? `set ${envName} to a URL such as ${example}, or unset it` : `set ${field} to a URL such as ${example}`,
    });
  };
  url(config.npm.registry, "FLOTILLA_NPM_REGISTRY", "npm.registry", "https://npm.pkg.github.com");
  url(config.github.apiUrl, "GITHUB_API_URL", "github.apiUrl", "https://api.github.com (GitHub Enterprise Server: https://HOST/api/v3)");
  if (!REGISTRY_HOST.test(config.images.registry)) {
    const fromEnv = Boolean(env.FLOTILLA_IMAGE_REGISTRY);
    problems.push({
      code: "ENDPOINT_INVALID",
      ...(fromEnv ? { field: "FLOTILLA_IMAGE_REGISTRY" } : { ...(configFile ? { file: configFile } : {}), field: "images.registry" }),
      message: `${JSON.stringify(config.images.registry)} is not a registry host (host[:port], no scheme)`,
      hint: `set ${fromEnv ? "FLOTILLA_IMAGE_REGISTRY" : "images.registry"} to a host such as ghcr.io or localhost:5000`,
    });
  }
  const ghRepo = env.GITHUB_REPOSITORY;
  if (ghRepo && !/^[\w.-]+\/[\w.-]+$/.test(ghRepo)) {
    problems.push({
      code: "ENDPOINT_INVALID",
      field: "GITHUB_REPOSITORY",
      message: `${JSON.stringify(ghRepo)} is not OWNER/REPO`,
      hint: "set GITHUB_REPOSITORY to OWNER/REPO (e.g. acme/monorepo), or unset it to use the origin URL",
    });
  }
  if (!config.npm.registryFromEnv) {
    for (const p of workspace.packages) {
      const reg = (p.manifest.publishConfig as { registry?: unknown } | undefined)?.registry;
      if (p.private || reg === undefined || (typeof reg === "string" && isHttpUrl(reg))) continue;
      problems.push({
        code: "ENDPOINT_INVALID",
        file: `${p.relDir}/package.json`,
        field: "publishConfig.registry",
        package: p.name,
        message: `${p.name}: ${JSON.stringify(reg)} is not an http(s) URL`,
        hint: "fix publishConfig.registry, or remove it to use npm.registry",
      });
    }
  }
  return problems;
}

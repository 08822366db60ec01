import type { Env } from "../config/load.ts";

/**
 * Owner (SPEC §3): config `owner`, else GITHUB_REPOSITORY_OWNER, else the owner part of
 * GITHUB_REPOSITORY, else parsed from the origin remote URL. Undefined when none is known.
 */
export function resolveOwner(configOwner: string | undefined, env: Env, originUrl: string | undefined): string | undefined {
  if (configOwner) return configOwner;
  if (env.GITHUB_REPOSITORY_OWNER) return env.GITHUB_REPOSITORY_OWNER;
  const fromRepo = env.GITHUB_REPOSITORY?.split("/")[0];
  if (fromRepo) return fromRepo;
  return originUrl ? ownerFromRemoteUrl(originUrl) : undefined;
}

/**
 * `https://github.com/acme/repo.git`, `git@github.com:acme/repo.git`, `ssh://git@host/acme/repo`
 * → `acme`. A local path (a bare repository as remote) has no owner.
 */
export function ownerFromRemoteUrl(url: string): string | undefined {
  const scp = /^[\w.-]+@[\w.-]+:([^/]+)\/[^/]+?(\.git)?\/?$/.exec(url);
  if (scp) return scp[1];
  const m = /^(?:https?|ssh|git):\/\/(?:[^@/]+@)?[^/]+\/([^/]+)\/[^/]+?(\.git)?\/?$/.exec(url);
  return m?.[1];
}

import { readFile } from "node:fs/promises";
import path from "node:path";

export type Access = "public" | "restricted";

const isAccess = (v: unknown): v is Access => v === "public" || v === "restricted";

/**
 * The `access` a publish request carries, as `changeset publish` decides it (it passes
 * `publishConfig.access || config.access` to `pnpm publish --access`): the package's
 * `publishConfig.access`, else the `access` written in `.changeset/config.json`, else flotilla's
 * `npm.access`, else none (the registry's default: restricted for a new scoped package on npmjs).
 * Unscoped packages are always public: a workspace-wide "restricted" is not sent for them (npm and
 * pnpm refuse the request outright), only their own publishConfig.access is.
 */
export function resolveAccess(input: {
  name: string;
  publishConfig: unknown;
  changesets: Access | undefined;
  config: Access | null | undefined;
}): Access | undefined {
  const own = (input.publishConfig as { access?: unknown } | undefined)?.access;
  if (isAccess(own)) return own;
  const shared = input.changesets ?? input.config ?? undefined;
  if (shared === "restricted" && !input.name.startsWith("@")) return undefined;
  return shared;
}

const cache = new Map<string, Promise<Access | undefined>>();

/**
 * `access` as written in `.changeset/config.json`. Read as plain JSON, not with
 * @changesets/config: that library fills in "restricted" when the key is absent, and only a
 * value the team wrote should beat flotilla's own `npm.access`. (The file was already validated
 * by changesets' library during discovery.)
 */
export function changesetsAccess(rootDir: string): Promise<Access | undefined> {
  let p = cache.get(rootDir);
  if (!p) {
    p = readFile(path.join(rootDir, ".changeset", "config.json"), "utf8")
      .then((text) => (JSON.parse(text) as { access?: unknown }).access)
      .then((a) => (isAccess(a) ? a : undefined))
      .catch(() => undefined);
    cache.set(rootDir, p);
  }
  return p;
}

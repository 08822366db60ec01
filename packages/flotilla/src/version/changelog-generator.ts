import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Config as ChangesetsConfig, ModCompWithPackage, NewChangesetWithCommit } from "@changesets/types";
import { InputError, type Problem } from "../errors.ts";
import { GENERATOR_SLOT } from "./generator-proxy.ts";

type Line = (...args: unknown[]) => Promise<string>;
interface Failure {
  /** Packages whose release line failed (a changeset's packages). */
  packages: string[];
  changesets: string[];
  /** Dependencies named in a failed "Updated dependencies" line (its package is not passed to the generator). */
  dependencies: string[];
  message: string;
}

/**
 * The changelog generator of `.changeset/config.json`, loaded by flotilla and watched, so a
 * generator that fails (changelog-github without a token) becomes exit 2 naming the generator,
 * the package and the missing setting, instead of changesets' unhandled rejection. apply-release-
 * plan computes every changelog entry before it writes any file, so nothing is written then.
 */
export interface WatchedGenerator {
  /** The changesets config to hand apply-release-plan (its changelog is the proxy). */
  config: ChangesetsConfig;
  /** After apply-release-plan threw: the input error to report, when the generator failed. */
  explain(err: unknown): InputError | undefined;
  release(): void;
}

export async function watchGenerator(
  config: ChangesetsConfig,
  rootDir: string,
  env: Record<string, string | undefined>,
): Promise<WatchedGenerator> {
  if (config.changelog === false) return { config, explain: () => undefined, release: () => {} };
  const [specifier, options] = config.changelog;
  const modulePath = resolveGenerator(specifier, rootDir);
  // An ESM-only generator (an `import`-only exports map) cannot be resolved this way: changesets
  // then loads it itself, unwatched.
  if (!modulePath) return { config, explain: () => undefined, release: () => {} };
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
  } catch (err) {
    throw new InputError([problem(specifier, [], `cannot be loaded: ${firstLine(err)}`, "check that it is installed and builds")]);
  }
  // The same unwrapping apply-release-plan does (CJS default, default-of-default).
  let fns = mod as { default?: unknown; getReleaseLine?: unknown; getDependencyReleaseLine?: unknown };
  if (fns.default) fns = fns.default as typeof fns;
  if (fns.default) fns = fns.default as typeof fns;
  if (typeof fns.getReleaseLine !== "function" || typeof fns.getDependencyReleaseLine !== "function") {
    throw new InputError([
      problem(specifier, [], "does not export getReleaseLine and getDependencyReleaseLine", "name a changesets changelog generator"),
    ]);
  }
  const failures: Failure[] = [];
  // Each call's promise gets a handler at once: apply-release-plan awaits them one group at a
  // time, so a second rejection would otherwise be unhandled and end the process.
  const watch = <T>(p: Promise<T>, onError: (e: unknown) => Failure): Promise<T> => {
    const watched = p.catch((e: unknown) => {
      failures.push(onError(e));
      throw e;
    });
    watched.catch(() => {});
    return watched;
  };
  const release = fns.getReleaseLine as Line;
  const dependency = fns.getDependencyReleaseLine as Line;
  (globalThis as Record<symbol, unknown>)[GENERATOR_SLOT] = {
    getReleaseLine: (cs: NewChangesetWithCommit, ...rest: unknown[]) =>
      watch(
        Promise.resolve().then(() => release(cs, ...rest)),
        (e) => ({
          packages: cs.releases.map((r) => r.name),
          changesets: [cs.id],
          dependencies: [],
          message: firstLine(e),
        }),
      ),
    getDependencyReleaseLine: (changesets: NewChangesetWithCommit[], deps: ModCompWithPackage[], ...rest: unknown[]) =>
      watch(
        Promise.resolve().then(() => dependency(changesets, deps, ...rest)),
        (e) => ({
          packages: [],
          changesets: [],
          dependencies: deps.map((d) => d.name),
          message: firstLine(e),
        }),
      ),
  };
  return {
    config: { ...config, changelog: [proxyPath(), options] },
    explain: () => {
      if (failures.length === 0) return undefined;
      // One problem per distinct message: the same missing token fails every call.
      const byMessage = new Map<string, Failure>();
      for (const f of failures) {
        const g = byMessage.get(f.message);
        if (!g) byMessage.set(f.message, { ...f });
        else for (const k of ["packages", "changesets", "dependencies"] as const) g[k] = [...new Set([...g[k], ...f[k]])];
      }
      return new InputError(
        [...byMessage.values()].map((f) => {
          const { missing, hint } = missingSetting(f.message, specifier, env);
          const where = [
            f.packages.length ? `${f.packages.join(", ")}${f.changesets.length ? ` (changeset ${f.changesets.join(", ")})` : ""}` : "",
            f.dependencies.length ? `the "Updated dependencies" line of ${f.dependencies.join(", ")}` : "",
          ]
            .filter(Boolean)
            .join(" and ");
          return problem(specifier, f.packages, `failed for ${where}${missing ? `: ${missing} is not set` : ""}: ${f.message}`, hint);
        }),
      );
    },
    release: () => {
      delete (globalThis as Record<symbol, unknown>)[GENERATOR_SLOT];
    },
  };
}

/** The settings changesets' own GitHub generators read; anything else is reported as the generator said. */
function missingSetting(message: string, specifier: string, env: Record<string, string | undefined>): { missing?: string; hint: string } {
  if (/GITHUB_TOKEN/.test(message) && !env.GITHUB_TOKEN)
    return {
      missing: "GITHUB_TOKEN",
      hint: `set GITHUB_TOKEN (a token with read:user and repo:status; in GitHub Actions: env GITHUB_TOKEN: \${{ secrets.GITHUB_TOKEN }}), or choose another "changelog" in .changeset/config.json`,
    };
  if (/provide a repo|GITHUB_REPOSITORY/.test(message))
    return {
      missing: "the repository",
      hint: `set it in .changeset/config.json ("changelog": ["${specifier}", { "repo": "OWNER/REPO" }]) or set GITHUB_REPOSITORY`,
    };
  return { hint: `fix what ${specifier} needs, or choose another "changelog" in .changeset/config.json; nothing was written` };
}

function problem(specifier: string, packages: string[], message: string, hint: string): Problem {
  return {
    code: "CHANGELOG_GENERATOR_FAILED",
    file: ".changeset/config.json",
    field: "changelog",
    ...(packages.length ? { package: packages.join(", ") } : {}),
    message: `changelog generator ${specifier} ${message}`,
    hint,
  };
}

/** Resolves like apply-release-plan: from `.changeset/`, else the default generator's own copy. */
function resolveGenerator(specifier: string, rootDir: string): string | undefined {
  try {
    return createRequire(path.join(rootDir, ".changeset", "x.js")).resolve(specifier);
  } catch (err) {
    if ((err as { code?: string }).code === "ERR_PACKAGE_PATH_NOT_EXPORTED") return undefined;
    // changesets' default, `@changesets/cli/changelog`, is @changesets/changelog-git re-exported.
    if (specifier === "@changesets/cli/changelog") return createRequire(import.meta.url).resolve("@changesets/changelog-git");
    throw new InputError([
      problem(
        specifier,
        [],
        `is not installed in the workspace (${firstLine(err)})`,
        `add it (pnpm add -Dw ${specifier.startsWith(".") ? "<its package>" : specifier}) or change "changelog" in .changeset/config.json`,
      ),
    ]);
  }
}

function proxyPath(): string {
  const self = fileURLToPath(import.meta.url);
  return path.join(path.dirname(self), `generator-proxy${path.extname(self)}`);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err)
    .split("\n")[0]!
    .trim();
}

import { readFile } from "node:fs/promises";
import path from "node:path";
import { closest, distance } from "fastest-levenshtein";
import type { z } from "zod";
import { InputError, type Problem } from "../errors.ts";
import type { FileConfig, ImageAppConfig, ImageTagKind } from "./schema.ts";

export const CONFIG_FILE = "flotilla.config.json";

/** The resolved configuration: file values, then environment overrides, then defaults. */
export interface Config {
  /** Absolute path of the config file that was read, if any. */
  file: string | undefined;
  owner: string | undefined;
  npm: {
    registry: string;
    /** True when FLOTILLA_NPM_REGISTRY set the registry: it then beats `publishConfig.registry` too. */
    registryFromEnv: boolean;
    access: "public" | "restricted" | undefined;
    promote: "direct" | "last";
  };
  images: {
    registry: string;
    tags: ImageTagKind[];
    /** The daemon's builder: BuildKit (as `docker build`), or the classic builder when asked. */
    builder: "buildkit" | "classic";
    /** Per-package settings of the packages configured as images (entries set to false are in `disabled`). */
    apps: Record<string, ImageAppConfig>;
    /** Packages configured `images.apps.<name>: false`: never images. */
    disabled: string[];
    /** Globs (package folder or name) selecting which Dockerfiles are images; undefined: all. */
    include: string[] | undefined;
    /** Globs (package folder or name) of Dockerfiles that are not images. */
    exclude: string[];
  };
  build: { tasks: string[] };
  version: { command: string | undefined };
  git: { tags: boolean; push: boolean };
  github: {
    releases: "per-package" | "combined" | false;
    apiUrl: string;
    versionBranch: string;
    /** Package whose releases take GitHub's "Latest"; false: none; undefined: the default rule. */
    latest: string | false | undefined;
  };
}

export const DEFAULT_NPM_REGISTRY = "https://npm.pkg.github.com";
export const DEFAULT_IMAGE_REGISTRY = "ghcr.io";
export const DEFAULT_IMAGE_TAGS: ImageTagKind[] = ["version", "minor", "major", "latest", "channel"];

export type Env = Record<string, string | undefined>;

/**
 * Reads and validates the config file (explicit `--config`, else `flotilla.config.json` in the
 * workspace root when present) and applies SPEC §8's environment overrides.
 */
export async function loadConfig(rootDir: string, opts: { configPath?: string; env: Env }): Promise<Config> {
  const file = opts.configPath ? path.resolve(opts.configPath) : path.join(rootDir, CONFIG_FILE);
  const shown = path.relative(rootDir, file).startsWith("..") ? file : path.relative(rootDir, file);
  let text: string | undefined;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    if (opts.configPath) {
      throw new InputError([{ code: "CONFIG_NOT_FOUND", file: shown, message: "config file not found", hint: "check the --config path" }]);
    }
  }
  let parsed: FileConfig = {};
  if (text !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new InputError([{ code: "CONFIG_INVALID_JSON", file: shown, message: `not valid JSON: ${(err as Error).message}` }]);
    }
    // zod loads only when there is a file to validate: zero-config `plan` starts faster (issue 8).
    const { configSchema } = await import("./schema.ts");
    const result = configSchema.safeParse(json);
    if (!result.success) throw new InputError(result.error.issues.map((i) => issueToProblem(i, shown, configSchema, json)));
    parsed = result.data;
  }
  return resolveConfig(parsed, opts.env, text === undefined ? undefined : file);
}

function issueToProblem(issue: z.core.$ZodIssue, file: string, schema: z.ZodType, json: unknown): Problem {
  const field = issue.path.length ? issue.path.map(String).join(".") : undefined;
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    const known = fieldsAt(schema, issue.path);
    message = `unknown field(s) ${issue.keys.map((k) => `"${k}"${didYouMean(k, known)}`).join(", ")}`;
  }
  if (issue.code === "invalid_value" && issue.values.every((v) => typeof v === "string")) {
    // A value of a fixed set ("publik" for npm.access): the allowed one it is a few edits from.
    const given = issue.path.reduce<unknown>((at, k) => (at as Record<PropertyKey, unknown> | undefined)?.[k], json);
    if (typeof given === "string") message += didYouMean(given, issue.values as string[]);
  }
  return {
    code: "CONFIG_INVALID",
    file,
    ...(field ? { field } : {}),
    message,
    hint: "see flotilla's config schema (schema/flotilla.config.schema.json in the flotilla package; README, Configuration) for the allowed fields and types",
  };
}

/** The field names the schema allows in the object at `at` (through optional, record and union). */
function fieldsAt(schema: z.ZodType, at: readonly PropertyKey[]): string[] {
  const objects: z.core.$ZodType[] = [];
  const walk = (t: z.core.$ZodType, rest: readonly PropertyKey[]): void => {
    const def = t._zod.def as z.core.$ZodTypeDef & {
      innerType?: z.core.$ZodType;
      shape?: Record<string, z.core.$ZodType>;
      valueType?: z.core.$ZodType;
      options?: z.core.$ZodType[];
    };
    if (def.type === "optional" && def.innerType) walk(def.innerType, rest);
    else if (def.type === "union") for (const o of def.options ?? []) walk(o, rest);
    else if (def.type === "record" && def.valueType && rest.length) walk(def.valueType, rest.slice(1));
    else if (def.type === "object" && def.shape) {
      if (!rest.length) objects.push(t);
      else if (def.shape[String(rest[0])]) walk(def.shape[String(rest[0])]!, rest.slice(1));
    }
  };
  walk(schema, at);
  return objects.flatMap((o) => Object.keys((o._zod.def as unknown as { shape: object }).shape));
}

/** ` (did you mean "access"?)` for a misspelt field within a few edits of an allowed one, else "". */
function didYouMean(key: string, known: string[]): string {
  if (!known.length) return "";
  // Compared lowercased, so "PUSH" finds "push" (a case slip is one letter, however long the key).
  const lower = known.map((k) => k.toLowerCase());
  const near = closest(key.toLowerCase(), lower);
  const field = known[lower.indexOf(near)]!;
  return distance(key.toLowerCase(), near) <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${field}"?)` : "";
}

export function resolveConfig(c: FileConfig, env: Env, file?: string): Config {
  return {
    file,
    owner: c.owner,
    npm: {
      registry: stripSlash(env.FLOTILLA_NPM_REGISTRY || c.npm?.registry || DEFAULT_NPM_REGISTRY),
      registryFromEnv: Boolean(env.FLOTILLA_NPM_REGISTRY),
      access: c.npm?.access,
      promote: c.npm?.promote ?? "direct",
    },
    images: {
      registry: env.FLOTILLA_IMAGE_REGISTRY || c.images?.registry || DEFAULT_IMAGE_REGISTRY,
      tags: c.images?.tags ?? DEFAULT_IMAGE_TAGS,
      builder: c.images?.builder ?? "buildkit",
      apps: Object.fromEntries(Object.entries(c.images?.apps ?? {}).filter((e): e is [string, ImageAppConfig] => e[1] !== false)),
      disabled: Object.entries(c.images?.apps ?? {})
        .filter(([, v]) => v === false)
        .map(([k]) => k),
      include: c.images?.include,
      exclude: c.images?.exclude ?? [],
    },
    build: { tasks: c.build?.tasks ?? ["build", "test"] },
    version: { command: c.version?.command },
    git: { tags: c.git?.tags ?? true, push: c.git?.push ?? true },
    github: {
      releases: c.github?.releases ?? "per-package",
      apiUrl: stripSlash(env.GITHUB_API_URL || c.github?.apiUrl || "https://api.github.com"),
      versionBranch: c.github?.versionBranch ?? "flotilla/version-packages",
      latest: c.github?.latest,
    },
  };
}

function stripSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

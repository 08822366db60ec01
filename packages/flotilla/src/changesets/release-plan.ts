import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import util, { inspect, stripVTControlCharacters } from "node:util";
import { assembleReleasePlan } from "@changesets/assemble-release-plan";
import { readConfig } from "@changesets/config";
import { parseChangesetFile } from "@changesets/parse";
import { readPreState } from "@changesets/pre";
import { readChangesets } from "@changesets/read";
import type { Config as ChangesetsConfig, NewChangeset, PreState, ReleasePlan } from "@changesets/types";
import { InputError, type Problem } from "../errors.ts";
import type { Workspace } from "../workspace/discover.ts";

export interface ChangesetsState {
  config: ChangesetsConfig;
  changesets: NewChangeset[];
  preState: PreState | undefined;
  plan: ReleasePlan;
  /** What changesets' libraries printed while reading and planning (e.g. dependency range warnings). */
  warnings: string[];
}

/**
 * Pending changesets → changesets' own release plan, computed by changesets' own libraries so
 * dependents, fixed/linked groups, pre mode and privatePackages behave exactly as `changeset
 * status` does. What changesets reports as a stack trace becomes a Problem naming the file.
 */
export async function readChangesetsState(ws: Workspace): Promise<ChangesetsState> {
  const warnings: string[] = [];
  const quiet = <T>(fn: () => Promise<T>) => captureConsole(fn, warnings);
  const dir = path.join(ws.rootDir, ".changeset");
  if (!existsSync(dir)) {
    throw new InputError([
      {
        code: "CHANGESET_DIR_MISSING",
        file: ".changeset",
        message: `the workspace root ${ws.rootDir} has no .changeset folder`,
        hint: "run `pnpm changeset init` in that folder (flotilla reads changesets to know what to release), or pass --cwd <the right workspace>",
      },
    ]);
  }
  // `changeset status` fails on a missing config.json (ENOENT); flotilla refuses it the same way, readably.
  if (!existsSync(path.join(dir, "config.json"))) {
    throw new InputError([
      {
        code: "CHANGESET_CONFIG_MISSING",
        file: ".changeset/config.json",
        message: `${path.join(dir, "config.json")} does not exist (changesets needs it, as \`changeset status\` does)`,
        hint: "run `pnpm changeset init` in the workspace root (it writes the default config.json; existing changesets are kept)",
      },
    ]);
  }
  let cfg: Awaited<ReturnType<typeof readConfig>>;
  try {
    cfg = await quiet(() => readConfig(ws.rootDir, ws.manypkg));
  } catch (err) {
    throw new InputError([
      {
        code: "CHANGESET_CONFIG_INVALID",
        file: ".changeset/config.json",
        message: `cannot read it: ${(err as Error).message}`,
        hint: "fix the JSON syntax (changesets' config format: https://github.com/changesets/changesets/blob/main/docs/config-file-options.md)",
      },
    ]);
  }
  if (!cfg.config) {
    throw new InputError(
      cfg.errors.map((message) => ({
        code: "CHANGESET_CONFIG_INVALID",
        file: ".changeset/config.json",
        message,
        hint: "fix that option in .changeset/config.json (package names must be workspace packages)",
      })),
    );
  }
  const config = cfg.config;

  let changesets: NewChangeset[];
  try {
    changesets = await quiet(() => readChangesets(ws.rootDir));
  } catch {
    throw new InputError(await diagnoseChangesetFiles(dir));
  }

  const problems: Problem[] = [];
  for (const cs of changesets) {
    for (const r of cs.releases) {
      if (!ws.byName.has(r.name) && !ws.unversioned.has(r.name)) {
        const file = `.changeset/${cs.id}.md`;
        const text = await readFile(path.join(ws.rootDir, file), "utf8").catch(() => "");
        const lineIdx = text.split(/\r?\n/).findIndex((l) => l.includes(r.name));
        problems.push({
          code: "CHANGESET_UNKNOWN_PACKAGE",
          file,
          ...(lineIdx >= 0 ? { line: lineIdx + 1 } : {}),
          field: r.name,
          message: `changeset names package "${r.name}", which is not in this workspace`,
          hint: `fix the name or delete the line; workspace packages: ${[...ws.byName.keys()].join(", ")}`,
        });
      }
    }
  }
  if (problems.length) throw new InputError(problems);

  let preState: PreState | undefined;
  try {
    preState = await quiet(() => readPreState(ws.rootDir));
  } catch (err) {
    throw new InputError([
      {
        code: "CHANGESET_PRE_INVALID",
        file: ".changeset/pre.json",
        message: `cannot read pre mode state: ${(err as Error).message}`,
        hint: "fix the JSON, or leave pre mode with `pnpm changeset pre exit`",
      },
    ]);
  }

  let plan: ReleasePlan;
  try {
    plan = await quiet(async () => assembleReleasePlan(changesets, ws.manypkg, config, preState));
  } catch (err) {
    const message = (err as Error).message;
    // changesets cannot bump a package without a version: say which one instead of its TypeError.
    const named = changesets.flatMap((c) => c.releases.filter((r) => r.type !== "none").map((r) => ({ id: c.id, name: r.name })));
    const unversioned = named.filter((r) => ws.unversioned.has(r.name));
    if (unversioned.length) {
      throw new InputError(
        unversioned.map((r) => ({
          code: "PACKAGE_INVALID_VERSION",
          file: `.changeset/${r.id}.md`,
          field: r.name,
          message: `changeset bumps ${r.name}, which has no valid version (${ws.unversioned.get(r.name)?.relDir}/package.json)`,
          hint: `give ${r.name} a version such as "1.0.0", or remove it from the changeset`,
        })),
      );
    }
    const mixed = /Found mixed changeset (\S+)/.exec(message);
    throw new InputError([
      {
        code: "CHANGESET_PLAN_FAILED",
        file: mixed ? `.changeset/${mixed[1]}.md` : ".changeset",
        message: message.replace(/\n/g, "; "),
        hint: mixed ? "split the changeset, or version private packages (privatePackages.version in .changeset/config.json)" : undefined,
      },
    ]);
  }
  return { config, changesets, preState, plan, warnings };
}

/**
 * changesets' libraries print straight to the console (e.g. get-dependents-graph's "must depend
 * on the current version" for each such range; dozens on a large repo). They are collected while
 * `fn` runs, ANSI colours removed, so the CLI shows them once, under one heading.
 */
async function captureConsole<T>(fn: () => Promise<T>, into: string[]): Promise<T> {
  const methods = ["log", "info", "warn", "error"] as const;
  const saved = methods.map((m) => console[m]);
  const collect = (...args: unknown[]) => {
    const line = stripVTControlCharacters(args.map((a) => (typeof a === "string" ? a : inspect(a))).join(" "));
    // changesets builds its dependents graph more than once per plan: the same warning repeats.
    if (!into.includes(line)) into.push(line);
  };
  for (const m of methods) console[m] = collect;
  // changesets 3 colours its warnings with node's styleText, which throws on `undefined`: the
  // "must depend on the current version" warning about a package without a version (astro's
  // link: fixtures) crashed the plan ("The "text" argument must be of type string"). Colours are
  // stripped here anyway, so styleText is plain String() while changesets runs (the live ESM
  // binding follows node:util through syncBuiltinESMExports).
  const styleText = util.styleText;
  util.styleText = ((_format: unknown, text: unknown) => String(text)) as typeof util.styleText;
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    methods.forEach((m, i) => {
      console[m] = saved[i] as (typeof console)[typeof m];
    });
    util.styleText = styleText;
    syncBuiltinESMExports();
  }
}

/** Parses each changeset file on its own so the error names the broken one(s). */
async function diagnoseChangesetFiles(dir: string): Promise<Problem[]> {
  const problems: Problem[] = [];
  const files = (await readdir(dir)).filter((f) => f.endsWith(".md") && !/^readme\.md$/i.test(f) && !f.startsWith("."));
  for (const f of files) {
    try {
      parseChangesetFile(await readFile(path.join(dir, f), "utf8"));
    } catch (err) {
      const [first, ...rest] = (err as Error).message.split("\n");
      problems.push({
        code: "CHANGESET_INVALID",
        file: `.changeset/${f}`,
        message: (first ?? "").replace(/^could not parse changeset - /, ""),
        hint:
          rest.find((l) => /^(Valid version types|Expected|YAML error)/.test(l)) ??
          'front matter must look like:\n---\n"package-name": patch\n---',
      });
    }
  }
  if (problems.length === 0) problems.push({ code: "CHANGESET_INVALID", file: ".changeset", message: "cannot read the changesets" });
  return problems;
}

import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
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
}

/**
 * Pending changesets → changesets' own release plan, computed by changesets' own libraries so
 * dependents, fixed/linked groups, pre mode and privatePackages behave exactly as `changeset
 * status` does. What changesets reports as a stack trace becomes a Problem naming the file.
 */
export async function readChangesetsState(ws: Workspace): Promise<ChangesetsState> {
  const dir = path.join(ws.rootDir, ".changeset");
  if (!existsSync(dir)) {
    throw new InputError([
      {
        code: "CHANGESET_DIR_MISSING",
        file: ".changeset",
        message: "this workspace has no .changeset folder",
        hint: "run `pnpm changeset init` (flotilla reads changesets to know what to release)",
      },
    ]);
  }
  const cfg = await readConfig(ws.rootDir, ws.manypkg);
  if (!cfg.config) {
    throw new InputError(
      cfg.errors.map((message) => ({
        code: "CHANGESET_CONFIG_INVALID",
        file: ".changeset/config.json",
        message,
      })),
    );
  }
  const config = cfg.config;

  let changesets: NewChangeset[];
  try {
    changesets = await readChangesets(ws.rootDir);
  } catch {
    throw new InputError(await diagnoseChangesetFiles(dir));
  }

  const problems: Problem[] = [];
  for (const cs of changesets) {
    for (const r of cs.releases) {
      if (!ws.byName.has(r.name)) {
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
    preState = await readPreState(ws.rootDir);
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
    plan = assembleReleasePlan(changesets, ws.manypkg, config, preState);
  } catch (err) {
    const message = (err as Error).message;
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
  return { config, changesets, preState, plan };
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

import { readFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { expect } from "vitest";
import { REPO_ROOT, runFlotilla } from "./cli.ts";
import { tempDir } from "./fixtures.ts";

export const CHANGESET_BIN = path.join(REPO_ROOT, "node_modules/.bin/changeset");

export interface Rel {
  name: string;
  type: string;
  newVersion: string;
}

/**
 * Releases as changesets' own CLI (3.x) reports them: `changeset status --output`, "none" entries
 * included (dependents whose ranges `version` rewrites), except those of packages without a
 * version (changesets lists them with no version; flotilla lists them as unversioned).
 */
export async function changesetsReleases(dir: string): Promise<Rel[]> {
  const out = path.join(tempDir(), "status.json");
  const r = await execa(CHANGESET_BIN, ["status", `--output=${out}`], { cwd: dir, reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  const json = JSON.parse(readFileSync(out, "utf8")) as { releases: (Rel & { newVersion: string | null })[] };
  return norm(json.releases.filter((x) => typeof x.newVersion === "string"));
}

export async function flotillaReleases(dir: string, args: string[] = []): Promise<Rel[]> {
  const r = await runFlotilla(["plan", "--json", ...args], { cwd: dir });
  expect(r.exitCode, r.stderr).toBe(0);
  return norm((JSON.parse(r.stdout) as { releases: Rel[] }).releases);
}

function norm(rs: Rel[]): Rel[] {
  return rs.map(({ name, type, newVersion }) => ({ name, type, newVersion })).sort((a, b) => a.name.localeCompare(b.name));
}

/** flotilla's plan equals changesets' (at least one real release in it); returns the releases. */
export async function expectSameAsChangesets(dir: string): Promise<Rel[]> {
  const ours = await flotillaReleases(dir);
  expect(ours).toEqual(await changesetsReleases(dir));
  expect(ours.filter((r) => r.type !== "none").length).toBeGreaterThan(0);
  return ours;
}

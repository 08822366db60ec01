import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { CHANGESET_BIN } from "./helpers/changesets-status.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, makeWorkspace, tempDir } from "./helpers/fixtures.ts";

/** A workspace in pre mode: two changesets already consumed by a pre release (listed in pre.json), one new. */
function preModeWorkspace(): string {
  return makeWorkspace({
    packages: [
      { name: "@x/a", version: "1.1.0-beta.0" },
      { name: "@x/b", version: "2.0.0", dependencies: { "@x/a": "workspace:^" } },
    ],
    changesets: { "old-one": { "@x/a": "minor" }, "old-two": { "@x/a": "patch" }, "new-one": { "@x/b": "patch" } },
    preState: { mode: "pre", tag: "beta", initialVersions: { "@x/a": "1.0.0", "@x/b": "2.0.0" }, changesets: ["old-one", "old-two"] },
  });
}

/** publish's warning lines (it stops at preflight without tokens: the warning comes before). */
async function publishWarnings(dir: string): Promise<string> {
  const r = await runFlotilla(["publish", "--dry-run"], { cwd: dir });
  return r.stdout;
}

describe("publish's pending-changesets warning counts what plan counts", () => {
  it("pre mode: the changesets pre.json lists as consumed are not pending (same count as changeset status)", async () => {
    const dir = preModeWorkspace();
    const out = path.join(tempDir(), "status.json");
    const status = await execa(CHANGESET_BIN, ["status", `--output=${out}`], { cwd: dir, reject: false });
    expect(status.exitCode, status.stderr).toBe(0);
    const theirs = (JSON.parse(readFileSync(out, "utf8")) as { changesets: { id: string }[] }).changesets.map((c) => c.id);
    const plan = await runFlotilla(["plan", "--json"], { cwd: dir });
    expect(plan.exitCode, plan.stderr).toBe(0);
    const ours = (JSON.parse(plan.stdout) as { changesets: string[] }).changesets;
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(["new-one"]);
    const warnings = await publishWarnings(dir);
    expect(warnings).toContain("warning: 1 changeset is pending");
    expect(warnings).not.toMatch(/[23] changesets are pending/);
  });

  it("a malformed pending changeset is warned about, naming the file", async () => {
    const dir = preModeWorkspace();
    writeFileSync(path.join(dir, ".changeset/broken.md"), '---\n"@x/a": patch\nno closing fence\n');
    gitCommitAll(dir, "broken changeset");
    const warnings = await publishWarnings(dir);
    expect(warnings).toMatch(/warning: pending changesets cannot be planned .*\.changeset\/broken\.md/);
  });

  it("a changeset naming an unknown package is warned about too", async () => {
    const dir = preModeWorkspace();
    writeFileSync(path.join(dir, ".changeset/ghost.md"), '---\n"@x/ghost": patch\n---\n\nx\n');
    gitCommitAll(dir, "ghost changeset");
    const warnings = await publishWarnings(dir);
    expect(warnings).toMatch(/warning: pending changesets cannot be planned .*\.changeset\/ghost\.md:2: @x\/ghost/);
  });
});

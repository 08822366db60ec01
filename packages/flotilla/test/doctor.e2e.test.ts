import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { envFor, releasableWorkspace, testbed, uniqueScope } from "./helpers/testbed.ts";

describe("flotilla doctor", () => {
  it("prints every check as it runs; all pass against the testbed", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace(
      [
        { name: `@${s}/lib`, version: "1.0.0" },
        { name: `@${s}/web-${s}`, version: "1.0.0", private: true, dir: "apps/web", dockerfile: true },
      ],
      { "flotilla.config.json": { npm: { promote: "last" } } },
    );
    const env = envFor(tb);
    expect((await runFlotilla(["publish", "--skip-build", "--only", "npm"], { cwd: dir, env })).exitCode).toBe(0);
    const r = await runFlotilla(["doctor"], { cwd: dir, env });
    expect(r.exitCode, r.stdout).toBe(0);
    for (const check of [
      "✓ config",
      "✓ owner",
      "✓ git working tree is clean",
      "✓ npm registry reachable and token accepted",
      "✓ Docker daemon reachable",
      "✓ image registry credentials accepted",
      "✓ GitHub repository reachable with the token",
      "✓ registry moves dist-tags (npm.promote: last)",
    ]) {
      expect(r.stdout).toContain(check);
    }
    expect(r.stdout).toContain(`set @${s}/lib latest → 1.0.0 (unchanged)`);
  });

  it("names each failure with its fix, exit 2", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    writeFileSync(path.join(dir, "packages/lib/index.js"), "changed\n"); // a tracked file
    const r = await runFlotilla(["doctor"], { cwd: dir, env: envFor(tb, { NODE_AUTH_TOKEN: "nope-nope" }) });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toMatch(
      /✗ git working tree is clean\n\s+the working tree has uncommitted changes \(packages\/lib\/index\.js\) — fix: commit or stash them, or pass --allow-dirty/,
    );
    expect(r.stdout).toMatch(
      /✗ npm registry reachable and token accepted\n\s+http:\/\/127\.0\.0\.1:\d+: token refused \(the token from NODE_AUTH_TOKEN\) — fix: check NODE_AUTH_TOKEN/,
    );
  });

  it("a read that cannot succeed is not attempted: shown as not checked, the missing token named once", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    const env = envFor(tb);
    delete env.NODE_AUTH_TOKEN;
    delete env.GITHUB_TOKEN;
    const r = await runFlotilla(["doctor"], { cwd: dir, env });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toMatch(/✗ npm token present\n\s+no npm token/);
    expect(r.stdout).toContain("– npm registry reachable and token accepted (not checked: no npm token)");
    expect(r.stdout).toMatch(/✗ GitHub token and repository known\n\s+no GITHUB_TOKEN/);
    expect(r.stdout).toContain("– GitHub repository reachable with the token (not checked: no GITHUB_TOKEN)");
    const json = await runFlotilla(["doctor", "--json"], { cwd: dir, env });
    const { checks } = JSON.parse(json.stdout) as { checks: { name: string; ok: boolean; skipped?: string }[] };
    expect(checks.find((c) => c.name === "npm registry reachable and token accepted")).toMatchObject({ skipped: "no npm token" });
  });
});

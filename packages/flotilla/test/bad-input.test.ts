import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { makeWorkspace, tempDir, treeDigest, writeTree } from "./helpers/fixtures.ts";

const base = () =>
  makeWorkspace({
    packages: [
      { name: "@x/a", version: "1.0.0" },
      { name: "@x/b", version: "2.0.0", dependencies: { "@x/a": "workspace:^" } },
    ],
    changesets: { good: { "@x/a": "patch" } },
  });

/** Runs `plan` (and `plan --json`): exit 2, the expected message, no stack trace, nothing changed. */
async function expectRejected(dir: string, ...expected: (string | RegExp)[]) {
  const before = treeDigest(dir);
  for (const args of [["plan"], ["plan", "--json"]]) {
    const r = await runFlotilla(args, { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(2);
    for (const e of expected) expect(r.stderr).toMatch(e);
    expect(r.stderr).toContain("nothing was changed");
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(r.stdout).toBe("");
  }
  expect(treeDigest(dir)).toBe(before);
}

describe("bad input → exit 2, the file and what is wrong, nothing changed", () => {
  it("a changeset with broken front matter", async () => {
    const dir = base();
    writeFileSync(path.join(dir, ".changeset/broken.md"), '---\n"@x/a": patch\nno closing fence\n');
    await expectRejected(dir, ".changeset/broken.md", /front ?matter/i);
  });

  it("a changeset with invalid YAML", async () => {
    const dir = base();
    writeFileSync(path.join(dir, ".changeset/yaml.md"), '---\n"@x/a": [patch\n---\n\nx\n');
    await expectRejected(dir, ".changeset/yaml.md", /YAML/);
  });

  it("a changeset naming an unknown package", async () => {
    const dir = base();
    writeFileSync(path.join(dir, ".changeset/ghost.md"), '---\n"@x/a": patch\n"@x/ghost": minor\n---\n\nx\n');
    await expectRejected(dir, ".changeset/ghost.md:3", /"@x\/ghost", which is not in this workspace/, /workspace packages: @x\/a, @x\/b/);
  });

  it("an invalid bump type", async () => {
    const dir = base();
    writeFileSync(path.join(dir, ".changeset/huge.md"), '---\n"@x/a": huge\n---\n\nx\n');
    await expectRejected(dir, ".changeset/huge.md", /invalid version type "huge"/, /major, minor, patch, none/);
  });

  it("an invalid version in a package.json", async () => {
    const dir = base();
    writeFileSync(path.join(dir, "packages/b/package.json"), JSON.stringify({ name: "@x/b", version: "2.0" }));
    await expectRejected(dir, "packages/b/package.json", /@x\/b has version "2\.0", which is not a valid semver version/);
  });

  it("a package.json that is not JSON", async () => {
    const dir = base();
    writeFileSync(path.join(dir, "packages/b/package.json"), '{ "name": "@x/b", ');
    await expectRejected(dir, /packages\/b\/package\.json: not valid JSON/);
  });

  it("a config field of the wrong type, and an unknown field, reported together", async () => {
    const dir = base();
    writeFileSync(path.join(dir, "flotilla.config.json"), JSON.stringify({ git: { tags: "yes" }, npm: { acess: "public" } }));
    await expectRejected(
      dir,
      "2 problems",
      /flotilla\.config\.json: git\.tags: .*boolean/i,
      /flotilla\.config\.json: npm: unknown field\(s\) "acess"/,
    );
  });

  it("a config file that is not JSON", async () => {
    const dir = base();
    writeFileSync(path.join(dir, "flotilla.config.json"), "{ owner: acme }");
    await expectRejected(dir, /flotilla\.config\.json: not valid JSON/);
  });

  it("a missing pnpm-workspace.yaml", async () => {
    const dir = base();
    rmSync(path.join(dir, "pnpm-workspace.yaml"));
    await expectRejected(dir, /no pnpm-workspace\.yaml in .* or any folder above it/, /--cwd/);
  });

  it("an unknown flag is a usage error", async () => {
    const r = await runFlotilla(["plan", "--bogus"], { cwd: writeTree({ "a.txt": "x" }, tempDir()) });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--bogus'/);
  });

  it("annotates the file under GitHub Actions", async () => {
    const dir = base();
    writeFileSync(path.join(dir, ".changeset/ghost.md"), '---\n"@x/ghost": minor\n---\n\nx\n');
    const r = await runFlotilla(["plan"], { cwd: dir, env: { GITHUB_ACTIONS: "true" } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("::error file=.changeset/ghost.md,line=2::");
  });
});

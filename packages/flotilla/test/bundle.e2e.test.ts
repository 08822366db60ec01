/**
 * The bundled CLI and the action's entry (scripts/bundle.ts, issue 12 item 6), built into a
 * temporary folder with no node_modules above it (as the action's ref is checked out in a user's
 * job): they must run on their own, print what tsc's build prints, and release for real.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, runFlotilla } from "./helpers/cli.ts";
import { makeWorkspace, tempDir } from "./helpers/fixtures.ts";
import { envFor, packument, releasableWorkspace, remoteTagNames, testbed, uniqueScope } from "./helpers/testbed.ts";

const pkgDir = path.join(REPO_ROOT, "packages/flotilla");
const DIST_BIN = path.join(pkgDir, "bin/flotilla.js");
let bundleDir = "";
const cli = () => path.join(bundleDir, "flotilla.mjs");
const action = () => path.join(bundleDir, "action.mjs");

/** Times the CLI entry was found missing while the rebuild ran (a release running from the bundle would have failed). */
let entryMissing = 0;

beforeAll(async () => {
  bundleDir = path.join(tempDir("flotilla-bundle-"), "bundle");
  // A bundle folder from an older build: the new build replaces it file by file (scripts/bundle.ts).
  mkdirSync(bundleDir);
  writeFileSync(path.join(bundleDir, "chunk-OLDBUILD.mjs"), "export {};\n");
  writeFileSync(path.join(bundleDir, "flotilla.mjs"), "throw new Error('the old build');\n");
  const build = spawn(process.execPath, [path.join(pkgDir, "scripts/bundle.ts"), "--outdir", bundleDir], { stdio: "ignore" });
  const built = new Promise<number | null>((resolve) => build.once("close", resolve));
  let running = true;
  void built.then(() => {
    running = false;
  });
  while (running) {
    if (!existsSync(path.join(bundleDir, "flotilla.mjs"))) entryMissing++;
    await new Promise((r) => setTimeout(r, 1));
  }
  expect(await built).toBe(0);
  // Nothing to resolve from: no node_modules in any folder above the bundle.
  for (let d = path.dirname(bundleDir); d !== path.dirname(d); d = path.dirname(d))
    expect(existsSync(path.join(d, "node_modules"))).toBe(false);
});

describe("the bundled CLI", () => {
  it("a rebuild replaces the old bundle in place: the entry is there throughout, stale files removed, no build folder left beside it", () => {
    expect(existsSync(path.join(bundleDir, "chunk-OLDBUILD.mjs"))).toBe(false);
    expect(readFileSync(path.join(bundleDir, "flotilla.mjs"), "utf8")).not.toContain("the old build");
    expect(readdirSync(path.dirname(bundleDir))).toEqual(["bundle"]);
    expect(entryMissing, "the entry was missing while the build ran").toBe(0);
  });

  it("prints the version and the same plan as tsc's build", async () => {
    const version = await runFlotilla(["--version"], { cwd: bundleDir, bin: cli() });
    expect(version).toMatchObject({ exitCode: 0, stdout: JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")).version });
    const examples = path.join(REPO_ROOT, "examples");
    const bundled = await runFlotilla(["plan", "--cwd", examples, "--json"], { cwd: bundleDir, bin: cli() });
    const built = await runFlotilla(["plan", "--cwd", examples, "--json"], { cwd: bundleDir, bin: DIST_BIN });
    expect(bundled.exitCode, bundled.stderr).toBe(0);
    expect(JSON.parse(bundled.stdout)).toEqual(JSON.parse(built.stdout));
    expect(JSON.parse(bundled.stdout).releases.length).toBeGreaterThan(0);
  });

  it("keeps lazy imports lazy: the entry does not contain npm's or Docker's clients", () => {
    const entry = readFileSync(cli(), "utf8");
    expect(entry.length).toBeLessThan(10_000);
    const chunks = readdirSync(bundleDir).filter((f) => f.endsWith(".mjs"));
    expect(chunks.some((f) => readFileSync(path.join(bundleDir, f), "utf8").includes("class Docker"))).toBe(false);
    expect(chunks.some((f) => /^docker-/.test(f))).toBe(true);
  });

  it("writes CHANGELOG.md with changesets' default generator when the workspace has no @changesets/cli", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@acme/lib", version: "1.0.0" }],
      changesets: { "brave-cats": { "@acme/lib": "minor" } },
      changesetConfig: { changelog: "@changesets/cli/changelog" },
    });
    const r = await runFlotilla(["version"], { cwd: dir, bin: cli() });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const changelog = readFileSync(path.join(dir, "packages/lib/CHANGELOG.md"), "utf8");
    // changelog-git's line: the short hash of the commit that added the changeset, then its summary.
    expect(changelog).toMatch(/## 1\.1\.0\n\n### Minor Changes\n\n- [0-9a-f]{7}: Change brave-cats\./);
  });

  it("dry-runs and publishes a package and an image against the testbed; the action entry reads INPUT_* and writes its outputs", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([
      { name: `@${s}/lib`, version: "1.0.0" },
      { name: `@${s}/web`, version: "1.0.0", private: true, dir: "apps/web", dockerfile: true },
    ]);
    const env = envFor(tb);
    const dry = await runFlotilla(["publish", "--dry-run", "--skip-build"], { cwd: dir, env, bin: cli() });
    expect(dry.exitCode, dry.stderr + dry.stdout).toBe(0);
    expect(dry.stdout).toContain(`@${s}/lib@1.0.0`);
    expect(await packument(tb, `@${s}/lib`)).toBeNull();

    const outputs = path.join(tempDir(), "github-output");
    writeFileSync(outputs, "");
    const r = await runFlotilla([], {
      cwd: dir,
      bin: action(),
      env: { ...env, INPUT_COMMAND: "publish", INPUT_ARGS: '--skip-build  --concurrency "2"', GITHUB_OUTPUT: outputs },
    });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect((await packument(tb, `@${s}/lib`))?.["dist-tags"].latest).toBe("1.0.0");
    expect(remoteTagNames(origin)).toEqual([`@${s}/lib@1.0.0`, `@${s}/web@1.0.0`]);
    // GITHUB_OUTPUT's multiline form, as @actions/core writes it: name<<delimiter, value, delimiter.
    const written = readFileSync(outputs, "utf8");
    const output = (name: string) => new RegExp(`^${name}<<(.+)\n([^]*?)\n\\1$`, "m").exec(written)?.[2];
    expect(output("published")).toBe("true");
    expect(JSON.parse(output("publishedPackages")!)).toEqual(
      expect.arrayContaining([
        { name: `@${s}/lib`, version: "1.0.0" },
        { name: `@${s}/web`, version: "1.0.0" },
      ]),
    );
    const images = JSON.parse(output("images")!) as { name: string; tags: string[] }[];
    expect(images).toHaveLength(1);
    expect(images[0]!.tags).toContain("1.0.0");
  });

  it("a workspace with turbo.json but no turbo installed is told to install it (exit 2): the bundle carries no turbo", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }], {
      "package.json": { name: "fixture-root", private: true, packageManager: "pnpm@12.4.2" },
      "turbo.json": { $schema: "https://turbo.build/schema.json", tasks: { build: {} } },
    });
    const r = await runFlotilla(["publish", "--dry-run"], { cwd: dir, env: envFor(tb), bin: cli() });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain("turbo.json is present but turbo is not installed in the workspace");
    expect(r.stderr).toContain("pnpm add -Dw turbo");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("the action entry refuses a bad argument as the CLI does (exit 2, usage)", async () => {
    const r = await runFlotilla([], { cwd: bundleDir, bin: action(), env: { INPUT_COMMAND: "plan", INPUT_ARGS: "--nope" } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown option '--nope'");
  });
});

import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { CHANGESET_BIN, changesetsReleases, expectSameAsChangesets } from "./helpers/changesets-status.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { makeWorkspace, type PkgSpec, tempDir } from "./helpers/fixtures.ts";

/**
 * Patterns seen in real pnpm + changesets monorepos (issue 8), each as a small fixture built in
 * code: `flotilla plan` must succeed wherever `changeset status` does, with the same releases.
 */

interface PlanJson {
  releases: {
    name: string;
    type: string;
    newVersion: string;
    npm: unknown;
    image: { name: string } | null;
    imageReason: string | null;
    gitTag: string | null;
  }[];
  unversioned: { name: string; dir: string; version?: unknown; rangeUpdate?: true }[];
  dockerfilesIgnored: { name: string; reason: string }[];
  warnings: string[];
  changesets: string[];
}

async function planJson(dir: string, args: string[] = []): Promise<PlanJson> {
  const r = await runFlotilla(["plan", "--json", ...args], { cwd: dir });
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as PlanJson;
}

const DOCKERFILE = "FROM node:24-slim\n";

/** Preloaded into `changeset status`: node's styleText made plain, as flotilla does while changesets runs. */
const STYLE_TEXT_PLAIN =
  'import util from "node:util"; import { syncBuiltinESMExports } from "node:module"; util.styleText = (_f, t) => String(t); syncBuiltinESMExports();';

describe("corpus: flotilla plan where changeset status works", () => {
  it('packages without a version, and with "version": null, are unversioned and never released', async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/core", version: "1.0.0" },
        { name: "@x/uses-core", version: "2.0.0", dependencies: { "@x/core": "workspace:^" } },
      ],
      changesets: { one: { "@x/core": "major" } },
      extra: {
        "packages/fixture-a/package.json": { name: "fixture-a", private: true, dependencies: { "@x/core": "workspace:*" } },
        "packages/fixture-b/package.json": { name: "fixture-b", private: true, version: null, devDependencies: { "@x/core": "^1.0.0" } },
        // A private container without a version (workers-sdk's container fixtures): never an image.
        "packages/fixture-b/Dockerfile": DOCKERFILE,
      },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.map((r) => r.name)).toEqual(["@x/core", "@x/uses-core"]);
    const plan = await planJson(dir);
    // Both depend on @x/core: changesets lists them as dependents (see the TanStack/query case).
    expect(plan.unversioned).toEqual([
      { name: "fixture-a", dir: "packages/fixture-a", rangeUpdate: true },
      { name: "fixture-b", dir: "packages/fixture-b", version: null, rangeUpdate: true },
    ]);
    expect(plan.releases.every((r) => r.image === null)).toBe(true);
    const verbose = await runFlotilla(["plan", "--verbose"], { cwd: dir });
    expect(verbose.exitCode, verbose.stderr).toBe(0);
    expect(verbose.stdout).toContain("Unversioned, never released (2):");
    expect(verbose.stdout).toContain('fixture-a (packages/fixture-a): no "version"');
    expect(verbose.stdout).toContain('fixture-b (packages/fixture-b): "version" is null');
    const short = await runFlotilla(["plan"], { cwd: dir });
    expect(short.stdout).toContain(
      "2 packages have no version and are never released; 2 of them are dependents whose ranges `flotilla version` may rewrite (--verbose lists them).",
    );
  });

  it("version-less dependents (TanStack/query's examples): the plan says version may rewrite their ranges, and it does", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/core", version: "1.0.0" }],
      changesets: { one: { "@x/core": "minor" } },
      extra: {
        "packages/example-range/package.json": { name: "example-range", private: true, dependencies: { "@x/core": "^1.0.0" } },
        "packages/example-ws/package.json": { name: "example-ws", private: true, dependencies: { "@x/core": "workspace:*" } },
        "packages/example-none/package.json": { name: "example-none", private: true },
      },
    });
    // changesets lists both dependents (bump "none", no version); flotilla's releases leave them out.
    const status = path.join(tempDir(), "status.json");
    await execa(CHANGESET_BIN, ["status", `--output=${status}`], { cwd: dir });
    const listed = (JSON.parse(readFileSync(status, "utf8")) as { releases: { name: string; type: string; newVersion?: string }[] })
      .releases;
    expect(
      listed
        .filter((r) => r.type === "none" && r.newVersion == null)
        .map((r) => r.name)
        .sort(),
    ).toEqual(["example-range", "example-ws"]);
    await expectSameAsChangesets(dir);
    const plan = await planJson(dir);
    expect(plan.unversioned).toEqual([
      { name: "example-none", dir: "packages/example-none" },
      { name: "example-range", dir: "packages/example-range", rangeUpdate: true },
      { name: "example-ws", dir: "packages/example-ws", rangeUpdate: true },
    ]);
    const short = await runFlotilla(["plan"], { cwd: dir });
    expect(short.stdout).toContain(
      "3 packages have no version and are never released; 2 of them are dependents whose ranges `flotilla version` may rewrite (--verbose lists them).",
    );
    const verbose = await runFlotilla(["plan", "--verbose"], { cwd: dir });
    expect(verbose.stdout).toContain(
      'example-range (packages/example-range): no "version"; a dependent: `flotilla version` may rewrite its ranges',
    );
    expect(verbose.stdout).toContain('example-none (packages/example-none): no "version"\n');
    // What the note announces: version rewrites the plain range (workspace:* stays as it is).
    const v = await runFlotilla(["version"], { cwd: dir });
    expect(v.exitCode, v.stderr).toBe(0);
    const manifest = (rel: string) => JSON.parse(readFileSync(path.join(dir, rel, "package.json"), "utf8"));
    expect(manifest("packages/example-range").dependencies).toEqual({ "@x/core": "^1.1.0" });
    expect(manifest("packages/example-ws").dependencies).toEqual({ "@x/core": "workspace:*" });
  });

  it("two private test apps with one name (sveltejs/kit's build-error apps): plan works as changeset status does", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/core", version: "1.0.0" }],
      changesets: { one: { "@x/core": "patch" } },
      extra: {
        "packages/app-one/package.json": { name: "copied-test-app", version: "0.0.1", private: true },
        "packages/app-two/package.json": { name: "copied-test-app", version: "0.0.1", private: true },
      },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels).toEqual([{ name: "@x/core", type: "patch", newVersion: "1.0.1" }]);
  });

  it("a changeset that bumps a package without a version is exit 2 naming the changeset and the package", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/core", version: "1.0.0" }],
      changesetConfig: { privatePackages: { version: true, tag: false } },
      changesets: { bump: { "@x/core": "patch", "no-version": "minor" } },
      extra: { "packages/nv/package.json": { name: "no-version", private: true } },
    });
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(".changeset/bump.md");
    expect(r.stderr).toMatch(/no-version.*no valid version \(packages\/nv\/package\.json\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a versioned package depending on a version-less one by link: (astro's fixtures): plan works where changesets 3 crashes", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/core", version: "1.0.0" },
        {
          name: "@x/demo",
          version: "0.1.0",
          private: true,
          dependencies: { "@x/core": "workspace:^", "linked-lib": "link:../linked-lib" },
        },
      ],
      changesets: { one: { "@x/core": "minor" } },
      extra: { "packages/linked-lib/package.json": { name: "linked-lib", private: true } },
    });
    // changesets 3.0.3 colours its "must depend on the current version" warning with styleText,
    // which throws on the missing version: `changeset status` itself fails here.
    const plain = await execa(CHANGESET_BIN, ["status"], { cwd: dir, reject: false });
    expect(plain.exitCode).not.toBe(0);
    expect(`${plain.stdout}${plain.stderr}`).toContain('The "text" argument must be of type string');
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("changesets: 1 warning");
    expect(r.stdout).toContain(
      "changesets: Package @x/demo must depend on the current version of linked-lib: undefined vs link:../linked-lib",
    );
    // The same plan as changesets' own once the colouring cannot throw.
    const out = path.join(tempDir(), "status.json");
    const patched = await execa(CHANGESET_BIN, ["status", `--output=${out}`], {
      cwd: dir,
      reject: false,
      env: { NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(STYLE_TEXT_PLAIN)}` },
    });
    expect(patched.exitCode, patched.stderr).toBe(0);
    const theirs = (
      JSON.parse(readFileSync(out, "utf8")) as { releases: { name: string; type: string; newVersion: string | null }[] }
    ).releases
      .filter((x) => x.newVersion !== null)
      .map(({ name, type, newVersion }) => ({ name, type, newVersion }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const ours = (await planJson(dir)).releases.map(({ name, type, newVersion }) => ({ name, type, newVersion }));
    expect(ours).toEqual(theirs);
    expect(ours).toContainEqual({ name: "@x/core", type: "minor", newVersion: "1.1.0" });
  });

  it("a version that is not semver is refused only where it would be released", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/core", version: "1.0.0" }],
      changesets: { one: { "@x/core": "patch" } },
      extra: { "packages/odd/package.json": { name: "@x/odd", version: "1.0", private: true } },
    });
    await expectSameAsChangesets(dir);
    expect((await planJson(dir)).unversioned).toEqual([{ name: "@x/odd", dir: "packages/odd", version: "1.0" }]);
    // Once a changeset releases it, the same package is refused, naming its package.json.
    writeFileSync(path.join(dir, ".changeset/config.json"), JSON.stringify({ privatePackages: { version: true, tag: false } }));
    writeFileSync(path.join(dir, ".changeset/two.md"), '---\n"@x/odd": patch\n---\n\nx\n');
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('packages/odd/package.json: version: @x/odd has version "1.0", which is not a valid semver version');
    expect(r.stderr).not.toContain("unexpected error");
  });

  it("file: and catalog: dependencies", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/core", version: "1.0.0", dependencies: { semver: "catalog:", local: "file:../../vendor/local" } },
        { name: "@x/app", version: "0.4.0", dependencies: { "@x/core": "workspace:^", semver: "catalog:" } },
      ],
      changesets: { one: { "@x/core": "major" } },
      extra: {
        "pnpm-workspace.yaml": "packages:\n  - packages/*\ncatalog:\n  semver: ^7.8.6\n",
        "vendor/local/package.json": { name: "local", version: "0.0.1" },
      },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels).toEqual([
      { name: "@x/app", type: "patch", newVersion: "0.4.1" },
      { name: "@x/core", type: "major", newVersion: "2.0.0" },
    ]);
  });

  it("pre mode with many pre files: only the new changesets are pending", async () => {
    const old = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`old-${i}`, { "@x/a": "patch" }]));
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "2.0.0-beta.3" },
        { name: "@x/b", version: "1.0.0", dependencies: { "@x/a": "workspace:^" } },
      ],
      preState: { mode: "pre", tag: "beta", initialVersions: { "@x/a": "1.0.0", "@x/b": "1.0.0" }, changesets: Object.keys(old) },
      changesets: { ...old, fresh: { "@x/a": "minor" } },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.find((r) => r.name === "@x/a")?.newVersion).toMatch(/^2\.0\.0-beta\.4$/);
    const plan = await planJson(dir);
    expect(plan.changesets).toEqual(["fresh"]);
    expect((await runFlotilla(["plan"], { cwd: dir })).stdout).toContain("(pre mode: beta)");
  });

  it("fixed and linked groups with ignored packages", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "1.0.0" },
        { name: "@x/b", version: "1.0.0" },
        { name: "@x/c", version: "2.1.0" },
        { name: "@x/d", version: "2.0.0" },
        { name: "@x/docs", version: "0.1.0", private: true, dependencies: { "@x/a": "workspace:^" } },
      ],
      changesetConfig: { fixed: [["@x/a", "@x/b"]], linked: [["@x/c", "@x/d"]], ignore: ["@x/docs"] },
      changesets: { one: { "@x/a": "minor" }, two: { "@x/c": "minor", "@x/d": "patch" } },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.filter((r) => r.type !== "none").map((r) => `${r.name}@${r.newVersion}`)).toEqual([
      "@x/a@1.1.0",
      "@x/b@1.1.0",
      "@x/c@2.2.0",
      "@x/d@2.2.0",
    ]);
  });

  it("a devDependency-only dependent is listed as a range update only", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "1.0.0" },
        { name: "@x/tests", version: "1.0.0", private: true },
      ],
      changesets: { one: { "@x/a": "major" } },
      extra: {
        "packages/tests/package.json": { name: "@x/tests", version: "1.0.0", private: true, devDependencies: { "@x/a": "^1.0.0" } },
      },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels).toContainEqual({ name: "@x/tests", type: "none", newVersion: "1.0.0" });
    const plan = await planJson(dir);
    expect(plan.releases.find((r) => r.name === "@x/tests")).toMatchObject({ type: "none", npm: null, image: null, gitTag: null });
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.stdout).toContain("1 release (+ 1 range update only) from 1 changeset");
    expect(r.stdout).toMatch(/@x\/tests\s+none\s+1\.0\.0\s+dependent\s+range update only/);
  });

  it("many devDependency-only dependents (astro's fixtures): counted below the table, listed with --verbose", async () => {
    const fixtures = Array.from({ length: 12 }, (_, i) => `fixture-${String(i).padStart(2, "0")}`);
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "1.0.0" },
        { name: "@x/b", version: "1.0.0", dependencies: { "@x/a": "workspace:^" } },
      ],
      changesets: { one: { "@x/a": "minor" } },
      extra: Object.fromEntries(
        fixtures.map((f) => [
          `packages/${f}/package.json`,
          { name: f, version: "0.0.0", private: true, devDependencies: { "@x/a": "^1.0.0" } },
        ]),
      ),
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.filter((r) => r.type === "none").map((r) => r.name)).toEqual(fixtures);
    const r = await runFlotilla(["plan"], { cwd: dir, env: { COLUMNS: "80" } });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("1 release (+ 12 range updates only) from 1 changeset");
    expect(r.stdout).toMatch(/@x\/a\s+minor\s+1\.0\.0 → 1\.1\.0/);
    expect(r.stdout).not.toContain("fixture-00");
    expect(r.stdout.replace(/\n {4}/g, " ")).toContain(
      "12 range updates only, not listed: dependents whose dependency ranges `flotilla version` rewrites, with no release (--verbose lists them).",
    );
    for (const l of r.stdout.split("\n")) expect(l.length, l).toBeLessThanOrEqual(80);
    const verbose = await runFlotilla(["plan", "--verbose"], { cwd: dir });
    for (const f of fixtures) expect(verbose.stdout).toMatch(new RegExp(`${f}\\s+none\\s+0\\.0\\.0\\s+dependent\\s+range update only`));
    expect((await planJson(dir)).releases.filter((x) => x.type === "none")).toHaveLength(12);
  });

  it("a nested settings-only pnpm-workspace.yaml is not the root", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/a", version: "1.0.0" }],
      changesets: { one: { "@x/a": "patch" } },
      extra: {
        "packages/a/test/fixture/pnpm-workspace.yaml": "linkWorkspacePackages: false\n",
        "packages/a/test/fixture/package.json": { name: "nested-fixture", private: true },
      },
    });
    const nested = path.join(dir, "packages/a/test/fixture");
    const r = await runFlotilla(["plan", "--json"], { cwd: nested });
    expect(r.exitCode, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout) as { rootDir: string; releases: { name: string }[] };
    expect(plan.rootDir).toBe(dir);
    expect(plan.releases.map((x) => x.name)).toEqual(["@x/a"]);
    expect(plan.releases).toEqual((await planJson(dir)).releases);
  });

  it("a root without .changeset: the message names the root it chose", async () => {
    const dir = makeWorkspace({ packages: [{ name: "@x/a", version: "1.0.0" }], extra: { "packages/a/README.md": "x\n" } });
    await execa("git", ["rm", "-rq", ".changeset"], { cwd: dir });
    const r = await runFlotilla(["plan"], { cwd: path.join(dir, "packages/a") });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`the workspace root ${dir} has no .changeset folder`);
    expect(r.stderr).toContain("pnpm changeset init");
  });

  it("no .changeset/config.json: changeset status fails, and flotilla says which file and the fix (exit 2)", async () => {
    const dir = makeWorkspace({ packages: [{ name: "@x/a", version: "1.0.0" }], changesets: { one: { "@x/a": "patch" } } });
    await execa("git", ["rm", "-q", ".changeset/config.json"], { cwd: dir });
    const cs = await execa(CHANGESET_BIN, ["status"], { cwd: dir, reject: false });
    expect(cs.exitCode).not.toBe(0);
    expect(cs.stderr + cs.stdout).toContain("ENOENT");
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(".changeset/config.json");
    expect(r.stderr).toContain("pnpm changeset init");
    expect(r.stderr).not.toContain("unexpected error");
  });

  it("private containers that are not deployables: images.exclude, images.apps false, images.apps config", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/web", version: "1.0.0", private: true, dir: "apps/web", dockerfile: true },
        { name: "@x/worker", version: "1.0.0", private: true, dir: "apps/worker" },
        { name: "@x/playground", version: "0.0.1", private: true, dir: "apps/playground", dockerfile: true },
        { name: "@x/container-fixture", version: "0.0.0", private: true, dockerfile: true },
      ],
      changesetConfig: { privatePackages: { version: true, tag: true } },
      changesets: { one: { "@x/web": "patch", "@x/worker": "patch", "@x/playground": "patch", "@x/container-fixture": "patch" } },
      extra: {
        "apps/worker/docker/Dockerfile": DOCKERFILE,
        "flotilla.config.json": {
          owner: "acme",
          images: {
            exclude: ["packages/*"],
            apps: { "@x/playground": false, "@x/worker": { dockerfile: "docker/Dockerfile" } },
          },
        },
      },
    });
    await expectSameAsChangesets(dir);
    const plan = await planJson(dir);
    const by = (n: string) => plan.releases.find((r) => r.name === n);
    expect(by("@x/web")).toMatchObject({ image: { name: "ghcr.io/acme/web" }, imageReason: "Dockerfile in apps/web" });
    expect(by("@x/worker")).toMatchObject({ image: { name: "ghcr.io/acme/worker" }, imageReason: "images.apps config" });
    expect(by("@x/playground")).toMatchObject({ image: null, imageReason: null, gitTag: "@x/playground@0.0.2" });
    expect(by("@x/container-fixture")?.image).toBeNull();
    expect(plan.dockerfilesIgnored).toEqual([
      { name: "@x/container-fixture", reason: "matched by images.exclude" },
      { name: "@x/playground", reason: 'images.apps["@x/playground"] is false' },
    ]);
    const v = await runFlotilla(["plan", "--verbose"], { cwd: dir });
    expect(v.exitCode, v.stderr).toBe(0);
    expect(v.stdout).toContain("ghcr.io/acme/web: 1.0.1, 1.0, 1, latest  (Dockerfile in apps/web)");
    expect(v.stdout).toContain("Dockerfiles not released as images:\n  @x/container-fixture: matched by images.exclude");
  });

  it("images.include selects by folder; an images.apps false key naming no package is exit 2", async () => {
    const pkgs = [
      { name: "@x/web", version: "1.0.0", private: true, dir: "apps/web", dockerfile: true },
      { name: "@x/fx", version: "1.0.0", private: true, dir: "fixtures/fx", dockerfile: true },
    ];
    const dir = makeWorkspace({
      packages: pkgs,
      changesetConfig: { privatePackages: { version: true, tag: false } },
      changesets: { one: { "@x/web": "minor", "@x/fx": "minor" } },
      extra: {
        "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - fixtures/*\n",
        "flotilla.config.json": { owner: "acme", images: { include: ["apps/*"] } },
      },
    });
    const plan = await planJson(dir);
    expect(plan.releases.filter((r) => r.image).map((r) => r.name)).toEqual(["@x/web"]);
    expect(plan.dockerfilesIgnored).toEqual([{ name: "@x/fx", reason: "not matched by images.include" }]);
    const bad = makeWorkspace({ packages: pkgs, extra: { "flotilla.config.json": { images: { apps: { "@x/nope": false } } } } });
    const r = await runFlotilla(["plan"], { cwd: bad });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('images.apps.@x/nope: no workspace package is named "@x/nope"');
  });

  it("an unknown owner shows <owner>, never a real-looking name, and says how to set it", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/web", version: "1.0.0", private: true, dir: "apps/web", dockerfile: true }],
      changesetConfig: { privatePackages: { version: true, tag: false } },
      changesets: { one: { "@x/web": "patch" } },
    });
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("ghcr.io/<owner>/web: 1.0.1");
    expect(r.stdout).not.toContain("ghcr.io/owner/");
    expect(r.stdout).toMatch(/Owner unknown.*`owner` in flotilla\.config\.json.*GITHUB_REPOSITORY_OWNER/);
    const withEnv = await runFlotilla(["plan", "--json"], { cwd: dir, env: { GITHUB_REPOSITORY_OWNER: "Acme" } });
    expect(JSON.parse(withEnv.stdout).releases[0].image.name).toBe("ghcr.io/acme/web");
  });

  it("at scale: the table fits COLUMNS, artifacts do not repeat name@version, changesets' warnings are grouped", async () => {
    const n = 30;
    const packages: PkgSpec[] = Array.from({ length: n }, (_, i) => ({
      name: `@some-long-scope/plugin-commands-${String(i).padStart(2, "0")}`,
      version: "1.0.0",
      dir: `packages/p${i}`,
      // A range that does not match the current version: changesets warns about each one.
      dependencies: i > 0 ? { "@some-long-scope/plugin-commands-00": "^0.9.0" } : ({} as Record<string, string>),
    }));
    const dir = makeWorkspace({
      packages,
      changesets: Object.fromEntries(packages.map((p, i) => [`c${i}`, { [p.name]: "minor" }])),
      extra: {
        "packages/p3/package.json": {
          ...packageJson(packages[3]!),
          publishConfig: { registry: "https://npm.example.test/some/very/long/path/" },
        },
      },
    });
    expect((await changesetsReleases(dir)).length).toBe(n);
    const r = await runFlotilla(["plan"], { cwd: dir, env: { COLUMNS: "100" } });
    expect(r.exitCode, r.stderr).toBe(0);
    const all = r.stdout.split("\n");
    const start = all.findIndex((l) => l.startsWith("package "));
    const tableLines = all.slice(start, all.indexOf("", start));
    expect(tableLines.length).toBeGreaterThanOrEqual(n + 2);
    for (const l of r.stdout.split("\n")) expect(l.length, l).toBeLessThanOrEqual(100);
    expect(r.stdout).not.toMatch(/npm @some-long-scope\/plugin-commands-\d\d@1\.1\.0/);
    expect(r.stdout).toContain("npm latest → npm.pkg.github.com");
    expect(r.stdout).toContain("npm latest → npm.example.test");
    // changesets' warnings: one prefixed heading with the count, never raw on stderr.
    expect(r.stdout).toMatch(
      new RegExp(`changesets: ${n - 1} warnings\\n {2}changesets: Package @some-long-scope/plugin-commands-\\d\\d must`),
    );
    expect(r.stdout.replace(/\n {6}/g, " ")).toContain(
      "must depend on the current version of @some-long-scope/plugin-commands-00: 1.0.0 vs ^0.9.0",
    );
    expect(r.stdout).toContain(`… ${n - 1 - 3} more (--verbose or --json shows all)`);
    expect(r.stderr).not.toContain("must depend on");
    expect((await planJson(dir)).warnings.length).toBe(n - 1);
    const wide = await runFlotilla(["plan"], { cwd: dir });
    expect(Math.max(...wide.stdout.split("\n").map((l) => l.length))).toBeGreaterThan(100);
  });
});

describe("corpus: version and publish say what they leave out", () => {
  it("version shows changesets' warnings under the heading plan uses", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/core", version: "1.0.0" },
        // A range the current version does not satisfy: changesets warns (and never rewrites it).
        { name: "@x/old-user", version: "1.0.0", dependencies: { "@x/core": "^0.9.0" } },
      ],
      changesets: { one: { "@x/core": "minor" } },
    });
    const r = await runFlotilla(["version"], { cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /warning: changesets: 1 warning\n {2}changesets: Package @x\/old-user must depend on the current version of @x\/core: 1\.0\.0 vs \^0\.9\.0\n/,
    );
    expect(r.stdout).toContain("@x/core: 1.0.0 → 1.1.0");
    expect(r.stderr).not.toContain("must depend");
    expect(JSON.parse(readFileSync(path.join(dir, "packages/core/package.json"), "utf8")).version).toBe("1.1.0");
  });

  it("publish names the public packages it skips for want of a version, once", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/core", version: "1.0.0" }],
      extra: {
        "packages/no-version/package.json": { name: "@x/no-version" },
        "packages/null-version/package.json": { name: "@x/null-version", version: null },
        "packages/fixture/package.json": { name: "fixture", private: true },
      },
    });
    const r = await runFlotilla(["publish", "--dry-run"], { cwd: dir });
    const out = `${r.stdout}${r.stderr}`;
    const line = 'warning: not released, no "version" in package.json: @x/no-version, @x/null-version (add one, or mark them private)';
    expect(out).toContain(line);
    expect(out.split(line).length).toBe(2);
    expect(out).not.toMatch(/not released[^\n]*fixture/);
  });
});

describe("corpus: the plan table on a narrow terminal", () => {
  it("long names beside long prerelease versions (wider than COLUMNS without artifacts): one unpadded line per row", async () => {
    const packages: PkgSpec[] = Array.from({ length: 4 }, (_, i) => ({
      name: `@some-long-scope/vite-plugin-playground-fixture-${i}`,
      version: "5.20260820.0-alpha.1",
      dir: `packages/p${i}`,
    }));
    packages.push({ name: "@x/short", version: "1.0.0", dir: "packages/short" });
    const dir = makeWorkspace({
      packages,
      changesets: Object.fromEntries(packages.map((p, i) => [`c${i}`, { [p.name]: "patch" }])),
    });
    const rels = await expectSameAsChangesets(dir);
    const r = await runFlotilla(["plan"], { cwd: dir, env: { COLUMNS: "80" } });
    expect(r.exitCode, r.stderr).toBe(0);
    for (const l of r.stdout.split("\n")) expect(l.length, l).toBeLessThanOrEqual(80);
    for (const rel of rels) expect(r.stdout).toContain(rel.name);
    expect(r.stdout).toContain(
      "@some-long-scope/vite-plugin-playground-fixture-0  patch\n    5.20260820.0-alpha.1 → 5.20260820.0  changeset",
    );
    expect(r.stdout).toMatch(/@x\/short {2}patch {2}1\.0\.0 → 1\.0\.1 {2}changeset\n {4}npm latest → npm\.pkg\.github\.com; git tag/);
    // Wide terminals keep the aligned table.
    const wide = await runFlotilla(["plan"], { cwd: dir, env: { COLUMNS: "200" } });
    expect(wide.stdout).toMatch(/@x\/short {30,}patch/);
  });
});

function packageJson(p: { name: string; version: string; dependencies?: Record<string, string> }): object {
  return { name: p.name, version: p.version, dependencies: p.dependencies };
}

describe("corpus: what pnpm pack writes for workspace: and catalog: ranges", () => {
  it("has the real ranges the plan's versions imply", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "1.2.3", dependencies: { semver: "catalog:" } },
        { name: "@x/b", version: "0.4.0", dependencies: { "@x/a": "workspace:^", semver: "catalog:" } },
        { name: "@x/c", version: "2.0.0", dependencies: { "@x/a": "workspace:*", "@x/b": "workspace:~" } },
      ],
      changesets: { one: { "@x/a": "patch" } },
      extra: { "pnpm-workspace.yaml": "packages:\n  - packages/*\ncatalog:\n  semver: ^7.8.6\n" },
    });
    await expectSameAsChangesets(dir);
    // Workspace dependencies only resolve once linked; semver comes from the local store.
    await execa("pnpm", ["install", "--offline", "--ignore-scripts"], { cwd: dir });
    const packed = async (rel: string) => {
      const out = tempDir();
      await execa("pnpm", ["pack", "--out", path.join(out, "p.tgz")], { cwd: path.join(dir, rel) });
      await execa("tar", ["-xzf", path.join(out, "p.tgz"), "-C", out]);
      return JSON.parse(readFileSync(path.join(out, "package/package.json"), "utf8")) as { dependencies: Record<string, string> };
    };
    expect((await packed("packages/a")).dependencies).toEqual({ semver: "^7.8.6" });
    expect((await packed("packages/b")).dependencies).toEqual({ "@x/a": "^1.2.3", semver: "^7.8.6" });
    expect((await packed("packages/c")).dependencies).toEqual({ "@x/a": "1.2.3", "@x/b": "~0.4.0" });
  });
});

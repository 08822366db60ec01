import path from "node:path";
import { readConfig } from "@changesets/config";
import { describe, expect, it } from "vitest";
import { tagsPrivatePackages } from "../src/context.ts";
import { expectSameAsChangesets } from "./helpers/changesets-status.ts";
import { REPO_ROOT, runFlotilla } from "./helpers/cli.ts";
import { copyTree, gitCommitAll, makeWorkspace } from "./helpers/fixtures.ts";

describe("flotilla plan agrees with `changeset status`", () => {
  it("on examples/", async () => {
    const dir = copyTree(path.join(REPO_ROOT, "examples"));
    gitCommitAll(dir);
    await expectSameAsChangesets(dir);
  });

  it("with a fixed group", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "1.0.0" },
        { name: "@x/b", version: "1.0.0" },
        { name: "@x/c", version: "3.1.0" },
      ],
      changesetConfig: { fixed: [["@x/a", "@x/b"]] },
      changesets: { one: { "@x/a": "minor" }, two: { "@x/c": "patch" } },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.find((r) => r.name === "@x/b")?.newVersion).toBe("1.1.0");
    const plan = JSON.parse((await runFlotilla(["plan", "--json"], { cwd: dir })).stdout);
    expect(plan.releases.find((r: { name: string }) => r.name === "@x/b").reason).toBe("group");
  });

  it("with a linked group", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "1.2.0" },
        { name: "@x/b", version: "1.0.0" },
      ],
      changesetConfig: { linked: [["@x/a", "@x/b"]] },
      changesets: { one: { "@x/a": "minor" }, two: { "@x/b": "patch" } },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.map((r) => r.newVersion)).toEqual(["1.3.0", "1.3.0"]);
  });

  it("in pre mode", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/a", version: "2.0.0" },
        { name: "@x/b", version: "1.0.0", dependencies: { "@x/a": "workspace:^" } },
      ],
      preState: { mode: "pre", tag: "beta", initialVersions: { "@x/a": "2.0.0", "@x/b": "1.0.0" }, changesets: [] },
      changesets: { one: { "@x/a": "major" } },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.find((r) => r.name === "@x/a")?.newVersion).toBe("3.0.0-beta.0");
  });

  it("with a private app and a dependent bumped only through a dependency", async () => {
    const dir = makeWorkspace({
      packages: [
        { name: "@x/core", version: "1.0.0" },
        { name: "@x/lib", version: "0.3.0", dependencies: { "@x/core": "workspace:^" } },
        { name: "@x/web", version: "4.0.0", private: true, dir: "apps/web", dependencies: { "@x/lib": "workspace:*" }, dockerfile: true },
      ],
      changesetConfig: { privatePackages: { version: true, tag: true } },
      changesets: { one: { "@x/core": "major" } },
    });
    const rels = await expectSameAsChangesets(dir);
    expect(rels.map((r) => r.name)).toEqual(["@x/core", "@x/lib", "@x/web"]);
    const plan = JSON.parse((await runFlotilla(["plan", "--json"], { cwd: dir })).stdout);
    const web = plan.releases.find((r: { name: string }) => r.name === "@x/web");
    expect(web.reason).toBe("dependent");
    expect(web.npm).toBeNull();
    expect(web.image.tags).toEqual(["4.0.1", "4.0", "4", "latest"]);
    expect(web.gitTag).toBe("@x/web@4.0.1");
  });
});

describe("flotilla plan output", () => {
  it("prints a readable table with artifacts", async () => {
    const dir = copyTree(path.join(REPO_ROOT, "examples"));
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    // The version is in its column: artifacts do not repeat name@version, and show the registry.
    expect(r.stdout).toMatch(/@acme\/tokens\s+minor\s+1\.0\.0 → 1\.1\.0\s+changeset\s+npm latest → \S+; git tag\n/);
    expect(r.stdout).not.toContain("npm @acme/tokens@1.1.0");
    expect(r.stdout).toMatch(/ghcr\.io\/acme\/web: 1\.4\.0, 1\.4, 1, latest {2}\(Dockerfile in apps\/web\)/);
  });

  it("says so when nothing is pending", async () => {
    const dir = makeWorkspace({ packages: [{ name: "@x/a", version: "1.0.0" }] });
    const r = await runFlotilla(["plan"], { cwd: dir });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("No pending changesets");
    // plan reads no registry: it points at what would release versions already in package.json.
    expect(r.stdout).toContain("`flotilla publish --dry-run` lists them");
    expect(JSON.parse((await runFlotilla(["plan", "--json"], { cwd: dir })).stdout).releases).toEqual([]);
  });
});

describe("which private packages get tags: flotilla's read of .changeset/config.json", () => {
  it.each([
    ["absent", undefined],
    ["false", false],
    ["true", true],
    ["{}", {}],
    ["{ version: true }", { version: true }],
    ["{ version: true, tag: false }", { version: true, tag: false }],
    ["{ version: true, tag: true }", { version: true, tag: true }],
    ["{ version: false, tag: true } (invalid)", { version: false, tag: true }],
    ['{ tag: "yes" } (invalid)', { tag: "yes" }],
  ])("privatePackages %s: as @changesets/config reads it", async (_name, privatePackages) => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/a", version: "1.0.0" }],
      changesetConfig: privatePackages === undefined ? {} : { privatePackages },
    });
    // A config changesets refuses (errors, no config) read as "no tags" in flotilla before, too.
    const theirs = await readConfig(dir).then(
      (r) => r.config?.privatePackages.tag ?? false,
      () => false,
    );
    expect(await tagsPrivatePackages(dir)).toBe(theirs);
  });

  it("a config changesets refuses for another field: privatePackages is honoured (changesets' readConfig gives no config at all)", async () => {
    const dir = makeWorkspace({
      packages: [{ name: "@x/a", version: "1.0.0" }],
      changesetConfig: { access: "bogus", privatePackages: { version: true, tag: true } },
    });
    expect((await readConfig(dir)).config).toBeUndefined();
    expect(await tagsPrivatePackages(dir)).toBe(true);
  });
});

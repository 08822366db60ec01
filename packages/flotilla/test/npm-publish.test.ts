/** What `flotilla publish` sends beside the tarball (issue 9): access, provenance, README. */
import path from "node:path";
import * as tar from "tar";
import { describe, expect, it } from "vitest";
import { changesetsAccess, resolveAccess } from "../src/npm/access.ts";
import { provenanceProblems } from "../src/npm/provenance.ts";
import { readmeOf } from "../src/npm/readme.ts";
import { tempDir, writeTree } from "./helpers/fixtures.ts";

describe("access precedence", () => {
  const r = (publishConfig: unknown, changesets?: "public" | "restricted", config?: "public" | "restricted", name = "@acme/a") =>
    resolveAccess({ name, publishConfig, changesets, config });
  it("publishConfig.access beats changesets' access, which beats npm.access", () => {
    expect(r({ access: "public" }, "restricted", "restricted")).toBe("public");
    expect(r({}, "public", "restricted")).toBe("public");
    expect(r(undefined, undefined, "public")).toBe("public");
    expect(r(undefined, undefined, undefined)).toBeUndefined();
  });
  it("sends no workspace-wide restricted for an unscoped package (npm and pnpm refuse that request)", () => {
    expect(r(undefined, "restricted", undefined, "left-pad")).toBeUndefined();
    expect(r(undefined, "public", undefined, "left-pad")).toBe("public");
  });
  it("reads only an access the team wrote in .changeset/config.json", async () => {
    expect(await changesetsAccess(writeTree({ ".changeset/config.json": { access: "public" } }))).toBe("public");
    expect(await changesetsAccess(writeTree({ ".changeset/config.json": { baseBranch: "main" } }))).toBeUndefined();
    expect(await changesetsAccess(tempDir())).toBeUndefined();
  });
});

describe("provenance", () => {
  const pkg = (registry: string, provenance = true) => ({
    name: "@acme/a",
    relDir: "packages/a",
    manifest: { name: "@acme/a", version: "1.0.0", publishConfig: { provenance } },
    registry,
    githubPackages: registry.includes("npm.pkg.github.com"),
  });
  const gha = { GITHUB_ACTIONS: "true", ACTIONS_ID_TOKEN_REQUEST_URL: "https://token.example", ACTIONS_ID_TOKEN_REQUEST_TOKEN: "t" };
  it("is allowed on GitHub Actions with an OIDC token, to a registry that takes it", () => {
    expect(provenanceProblems([pkg("https://registry.npmjs.org")], gha)).toEqual([]);
  });
  it("is refused for GitHub Packages, naming the package, the file and the field", () => {
    const p = provenanceProblems([pkg("https://npm.pkg.github.com")], gha);
    expect(p).toMatchObject([
      { code: "NPM_PROVENANCE_UNSUPPORTED_REGISTRY", file: "packages/a/package.json", field: "publishConfig.provenance" },
    ]);
    expect(p[0]!.message).toContain("@acme/a");
  });
  it("is refused outside CI, and on GitHub Actions without id-token: write", () => {
    expect(provenanceProblems([pkg("https://registry.npmjs.org")], {})).toMatchObject([{ code: "NPM_PROVENANCE_NO_CI" }]);
    const noToken = provenanceProblems([pkg("https://registry.npmjs.org")], { GITHUB_ACTIONS: "true" });
    expect(noToken).toMatchObject([{ code: "NPM_PROVENANCE_NO_ID_TOKEN" }]);
    expect(noToken[0]!.hint).toContain("id-token: write");
  });
  it("asks nothing of packages that do not want it", () => {
    expect(provenanceProblems([pkg("https://npm.pkg.github.com", false)], {})).toEqual([]);
  });
});

describe("README as npm reads it, from the packed tarball", () => {
  const packed = async (files: Record<string, string>) => {
    const dir = writeTree({
      "package/package.json": { name: "a", version: "1.0.0" },
      ...Object.fromEntries(Object.entries(files).map(([f, c]) => [`package/${f}`, c])),
    });
    const file = path.join(tempDir(), "a.tgz");
    await tar.c({ gzip: true, file, cwd: dir }, ["package"]);
    return file;
  };
  it.each([
    [{ "README.md": "md" }, "md"],
    [{ "readme.markdown": "markdown" }, "markdown"],
    [{ README: "plain" }, "plain"],
    [{ README: "plain", "Readme.md": "md wins" }, "md wins"],
    [{ "index.js": "" }, undefined],
    [{ "docs/README.md": "not at the root" }, undefined],
  ])("%j → %j", async (files, readme) => {
    expect(await readmeOf(await packed(files))).toBe(readme);
  });
});

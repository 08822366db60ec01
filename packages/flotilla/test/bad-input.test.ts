import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, makeWorkspace, tempDir, treeDigest, writeTree } from "./helpers/fixtures.ts";
import { runScanned } from "./helpers/secrets-scan.ts";

const base = () =>
  makeWorkspace({
    packages: [
      { name: "@x/a", version: "1.0.0" },
      { name: "@x/b", version: "2.0.0", dependencies: { "@x/a": "workspace:^" } },
    ],
    changesets: { good: { "@x/a": "patch" } },
  });

interface ErrorDocument {
  error: {
    exitCode: number;
    problems: { code: string; message: string; file?: string; line?: number; package?: string; field?: string; fix?: string }[];
  };
}

/**
 * Runs `command` with --json: exit 2, the expected message on stderr, no stack trace, nothing
 * changed, and stdout exactly one error document carrying the problems. Commands that log
 * (publish, ci, doctor: their log goes to stdout without --json, to stderr with it) also run
 * plain, once, to check the error text there; `plan` logs nothing, so its stderr is the same
 * either way and one run does.
 */
async function expectRejected(dir: string, ...expected: (string | RegExp)[]) {
  return expectCommandRejected(["plan"], dir, {}, ...expected);
}

async function expectCommandRejected(
  command: string[],
  dir: string,
  env: Record<string, string>,
  ...expected: (string | RegExp)[]
): Promise<ErrorDocument> {
  const before = treeDigest(dir);
  if (command[0] !== "plan") {
    const plain = await runFlotilla(command, { cwd: dir, env });
    expect(plain.exitCode, plain.stderr).toBe(2);
    for (const e of expected) expect(plain.stderr).toMatch(e);
    expect(plain.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  }
  const json = await runFlotilla([...command, "--json"], { cwd: dir, env });
  expect(json.exitCode, json.stderr).toBe(2);
  for (const e of expected) expect(json.stderr).toMatch(e);
  expect(json.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  const doc = JSON.parse(json.stdout) as ErrorDocument;
  expect(Object.keys(doc)).toEqual(["error"]);
  expect(doc.error.exitCode).toBe(2);
  expect(doc.error.problems.length).toBeGreaterThan(0);
  for (const p of doc.error.problems) {
    expect(typeof p.code).toBe("string");
    expect(typeof p.message).toBe("string");
  }
  expect(treeDigest(dir)).toBe(before);
  return doc;
}

describe.concurrent("bad input → exit 2, the file and what is wrong, nothing changed", () => {
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

  it("an invalid version in a package.json of a package to release", async () => {
    const dir = base();
    writeFileSync(path.join(dir, "packages/a/package.json"), JSON.stringify({ name: "@x/a", version: "1.0" }));
    await expectRejected(dir, "packages/a/package.json", /@x\/a has version "1\.0", which is not a valid semver version/);
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
      /flotilla\.config\.json: npm: unknown field\(s\) "acess" \(did you mean "access"\?\)/,
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

  it("the --json error document names the file, line, package and fix", async () => {
    const dir = base();
    writeFileSync(path.join(dir, ".changeset/ghost.md"), '---\n"@x/a": patch\n"@x/ghost": minor\n---\n\nx\n');
    const doc = await expectCommandRejected(["plan"], dir, {}, /@x\/ghost/);
    expect(doc.error.problems).toEqual([
      expect.objectContaining({
        code: "CHANGESET_UNKNOWN_PACKAGE",
        file: ".changeset/ghost.md",
        line: 3,
        package: "@x/ghost",
        fix: expect.stringContaining("workspace packages: @x/a, @x/b"),
      }),
    ]);
  });
});

/** Input faults of publish/ci/doctor that are knowable before any side effect (SPEC §4): exit 2, fast. */
describe("publish-time bad input → exit 2 before any read", () => {
  const cases: { name: string; command: string[]; env?: Record<string, string>; edit?: (dir: string) => void; expected: RegExp[] }[] = [
    {
      name: "--only with an unknown stage",
      command: ["publish", "--dry-run", "--only", "bogus"],
      expected: [/"bogus" is not a stage; use npm, images, git, github/],
    },
    {
      name: "ci --only with an unknown stage",
      command: ["ci", "--only", "npm", "--only", "nmp"],
      expected: [/"nmp" is not a stage/],
    },
    {
      name: "FLOTILLA_NPM_REGISTRY that is not a URL",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_NPM_REGISTRY: "not a url" },
      expected: [/FLOTILLA_NPM_REGISTRY: "not a url" is not an http\(s\) URL/, /fix: set FLOTILLA_NPM_REGISTRY to a URL/],
    },
    {
      name: "FLOTILLA_IMAGE_REGISTRY that is not a host",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_IMAGE_REGISTRY: "https://ghcr.io/ x" },
      expected: [/FLOTILLA_IMAGE_REGISTRY: "https:\/\/ghcr\.io\/ x" is not a registry host/],
    },
    {
      name: "GITHUB_API_URL that is not a URL",
      command: ["publish", "--dry-run"],
      env: { GITHUB_API_URL: "not a url", GITHUB_TOKEN: "t0k3n-for-test", GITHUB_REPOSITORY: "x/repo" },
      expected: [/GITHUB_API_URL: "not a url" is not an http\(s\) URL/],
    },
    {
      name: "doctor with GITHUB_API_URL that is not a URL",
      command: ["doctor"],
      env: { GITHUB_API_URL: "ftp:/nowhere" },
      expected: [/GITHUB_API_URL: "ftp:\/nowhere" is not an http\(s\) URL/],
    },
    {
      name: "a publishConfig.registry that is not a URL",
      command: ["publish", "--dry-run"],
      edit: (dir) =>
        writeFileSync(
          path.join(dir, "packages/a/package.json"),
          JSON.stringify({ name: "@x/a", version: "1.0.0", publishConfig: { registry: "npm dot pkg" } }),
        ),
      expected: [/packages\/a\/package\.json: publishConfig\.registry: @x\/a: "npm dot pkg" is not an http\(s\) URL/],
    },
    {
      name: "an invalid npm package name among packages to publish",
      command: ["publish", "--dry-run"],
      edit: (dir) => writeFileSync(path.join(dir, "packages/a/package.json"), JSON.stringify({ name: "@x/A Pkg", version: "1.0.0" })),
      expected: [/packages\/a\/package\.json: name: "@x\/A Pkg" is not a valid npm package name: name can only contain URL-friendly/],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = base();
      if (c.edit) {
        c.edit(dir);
        gitCommitAll(dir, "edit");
      }
      const started = Date.now();
      await expectCommandRejected(c.command, dir, c.env ?? {}, ...c.expected);
      expect(Date.now() - started).toBeLessThan(20_000);
    });
  }

  it("no token and no origin: reported at once, no registry is contacted", async () => {
    // A registry that accepts connections and never answers: any read would hang the run.
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const dir = base();
      const started = Date.now();
      const doc = await expectCommandRejected(
        ["publish", "--dry-run"],
        dir,
        { FLOTILLA_NPM_REGISTRY: `http://127.0.0.1:${port}`, GITHUB_REPOSITORY: "x/repo" },
        /no npm token/,
        /no `origin` remote/,
      );
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(doc.error.problems.map((p) => p.code)).toEqual(expect.arrayContaining(["NPM_TOKEN_MISSING", "GIT_NO_ORIGIN"]));
      expect(sockets.length).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it("the repository hint names the known repository", async () => {
    const dir = base();
    const r = await runFlotilla(["publish", "--dry-run"], { cwd: dir, env: { GITHUB_REPOSITORY: "x/monorepo" } });
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toContain('"url": "https://github.com/x/monorepo.git", "directory": "packages/a"');
    expect(r.stdout).not.toContain("REPO");
  });

  it("annotates the file under GitHub Actions", async () => {
    const dir = base();
    writeFileSync(path.join(dir, ".changeset/ghost.md"), '---\n"@x/ghost": minor\n---\n\nx\n');
    const r = await runFlotilla(["plan"], { cwd: dir, env: { GITHUB_ACTIONS: "true" } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("::error file=.changeset/ghost.md,line=2::");
  });
});

/**
 * The bad-input catalogue, offline part (issue 11 item 5; the testbed part is
 * bad-input-catalogue.e2e.test.ts). Every run has an origin, fake tokens and registries that
 * count connections and drop them: each case must be refused by a local check (exit 2) without
 * a single connection, name the file/field/package and the fix, print no stack trace, change no
 * file or ref, and leak no token (secrets scan: output, outputs files, work tree, child argv).
 */
describe.concurrent("bad-input catalogue (offline): refused before any write, nothing changed, no token leaked", () => {
  const fake = { npm: "npm_fAkeT0kenForTheCatalogue01", gh: "ghs_fAkeT0kenForTheCatalogue02", oci: "oci-fAke-pAssword-catalogue03" };
  // Every service is one local server that answers 401 at once: preflight's reads (which run
  // beside the local checks, to report everything at once) end fast, and any write is counted.
  const refusing = { url: "", writes: 0, close: () => {} };
  beforeAll(async () => {
    const server = createHttpServer((req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") refusing.writes++;
      res.writeHead(401, { "content-type": "application/json" }).end('{"message":"Bad credentials"}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    refusing.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    refusing.close = () => server.close();
  });
  afterAll(() => refusing.close());

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    FLOTILLA_NPM_REGISTRY: `${refusing.url}/`,
    FLOTILLA_IMAGE_REGISTRY: refusing.url.replace("http://", ""),
    FLOTILLA_IMAGE_REGISTRY_USERNAME: "bot",
    FLOTILLA_IMAGE_REGISTRY_PASSWORD: fake.oci,
    NODE_AUTH_TOKEN: fake.npm,
    GITHUB_TOKEN: fake.gh,
    GITHUB_ACTOR: "bot",
    GITHUB_REPOSITORY: "x/repo",
    GITHUB_API_URL: refusing.url,
    DOCKER_HOST: refusing.url.replace("http://", "tcp://"),
    ...extra,
  });
  /** base() with a bare origin, so "no origin" is not part of every case. */
  const withOrigin = () => {
    const dir = base();
    const origin = path.join(tempDir(), "origin.git");
    execFileSync("git", ["init", "--bare", "--quiet", origin]);
    execFileSync("git", ["remote", "add", "origin", origin], { cwd: dir });
    execFileSync("git", ["push", "--quiet", "origin", "main"], { cwd: dir });
    return dir;
  };
  const write = (dir: string, files: Record<string, string | object>, commit = true) => {
    writeTree(files, dir);
    if (commit) gitCommitAll(dir, "edit");
  };
  const pj = (name: string, version: unknown, more: object = {}) => ({ name, version, ...more });
  const app = { "apps/web/package.json": pj("@x/web", "1.0.0", { private: true }), "apps/web/Dockerfile": "FROM scratch\n" };

  interface Case {
    area: string;
    name: string;
    command: string[];
    env?: Record<string, string>;
    edit?: (dir: string) => void;
    /** Without origin (the base fixture has none). */
    noOrigin?: boolean;
    code: string;
    expected: (string | RegExp)[];
  }
  const cases: Case[] = [
    // changesets
    {
      area: "changesets",
      name: "a changeset mixing a private package (not versioned) with a public one",
      command: ["plan"],
      edit: (d) => write(d, { ...app, ".changeset/mixed.md": '---\n"@x/a": patch\n"@x/web": patch\n---\n\nx\n' }),
      code: "CHANGESET_PLAN_FAILED",
      expected: [".changeset/mixed.md", /mixed changeset/i, "@x/web"],
    },
    {
      area: "changesets",
      name: ".changeset/config.json that is not JSON",
      command: ["plan"],
      edit: (d) => write(d, { ".changeset/config.json": "{ changelog: false" }),
      code: "CHANGESET_CONFIG_INVALID",
      expected: [".changeset/config.json"],
    },
    {
      area: "changesets",
      name: ".changeset/config.json with a package in two fixed groups",
      command: ["plan"],
      edit: (d) => write(d, { ".changeset/config.json": { changelog: false, baseBranch: "main", fixed: [["@x/a", "@x/b"], ["@x/a"]] } }),
      code: "CHANGESET_CONFIG_INVALID",
      expected: [".changeset/config.json", /"@x\/a" is defined in multiple groups/],
    },
    {
      area: "changesets",
      name: ".changeset/pre.json that is not JSON",
      command: ["plan"],
      edit: (d) => write(d, { ".changeset/pre.json": "{ mode: pre" }),
      code: "CHANGESET_PRE_INVALID",
      expected: [".changeset/pre.json"],
    },
    {
      area: "changesets",
      name: "flotilla version with a changeset naming an unknown package writes nothing",
      command: ["version"],
      edit: (d) => write(d, { ".changeset/ghost.md": '---\n"@x/ghost": minor\n---\n\nx\n' }),
      code: "CHANGESET_UNKNOWN_PACKAGE",
      expected: [".changeset/ghost.md", "@x/ghost"],
    },
    // package.json and the workspace
    {
      area: "package.json",
      name: "two packages with one name",
      command: ["plan"],
      edit: (d) => write(d, { "packages/c/package.json": pj("@x/a", "3.0.0") }),
      code: "PACKAGE_DUPLICATE_NAME",
      expected: ["@x/a", /packages\/a\/package\.json/, /packages\/c\/package\.json/],
    },
    {
      area: "package.json",
      name: "a package.json without a name",
      command: ["plan"],
      edit: (d) => write(d, { "packages/c/package.json": { version: "1.0.0" } }),
      code: "WORKSPACE_UNREADABLE",
      expected: [/packages\/c\/package\.json/, /"name" field/],
    },
    {
      area: "versions",
      name: "a version that is a number, on a package a changeset releases",
      command: ["plan"],
      edit: (d) => write(d, { "packages/a/package.json": pj("@x/a", 1) }),
      code: "PACKAGE_INVALID_VERSION",
      expected: ["packages/a/package.json", "@x/a"],
    },
    {
      area: "package.json",
      name: "pnpm-workspace.yaml that is not YAML",
      command: ["plan"],
      edit: (d) => write(d, { "pnpm-workspace.yaml": "packages:\n  - [packages/*\n" }),
      code: "WORKSPACE_YAML_INVALID",
      expected: ["pnpm-workspace.yaml", /YAML/],
    },
    {
      area: "package.json",
      name: "a root package.json that is not JSON",
      command: ["plan"],
      edit: (d) => write(d, { "package.json": '{ "name": "root",' }),
      code: "PACKAGE_JSON_INVALID",
      expected: [/package\.json: not valid JSON/],
    },
    // flotilla.config.json
    {
      area: "config",
      name: "an unknown top-level field",
      command: ["plan"],
      edit: (d) => write(d, { "flotilla.config.json": { ownr: "x" } }),
      code: "CONFIG_INVALID",
      expected: ["flotilla.config.json", '"ownr"'],
    },
    {
      area: "config",
      name: "images.apps naming no workspace package",
      command: ["plan"],
      edit: (d) => write(d, { "flotilla.config.json": { images: { apps: { "@x/ghost": { dockerfile: "Dockerfile" } } } } }),
      code: "CONFIG_UNKNOWN_PACKAGE",
      expected: ["flotilla.config.json", "@x/ghost"],
    },
    {
      area: "config",
      name: "images.tags with an unknown kind",
      command: ["plan"],
      edit: (d) => write(d, { "flotilla.config.json": { images: { tags: ["version", "newest"] } } }),
      code: "CONFIG_INVALID",
      expected: ["flotilla.config.json", "images.tags"],
    },
    {
      area: "config",
      name: "npm.promote with a value that is not one of its choices",
      command: ["plan"],
      edit: (d) => write(d, { "flotilla.config.json": { npm: { promote: "later" } } }),
      code: "CONFIG_INVALID",
      expected: ["flotilla.config.json", "npm.promote"],
    },
    {
      area: "config",
      name: "build.tasks that is a string, not a list",
      command: ["plan"],
      edit: (d) => write(d, { "flotilla.config.json": { build: { tasks: "build" } } }),
      code: "CONFIG_INVALID",
      expected: ["flotilla.config.json", "build.tasks"],
    },
    {
      area: "config",
      name: "images.include that is a string, not a list of globs",
      command: ["plan"],
      edit: (d) => write(d, { "flotilla.config.json": { images: { include: "apps/*" } } }),
      code: "CONFIG_INVALID",
      expected: ["flotilla.config.json", "images.include"],
    },
    {
      area: "config",
      name: "--config naming a file that does not exist",
      command: ["plan", "--config", "nope.json"],
      code: "CONFIG_NOT_FOUND",
      expected: ["nope.json", "--config"],
    },
    {
      area: "config",
      name: "npm.registry in the config that is not a URL",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_NPM_REGISTRY: "" },
      edit: (d) => write(d, { "flotilla.config.json": { npm: { registry: "registry.example" } } }),
      code: "CONFIG_INVALID",
      expected: ["flotilla.config.json", /npm\.registry: Invalid URL/],
      // (CONFIG_INVALID: the schema refuses it before the endpoint check)
    },
    {
      area: "config",
      name: "github.latest naming no workspace package",
      command: ["publish", "--dry-run"],
      edit: (d) => write(d, { "flotilla.config.json": { github: { latest: "@x/ghost" } } }),
      code: "CONFIG_LATEST_UNKNOWN",
      expected: ["flotilla.config.json", "github.latest", "@x/ghost"],
    },
    {
      area: "config",
      name: "images.registry in the config that is a URL, not a host",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_IMAGE_REGISTRY: "" },
      edit: (d) => write(d, { ...app, "flotilla.config.json": { images: { registry: "https://ghcr.io" } } }),
      code: "ENDPOINT_INVALID",
      expected: ["flotilla.config.json", "images.registry", /not a registry host/],
    },
    // Dockerfiles and image names
    {
      area: "Dockerfiles",
      name: "images.apps naming a Dockerfile that does not exist",
      command: ["publish", "--dry-run"],
      edit: (d) =>
        write(d, { ...app, "flotilla.config.json": { images: { apps: { "@x/web": { dockerfile: "docker/Dockerfile.prod" } } } } }),
      code: "DOCKERFILE_MISSING",
      expected: ["apps/web/docker/Dockerfile.prod", "images.apps"],
    },
    {
      area: "Dockerfiles",
      name: "a Dockerfile outside its build context",
      command: ["publish", "--dry-run"],
      edit: (d) =>
        write(d, {
          ...app,
          "Dockerfile.web": "FROM scratch\n",
          "flotilla.config.json": { images: { apps: { "@x/web": { dockerfile: "../../Dockerfile.web" } } } },
        }),
      code: "DOCKERFILE_OUTSIDE_CONTEXT",
      expected: ["Dockerfile.web", /outside the build context/, /context/],
    },
    {
      area: "names",
      name: "an image name that is not a valid OCI name",
      command: ["publish", "--dry-run"],
      edit: (d) => write(d, { ...app, "flotilla.config.json": { images: { apps: { "@x/web": { name: "Web App" } } } } }),
      code: "IMAGE_NAME_INVALID",
      expected: ["@x/web", /not a valid image name/, "images.apps"],
    },
    {
      area: "names",
      name: "an image with no owner to name it by",
      command: ["publish", "--dry-run"],
      env: { GITHUB_REPOSITORY: "" },
      edit: (d) => write(d, app),
      code: "OWNER_UNKNOWN",
      expected: ["@x/web", /no owner known/, /"owner"/],
    },
    {
      area: "environment",
      name: "image registry credentials missing",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_IMAGE_REGISTRY_PASSWORD: "", GITHUB_TOKEN: "" },
      edit: (d) => write(d, app),
      code: "IMAGE_CREDENTIALS_MISSING",
      expected: [/no credentials for/, "FLOTILLA_IMAGE_REGISTRY_USERNAME"],
    },
    // names against GitHub Packages
    {
      area: "names",
      name: "GitHub Packages: a scope that is not the owner",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_NPM_REGISTRY: "https://npm.pkg.github.com", GITHUB_REPOSITORY: "acme/repo" },
      code: "GHP_SCOPE_NOT_OWNER",
      expected: ["packages/a/package.json", '@x/a: scope @x is not the owner "acme"', "rename it to @acme/a"],
    },
    {
      area: "names",
      name: "GitHub Packages: an unscoped package",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_NPM_REGISTRY: "https://npm.pkg.github.com", GITHUB_REPOSITORY: "x/repo" },
      edit: (d) => write(d, { "packages/c/package.json": pj("plain-lib", "1.0.0") }),
      code: "GHP_UNSCOPED",
      expected: ["packages/c/package.json", /plain-lib has no scope/, "@x/plain-lib"],
    },
    {
      area: "versions",
      name: "a version that is not semver on a public package publish would release",
      command: ["publish", "--dry-run"],
      edit: (d) => write(d, { "packages/b/package.json": pj("@x/b", "two") }),
      code: "PACKAGE_INVALID_VERSION",
      expected: ["packages/b/package.json", "@x/b", '"two"'],
    },
    {
      area: "package.json",
      name: "publishConfig.provenance outside CI",
      command: ["publish", "--dry-run"],
      edit: (d) => write(d, { "packages/a/package.json": pj("@x/a", "1.0.0", { publishConfig: { provenance: true } }) }),
      code: "NPM_PROVENANCE_NO_CI",
      expected: ["@x/a", /provenance/],
    },
    // flags
    {
      area: "flags",
      name: "--concurrency 0",
      command: ["publish", "--concurrency", "0"],
      code: "USAGE",
      expected: [/--concurrency takes a whole number ≥ 1/],
    },
    {
      area: "flags",
      name: "--filter matching no package",
      command: ["publish", "--dry-run", "--filter", "@nope/*"],
      code: "FILTER_NO_MATCH",
      expected: ['--filter: no workspace package matches "@nope/*"', "@x/a"],
    },
    {
      area: "flags",
      name: "an unknown command",
      command: ["pubish"],
      code: "USAGE",
      expected: [/unknown command 'pubish'/],
    },
    {
      area: "flags",
      name: "--cwd naming a folder that does not exist",
      command: ["plan", "--cwd", "/nonexistent/flotilla-catalogue"],
      code: "WORKSPACE_NOT_FOUND",
      expected: ["/nonexistent/flotilla-catalogue", "--cwd"],
    },
    // environment
    {
      area: "environment",
      name: "FLOTILLA_NPM_REGISTRY with a scheme that is not http(s)",
      command: ["publish", "--dry-run"],
      env: { FLOTILLA_NPM_REGISTRY: "ftp://registry.example/" },
      code: "ENDPOINT_INVALID",
      expected: ['FLOTILLA_NPM_REGISTRY: "ftp://registry.example" is not an http(s) URL'],
    },
    {
      area: "environment",
      name: "no GITHUB_TOKEN while GitHub releases are on",
      command: ["publish", "--dry-run"],
      env: { GITHUB_TOKEN: "" },
      code: "GITHUB_NOT_CONFIGURED",
      // The fix names only what is missing (GITHUB_REPOSITORY is set here).
      expected: [/no GITHUB_TOKEN/, /fix: set GITHUB_TOKEN, or turn releases off/, /"releases": false|--only/],
    },
    {
      area: "environment",
      name: "no npm token",
      command: ["publish", "--dry-run"],
      env: { NODE_AUTH_TOKEN: "", GITHUB_TOKEN: "" },
      code: "NPM_TOKEN_MISSING",
      expected: [/no npm token/, "NODE_AUTH_TOKEN"],
    },
    {
      area: "environment",
      name: "GITHUB_REPOSITORY that is not OWNER/REPO",
      command: ["publish", "--dry-run"],
      env: { GITHUB_REPOSITORY: "just-a-name" },
      code: "ENDPOINT_INVALID",
      expected: ["GITHUB_REPOSITORY", '"just-a-name"'],
    },
    // git state
    {
      area: "git",
      name: "a dirty working tree",
      command: ["publish", "--dry-run"],
      // A tracked file changed (untracked files are build output and do not count).
      edit: (d) => write(d, { "packages/a/package.json": { name: "@x/a", version: "1.0.0", description: "changed" } }, false),
      code: "GIT_DIRTY",
      expected: [/uncommitted changes \(packages\/a\/package\.json\)/, "--allow-dirty"],
    },
    {
      area: "git",
      name: "no origin remote",
      command: ["publish", "--dry-run"],
      noOrigin: true,
      code: "GIT_NO_ORIGIN",
      expected: [/no `origin` remote/, /git remote add origin/],
    },
    {
      area: "git",
      name: "not a git repository",
      command: ["publish", "--dry-run"],
      noOrigin: true,
      edit: (d) => rmSync(path.join(d, ".git"), { recursive: true, force: true }),
      code: "GIT_NOT_A_REPOSITORY",
      expected: [/not a git repository/, /git init/],
    },
  ];

  for (const c of cases) {
    it(`${c.area}: ${c.name}`, async () => {
      const dir = c.noOrigin ? base() : withOrigin();
      c.edit?.(dir);
      const runEnv = env(c.env);
      const before = snapshotLocal(dir);
      const writes = refusing.writes;
      const tokens = [{ value: fake.npm }, { value: fake.gh, user: "bot" }, { value: fake.oci, user: "bot" }];
      // One run with --json: the human text on stderr, the error document on stdout.
      const run = await runScanned([...c.command, "--json"], { cwd: dir, env: runEnv, tokens });
      expect(run.exitCode, run.stderr).toBe(2);
      for (const e of c.expected) expect(run.stderr, run.stderr).toMatch(e);
      expect(run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      expect(run.leaks).toEqual([]);
      const doc = JSON.parse(run.stdout) as ErrorDocument;
      expect(doc.error.exitCode).toBe(2);
      const problem = doc.error.problems.find((p) => p.code === c.code);
      expect(problem, run.stdout).toBeDefined();
      expect(problem!.fix, "the problem says what fixes it").toBeTruthy();
      expect(snapshotLocal(dir)).toEqual(before);
      expect(refusing.writes - writes, "no write reached a service").toBe(0);
    });
  }
  it("has at least 40 offline cases", () => expect(cases.length).toBeGreaterThanOrEqual(40));
});

/** The work tree and every ref (local and, when there is one, origin's). */
function snapshotLocal(dir: string): { tree: string; refs: string; origin: string } {
  const git = (...args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch {
      return "";
    }
  };
  return { tree: treeDigest(dir), refs: git("show-ref", "--head"), origin: git("ls-remote", "origin") };
}

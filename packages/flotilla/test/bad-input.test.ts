import { rmSync, writeFileSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, makeWorkspace, tempDir, treeDigest, writeTree } from "./helpers/fixtures.ts";

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
 * Runs `command` (plain and with --json): exit 2, the expected message on stderr, no stack trace,
 * nothing changed; with --json, stdout is exactly one error document carrying the same problems.
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
  const plain = await runFlotilla(command, { cwd: dir, env });
  expect(plain.exitCode, plain.stderr).toBe(2);
  for (const e of expected) expect(plain.stderr).toMatch(e);
  expect(plain.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
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

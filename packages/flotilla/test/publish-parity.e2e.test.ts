/**
 * Publish parity (issue 9): the same fixture workspace published once by `flotilla publish` and
 * once by real `pnpm publish` (as `changeset publish` runs it: per package, `--access
 * publishConfig.access || changesets' access`), each under its own scope in the testbed's
 * Verdaccio, through a proxy that records the publish requests. Tarballs (files, contents,
 * modes), the packed package.json, the requests (`access`, the version manifest) and the
 * packuments (`readme`, dist-tags, versions) are compared with the scope normalised, equal
 * except for the differences README.md's "Decisions" documents.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import * as tar from "tar";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, tempDir, writeTree } from "./helpers/fixtures.ts";
import { type RecordedPut, recordingProxy } from "./helpers/recording-proxy.ts";
import { envFor, packument, testbed, uniqueScope } from "./helpers/testbed.ts";

const HOOKS = ["prepublishOnly", "prepublish", "prepack", "prepare", "postpack", "publish", "postpublish"];
/** What pnpm 12 runs for `pnpm publish`, in order (install ran `prepare` once before). */
const PUBLISH_ORDER = ["prepare", "prepublishOnly", "prepublish", "prepack", "prepare", "postpack", "publish", "postpublish"];
const NAMES = ["readme", "plain-readme", "directory", "hooks", "overrides"] as const;

/** The fixture: README, access, every lifecycle script, publishConfig overrides, workspace:/catalog:, files. */
function parityWorkspace(scope: string): string {
  const s = `@${scope}`;
  const scripts = Object.fromEntries(HOOKS.map((h) => [h, `echo ${h} >> hooks.log`]));
  // Files the scripts make end up in the tarball (`files` lists gen/), so the order shows there too.
  scripts.prepublishOnly = "echo prepublishOnly >> hooks.log && mkdir -p gen && echo from-prepublishOnly > gen/prepublishOnly.txt";
  scripts.prepack = "echo prepack >> hooks.log && mkdir -p gen && echo from-prepack > gen/prepack.txt";
  const dir = writeTree({
    "package.json": { name: "parity-root", private: true },
    "pnpm-workspace.yaml":
      "packages:\n  - packages/*\ncatalog:\n  left-pad: ^1.3.0\n# peers are not installed: the testbed registry has no uplink\nautoInstallPeers: false\n",
    ".gitignore": "node_modules/\nhooks.log\ngen/\n",
    ".changeset/config.json": { changelog: false, commit: false, access: "restricted", baseBranch: "main" },
    "packages/readme/package.json": {
      name: `${s}/readme`,
      version: "1.0.0",
      description: "has a README.md",
      license: "MIT",
      files: ["index.js"],
      publishConfig: { access: "public" },
    },
    "packages/readme/README.md": `# ${s}/readme\n\nSome *markdown*.\n`,
    "packages/readme/index.js": "module.exports = 1;\n",
    "packages/readme/notes.txt": "not in files\n",
    "packages/plain-readme/package.json": { name: `${s}/plain-readme`, version: "1.0.0" },
    "packages/plain-readme/README": "A README without an extension.\n",
    "packages/plain-readme/index.js": "module.exports = 2;\n",
    "packages/directory/package.json": { name: `${s}/directory`, version: "1.0.0", publishConfig: { directory: "dist" } },
    "packages/directory/README.md": "# the source folder's README\n",
    "packages/directory/dist/package.json": { name: `${s}/directory`, version: "1.0.0", main: "index.js" },
    "packages/directory/dist/README.md": "# the published folder's README\n",
    "packages/directory/dist/index.js": "module.exports = 3;\n",
    "packages/hooks/package.json": {
      name: `${s}/hooks`,
      version: "1.0.0",
      files: ["index.js", "gen"],
      scripts,
      dependencies: { [`${s}/readme`]: "workspace:^", [`${s}/plain-readme`]: "workspace:*" },
    },
    "packages/hooks/README.md": "# hooks\n",
    "packages/hooks/index.js": "module.exports = 4;\n",
    "packages/overrides/package.json": {
      name: `${s}/overrides`,
      version: "1.0.0",
      main: "src/index.js",
      files: ["dist"],
      dependencies: { [`${s}/hooks`]: "workspace:~" },
      peerDependencies: { "left-pad": "catalog:" },
      publishConfig: { main: "dist/index.js", exports: { ".": "./dist/index.js" }, bin: { [`ov-${scope}`]: "./dist/cli.js" } },
    },
    "packages/overrides/readme.md": "lowercase readme.md\n",
    "packages/overrides/src/index.js": "module.exports = 5;\n",
    "packages/overrides/dist/index.js": "module.exports = 5;\n",
    "packages/overrides/dist/cli.js": "#!/usr/bin/env node\nconsole.log(5);\n",
  });
  chmodSync(path.join(dir, "packages/overrides/dist/cli.js"), 0o755);
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  gitCommitAll(dir, "initial");
  return dir;
}

function cleanEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => e[1] !== undefined && !/^(npm_|pnpm_|NODE_AUTH_TOKEN|FLOTILLA_)/i.test(e[0]),
    ),
  );
}

/** Every file of a tarball: path → mode and content. */
async function tarballFiles(data: Buffer): Promise<Record<string, { mode: number; content: string }>> {
  const file = path.join(tempDir("parity-tgz-"), "p.tgz");
  writeFileSync(file, data);
  const out: Record<string, { mode: number; content: string }> = {};
  await tar.t({
    file,
    onReadEntry: (e) => {
      let content = "";
      e.on("data", (c: Buffer) => {
        content += c.toString("utf8");
      });
      e.on("end", () => {
        out[e.path] = { mode: e.mode ?? 0, content };
      });
    },
  });
  return out;
}

describe("publish parity with pnpm publish", () => {
  const tb = testbed();
  const unique = uniqueScope();
  const fa = `fa${unique}`;
  const pb = `pb${unique}`;
  /** One scope's names and texts written as the other's. */
  const norm = (v: unknown, from: string) => JSON.parse(JSON.stringify(v).replaceAll(from, "SCOPE"));
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;
  let flotillaDir: string;
  let pnpmDir: string;
  const putOf = (scope: string, name: string): RecordedPut => {
    const put = proxy.puts.filter((p) => p.url === `/@${scope}/${name}`);
    expect(put, `one publish request for @${scope}/${name}`).toHaveLength(1);
    return put[0]!;
  };
  const tarballOf = async (scope: string, name: string) => {
    const res = await fetch(`${tb.npm.url}/@${scope}/${name}/-/${name}-1.0.0.tgz`, {
      headers: { authorization: `Bearer ${tb.npm.token}` },
    });
    expect(res.status).toBe(200);
    return tarballFiles(Buffer.from(await res.arrayBuffer()));
  };

  beforeAll(async () => {
    proxy = await recordingProxy(tb.npm.url);
    flotillaDir = parityWorkspace(fa);
    pnpmDir = parityWorkspace(pb);

    const r = await runFlotilla(["publish", "--only", "npm", "--skip-build", "--json"], {
      cwd: flotillaDir,
      env: envFor(tb, { FLOTILLA_NPM_REGISTRY: proxy.url }),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    // A package has pack scripts: nothing is packed before the plan, so they run once, in order.
    expect(r.stdout + r.stderr).not.toContain("packed while the registries were read");

    // `changeset publish` as it runs pnpm: per package, in dependency order, `--access
    // publishConfig.access || config.access`, auth in a user npmrc outside the workspace.
    const npmrc = path.join(tempDir("parity-npmrc-"), "npmrc");
    writeFileSync(npmrc, `${proxy.url.replace(/^http:/, "")}/:_authToken=${tb.npm.token}\n`, { mode: 0o600 });
    writeFileSync(path.join(pnpmDir, ".npmrc"), `@${pb}:registry=${proxy.url}/\n`);
    for (const name of ["readme", "plain-readme", "directory", "hooks", "overrides"]) {
      const cwd = path.join(pnpmDir, "packages", name);
      const pj = JSON.parse(readFileSync(path.join(cwd, "package.json"), "utf8")) as { publishConfig?: { access?: string } };
      const access = pj.publishConfig?.access || "restricted";
      const p = await execa("pnpm", ["publish", "--access", access, "--tag", "latest", "--no-git-checks"], {
        cwd,
        reject: false,
        // Without the npm_config_* variables of whatever started the tests (npx sets a userconfig).
        env: { ...cleanEnv(), NPM_CONFIG_USERCONFIG: npmrc, npm_config_update_notifier: "false" },
        extendEnv: false,
      });
      expect(p.exitCode, `${name}: ${p.stdout}\n${p.stderr}`).toBe(0);
    }
  }, 300_000);

  afterAll(async () => {
    await proxy?.close();
  });

  it("runs the lifecycle scripts pnpm publish runs, in its order", () => {
    for (const dir of [flotillaDir, pnpmDir]) {
      const log = readFileSync(path.join(dir, "packages/hooks/hooks.log"), "utf8").trim().split("\n");
      expect(log).toEqual(PUBLISH_ORDER);
    }
  });

  it.each(NAMES)("packs the same tarball for %s (files, modes, contents, package.json)", async (name) => {
    const a = await tarballOf(fa, name);
    const b = await tarballOf(pb, name);
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(norm(a, fa)).toEqual(norm(b, pb));
    if (name === "hooks") expect(a["package/gen/prepublishOnly.txt"]?.content).toBe("from-prepublishOnly\n");
    if (name === "overrides") {
      const pj = JSON.parse(a["package/package.json"]!.content);
      expect(pj).toMatchObject({ main: "dist/index.js", exports: { ".": "./dist/index.js" }, peerDependencies: { "left-pad": "^1.3.0" } });
      expect(pj.dependencies).toEqual({ [`@${fa}/hooks`]: "~1.0.0" });
    }
  });

  it.each(NAMES)("sends the same publish request for %s (access, version manifest, dist-tags)", (name) => {
    const a = putOf(fa, name).body;
    const b = putOf(pb, name).body;
    expect(a.access).toBe(b.access);
    expect(a.access).toBe(name === "readme" ? "public" : "restricted");
    expect(norm(a["dist-tags"], fa)).toEqual(norm(b["dist-tags"], pb));
    const va = { ...a.versions!["1.0.0"]! };
    const vb = { ...b.versions!["1.0.0"]! };
    // Documented differences: libnpmpublish records the Node version; the dist block names the
    // tarball's own digest (the contents differ by the scope name); npm reads a README that has
    // no .md extension, pnpm 12 does not.
    expect(va._nodeVersion).toBe(process.versions.node);
    for (const v of [va, vb]) {
      delete v._nodeVersion;
      delete v.dist;
    }
    if (name === "plain-readme") {
      expect(va.readme).toBe("A README without an extension.\n");
      expect(vb.readme).toBeUndefined();
      delete va.readme;
    }
    expect(norm(va, fa)).toEqual(norm(vb, pb));
  });

  it.each(NAMES)("ends with the same packument for %s (readme, dist-tags, versions)", async (name) => {
    const a = (await packument(tb, `@${fa}/${name}`)) as unknown as Record<string, unknown> & {
      versions: Record<string, Record<string, unknown>>;
    };
    const b = (await packument(tb, `@${pb}/${name}`)) as unknown as typeof a;
    expect(Object.keys(a.versions)).toEqual(["1.0.0"]);
    const pick = (d: typeof a, scope: string) =>
      norm(
        {
          readme: d.readme,
          "dist-tags": d["dist-tags"],
          versions: Object.fromEntries(
            Object.entries(d.versions).map(([v, m]) => {
              const { _nodeVersion, dist, ...rest } = m;
              return [v, rest];
            }),
          ),
        },
        scope,
      );
    const pa = pick(a, fa);
    const pb_ = pick(b, pb);
    if (name === "plain-readme") {
      expect(pa.readme).toBe("A README without an extension.\n");
      expect(pb_.readme).toBe("");
      pa.readme = "";
    }
    expect(pa).toEqual(pb_);
    const readmes: Record<string, string> = {
      readme: `# @SCOPE/readme\n\nSome *markdown*.\n`,
      directory: "# the published folder's README\n",
      hooks: "# hooks\n",
      overrides: "lowercase readme.md\n",
      "plain-readme": "",
    };
    expect(pa.readme).toBe(readmes[name]);
  });
});

/** A workspace of `packages` (folder → package.json), installed and committed. */
function workspaceOf(packages: Record<string, object>): string {
  const files: Record<string, string | object> = {
    "package.json": { name: "fixture-root", private: true },
    "pnpm-workspace.yaml": "packages:\n  - packages/*\n",
    ".gitignore": "node_modules/\n",
    ".changeset/config.json": { changelog: false, commit: false, baseBranch: "main" },
  };
  for (const [dir, pj] of Object.entries(packages)) {
    files[`packages/${dir}/package.json`] = pj;
    files[`packages/${dir}/index.js`] = "module.exports = 1;\n";
  }
  const dir = writeTree(files);
  execFileSync("pnpm", ["install", "--silent"], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  gitCommitAll(dir, "initial");
  return dir;
}

describe("publish's own refusals and failures around pnpm publish's hooks", () => {
  const tb = testbed();

  it("refuses publishConfig.provenance where it cannot be made (not on CI; GitHub Actions without id-token): exit 2, nothing published", async () => {
    const s = uniqueScope();
    const dir = workspaceOf({
      prov: { name: `@${s}/prov`, version: "1.0.0", publishConfig: { provenance: true, access: "public" } },
      plain: { name: `@${s}/plain`, version: "1.0.0" },
    });
    const local = await runFlotilla(["publish", "--only", "npm", "--skip-build"], { cwd: dir, env: envFor(tb) });
    expect(local.exitCode, local.stderr).toBe(2);
    expect(local.stderr).toContain("packages/prov/package.json");
    expect(local.stderr).toContain("publishConfig.provenance");
    expect(local.stderr).toMatch(/provenance can only be generated on GitHub Actions/);
    expect(local.stderr).not.toMatch(/\n\s+at .+\(.*:\d+:\d+\)/); // no stack trace

    const gha = await runFlotilla(["publish", "--only", "npm", "--skip-build"], { cwd: dir, env: envFor(tb, { GITHUB_ACTIONS: "true" }) });
    expect(gha.exitCode, gha.stderr).toBe(2);
    expect(gha.stderr).toContain("id-token: write");
    expect(await packument(tb, `@${s}/prov`)).toBeNull();
    expect(await packument(tb, `@${s}/plain`)).toBeNull();
  });

  it("a failing prepublishOnly fails its package (nothing published, dependents skipped), the others go out", async () => {
    const s = uniqueScope();
    const dir = workspaceOf({
      base: { name: `@${s}/base`, version: "1.0.0", scripts: { prepublishOnly: "echo cannot-generate-types >&2 && exit 3" } },
      dep: { name: `@${s}/dep`, version: "1.0.0", dependencies: { [`@${s}/base`]: "workspace:^" } },
      other: { name: `@${s}/other`, version: "1.0.0", scripts: { prepublishOnly: "echo ok > prepublished.txt" } },
    });
    const r = await runFlotilla(["publish", "--only", "npm", "--skip-build", "--json"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stderr).toBe(1);
    const { releases } = JSON.parse(r.stdout) as { releases: { name: string; status: string; error?: string }[] };
    const by = Object.fromEntries(releases.map((x) => [x.name.replace(`@${s}/`, ""), x]));
    expect(by.base).toMatchObject({ status: "failed" });
    expect(by.base!.error).toMatch(/prepublishOnly script failed \(exit 3\)/);
    expect(by.base!.error).toContain("cannot-generate-types");
    expect(by.dep).toMatchObject({ status: "skipped" });
    expect(by.other).toMatchObject({ status: "published" });
    expect(await packument(tb, `@${s}/base`)).toBeNull();
    expect(await packument(tb, `@${s}/dep`)).toBeNull();
    expect(readFileSync(path.join(dir, "packages/other/prepublished.txt"), "utf8")).toBe("ok\n");
  });
});

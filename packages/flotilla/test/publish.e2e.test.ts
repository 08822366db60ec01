/**
 * `flotilla publish` end to end: the real binary against the testbed's Verdaccio and bare git
 * remotes. Assertions are on what the registry and origin hold afterwards and on what the
 * user was told.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { FLOTILLA_BIN, runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, tempDir, writeTree } from "./helpers/fixtures.ts";
import {
  envFor,
  exampleRepo,
  packument,
  releasableWorkspace,
  remoteTagNames,
  setVersion,
  testbed,
  uniqueScope,
  verdaccioRequests,
  versionedExamples,
} from "./helpers/testbed.ts";

const chain = (s: string) => [
  { name: `@${s}/base`, version: "1.0.0" },
  { name: `@${s}/mid`, version: "1.1.0", dependencies: { [`@${s}/base`]: "workspace:^" } },
  { name: `@${s}/top`, version: "0.3.0", dependencies: { [`@${s}/mid`]: "workspace:^" } },
  { name: `@${s}/side`, version: "2.0.0" },
  { name: `@${s}/app`, version: "1.0.0", private: true, dir: "apps/app", dependencies: { [`@${s}/top`]: "workspace:*" } },
];
const puts = (tb: ReturnType<typeof testbed>, scope: string) =>
  verdaccioRequests(tb, scope).filter((r) => r.method === "PUT" && /^\/@[^/]+\/[^/]+$/.test(r.url));

describe("flotilla publish", () => {
  it("releases examples/ after `changeset version`: every public package, real ranges, no private package on npm, app images, tags on origin; a rerun does nothing", async () => {
    const tb = testbed();
    // A unique scope, so reruns of the suite on one testbed do not collide.
    const scope = uniqueScope();
    const { dir, origin } = versionedExamples(scope);

    const env = envFor(tb);
    const r = await runFlotilla(["publish", "--json"], { cwd: dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { releases: { name: string; version: string; status: string }[] };
    const byName = Object.fromEntries(result.releases.map((x) => [x.name.replace(`@${scope}/`, ""), x]));
    expect(byName.tokens).toMatchObject({ version: "1.1.0", status: "published" });
    expect(byName.core).toMatchObject({ version: "1.2.1", status: "published" });
    expect(byName.ui).toMatchObject({ version: "0.4.1", status: "published" });

    for (const [n, v] of [
      ["tokens", "1.1.0"],
      ["core", "1.2.1"],
      ["ui", "0.4.1"],
    ] as const) {
      const doc = await packument(tb, `@${scope}/${n}`);
      expect(Object.keys(doc!.versions)).toEqual([v]);
      expect(doc!["dist-tags"].latest).toBe(v);
      expect(JSON.stringify(doc!.versions[v]!.dependencies ?? {})).not.toContain("workspace:");
    }
    expect((await packument(tb, `@${scope}/ui`))!.versions["0.4.1"]!.dependencies).toEqual({
      [`@${scope}/core`]: "^1.2.1",
      [`@${scope}/tokens`]: "^1.1.0",
    });
    expect(await packument(tb, `@${scope}/web`)).toBeNull();
    expect(await packument(tb, `@${scope}/api`)).toBeNull();
    expect(remoteTagNames(origin)).toEqual(
      [`@${scope}/api@2.0.5`, `@${scope}/core@1.2.1`, `@${scope}/tokens@1.1.0`, `@${scope}/ui@0.4.1`, `@${scope}/web@1.4.0`].sort(),
    );

    // Each app image: V, MAJOR.MINOR, MAJOR, latest at one digest, and it runs.
    const reg = new OciRegistry({ host: tb.registry.host, username: tb.registry.username, password: tb.registry.password });
    for (const [app, v, minor, major] of [
      ["web", "1.4.0", "1.4", "1"],
      ["api", "2.0.5", "2.0", "2"],
    ] as const) {
      const repo = `${scope}/${app}`;
      expect((await reg.tags(repo)).sort()).toEqual([major, minor, v, "latest"].sort());
      const digests = await Promise.all([v, minor, major, "latest"].map((t) => reg.digest(repo, t)));
      expect(new Set(digests).size).toBe(1);
      expect(await reg.labels(repo, "latest")).toMatchObject({
        "org.opencontainers.image.version": v,
        "org.opencontainers.image.title": `@${scope}/${app}`,
      });
      const ran = await execa("docker", ["run", "--rm", `${tb.registry.host}/${repo}:${v}`], { env: { DOCKER_HOST: tb.docker.host } });
      expect(ran.stdout.trim()).toBe(`@${scope}/${app} ${v}`);
    }

    const before = puts(tb, scope).length;
    const again = await runFlotilla(["publish"], { cwd: dir, env });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toContain("Nothing to release");
    expect(puts(tb, scope).length).toBe(before);
  });

  it("the release lock: a run with nothing to do takes over a gone run's lock and leaves none; an origin that refuses the lock ref fails only a run with work (exit 2)", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    const run = () => runFlotilla(["publish", "--skip-build", "--only", "npm", "--only", "git"], { cwd: dir, env: envFor(tb) });
    const originRefs = (pattern: string) =>
      execFileSync("git", ["for-each-ref", "--format=%(refname)", pattern], { cwd: origin, encoding: "utf8" }).trim();
    const dropRecord = () => {
      for (const ref of originRefs("refs/flotilla/released").split("\n").filter(Boolean))
        execFileSync("git", ["update-ref", "-d", ref], { cwd: origin });
    };
    // The record and the lock's deletion reach origin in one atomic push: one ref transaction, the last.
    const transactions = path.join(origin, "transactions");
    writeFileSync(
      path.join(origin, "hooks", "reference-transaction"),
      `#!/bin/sh\n[ "$1" = committed ] || exit 0\n{ cat; echo --; } >> '${transactions}'\n`,
      { mode: 0o755 },
    );
    expect((await run()).exitCode).toBe(0);
    const head = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
    const last = readFileSync(transactions, "utf8").split("--\n").filter(Boolean).at(-1)!;
    expect(last).toMatch(new RegExp(`^0{40} [0-9a-f]{40} refs/flotilla/released/${head}/`, "m"));
    expect(last).toMatch(new RegExp(`^[0-9a-f]{40} 0{40} refs/flotilla/lock/${head}$`, "m"));
    expect(originRefs("refs/flotilla/lock")).toBe("");

    // A run killed before its last push left its lock, and no record (one push writes the record and deletes the lock).
    dropRecord();
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000).toISOString();
    const holder = JSON.stringify({ host: "runner-gone", pid: 1, started: tenMinutesAgo, heartbeat: tenMinutesAgo, every: 30 });
    const left = execFileSync("git", ["commit-tree", `${head}^{tree}`, "-p", head, "-m", holder], { cwd: dir, encoding: "utf8" }).trim();
    execFileSync("git", ["push", "--quiet", "origin", `${left}:refs/flotilla/lock/${head}`], { cwd: dir });
    const rerun = await run();
    expect(rerun.exitCode, rerun.stdout + rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/taking over the release lock of a run that is gone \(pid 1 on runner-gone/);
    expect(rerun.stdout).toContain("Nothing to release: every version is already released.");
    expect(originRefs("refs/flotilla/lock")).toBe("");
    expect(originRefs("refs/flotilla/released")).not.toBe("");

    // Origin refuses refs/flotilla/lock/* (a token or ruleset that may not create it): nothing to
    // do is still exit 0; with work, a failed preflight (exit 2) naming the fix, nothing published.
    dropRecord();
    const hook = path.join(origin, "hooks", "update");
    writeFileSync(
      hook,
      `#!/bin/sh\ncase "$1" in refs/flotilla/lock/*) echo x >> '${path.join(origin, "lock-attempts")}'; echo "lock refs are not allowed here" >&2; exit 1;; esac\nexit 0\n`,
      { mode: 0o755 },
    );
    const noop = await run();
    expect(noop.exitCode, noop.stdout + noop.stderr).toBe(0);
    expect(noop.stdout).toContain("Nothing to release");
    setVersion(dir, "packages/lib", "1.0.1");
    execFileSync("git", ["push", "--quiet", "origin", "main"], { cwd: dir });
    const refused = await run();
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(
      /cannot take the release lock refs\/flotilla\/lock\/[0-9a-f]+ on origin, so nothing was changed: .*lock refs are not allowed here/,
    );
    expect(refused.stderr).toMatch(/fix: let this job push refs\/flotilla\/\* to origin/);
    // A refusal origin states is not pushed again: one lock push per run.
    expect(readFileSync(path.join(origin, "lock-attempts"), "utf8").trim().split("\n")).toHaveLength(2);
    expect(Object.keys((await packument(tb, `@${s}/lib`))!.versions)).toEqual(["1.0.0"]);
  });

  it("a run killed with SIGKILL after its first publish is finished by a rerun; every version is published exactly once", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace(chain(s));
    const env = envFor(tb);
    const child = spawn(process.execPath, [FLOTILLA_BIN, "publish", "--skip-build", "--concurrency", "1"], {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: "ignore",
    });
    const deadline = Date.now() + 60_000;
    while (!puts(tb, s).some((p) => p.status === 201) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    expect(puts(tb, s).filter((p) => p.status === 201).length).toBeGreaterThanOrEqual(1);
    // Tags follow artifacts (SPEC §5a.1): a tag on origin only for a package whose version is on
    // the registry — or the private app, which has no artifact to wait for.
    const published = new Set(
      puts(tb, s)
        .filter((p) => p.status === 201)
        .map((p) => p.url.slice(1)),
    );
    for (const t of remoteTagNames(origin)) {
      const name = t.slice(0, t.lastIndexOf("@"));
      expect(name === `@${s}/app` || published.has(name), `${t} is on origin before its package's version`).toBe(true);
    }

    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const ok = puts(tb, s).filter((p) => p.status === 201);
    expect(ok.map((p) => p.url).sort()).toEqual([`/@${s}/base`, `/@${s}/mid`, `/@${s}/side`, `/@${s}/top`]);
    expect(remoteTagNames(origin)).toEqual([
      `@${s}/app@1.0.0`,
      `@${s}/base@1.0.0`,
      `@${s}/mid@1.1.0`,
      `@${s}/side@2.0.0`,
      `@${s}/top@0.3.0`,
    ]);
  });

  it("--skip-build packs while the registries are read: the registry holds the bytes `pnpm pack` makes, only what the plan publishes goes out, no temporary folder is left", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace(chain(s));
    const tmp = tempDir("pack-ahead-tmp-");
    const env = { ...envFor(tb), TMPDIR: tmp };
    const leftovers = () => readdirSync(tmp).filter((f) => f !== "node-compile-cache"); // Node's own, kept on purpose
    const first = await runFlotilla(["publish", "--skip-build", "--only", "npm"], { cwd: dir, env });
    expect(first.exitCode, first.stderr + first.stdout).toBe(0);
    expect(first.stdout).toContain("packed while the registries were read");
    expect(leftovers()).toEqual([]);

    expect(first.stdout).not.toContain("not in git");
    // A new version of one package: every public package is packed ahead, one is published. A
    // file git does not know in its folder goes into the tarball: the run names it.
    setVersion(dir, "packages/side", "2.0.1");
    writeFileSync(path.join(dir, "packages/side/notes.local"), "not for the registry\n");
    const before = puts(tb, s).length;
    const second = await runFlotilla(["publish", "--skip-build", "--only", "npm"], { cwd: dir, env });
    expect(second.exitCode, second.stderr + second.stdout).toBe(0);
    expect(second.stdout).toContain("packed while the registries were read");
    expect(second.stdout).toMatch(/warning: not in git, yet in the folders of packages being published .*: packages\/side\/notes\.local;/);
    expect(
      puts(tb, s)
        .slice(before)
        .filter((p) => p.status === 201)
        .map((p) => p.url),
    ).toEqual([`/@${s}/side`]);
    expect(leftovers()).toEqual([]);

    // The same bytes as a pack of that commit after the fact.
    const out = tempDir("pack-ahead-check-");
    execFileSync("pnpm", ["--filter", `@${s}/side`, "pack", "--pack-destination", out], { cwd: dir, stdio: "ignore" });
    const local = createHash("sha1")
      .update(readFileSync(path.join(out, readdirSync(out)[0]!)))
      .digest("hex");
    const doc = (await packument(tb, `@${s}/side`)) as unknown as { versions: Record<string, { dist: { shasum: string } }> };
    expect(doc.versions["2.0.1"]!.dist.shasum).toBe(local);
  });

  it("a rejected publish skips its dependents, releases the rest, exits 1; a rerun after the fix finishes", async () => {
    const tb = testbed();
    const s = uniqueScope();
    // Verdaccio's max_body_size (10 MB) rejects this package's publish request: a real registry refusal.
    const big = randomBytes(9 * 1024 * 1024).toString("base64");
    const { dir, origin } = releasableWorkspace(chain(s), { "packages/mid/blob.txt": big });
    const env = envFor(tb);
    const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env });
    expect(r.exitCode).toBe(1);
    const rel = Object.fromEntries(
      (JSON.parse(r.stdout) as { releases: { name: string; status: string; error?: string }[] }).releases.map((x) => [
        x.name.split("/")[1],
        x,
      ]),
    );
    expect(rel.base!.status).toBe("published");
    expect(rel.side!.status).toBe("published");
    expect(rel.mid!.status).toBe("failed");
    expect(rel.mid!.error).toMatch(/publish @\S+\/mid@1\.1\.0/);
    expect(rel.top!.status).toBe("skipped");
    expect(rel.top!.error).toContain(`@${s}/mid failed`);
    expect(await packument(tb, `@${s}/top`)).toBeNull();
    // The private app has no artifact of its own, so its tag goes out; the failed ones do not.
    expect(remoteTagNames(origin)).toEqual([`@${s}/app@1.0.0`, `@${s}/base@1.0.0`, `@${s}/side@2.0.0`]);

    rmSync(path.join(dir, "packages/mid/blob.txt"));
    gitCommitAll(dir, "drop the blob");
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(Object.keys((await packument(tb, `@${s}/top`))!.versions)).toEqual(["0.3.0"]);
    expect(remoteTagNames(origin)).toHaveLength(5);
    expect(puts(tb, s).filter((p) => p.status === 201 && p.url === `/@${s}/base`)).toHaveLength(1);
  });

  it("dist-tags: a maintenance release below latest does not move latest; a prerelease goes to its channel", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "2.0.0" }]);
    const env = envFor(tb);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    setVersion(dir, "packages/lib", "1.5.0");
    const maint = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(maint.exitCode, maint.stdout + maint.stderr).toBe(0);
    expect(maint.stdout).toContain("(latest-1)");
    setVersion(dir, "packages/lib", "3.0.0-rc.0");
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    expect((await packument(tb, `@${s}/lib`))!["dist-tags"]).toEqual({ latest: "2.0.0", "latest-1": "1.5.0", rc: "3.0.0-rc.0" });
  });

  it("with npm.promote last, versions wait under the staging tag and latest moves only when the whole release exists", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace(chain(s), { "flotilla.config.json": { npm: { promote: "last" } } });
    const env = envFor(tb);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    // Next release: base moves on, side's publish is refused by the registry (too large).
    writeFileSync(path.join(dir, "packages/side/blob.txt"), randomBytes(9 * 1024 * 1024).toString("base64"));
    setVersion(dir, "packages/side", "2.0.1");
    setVersion(dir, "packages/base", "1.0.1");
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/skipped\s+@\S+\/base@1\.0\.1 — skipped: waiting for the whole release: @\S+\/side failed/);
    const base = await packument(tb, `@${s}/base`);
    expect(Object.keys(base!.versions).sort()).toEqual(["1.0.0", "1.0.1"]);
    expect(base!["dist-tags"]).toEqual({ latest: "1.0.0", "flotilla-staging": "1.0.1" });

    rmSync(path.join(dir, "packages/side/blob.txt"));
    gitCommitAll(dir, "fix");
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect((await packument(tb, `@${s}/base`))!["dist-tags"]).toEqual({ latest: "1.0.1" });
    expect((await packument(tb, `@${s}/side`))!["dist-tags"]).toEqual({ latest: "2.0.1" });
  });

  it("--filter releases only the named packages; --only narrows the stages", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace(chain(s));
    const r = await runFlotilla(["publish", "--skip-build", "--filter", `@${s}/s*`, "--only", "npm"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    expect(
      puts(tb, s)
        .filter((p) => p.status === 201)
        .map((p) => p.url),
    ).toEqual([`/@${s}/side`]);
    expect(remoteTagNames(origin)).toEqual([]);
    const none = await runFlotilla(["publish", "--skip-build", "--filter", "@nope/*"], { cwd: dir, env: envFor(tb) });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('--filter: no workspace package matches "@nope/*"');
  });

  it("a failing build → exit 1, nothing published, no tag", async () => {
    const tb = testbed();
    const scope = uniqueScope();
    const { dir, origin } = exampleRepo(scope);
    const pj = path.join(dir, "packages/core/package.json");
    writeFileSync(pj, readFileSync(pj, "utf8").replace('"build": "node ../../scripts/build.mjs"', '"build": "node -e process.exit(3)"'));
    gitCommitAll(dir, "break the build");
    const r = await runFlotilla(["publish"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/turbo run build test failed \(exit \d+\): nothing was published/);
    expect(puts(tb, scope)).toEqual([]);
    expect(remoteTagNames(origin)).toEqual([]);
  });

  it("--dry-run reads the registry and prints the steps without doing them", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace(chain(s));
    // Every ref origin updates is logged: a dry run never takes the release lock (nor writes anything).
    const refLog = path.join(tempDir(), "refs.log");
    writeFileSync(path.join(origin, "hooks", "reference-transaction"), `#!/bin/sh\ncat >> '${refLog}'\n`, { mode: 0o755 });
    writeFileSync(refLog, "");
    const r = await runFlotilla(["publish", "--dry-run"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`publish @${s}/base@1.0.0 to ${tb.npm.url} under dist-tag "latest"`);
    expect(r.stdout).toMatch(new RegExp(`publish @${s}/mid@1\\.1\\.0 .*\\(after npm-publish:@${s}/base\\)`));
    expect(r.stdout).toContain(`create git tag @${s}/app@1.0.0`);
    // From the handlers' own describe: Verdaccio takes the PUT's dist-tag, so no second write is planned.
    expect(r.stdout).toContain(`publish @${s}/base@1.0.0 to ${tb.npm.url} under dist-tag "latest"\n`);
    expect(r.stdout).not.toContain("then set dist-tag");
    const json = await runFlotilla(["publish", "--dry-run", "--json"], { cwd: dir, env: envFor(tb) });
    expect(json.exitCode, json.stderr).toBe(0);
    const statuses = (JSON.parse(json.stdout).releases as { status: string }[]).map((x) => x.status);
    expect(new Set(statuses)).toEqual(new Set(["planned"]));
    const ci = await runFlotilla(["ci", "--dry-run"], { cwd: dir, env: envFor(tb) });
    expect(ci.exitCode, ci.stderr).toBe(0);
    expect(ci.stdout).toContain(`publish @${s}/top@0.3.0`);
    // No turbo.json in this workspace: pnpm's topological run builds it (build.e2e.test.ts).
    expect(r.stdout).toMatch(new RegExp(`pnpm -r --filter @${s}/base\\.\\.\\. .*--filter @${s}/top\\.\\.\\. run --if-present build`));
    expect(r.stdout).toContain(`pnpm -r --filter @${s}/base`);
    expect(puts(tb, s)).toEqual([]);
    expect(remoteTagNames(origin)).toEqual([]);
    expect(readFileSync(refLog, "utf8")).toBe("");

    // With nothing to do and no release record on origin, a dry run still writes nothing: not the
    // record a real run would leave.
    const only = ["--skip-build", "--only", "npm", "--only", "git"];
    expect((await runFlotilla(["publish", ...only], { cwd: dir, env: envFor(tb) })).exitCode).toBe(0);
    for (const ref of execFileSync("git", ["for-each-ref", "--format=%(refname)", "refs/flotilla/released"], {
      cwd: origin,
      encoding: "utf8",
    })
      .split("\n")
      .filter(Boolean))
      execFileSync("git", ["update-ref", "-d", ref], { cwd: origin });
    writeFileSync(refLog, "");
    const noop = await runFlotilla(["publish", "--dry-run", ...only], { cwd: dir, env: envFor(tb) });
    expect(noop.exitCode, noop.stderr).toBe(0);
    expect(noop.stdout).toContain("Nothing to release");
    expect(readFileSync(refLog, "utf8")).toBe("");
  });

  it("scope ≠ owner against GitHub Packages → exit 2 naming the package, nothing published", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    const r = await runFlotilla(["publish", "--skip-build"], {
      cwd: dir,
      env: envFor(tb, { FLOTILLA_NPM_REGISTRY: "https://npm.pkg.github.com" }),
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`packages/lib/package.json: name: @${s}/lib: scope @${s} is not the owner "acme"`);
    expect(r.stderr).toContain(`rename it to @acme/lib`);
    expect(remoteTagNames(origin)).toEqual([]);
  });

  it("a package's prepublishOnly leaves an untracked file: the run succeeds and the rerun right after finds nothing to release", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    const pj = path.join(dir, "packages/lib/package.json");
    const manifest = JSON.parse(readFileSync(pj, "utf8"));
    writeFileSync(
      pj,
      JSON.stringify({ ...manifest, scripts: { prepublishOnly: "node -e \"require('fs').writeFileSync('built.txt','x')\"" } }),
    );
    gitCommitAll(dir, "prepublishOnly");
    const env = envFor(tb);
    const first = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);
    expect(readFileSync(path.join(dir, "packages/lib/built.txt"), "utf8")).toBe("x"); // left in the tree, untracked
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.exitCode, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain("Nothing to release");
  });

  it("preflight collects every problem: refused token and a dirty tree → exit 2, nothing done", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    writeFileSync(path.join(dir, "packages/lib/index.js"), "changed\n");
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env: envFor(tb, { NODE_AUTH_TOKEN: "not-a-valid-token-123" }) });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("2 problems");
    expect(r.stderr).toMatch(/uncommitted changes \(packages\/lib\/index\.js\)/);
    expect(r.stderr).toContain(`${tb.npm.url}: token refused`);
    expect(puts(tb, s)).toEqual([]);
    expect(remoteTagNames(origin)).toEqual([]);
  });

  it("no token reaches the output, the JSON, the summary, the outputs file or the repository", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace(chain(s));
    const outDir = tempDir();
    const outputs = path.join(outDir, "output");
    const summary = path.join(outDir, "summary");
    writeTree({ output: "", summary: "" }, outDir);
    const env = envFor(tb, { GITHUB_OUTPUT: outputs, GITHUB_STEP_SUMMARY: summary, GITHUB_ACTIONS: "true" });
    const r = await runFlotilla(["publish", "--skip-build", "--json", "--verbose"], { cwd: dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = readFileSync(outputs, "utf8");
    expect(out).toContain("publishedPackages");
    expect(out).toContain(`{"name":"@${s}/base","version":"1.0.0"}`);
    expect(readFileSync(summary, "utf8")).toContain(`@${s}/base`);
    const haystacks = [r.stdout, r.stderr, out, readFileSync(summary, "utf8"), ...filesUnder(dir).map((f) => readFileSync(f, "latin1"))];
    for (const secret of [tb.npm.token, Buffer.from(tb.npm.token).toString("base64"), tb.github.token]) {
      for (const h of haystacks) expect(h.includes(secret)).toBe(false);
    }
  });
});

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/**
 * GitHub releases against the REST API stand-in (the one part that cannot run here), with the
 * real Verdaccio and bare remotes for everything else.
 */
import { describe, expect, it } from "vitest";
import { githubState, registerGithubRepo } from "../../../tools/src/testbed/index.ts";
import { changelogSection } from "../src/github/changelog.ts";
import { pickLatest } from "../src/plan/github-latest.ts";
import { runFlotilla } from "./helpers/cli.ts";
import type { PkgSpec } from "./helpers/fixtures.ts";
import { envFor, releasableWorkspace, setVersion, testbed, uniqueScope } from "./helpers/testbed.ts";

const changelog = (name: string, entries: Record<string, string>) =>
  `# ${name}\n\n${Object.entries(entries)
    .map(([v, e]) => `## ${v}\n\n### Patch Changes\n\n- ${e}\n`)
    .join("\n")}`;

/** A registered repository on the stand-in, and a releasable workspace whose GITHUB_REPOSITORY names it. */
async function githubWorkspace(packages: PkgSpec[], extra: Record<string, string | object> = {}) {
  const tb = testbed();
  const repo = `repo-${uniqueScope()}`;
  await registerGithubRepo(tb, "acme", repo);
  const { dir } = releasableWorkspace(packages, extra);
  return { tb, dir, repo, env: envFor(tb, { GITHUB_REPOSITORY: `acme/${repo}` }) };
}

describe("GitHub releases", () => {
  it("one release per new tag, body = that version's changelog section, prerelease and Latest set explicitly; a rerun creates nothing", async () => {
    const s = uniqueScope();
    const { tb, dir, repo, env } = await githubWorkspace(
      [
        { name: `@${s}/a`, version: "1.1.0" },
        { name: `@${s}/b`, version: "2.0.0-rc.1" },
      ],
      {
        "packages/a/CHANGELOG.md": changelog(`@${s}/a`, { "1.1.0": "abc123: Add the spacing scale.", "1.0.0": "Initial." }),
        "packages/b/CHANGELOG.md": changelog(`@${s}/b`, { "2.0.0-rc.1": "def456: New API." }),
      },
    );
    const r = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout).releases as { name: string; release: { url: string } | null }[];
    expect(out.find((x) => x.name === `@${s}/a`)!.release!.url).toBe(
      `https://github.com/acme/${repo}/releases/tag/${encodeURIComponent(`@${s}/a@1.1.0`)}`,
    );

    const rels = (await githubState(tb)).repos[`acme/${repo}`]!.releases;
    expect(rels.map((x) => x.tag_name).sort()).toEqual([`@${s}/a@1.1.0`, `@${s}/b@2.0.0-rc.1`]);
    const a = rels.find((x) => x.tag_name === `@${s}/a@1.1.0`)!;
    expect(a.body).toBe("### Patch Changes\n\n- abc123: Add the spacing scale.");
    expect(a.prerelease).toBe(false);
    expect(a.make_latest).toBe("true");
    const b = rels.find((x) => x.tag_name === `@${s}/b@2.0.0-rc.1`)!;
    expect(b.prerelease).toBe(true);
    expect(b.make_latest).toBe("false");

    const posts = () =>
      githubState(tb).then((st) => st.requests.filter((q) => q.method === "POST" && q.path === `/repos/acme/${repo}/releases`).length);
    const before = await posts();
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain("Nothing to release");
    expect(await posts()).toBe(before);
  });

  it("a backport never becomes Latest", async () => {
    const s = uniqueScope();
    const { tb, dir, repo, env } = await githubWorkspace([{ name: `@${s}/a`, version: "2.0.0" }]);
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    setVersion(dir, "packages/a", "1.9.1");
    expect((await runFlotilla(["publish", "--skip-build"], { cwd: dir, env })).exitCode).toBe(0);
    const rels = (await githubState(tb)).repos[`acme/${repo}`]!.releases;
    expect(rels.find((x) => x.tag_name === `@${s}/a@2.0.0`)!.make_latest).toBe("true");
    expect(rels.find((x) => x.tag_name === `@${s}/a@1.9.1`)!.make_latest).toBe("false");
  });

  it("a refused token and an unknown repository stop preflight with flotilla's message, exit 2", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([{ name: `@${s}/a`, version: "1.0.0" }]);
    const bad = await runFlotilla(["publish", "--skip-build"], {
      cwd: dir,
      env: envFor(tb, { GITHUB_TOKEN: "ghs_wrong", NODE_AUTH_TOKEN: tb.npm.token }),
    });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`${tb.github.url}: the token was refused (Bad credentials)`);
    const unknown = await runFlotilla(["publish", "--skip-build"], {
      cwd: dir,
      env: envFor(tb, { GITHUB_REPOSITORY: "acme/no-such-repo" }),
    });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("repository acme/no-such-repo not found, or the token cannot see it");
    expect(unknown.stderr).toContain("fix: check GITHUB_REPOSITORY");
  });
});

describe("release notes and Latest (pure)", () => {
  it("takes exactly one version's section", () => {
    const text = changelog("x", { "1.1.0": "new", "1.0.0": "old" });
    expect(changelogSection(text, "1.0.0")).toBe("### Patch Changes\n\n- old");
    expect(changelogSection(text, "9.9.9")).toBe("");
  });
  it("picks one stable, non-backport release", () => {
    const rel = (name: string, version: string) => ({ name, version, tag: `${name}@${version}` });
    expect(pickLatest([rel("b", "1.0.0"), rel("a", "2.0.0")], [])).toBe("a@2.0.0");
    expect(pickLatest([rel("a", "1.2.9")], ["a@2.0.0"])).toBeUndefined();
    expect(pickLatest([rel("a", "3.0.0-beta.1")], [])).toBeUndefined();
  });
});

describe("combined GitHub release", () => {
  it("one release for the run lists every package; a rerun creates nothing", async () => {
    const s = uniqueScope();
    const { tb, dir, repo, env } = await githubWorkspace(
      [
        { name: `@${s}/a`, version: "1.1.0" },
        { name: `@${s}/b`, version: "3.0.0" },
      ],
      {
        "flotilla.config.json": { github: { releases: "combined" } },
        "packages/a/CHANGELOG.md": changelog(`@${s}/a`, { "1.1.0": "Add a thing." }),
        "packages/b/CHANGELOG.md": changelog(`@${s}/b`, { "3.0.0": "Break b." }),
      },
    );
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const rels = (await githubState(tb)).repos[`acme/${repo}`]!.releases;
    expect(rels).toHaveLength(1);
    expect(rels[0]!.tag_name).toBe(`@${s}/a@1.1.0`);
    expect(rels[0]!.body).toContain(`## @${s}/a@1.1.0`);
    expect(rels[0]!.body).toContain(`## @${s}/b@3.0.0`);
    expect(rels[0]!.body).toContain("- Break b.");
    const again = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(again.stdout).toContain("Nothing to release");
    expect((await githubState(tb)).repos[`acme/${repo}`]!.releases).toHaveLength(1);
  });
});

describe("GitHub releases: a long history", () => {
  it("a repository with more than 100 releases is read to the last page: the existing release is found, none is created", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const repo = `long-${s}`;
    const { dir, origin } = releasableWorkspace([{ name: `@${s}/lib`, version: "1.0.0" }]);
    // This run's release is the oldest of 130: on the second page of 100 (newest first).
    const history = [`@${s}/lib@1.0.0`, ...Array.from({ length: 129 }, (_, i) => `@${s}/other@0.0.${i + 1}`)];
    await registerGithubRepo(tb, "acme", repo, { remote: origin, releases: history.map((tag_name) => ({ tag_name })) });
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env: envFor(tb, { GITHUB_REPOSITORY: `acme/${repo}` }) });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const st = await githubState(tb, `acme/${repo}`);
    expect(st.requests.filter((q) => q.method === "POST")).toEqual([]);
    expect(st.requests.some((q) => q.method === "GET" && q.path === `/repos/acme/${repo}/releases` && /page=2/.test(q.query))).toBe(true);
    expect(st.repos[`acme/${repo}`]!.releases).toHaveLength(130);
    expect(st.repos[`acme/${repo}`]!.inventedTags).toEqual([]);
  });
});

/**
 * `publish --only git` end to end (SPEC §5a.1: a tag only once its artifacts exist), against the
 * testbed's Verdaccio, registry and dockerd and a bare origin: the run reads the registries it
 * does not write, tags the packages whose npm version and image are there, tags none of the
 * others, names what is missing and the fix, exits 1; once the artifacts exist, it tags them.
 */
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { envFor, releasableWorkspace, remoteTagNames, testbed, uniqueScope } from "./helpers/testbed.ts";

interface Release {
  name: string;
  status: string;
  gitTag: string | null;
  error?: string;
}

describe("publish --only git", () => {
  it("tags only the packages whose artifacts are in the registries; the others get no tag, a message naming the artifact and the fix, exit 1", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const app = `app-${s}`;
    const { dir, origin } = releasableWorkspace(
      [
        { name: `@${s}/lib`, version: "1.0.0" },
        { name: `@${s}/pub`, version: "2.0.0" },
        { name: `@${s}/${app}`, version: "1.0.0", private: true, dir: `apps/${app}` },
      ],
      { [`apps/${app}/Dockerfile`]: "FROM node:24-slim\nCOPY package.json /app/\n" },
    );
    const env = envFor(tb);
    // Only lib's npm version exists: pub's is not published, the app's image is not pushed.
    const npmLib = await runFlotilla(["publish", "--skip-build", "--only", "npm", "--filter", `@${s}/lib`], { cwd: dir, env });
    expect(npmLib.exitCode, npmLib.stdout + npmLib.stderr).toBe(0);
    expect(remoteTagNames(origin)).toEqual([]);

    const r = await runFlotilla(["publish", "--skip-build", "--only", "git", "--json"], { cwd: dir, env });
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    const byName = new Map((JSON.parse(r.stdout) as { releases: Release[] }).releases.map((x) => [x.name, x]));
    expect(byName.get(`@${s}/lib`), r.stderr).toMatchObject({ status: "published", gitTag: `@${s}/lib@1.0.0` });
    expect(remoteTagNames(origin), r.stdout + r.stderr).toEqual([`@${s}/lib@1.0.0`]);
    expect(byName.get(`@${s}/pub`)?.status).toBe("skipped");
    expect(byName.get(`@${s}/pub`)?.error).toMatch(
      new RegExp(`no git tag @${s}/pub@2\\.0\\.0: not in the registry: npm @${s}/pub@2\\.0\\.0 on http.*--only npm\\b`),
    );
    expect(byName.get(`@${s}/${app}`)?.status).toBe("skipped");
    expect(byName.get(`@${s}/${app}`)?.error).toMatch(new RegExp(`image ${tb.registry.host}/acme/${app}:1\\.0\\.0.*--only images`));

    // The text output says the same, per package.
    const text = await runFlotilla(["publish", "--skip-build", "--only", "git"], { cwd: dir, env });
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(new RegExp(`skipped +@${s}/pub@2\\.0\\.0 — no git tag .*npm @${s}/pub@2\\.0\\.0`));
    expect(remoteTagNames(origin)).toEqual([`@${s}/lib@1.0.0`]);

    // The fix it names: the artifacts first, then the tags.
    const artifacts = await runFlotilla(["publish", "--skip-build", "--only", "npm", "--only", "images"], { cwd: dir, env });
    expect(artifacts.exitCode, artifacts.stdout + artifacts.stderr).toBe(0);
    const tags = await runFlotilla(["publish", "--skip-build", "--only", "git"], { cwd: dir, env });
    expect(tags.exitCode, tags.stdout + tags.stderr).toBe(0);
    expect(remoteTagNames(origin)).toEqual([`@${s}/${app}@1.0.0`, `@${s}/lib@1.0.0`, `@${s}/pub@2.0.0`].sort());
  });
});

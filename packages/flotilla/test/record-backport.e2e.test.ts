/**
 * A no-op answered by origin's release record reports what is true (observe/record.ts,
 * recordedPlan): after a backport (1.2.4 released when 2.0.0 is the newest), the record's rerun
 * names the dist-tag and image tags the backport really got — `latest-1`; `1.2.4`, `1.2`, `1` —
 * never `latest`, which stays on 2.0.0 in the registries. Real Verdaccio, registry, dockerd, origin.
 */
import { describe, expect, it } from "vitest";
import { registerGithubRepo } from "../../../tools/src/testbed/index.ts";
import { OciRegistry } from "../src/adapters/oci-registry.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { envFor, packument, releasableWorkspace, setVersion, testbed, uniqueScope } from "./helpers/testbed.ts";

interface Release {
  name: string;
  status: string;
  npm: { distTag: string } | null;
  image: { tags: string[]; digest: string | null } | null;
}
const byName = (stdout: string) => new Map((JSON.parse(stdout) as { releases: Release[] }).releases.map((r) => [r.name, r]));

describe("release record after a backport", () => {
  it("the no-op from the record reports latest-1 and the image's 1.2.4, 1.2, 1 (not latest), as the backport's own run did", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const app = `app-${s}`;
    const { dir, origin } = releasableWorkspace(
      [
        { name: `@${s}/lib`, version: "2.0.0" },
        { name: `@${s}/${app}`, version: "2.0.0", private: true, dir: `apps/${app}` },
      ],
      { [`apps/${app}/Dockerfile`]: "FROM node:24-slim\nCOPY package.json /app/\n" },
    );
    const repo = `repo-${s}`;
    await registerGithubRepo(tb, "acme", repo, { remote: origin });
    const env = envFor(tb, { GITHUB_REPOSITORY: `acme/${repo}` });
    const first = await runFlotilla(["publish", "--skip-build"], { cwd: dir, env });
    expect(first.exitCode, first.stdout + first.stderr).toBe(0);

    // The maintenance line: 1.2.4 of both, at a new commit.
    setVersion(dir, "packages/lib", "1.2.4");
    setVersion(dir, `apps/${app}`, "1.2.4");
    const backport = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env });
    expect(backport.exitCode, backport.stdout + backport.stderr).toBe(0);
    const done = byName(backport.stdout);
    expect(done.get(`@${s}/lib`)).toMatchObject({ status: "published", npm: { distTag: "latest-1" } });
    expect(done.get(`@${s}/${app}`)?.image?.tags).toEqual(["1.2.4", "1.2", "1"]);

    const noop = await runFlotilla(["publish", "--skip-build", "--json"], { cwd: dir, env });
    expect(noop.exitCode, noop.stderr).toBe(0);
    expect(noop.stderr).toContain("origin's release record covers every version");
    const again = byName(noop.stdout);
    expect(again.get(`@${s}/lib`)).toMatchObject({ status: "already-released", npm: { distTag: "latest-1" } });
    expect(again.get(`@${s}/${app}`)).toMatchObject({
      status: "already-released",
      image: { tags: ["1.2.4", "1.2", "1"], digest: done.get(`@${s}/${app}`)!.image!.digest },
    });

    // What the report says is what the registries hold: latest stays on 2.0.0.
    expect((await packument(tb, `@${s}/lib`))!["dist-tags"]).toMatchObject({ latest: "2.0.0", "latest-1": "1.2.4" });
    const reg = new OciRegistry({ host: tb.registry.host, username: tb.registry.username, password: tb.registry.password });
    expect(await reg.digest(`acme/${app}`, "latest")).toBe(await reg.digest(`acme/${app}`, "2.0.0"));
    expect(await reg.digest(`acme/${app}`, "1")).toBe(done.get(`@${s}/${app}`)!.image!.digest);
  });
});

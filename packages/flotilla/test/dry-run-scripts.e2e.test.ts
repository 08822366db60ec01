/**
 * `publish --dry-run` lists, per package, the lifecycle scripts its publish would run
 * (npm/scripts.ts: pnpm publish's order), and runs none of them. Against the testbed's Verdaccio
 * (a dry run reads the registries).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeStep } from "../src/execute/describe.ts";
import { runFlotilla } from "./helpers/cli.ts";
import { gitCommitAll, writeTree } from "./helpers/fixtures.ts";
import { envFor, releasableWorkspace, testbed, uniqueScope } from "./helpers/testbed.ts";

const touch = (name: string) => `node -e "require('fs').writeFileSync('${name}.ran','')"`;

describe("publish --dry-run and lifecycle scripts", () => {
  it("names each package's prepublishOnly/prepublish/pack/publish/postpublish scripts in run order, and runs none", async () => {
    const tb = testbed();
    const s = uniqueScope();
    const { dir } = releasableWorkspace([
      { name: `@${s}/scripted`, version: "1.0.0" },
      { name: `@${s}/plain`, version: "1.0.0" },
    ]);
    const pj = {
      name: `@${s}/scripted`,
      version: "1.0.0",
      scripts: {
        postpublish: touch("postpublish"),
        prepack: touch("prepack"),
        prepublishOnly: touch("prepublishOnly"),
        publish: touch("publish"),
        build: touch("build"),
      },
    };
    writeTree({ "packages/scripted/package.json": pj }, dir);
    gitCommitAll(dir, "scripts");
    const r = await runFlotilla(["publish", "--dry-run", "--skip-build", "--only", "npm"], { cwd: dir, env: envFor(tb) });
    expect(r.exitCode, r.stdout + r.stderr).toBe(0);
    const line = (name: string) => r.stdout.split("\n").find((l) => l.includes(`publish ${name}@1.0.0 to`)) ?? "";
    expect(line(`@${s}/scripted`)).toMatch(/; runs its scripts prepublishOnly, prepack, publish, postpublish$/);
    expect(line(`@${s}/plain`)).not.toMatch(/runs its scripts/);
    expect(line(`@${s}/plain`)).not.toBe("");
    for (const n of ["prepublishOnly", "prepack", "publish", "postpublish", "build"])
      expect(existsSync(path.join(dir, "packages/scripted", `${n}.ran`)), n).toBe(false);
  });

  it("the step's description comes from its payload alone (pure)", () => {
    const line = describeStep({
      id: "npm-publish:a",
      kind: "npm-publish",
      pkg: "a",
      deps: [],
      payload: {
        name: "a",
        version: "1.0.0",
        registry: "r",
        dir: "/",
        tag: "latest",
        distTag: null,
        access: null,
        scripts: ["prepublish"],
      },
    });
    expect(line).toBe('publish a@1.0.0 to r under dist-tag "latest"; runs its scripts prepublish');
  });
});

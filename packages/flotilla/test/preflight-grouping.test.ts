import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { runFlotilla } from "./helpers/cli.ts";
import { makeWorkspace } from "./helpers/fixtures.ts";

interface ErrorDoc {
  error: { exitCode: number; problems: { code: string; message: string }[] };
}

/** A workspace with an origin that names no owner (a local path), so the owner is unknown. */
function ownerless(extra: Record<string, string | object> = {}) {
  const packages = Array.from({ length: 8 }, (_, i) => ({ name: `@x/p${i}`, version: "1.0.0" }));
  const dir = makeWorkspace({
    packages: [...packages, { name: "@x/web", version: "1.0.0", private: true, dir: "apps/web", dockerfile: true }],
    extra,
  });
  execFileSync("git", ["remote", "add", "origin", dir], { cwd: dir });
  return dir;
}

describe("preflight tells a repository-wide cause once", () => {
  it("no owner known: one problem for the npm scopes and one for the images, not one per package", async () => {
    const dir = ownerless();
    const r = await runFlotilla(["publish", "--dry-run", "--json"], { cwd: dir, env: { GITHUB_TOKEN: "t0ken-for-test" } });
    expect(r.exitCode).toBe(2);
    const doc = JSON.parse(r.stdout) as ErrorDoc;
    const owner = doc.error.problems.filter((p) => p.code === "OWNER_UNKNOWN");
    expect(owner).toHaveLength(2);
    expect(owner.map((p) => p.message).join("\n")).toMatch(/@x\/p0, @x\/p1, @x\/p2, @x\/p3, @x\/p4 and 3 more: no owner known/);
    expect(owner.map((p) => p.message).join("\n")).toMatch(/image @x\/web: no owner known/);
  });

  it("turbo's slow dry run waits until the cheap checks pass (a missing token is told without it)", async () => {
    // turbo.json lacks the default "test" task: turbo's dry run would refuse it, but only once the
    // token problem is fixed.
    const dir = ownerless({
      "turbo.json": { $schema: "https://turbo.build/schema.json", tasks: { build: {} } },
      "package.json": { name: "fixture-root", private: true, packageManager: "pnpm@12.4.2" },
    });
    const r = await runFlotilla(["publish", "--dry-run", "--json"], { cwd: dir, env: {} });
    expect(r.exitCode).toBe(2);
    const codes = (JSON.parse(r.stdout) as ErrorDoc).error.problems.map((p) => p.code);
    expect(codes).toContain("NPM_TOKEN_MISSING");
    expect(codes).not.toContain("BUILD_TURBO_REFUSED");
  });
});

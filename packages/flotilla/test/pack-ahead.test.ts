/**
 * Packing while the registries are read (adapters/pnpm.ts, PackAhead), with the real pnpm: what
 * it hands out, when it refuses to start, and that it leaves nothing behind. The publish that
 * uses it is in publish.e2e.test.ts.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PackAhead } from "../src/adapters/pnpm.ts";
import { writeTree } from "./helpers/fixtures.ts";

const workspace = (scripts?: Record<string, string>) => {
  const a = { name: "@ahead/a", version: "1.0.0" };
  const b = { name: "@ahead/b", version: "2.0.0", ...(scripts ? { scripts } : {}) };
  const root = writeTree({
    "package.json": { name: "root", private: true },
    "pnpm-workspace.yaml": "packages:\n  - packages/*\n",
    "packages/a/package.json": a,
    "packages/b/package.json": b,
  });
  return { root, packages: [a, b].map((m) => ({ name: m.name, manifest: m as Record<string, unknown> })) };
};

describe("PackAhead", () => {
  it("packs every package given, hands out those asked for (or nothing when one is missing), and deletes the tarballs when disposed", async () => {
    const { root, packages } = workspace();
    const ahead = PackAhead.start(root, packages)!;
    expect(ahead).toBeDefined();
    const one = await ahead.take(["@ahead/b"]);
    expect([...one!.keys()]).toEqual(["@ahead/b"]);
    expect(one!.get("@ahead/b")!.version).toBe("2.0.0");
    const tarball = one!.get("@ahead/b")!.tarball;
    expect(existsSync(tarball)).toBe(true);
    expect(await ahead.take(["@ahead/a", "@ahead/nope"])).toBeUndefined(); // the run then packs as before
    await ahead.dispose();
    expect(existsSync(path.dirname(tarball))).toBe(false);
  });

  for (const script of ["prepublishOnly", "prepublish", "prepack", "prepare", "postpack"])
    it(`does not start when a package has a ${script} script (it would run for packages the run may not publish, and before the plan)`, () => {
      const { root, packages } = workspace({ [script]: "echo ran > ran.txt" });
      expect(PackAhead.start(root, packages)).toBeUndefined();
      expect(existsSync(path.join(root, "packages/b/ran.txt"))).toBe(false);
    });

  it("disposed while pnpm still runs: the pack is stopped, nothing is handed out, nothing is left", async () => {
    const { root, packages } = workspace();
    const ahead = PackAhead.start(root, packages)!;
    await ahead.dispose();
    expect(await ahead.take(["@ahead/a"])).toBeUndefined();
  });
});

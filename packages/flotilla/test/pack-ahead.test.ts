/**
 * Packing while the registries are read (adapters/pnpm.ts, PackAhead), with the real pnpm: what
 * it hands out, when it refuses to start, and that it leaves nothing behind. The publish that
 * uses it is in publish.e2e.test.ts.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { PackAhead } from "../src/adapters/pnpm.ts";
import { tempDir, writeTree } from "./helpers/fixtures.ts";

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

  it("disposed while pnpm still runs, or after it ended: nothing is handed out, no folder is left", async () => {
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: os.tmpdir()'s own variable, set and restored by this test
    const before = process.env.TMPDIR;
    const tmp = tempDir("pack-ahead-tmpdir-");
    const { root, packages } = workspace();
    process.env.TMPDIR = tmp; // where os.tmpdir() puts the pack's folder
    try {
      const running = PackAhead.start(root, packages)!;
      expect(readdirSync(tmp)).toHaveLength(1);
      await running.dispose(); // at once: pnpm is still starting
      expect(await running.take(["@ahead/a"])).toBeUndefined();
      const ended = PackAhead.start(root, packages)!;
      expect(await ended.take(["@ahead/a"])).toBeDefined(); // pnpm has ended
      await ended.dispose();
      expect(await ended.take(["@ahead/a"])).toBeUndefined(); // its tarballs are gone
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      // biome-ignore lint/suspicious/noUndeclaredEnvVars: restored as it was
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
    }
  });
});

import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { packWithPnpm } from "../src/adapters/pnpm.ts";
import { tempDir, writeTree } from "./helpers/fixtures.ts";

describe("pnpm pack in a workspace pinned to another pnpm", () => {
  // pnpm 12.4.2 would switch itself to the `packageManager` pin and fail
  // (ERR_PNPM_BAD_CONFIG_DEP / no matching @pnpm/<platform>@10.12.1): flotilla tells it not to.
  it("packs with the pnpm on PATH instead of failing on the pin", async () => {
    const root = writeTree({
      "package.json": { name: "root", private: true, packageManager: "pnpm@10.12.1" },
      "pnpm-workspace.yaml": "packages:\n  - packages/*\n",
      "packages/a/package.json": { name: "@pin/a", version: "1.0.0" },
    });
    const dest = tempDir();
    const packed = await packWithPnpm(root, ["@pin/a"], dest);
    const a = packed.get("@pin/a");
    expect(a?.version).toBe("1.0.0");
    expect(a && existsSync(a.tarball)).toBe(true);
  });
});

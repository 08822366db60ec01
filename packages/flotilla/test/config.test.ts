import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { configJsonSchema } from "../src/config/json-schema.ts";
import { resolveConfig } from "../src/config/load.ts";

const SCHEMA_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../schema/flotilla.config.schema.json");

describe("config", () => {
  it("the committed JSON Schema is generated from the zod schema (run `pnpm --filter @flotilla/flotilla gen:schema`)", () => {
    expect(JSON.parse(readFileSync(SCHEMA_FILE, "utf8"))).toEqual(configJsonSchema());
  });

  it("zero config gives the GitHub defaults", () => {
    const c = resolveConfig({}, {});
    expect(c.npm.registry).toBe("https://npm.pkg.github.com");
    expect(c.images.registry).toBe("ghcr.io");
    expect(c.images.tags).toEqual(["version", "minor", "major", "latest", "channel"]);
    expect(c.build.tasks).toEqual(["build", "test"]);
    expect(c.github.apiUrl).toBe("https://api.github.com");
  });

  it("environment overrides the file (SPEC §8)", () => {
    const c = resolveConfig(
      { npm: { registry: "https://npm.example.com" }, images: { registry: "reg.example.com" } },
      {
        FLOTILLA_NPM_REGISTRY: "http://127.0.0.1:4873/",
        FLOTILLA_IMAGE_REGISTRY: "127.0.0.1:5000",
        GITHUB_API_URL: "https://ghe.example.com/api/v3/",
      },
    );
    expect(c.npm.registry).toBe("http://127.0.0.1:4873");
    expect(c.npm.registryFromEnv).toBe(true);
    expect(c.images.registry).toBe("127.0.0.1:5000");
    expect(c.github.apiUrl).toBe("https://ghe.example.com/api/v3");
  });
});

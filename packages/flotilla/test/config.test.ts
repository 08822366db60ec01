import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { configJsonSchema } from "../src/config/json-schema.ts";
import { loadConfig, resolveConfig } from "../src/config/load.ts";
import { InputError } from "../src/errors.ts";
import { tempDir } from "./helpers/fixtures.ts";

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

  it("an unknown field names the allowed one it is a few edits from, at any depth; a field far from all gets no guess", async () => {
    const dir = tempDir();
    const problems = async (config: object) => {
      writeFileSync(path.join(dir, "flotilla.config.json"), JSON.stringify(config));
      const err = await loadConfig(dir, { env: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InputError);
      return (err as InputError).problems.map((p) => `${p.field ?? ""}: ${p.message}`).sort();
    };
    expect(await problems({ onwer: "acme", npm: { acess: "public", Registry: "https://r.example" } })).toEqual([
      ': unknown field(s) "onwer" (did you mean "owner"?)',
      'npm: unknown field(s) "acess" (did you mean "access"?), "Registry" (did you mean "registry"?)',
    ]);
    // images.apps.<package> is a record of (false | object): the object's fields are the candidates.
    expect(await problems({ images: { apps: { "@acme/web": { dockerFile: "Dockerfile.prod" } }, tag: ["version"] } })).toEqual([
      'images.apps.@acme/web: unknown field(s) "dockerFile" (did you mean "dockerfile"?)',
      'images: unknown field(s) "tag" (did you mean "tags"?)',
    ]);
    expect(await problems({ github: { releasesNotes: true, zzz: 1 } })).toEqual(['github: unknown field(s) "releasesNotes", "zzz"']);
    expect(await problems({ GIT: { PUSH: false } })).toEqual([': unknown field(s) "GIT" (did you mean "git"?)']);
    expect(await problems({ git: { PUSH: false } })).toEqual(['git: unknown field(s) "PUSH" (did you mean "push"?)']);
    // A value of a fixed set gets the same guess; one far from every allowed value gets none.
    const [access] = await problems({ npm: { access: "publik" } });
    expect(access).toMatch(/^npm\.access: .*"public".* \(did you mean "public"\?\)$/);
    const [builder] = await problems({ images: { builder: "kit" } });
    expect(builder).toMatch(/^images\.builder: .*"buildkit"\|"classic"$/);
  });
});

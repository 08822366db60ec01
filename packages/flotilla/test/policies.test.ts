import { describe, expect, it } from "vitest";
import { distTagFor, prereleaseChannel } from "../src/plan/dist-tag.ts";
import { imageTagsFor, toImageTag } from "../src/plan/image-tags.ts";
import { publishOrder } from "../src/workspace/discover.ts";
import { ownerFromRemoteUrl, resolveOwner } from "../src/workspace/owner.ts";

const ALL = ["version", "minor", "major", "latest", "channel"] as const;

describe("npm dist-tags (SPEC §6)", () => {
  it.each([
    ["1.0.0", undefined, "latest"],
    ["1.4.0", "1.3.9", "latest"],
    ["1.3.9", "1.3.9", "latest"],
    ["1.2.9", "2.0.0", "latest-1"],
    ["0.9.1", "1.0.0", "latest-0"],
    ["2.0.0-beta.0", "1.0.0", "beta"],
    ["2.0.0-rc.3", undefined, "rc"],
    ["2.0.0-0", "1.0.0", "next"],
  ])("%s with latest %s → %s", (version, latest, tag) => {
    expect(distTagFor(version, latest)).toBe(tag);
  });

  it("names the channel of a prerelease", () => {
    expect(prereleaseChannel("1.0.0")).toBeUndefined();
    expect(prereleaseChannel("1.0.0-alpha.1")).toBe("alpha");
  });
});

describe("image tags (SPEC §6)", () => {
  const tags = (v: string, existing: string[], kinds: readonly (typeof ALL)[number][] = ALL) => imageTagsFor(v, existing, { kinds });

  it("first release gets version, minor, major and latest", () => {
    expect(tags("1.4.2", []).tags).toEqual(["1.4.2", "1.4", "1", "latest"]);
  });

  it("a patch on the newest line moves every floating tag", () => {
    const t = tags("1.4.3", ["1.4.2", "1.4", "1", "latest"]);
    expect(t.tags).toEqual(["1.4.3", "1.4", "1", "latest"]);
    expect(t.moves).toEqual(["1.4", "1", "latest"]);
  });

  it("a maintenance release on an old line after a newer major moves that line, never latest", () => {
    const t = tags("1.2.9", ["1.2.8", "1.2", "1.3.0", "1.3", "1", "2.0.0", "2.0", "2", "latest"]);
    expect(t.tags).toEqual(["1.2.9", "1.2"]);
    const t2 = tags("1.3.1", ["1.3.0", "1.3", "1", "2.0.0", "2.0", "2", "latest"]);
    expect(t2.tags).toEqual(["1.3.1", "1.3", "1"]);
  });

  it("prereleases get only their version and their channel", () => {
    expect(tags("2.0.0-beta.1", ["1.0.0", "latest", "2.0.0-beta.0", "beta"]).tags).toEqual(["2.0.0-beta.1", "beta"]);
    expect(tags("2.0.0-beta.1", ["2.0.0-beta.2", "beta"]).tags).toEqual(["2.0.0-beta.1"]);
    expect(tags("2.0.0-0", []).tags).toEqual(["2.0.0-0", "next"]);
  });

  it("0.x versions get no bare major tag", () => {
    expect(tags("0.4.2", []).tags).toEqual(["0.4.2", "0.4", "latest"]);
  });

  it("adds sha-<7> when enabled, and honours a custom kind list", () => {
    expect(imageTagsFor("1.0.0", [], { kinds: ["version", "sha"], sha: "0123456789abcdef" }).tags).toEqual(["1.0.0", "sha-0123456"]);
    expect(imageTagsFor("1.0.0", [], { kinds: ["version", "latest"] }).tags).toEqual(["1.0.0", "latest"]);
  });

  it("never puts + in a tag", () => {
    expect(toImageTag("1.0.0+build.5")).toBe("1.0.0-build.5");
  });
});

describe("owner", () => {
  it("prefers config, then GITHUB_REPOSITORY_OWNER, then GITHUB_REPOSITORY, then origin", () => {
    expect(resolveOwner("cfg", { GITHUB_REPOSITORY_OWNER: "env" }, undefined)).toBe("cfg");
    expect(resolveOwner(undefined, { GITHUB_REPOSITORY_OWNER: "env", GITHUB_REPOSITORY: "x/y" }, undefined)).toBe("env");
    expect(resolveOwner(undefined, { GITHUB_REPOSITORY: "Acme/repo" }, undefined)).toBe("Acme");
    expect(resolveOwner(undefined, {}, "git@github.com:acme/repo.git")).toBe("acme");
    expect(resolveOwner(undefined, {}, "/tmp/remote.git")).toBeUndefined();
  });
  it.each([
    ["https://github.com/acme/repo.git", "acme"],
    ["https://x-access-token@github.com/acme/repo", "acme"],
    ["ssh://git@github.example.com/acme/repo.git", "acme"],
    ["git@github.com:acme/repo", "acme"],
  ])("parses %s", (url, owner) => expect(ownerFromRemoteUrl(url)).toBe(owner));
});

describe("publish order", () => {
  it("puts a package after the packages it depends on, ignoring deps outside the set", () => {
    const order = publishOrder([
      { name: "ui", internalDeps: ["core", "tokens"] },
      { name: "core", internalDeps: ["tokens", "not-released"] },
      { name: "tokens", internalDeps: [] },
      { name: "other", internalDeps: [] },
    ]);
    expect(order).toHaveLength(4);
    expect(order.indexOf("tokens")).toBeLessThan(order.indexOf("core"));
    expect(order.indexOf("core")).toBeLessThan(order.indexOf("ui"));
  });
  it("breaks a cycle instead of stopping", () => {
    expect(
      publishOrder([
        { name: "a", internalDeps: ["b"] },
        { name: "b", internalDeps: ["a"] },
      ]).sort(),
    ).toEqual(["a", "b"]);
  });
});

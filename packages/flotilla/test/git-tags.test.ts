/**
 * The git-tag steps' git work coalesced per repository (issue 12), against real repositories and
 * a bare origin: what becomes ready while a batch runs goes in the next one; a refused tag fails alone.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { pushTags } from "../src/adapters/git.ts";
import { coalesce, gitTags } from "../src/adapters/git-tags.ts";
import { gitCommitAll, tempDir, writeTree } from "./helpers/fixtures.ts";

function repoWithOrigin() {
  const dir = writeTree({ "a.txt": "a\n" });
  execFileSync("git", ["init", "-q", "-b", "main"], { cwd: dir });
  gitCommitAll(dir, "one");
  const origin = path.join(tempDir(), "origin.git");
  execFileSync("git", ["init", "-q", "--bare", origin]);
  execFileSync("git", ["remote", "add", "origin", origin], { cwd: dir });
  const git = (...a: string[]) => execFileSync("git", a, { cwd: dir, encoding: "utf8" }).trim();
  const remoteTags = () =>
    execFileSync("git", ["ls-remote", "--tags", origin], { encoding: "utf8" })
      .split("\n")
      .filter((l) => l && !l.endsWith("^{}"))
      .map((l) => l.split("\t")[1]!.replace("refs/tags/", ""))
      .sort();
  return { dir, origin, git, remoteTags };
}

describe("git tags, batched", () => {
  it("creates annotated tags at the given commit in one batch, reads them back, and refuses one that exists", async () => {
    const { dir, git } = repoWithOrigin();
    const head = git("rev-parse", "HEAD");
    const tags = gitTags({}, dir);
    await Promise.all([tags.create("a@1.0.0", head), tags.create("b@2.0.0", ""), tags.create("c@3.0.0", head)]);
    for (const t of ["a@1.0.0", "b@2.0.0", "c@3.0.0"]) {
      expect(git("cat-file", "-t", `refs/tags/${t}`)).toBe("tag"); // annotated, as `git tag -a`
      expect(git("rev-parse", `refs/tags/${t}^{commit}`)).toBe(head);
      expect(git("tag", "-l", "--format=%(contents:subject)", t)).toBe(t);
    }
    expect(await Promise.all(["a@1.0.0", "nope@1.0.0"].map((t) => tags.commitOf(t)))).toEqual([head, undefined]);
    await expect(tags.create("a@1.0.0", head)).rejects.toThrow(/a@1\.0\.0/);
  });

  it("tags asked for while a push runs go out together in the next push; each caller learns its own tag is on origin", async () => {
    const { dir, git, remoteTags } = repoWithOrigin();
    for (const t of ["a@1.0.0", "b@1.0.0", "c@1.0.0", "d@1.0.0"]) git("tag", "-a", t, "-m", t);
    const batches: string[][] = [];
    const push = coalesce(
      async (tags: string[]) => {
        batches.push(tags);
        await pushTags(dir, tags);
        return tags.map(() => undefined);
      },
      (t) => pushTags(dir, [t]),
    );
    const first = push("a@1.0.0");
    // Ready while the first push is on its way: one push for the three.
    const rest = ["b@1.0.0", "c@1.0.0", "d@1.0.0"].map((t) => push(t));
    await Promise.all([first, ...rest]);
    expect(batches).toEqual([["a@1.0.0"], ["b@1.0.0", "c@1.0.0", "d@1.0.0"]]);
    expect(remoteTags()).toEqual(["a@1.0.0", "b@1.0.0", "c@1.0.0", "d@1.0.0"]);
  });

  it("a batch origin refuses is retried tag by tag: only the refused tag fails, the others are on origin", async () => {
    const { dir, origin, git, remoteTags } = repoWithOrigin();
    // On origin already, at another commit: the release's own tag of that name is refused.
    git("tag", "-a", "x@1.0.0", "-m", "x");
    git("push", "-q", "origin", "refs/tags/x@1.0.0");
    git("tag", "-d", "x@1.0.0");
    writeTree({ "b.txt": "b\n" }, dir);
    gitCommitAll(dir, "two");
    for (const t of ["x@1.0.0", "y@1.0.0", "z@1.0.0"]) git("tag", "-a", t, "-m", t);
    const push = gitTags({}, dir).push;
    const hold = push("y@1.0.0"); // the others queue behind it and go as one batch, which fails whole
    const results = await Promise.allSettled([hold, push("x@1.0.0"), push("z@1.0.0")]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(remoteTags()).toEqual(["x@1.0.0", "y@1.0.0", "z@1.0.0"]);
    // x@1.0.0 on origin is still the first commit's: never rewritten (SPEC §5a.4).
    const peeled = execFileSync("git", ["ls-remote", origin, "refs/tags/x@1.0.0^{}"], { encoding: "utf8" }).split("\t")[0];
    expect(peeled).toBe(git("rev-parse", "HEAD~1"));
  });
});

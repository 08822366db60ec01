/**
 * The GitHub stand-in is as strict as GitHub where flotilla's correctness depends on it: duplicate
 * releases, pagination, tags GitHub would invent. Direct HTTP against an in-process stand-in (no
 * testbed needed: a unit-layer test).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import type http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBareRemote, initRepoWithRemote } from "../src/testbed/git.ts";
import { createGithubStub } from "../src/testbed/github-stub.ts";

const TOKEN = "ghs_test";
const tmp = () => mkdtempSync(path.join(os.tmpdir(), "stub-"));
let server: http.Server;
let base: string;
const stateFile = path.join(tmp(), "state.json");

async function listen(s: http.Server): Promise<string> {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}
beforeAll(async () => {
  server = createGithubStub(TOKEN, { stateFile });
  base = await listen(server);
});
afterAll(() => server.close());

const api = (p: string, init: { method?: string; body?: unknown } = {}) =>
  fetch(`${base}${p}`, {
    method: init.method ?? "GET",
    headers: { authorization: `token ${TOKEN}` },
    ...(init.body ? { body: JSON.stringify(init.body) } : {}),
  });
const register = (body: object) => fetch(`${base}/_stub/repos`, { method: "POST", body: JSON.stringify(body) });
const state = async (repo: string) =>
  ((await (await fetch(`${base}/_stub/state?repo=${repo}`)).json()) as { repos: Record<string, { inventedTags: object[] }> }).repos[repo]!;

function gitRepo(): { work: string; remote: string; commits: string[] } {
  const remote = createBareRemote(path.join(tmp(), "origin.git"));
  const work = tmp();
  writeFileSync(path.join(work, "a.txt"), "1\n");
  initRepoWithRemote(work, remote);
  const first = execFileSync("git", ["rev-parse", "HEAD"], { cwd: work, encoding: "utf8" }).trim();
  writeFileSync(path.join(work, "a.txt"), "2\n");
  execFileSync("git", ["commit", "-qam", "second"], { cwd: work });
  execFileSync("git", ["push", "-q", "origin", "main"], { cwd: work });
  const second = execFileSync("git", ["rev-parse", "HEAD"], { cwd: work, encoding: "utf8" }).trim();
  return { work, remote, commits: [first, second] };
}
const remoteTag = (remote: string, tag: string) =>
  execFileSync("git", ["--git-dir", remote, "rev-parse", "--verify", "-q", `refs/tags/${tag}^{commit}`], { encoding: "utf8" }).trim();

describe("GitHub stand-in strictness", () => {
  it("a second release for a tag is 422 Validation Failed, already_exists on tag_name", async () => {
    await register({ owner: "acme", repo: "dup" });
    expect((await api("/repos/acme/dup/releases", { method: "POST", body: { tag_name: "v1" } })).status).toBe(201);
    const again = await api("/repos/acme/dup/releases", { method: "POST", body: { tag_name: "v1" } });
    expect(again.status).toBe(422);
    const body = (await again.json()) as { message: string; errors: object[] };
    expect(body.message).toBe("Validation Failed");
    expect(body.errors).toEqual([{ resource: "Release", code: "already_exists", field: "tag_name" }]);
  });

  it("lists paginate as GitHub does: 30 by default, at most 100, Link with next/last/prev/first", async () => {
    const releases = Array.from({ length: 75 }, (_, i) => ({ tag_name: `v${i + 1}` }));
    await register({ owner: "acme", repo: "many", releases });
    const first = await api("/repos/acme/many/releases");
    expect(((await first.json()) as object[]).length).toBe(30);
    expect(first.headers.get("link")).toBe(
      `<${base}/repos/acme/many/releases?page=2>; rel="next", <${base}/repos/acme/many/releases?page=3>; rel="last"`,
    );
    const p2 = await api("/repos/acme/many/releases?per_page=30&page=2");
    expect(p2.headers.get("link")).toBe(
      [
        `<${base}/repos/acme/many/releases?per_page=30&page=1>; rel="prev"`,
        `<${base}/repos/acme/many/releases?per_page=30&page=3>; rel="next"`,
        `<${base}/repos/acme/many/releases?per_page=30&page=3>; rel="last"`,
        `<${base}/repos/acme/many/releases?per_page=30&page=1>; rel="first"`,
      ].join(", "),
    );
    const p3 = (await (await api("/repos/acme/many/releases?page=3")).json()) as { tag_name: string }[];
    // Newest first; the last page holds the oldest 15.
    expect(p3.map((r) => r.tag_name)).toEqual(Array.from({ length: 15 }, (_, i) => `v${15 - i}`));
    const big = await api("/repos/acme/many/releases?per_page=1000");
    expect(((await big.json()) as object[]).length).toBe(75);
    expect(big.headers.get("link")).toBeNull();
  });

  it("a release for a tag the remote lacks: GitHub makes the tag at the default branch head, recorded", async () => {
    const { remote, commits } = gitRepo();
    await register({ owner: "acme", repo: "invent", remote });
    const r = await api("/repos/acme/invent/releases", { method: "POST", body: { tag_name: "web@1.0.0" } });
    expect(r.status).toBe(201);
    expect((await state("acme/invent")).inventedTags).toEqual([{ tag: "web@1.0.0", commit: commits[1], from: "main" }]);
    expect(remoteTag(remote, "web@1.0.0")).toBe(commits[1]);
  });

  it("target_commitish places an invented tag; an existing tag is used as is; an unknown target is 422", async () => {
    const { work, remote, commits } = gitRepo();
    await register({ owner: "acme", repo: "target", remote });
    await api("/repos/acme/target/releases", { method: "POST", body: { tag_name: "a@1", target_commitish: commits[0] } });
    expect(remoteTag(remote, "a@1")).toBe(commits[0]);
    execFileSync("git", ["tag", "b@1", commits[0]!], { cwd: work });
    execFileSync("git", ["push", "-q", "origin", "b@1"], { cwd: work });
    const ok = await api("/repos/acme/target/releases", { method: "POST", body: { tag_name: "b@1", target_commitish: commits[0] } });
    expect(((await ok.json()) as { target_commitish: string }).target_commitish).toBe(commits[0]);
    const bad = await api("/repos/acme/target/releases", { method: "POST", body: { tag_name: "c@1", target_commitish: "f".repeat(40) } });
    expect(bad.status).toBe(422);
    expect((await state("acme/target")).inventedTags.map((t) => (t as { tag: string }).tag)).toEqual(["a@1"]);
  });

  it("keeps its state across a restart (state file)", async () => {
    await register({ owner: "acme", repo: "kept" });
    await api("/repos/acme/kept/releases", { method: "POST", body: { tag_name: "k1" } });
    const second = createGithubStub(TOKEN, { stateFile });
    const url = await listen(second);
    try {
      const res = await fetch(`${url}/repos/acme/kept/releases`, { headers: { authorization: `token ${TOKEN}` } });
      expect(((await res.json()) as { tag_name: string }[]).map((r) => r.tag_name)).toEqual(["k1"]);
    } finally {
      second.close();
    }
  });
});

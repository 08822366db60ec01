/**
 * A stand-in for the parts of GitHub's REST API flotilla uses (the one service that cannot run
 * here). It keeps GitHub's observable rules: token required and checked (401 "Bad credentials"),
 * unknown repository → 404, duplicate release → 422 already_exists, `make_latest` must be a
 * string, `getReleaseByTag` hides drafts, `pulls.list` filters by `head=owner:branch` only, list
 * endpoints paginate (`per_page` default 30, max 100, `page`, a `Link` header with
 * rel="next"/"last"/"first"/"prev" as GitHub writes it).
 *
 * A repository registered with its `remote` (a bare git repository) is checked like GitHub
 * checks its own: a release for a tag the remote lacks makes GitHub create that tag at
 * `target_commitish` (default branch head when absent). The stand-in does the same, in the
 * remote, and records it in `inventedTags` so tests can assert it never happens; a
 * `target_commitish` that names nothing there → 422.
 *
 * Run as a process: `node github-stub.ts <port> [state-file]` with GITHUB_STUB_TOKEN in the
 * environment; the state is saved to `state-file` after each change and loaded at start, so a
 * restart (a newer stand-in) keeps the registered repositories. Test hooks live under `/_stub/`
 * (no auth): add a repository, read or reset the state, `version` (a hash of this file).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";

/** Identifies this code: the testbed restarts a running stand-in whose version differs. */
export const STUB_VERSION = createHash("sha256")
  .update(readFileSync(fileURLToPath(import.meta.url)))
  .digest("hex")
  .slice(0, 16);

interface Release {
  id: number;
  tag_name: string;
  name: string | null;
  body: string | null;
  draft: boolean;
  prerelease: boolean;
  make_latest: string;
  target_commitish: string;
  html_url: string;
  url: string;
}
interface Pull {
  id: number;
  number: number;
  state: "open" | "closed";
  title: string;
  body: string | null;
  head: { ref: string; label: string };
  base: { ref: string };
  html_url: string;
}
interface InventedTag {
  tag: string;
  /** The commit GitHub put the tag on. */
  commit: string;
  /** What it was resolved from: `target_commitish`, or the default branch. */
  from: string;
}
interface Repo {
  owner: string;
  name: string;
  default_branch: string;
  /** A bare repository standing for the GitHub-hosted one (tags are checked and made there). */
  remote?: string;
  releases: Release[];
  pulls: Pull[];
  inventedTags: InventedTag[];
}
interface State {
  repos: Map<string, Repo>;
  requests: { method: string; path: string; query: string; status: number }[];
  nextId: number;
}

type Json = Record<string, unknown>;

function loadState(file: string | undefined): State {
  const state: State = { repos: new Map(), requests: [], nextId: 1 };
  if (!file || !existsSync(file)) return state;
  try {
    const saved = JSON.parse(readFileSync(file, "utf8")) as {
      repos: Record<string, Partial<Repo> & { owner: string; name: string }>;
      nextId: number;
    };
    for (const [k, r] of Object.entries(saved.repos))
      state.repos.set(k, { default_branch: "main", inventedTags: [], ...r, releases: r.releases ?? [], pulls: r.pulls ?? [] });
    state.nextId = saved.nextId ?? 1;
  } catch {
    /* unreadable: start empty */
  }
  return state;
}

function saveState(state: State, file: string | undefined): void {
  if (!file) return;
  writeFileSync(`${file}.tmp`, JSON.stringify({ repos: Object.fromEntries(state.repos), nextId: state.nextId }));
  renameSync(`${file}.tmp`, file);
}

export function createGithubStub(token: string, opts: { stateFile?: string } = {}): http.Server {
  const state = loadState(opts.stateFile);
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", `http://${req.headers.host ?? "stub"}`);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): undefined => {
      if (!url.pathname.startsWith("/_stub/")) {
        state.requests.push({ method: req.method ?? "GET", path: url.pathname, query: url.search, status });
        if (req.method !== "GET") saveState(state, opts.stateFile);
      }
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };
    let body: Json = {};
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Json;
    } catch {
      return send(400, { message: "Problems parsing JSON" });
    }
    try {
      route(state, token, req.method ?? "GET", url, req.headers, body, send);
      if (url.pathname.startsWith("/_stub/") && req.method === "POST") saveState(state, opts.stateFile);
    } catch (err) {
      send(500, { message: (err as Error).message });
    }
  });
  // Longer than clients keep idle sockets: a socket the stand-in closed just as a client reused
  // it (the 5 s default, easily hit while `git` runs on a loaded machine) is a spurious reset.
  server.keepAliveTimeout = 65_000;
  return server;
}

function route(
  state: State,
  token: string,
  method: string,
  url: URL,
  headers: http.IncomingHttpHeaders,
  body: Json,
  send: Send,
): undefined {
  const p = url.pathname;
  if (p === "/_stub/version") return send(200, { version: STUB_VERSION });
  if (p === "/_stub/repos" && method === "POST") {
    // Registers a repository (again: its remote and default branch are updated, nothing is lost).
    // `releases` seeds existing releases, oldest first, without checks (e.g. a long history).
    const key = `${String(body.owner).toLowerCase()}/${String(body.repo).toLowerCase()}`;
    const repo: Repo = state.repos.get(key) ?? {
      owner: String(body.owner),
      name: String(body.repo),
      default_branch: "main",
      releases: [],
      pulls: [],
      inventedTags: [],
    };
    if (typeof body.remote === "string") repo.remote = body.remote;
    if (typeof body.default_branch === "string") repo.default_branch = body.default_branch;
    for (const seed of (body.releases as Json[] | undefined) ?? []) repo.releases.push(newRelease(state, repo, seed));
    state.repos.set(key, repo);
    return send(201, { ok: true });
  }
  if (p === "/_stub/state") {
    // `?repo=owner/name` narrows to one repository and the requests made to it.
    const only = url.searchParams.get("repo")?.toLowerCase();
    const repos = only ? Object.fromEntries([...state.repos].filter(([k]) => k === only)) : Object.fromEntries(state.repos);
    const requests = only ? state.requests.filter((q) => q.path.toLowerCase().startsWith(`/repos/${only}/`)) : state.requests;
    return send(200, { repos, requests });
  }
  if (p === "/_stub/reset" && method === "POST") {
    state.repos.clear();
    state.requests.length = 0;
    return send(200, { ok: true });
  }

  const auth = headers.authorization;
  if (!auth) return send(401, { message: "Requires authentication", documentation_url: "https://docs.github.com/rest" });
  const presented = auth.replace(/^(token|bearer)\s+/i, "");
  if (presented !== token) return send(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });

  const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(p);
  if (!m) return send(404, { message: "Not Found" });
  const repo = state.repos.get(`${m[1]!.toLowerCase()}/${m[2]!.toLowerCase()}`);
  if (!repo) return send(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
  const rest = m[3] ?? "";
  const base = `https://github.com/${repo.owner}/${repo.name}`;

  if (rest === "" && method === "GET") {
    return send(200, {
      id: 1,
      name: repo.name,
      full_name: `${repo.owner}/${repo.name}`,
      owner: { login: repo.owner },
      default_branch: repo.default_branch,
      html_url: base,
      permissions: { admin: true, push: true, pull: true },
    });
  }

  // Releases
  if (rest === "/releases" && method === "GET") return paged(send, repo.releases.slice().reverse(), url);
  const byTag = /^\/releases\/tags\/(.+)$/.exec(rest);
  if (byTag && method === "GET") {
    const r = repo.releases.find((x) => x.tag_name === decodeURIComponent(byTag[1]!) && !x.draft);
    return r ? send(200, r) : send(404, { message: "Not Found" });
  }
  if (rest === "/releases" && method === "POST") {
    if (typeof body.tag_name !== "string" || !body.tag_name) return validation(send, "Release", "missing_field", "tag_name");
    if (
      (body.make_latest !== undefined && !["true", "false", "legacy"].includes(String(body.make_latest))) ||
      typeof body.make_latest === "boolean"
    ) {
      return send(422, { message: "Invalid request.\n\nFor 'properties/make_latest', true is not a string." });
    }
    if (repo.releases.some((x) => x.tag_name === body.tag_name)) return validation(send, "Release", "already_exists", "tag_name");
    if (body.target_commitish !== undefined && typeof body.target_commitish !== "string")
      return validation(send, "Release", "invalid", "target_commitish");
    // GitHub: a (non-draft) release for a tag the repository lacks creates the tag at
    // target_commitish, else at the default branch's head. target_commitish is ignored when the tag exists.
    if (repo.remote && body.draft !== true && !resolve(repo.remote, `refs/tags/${body.tag_name}`)) {
      const from = (body.target_commitish as string | undefined) ?? repo.default_branch;
      const commit = resolve(repo.remote, from);
      if (!commit) return validation(send, "Release", "invalid", "target_commitish");
      git(repo.remote, "tag", body.tag_name, commit);
      repo.inventedTags.push({ tag: body.tag_name, commit, from });
    }
    const r = newRelease(state, repo, body);
    repo.releases.push(r);
    return send(201, r);
  }
  const relId = /^\/releases\/(\d+)$/.exec(rest);
  if (relId && method === "PATCH") {
    const r = repo.releases.find((x) => x.id === Number(relId[1]));
    if (!r) return send(404, { message: "Not Found" });
    Object.assign(r, pick(body, ["name", "body", "draft", "prerelease", "make_latest", "tag_name"]));
    return send(200, r);
  }

  // Pull requests
  if (rest === "/pulls" && method === "GET") {
    const stateQ = url.searchParams.get("state") ?? "open";
    const head = url.searchParams.get("head");
    const baseQ = url.searchParams.get("base");
    let list = repo.pulls.filter((x) => stateQ === "all" || x.state === stateQ);
    // GitHub ignores a head without "owner:"; so does the stand-in.
    if (head?.includes(":")) list = list.filter((x) => x.head.label.toLowerCase() === head.toLowerCase());
    if (baseQ) list = list.filter((x) => x.base.ref === baseQ);
    return paged(send, list, url);
  }
  if (rest === "/pulls" && method === "POST") {
    for (const f of ["head", "base", "title"]) if (typeof body[f] !== "string") return validation(send, "PullRequest", "missing_field", f);
    const headRef = String(body.head).includes(":") ? String(body.head).split(":")[1]! : String(body.head);
    const label = `${repo.owner}:${headRef}`;
    if (repo.pulls.some((x) => x.state === "open" && x.head.label === label && x.base.ref === body.base)) {
      return send(422, {
        message: "Validation Failed",
        errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${label}.` }],
      });
    }
    const number = repo.pulls.length + 1;
    const pr: Pull = {
      id: state.nextId++,
      number,
      state: "open",
      title: String(body.title),
      body: (body.body as string) ?? null,
      head: { ref: headRef, label },
      base: { ref: String(body.base) },
      html_url: `${base}/pull/${number}`,
    };
    repo.pulls.push(pr);
    return send(201, pr);
  }
  const prNum = /^\/pulls\/(\d+)$/.exec(rest);
  if (prNum) {
    const pr = repo.pulls.find((x) => x.number === Number(prNum[1]));
    if (!pr) return send(404, { message: "Not Found" });
    if (method === "GET") return send(200, pr);
    if (method === "PATCH") {
      Object.assign(pr, pick(body, ["title", "body", "state"]));
      return send(200, pr);
    }
  }
  return send(404, { message: "Not Found" });
}

type Send = (status: number, body: unknown, headers?: Record<string, string>) => undefined;

function newRelease(state: State, repo: Repo, body: Json): Release {
  const id = state.nextId++;
  const tag = String(body.tag_name);
  return {
    id,
    tag_name: tag,
    name: (body.name as string) ?? null,
    body: (body.body as string) ?? null,
    draft: body.draft === true,
    prerelease: body.prerelease === true,
    make_latest: (body.make_latest as string) ?? "true",
    target_commitish: (body.target_commitish as string) ?? repo.default_branch,
    html_url: `https://github.com/${repo.owner}/${repo.name}/releases/tag/${encodeURIComponent(tag)}`,
    url: `/repos/${repo.owner}/${repo.name}/releases/${id}`,
  };
}

function git(remote: string, ...args: string[]): string {
  return execFileSync("git", ["--git-dir", remote, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** The commit `ref` (tag, branch or SHA) names in the remote, or undefined. */
function resolve(remote: string, ref: string): string | undefined {
  try {
    return git(remote, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`) || undefined;
  } catch {
    return undefined;
  }
}

function validation(send: Send, resource: string, code: string, field: string): undefined {
  return send(422, {
    message: "Validation Failed",
    errors: [{ resource, code, field }],
    documentation_url: "https://docs.github.com/rest/releases/releases#create-a-release",
    status: "422",
  });
}

/**
 * One page of `items`, as GitHub pages lists: `per_page` (default 30, at most 100) and `page`
 * (from 1), and a `Link` header naming the first/prev/next/last pages with absolute URLs that
 * keep the other query parameters (Octokit's paginate follows rel="next").
 */
function paged<T>(send: Send, items: T[], url: URL): undefined {
  const per = Math.max(1, Math.min(Number(url.searchParams.get("per_page")) || 30, 100));
  const n = Math.max(1, Number(url.searchParams.get("page")) || 1);
  const last = Math.max(1, Math.ceil(items.length / per));
  const link = (page: number, rel: string) => {
    const u = new URL(url);
    u.searchParams.set("page", String(page));
    return `<${u.href}>; rel="${rel}"`;
  };
  const links = [
    ...(n > 1 ? [link(n - 1, "prev")] : []),
    ...(n < last ? [link(n + 1, "next"), link(last, "last")] : []),
    ...(n > 1 ? [link(1, "first")] : []),
  ];
  return send(200, items.slice((n - 1) * per, n * per), links.length ? { link: links.join(", ") } : {});
}

function pick(o: Json, keys: string[]): Json {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2]);
  const token = process.env.GITHUB_STUB_TOKEN;
  if (!port || !token) {
    console.error("usage: GITHUB_STUB_TOKEN=... node github-stub.ts <port> [state-file]");
    process.exit(2);
  }
  createGithubStub(token, { stateFile: process.argv[3] }).listen(port, "127.0.0.1", () =>
    console.log(`github stub ${STUB_VERSION} on 127.0.0.1:${port}`),
  );
}

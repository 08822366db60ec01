/**
 * A stand-in for the parts of GitHub's REST API flotilla uses (the one service that cannot run
 * here). It keeps GitHub's observable rules: token required and checked (401 "Bad credentials"),
 * unknown repository → 404, duplicate release → 422 already_exists, `make_latest` must be a
 * string, `getReleaseByTag` hides drafts, `pulls.list` filters by `head=owner:branch` only.
 *
 * Run as a process: `node github-stub.ts <port>` with GITHUB_STUB_TOKEN in the environment.
 * Test hooks live under `/_stub/` (no auth): add a repository, read or reset the state.
 */
import http from "node:http";

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
interface Repo {
  owner: string;
  name: string;
  releases: Release[];
  pulls: Pull[];
}
interface State {
  repos: Map<string, Repo>;
  requests: { method: string; path: string; status: number }[];
  nextId: number;
}

type Json = Record<string, unknown>;

export function createGithubStub(token: string): http.Server {
  const state: State = { repos: new Map(), requests: [], nextId: 1 };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://stub");
    const send = (status: number, body: unknown): undefined => {
      if (!url.pathname.startsWith("/_stub/")) state.requests.push({ method: req.method ?? "GET", path: url.pathname, status });
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
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
    } catch (err) {
      send(500, { message: (err as Error).message });
    }
  });
  return server;
}

function route(
  state: State,
  token: string,
  method: string,
  url: URL,
  headers: http.IncomingHttpHeaders,
  body: Json,
  send: (status: number, body: unknown) => undefined,
): undefined {
  const p = url.pathname;
  if (p === "/_stub/repos" && method === "POST") {
    const key = `${String(body.owner).toLowerCase()}/${String(body.repo).toLowerCase()}`;
    if (!state.repos.has(key)) state.repos.set(key, { owner: String(body.owner), name: String(body.repo), releases: [], pulls: [] });
    return send(201, { ok: true });
  }
  if (p === "/_stub/state") {
    return send(200, { repos: Object.fromEntries(state.repos), requests: state.requests });
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
      default_branch: "main",
      html_url: base,
      permissions: { admin: true, push: true, pull: true },
    });
  }

  // Releases
  if (rest === "/releases" && method === "GET") return send(200, page(repo.releases.slice().reverse(), url));
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
    const id = state.nextId++;
    const r: Release = {
      id,
      tag_name: body.tag_name,
      name: (body.name as string) ?? null,
      body: (body.body as string) ?? null,
      draft: body.draft === true,
      prerelease: body.prerelease === true,
      make_latest: (body.make_latest as string) ?? "true",
      target_commitish: (body.target_commitish as string) ?? "main",
      html_url: `${base}/releases/tag/${encodeURIComponent(body.tag_name)}`,
      url: `/repos/${repo.owner}/${repo.name}/releases/${id}`,
    };
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
    return send(200, page(list, url));
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

function validation(send: (s: number, b: unknown) => undefined, resource: string, code: string, field: string): undefined {
  return send(422, { message: "Validation Failed", errors: [{ resource, code, field }] });
}

function page<T>(items: T[], url: URL): T[] {
  const per = Math.min(Number(url.searchParams.get("per_page") ?? 30), 100);
  const n = Number(url.searchParams.get("page") ?? 1);
  return items.slice((n - 1) * per, n * per);
}

function pick(o: Json, keys: string[]): Json {
  return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]]));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2]);
  const token = process.env.GITHUB_STUB_TOKEN;
  if (!port || !token) {
    console.error("usage: GITHUB_STUB_TOKEN=... node github-stub.ts <port>");
    process.exit(2);
  }
  createGithubStub(token).listen(port, "127.0.0.1", () => console.log(`github stub on 127.0.0.1:${port}`));
}

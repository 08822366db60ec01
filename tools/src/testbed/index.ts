/**
 * The testbed: the real local services of SPEC §10, started idempotently on free loopback ports.
 * Used by vitest's global setup, the demo and the benchmark; `tools/testbed.sh` wraps it.
 *
 * State (ports, pids, throwaway credentials) lives outside the repository, in
 * `$FLOTILLA_CACHE/testbed/state.json`, mode 0600. `start` reuses a running testbed whose
 * services all answer; `stop` ends everything the testbed started and nothing else.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Docker from "dockerode";
import { BASE_IMAGE, ensureBaseImage } from "./base-image.ts";
import { ensureDocker } from "./docker.ts";
import { startOciRegistry } from "./oci-registry.ts";
import { answers, freePort, isAlive, startDaemon, stopDaemon, waitFor } from "./proc.ts";
import { startTurboCache, type TurboCacheService } from "./turbo-cache.ts";
import { startVerdaccio } from "./verdaccio.ts";

export interface Testbed {
  dir: string;
  docker: { host: string; pid: number | undefined; baseImage: string };
  registry: { host: string; url: string; username: string; password: string; pid: number; logFile: string };
  npm: { url: string; username: string; password: string; token: string; pid: number; logFile: string };
  github: { url: string; token: string; pid: number };
  /** Turborepo remote cache (SPEC §11); absent only in a state written before it existed. */
  turboCache?: TurboCacheService;
}

export function testbedDir(): string {
  const cache = process.env.FLOTILLA_CACHE ?? path.join(os.homedir(), ".cache", "flotilla");
  return path.join(cache, "testbed");
}

function stateFile(dir: string): string {
  return path.join(dir, "state.json");
}

export function readTestbed(dir = testbedDir()): Testbed | undefined {
  if (!existsSync(stateFile(dir))) return undefined;
  return JSON.parse(readFileSync(stateFile(dir), "utf8")) as Testbed;
}

/** The version of the stand-in's code on disk (what a running one must match to be reused). */
async function stubVersionOnDisk(): Promise<string> {
  return (await import("./github-stub.ts")).STUB_VERSION;
}

/** The version a running stand-in reports (older ones have none). */
async function stubVersionRunning(tb: Testbed): Promise<string | undefined> {
  try {
    const res = await fetch(`${tb.github.url}/_stub/version`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as { version: string }).version : undefined;
  } catch {
    return undefined;
  }
}

async function healthy(tb: Testbed): Promise<boolean> {
  const pids = [tb.registry.pid, tb.npm.pid, tb.github.pid, ...(tb.docker.pid ? [tb.docker.pid] : [])];
  if (!pids.every(isAlive)) return false;
  return (
    (await answers(`${tb.registry.url}/v2/`)) && (await answers(`${tb.npm.url}/-/ping`)) && (await answers(`${tb.github.url}/_stub/state`))
  );
}

/** Starts (or reuses) the testbed. `started` is true when this call started it. */
export async function startTestbed(opts: { log?: (s: string) => void } = {}): Promise<{ testbed: Testbed; started: boolean }> {
  const log = opts.log ?? (() => {});
  const dir = testbedDir();
  const current = readTestbed(dir);
  if (current && (await healthy(current))) {
    // A stand-in older than its code (it is edited while a testbed keeps running) is replaced in
    // place: same port and token, state kept through its state file; the other services stay.
    if ((await stubVersionRunning(current)) !== (await stubVersionOnDisk())) {
      log("testbed: restarting the GitHub API stand-in (its code changed)");
      await stopDaemon(current.github.pid);
      current.github = await startGithubStub(path.join(dir, "github"), {
        port: Number(new URL(current.github.url).port),
        token: current.github.token,
      });
      writeFileSync(stateFile(dir), JSON.stringify(current, null, 2), { mode: 0o600 });
    }
    // A testbed started before the remote cache existed gains one in place (the rest stays up).
    if (!current.turboCache || !isAlive(current.turboCache.pid) || !(await answers(`${current.turboCache.url}/v8/artifacts/status`))) {
      log("testbed: Turborepo remote cache (turborepo-remote-cache)");
      if (current.turboCache) await stopDaemon(current.turboCache.pid);
      current.turboCache = await startTurboCache(path.join(dir, "turbo-cache"));
      writeFileSync(stateFile(dir), JSON.stringify(current, null, 2), { mode: 0o600 });
    }
    return { testbed: current, started: false };
  }
  if (current) await stopTestbed();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  // The services start side by side (each waits only for itself to answer): one after the other,
  // the start was ~15 s of a CI run, mostly waiting.
  const step = <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    log(`testbed: ${name}`);
    return fn();
  };
  // A dockerd the testbed started is stopped if anything else fails to start (its pid is known
  // once it answers, before the base image is built).
  let dockerPid: number | undefined;
  const started = await Promise.allSettled([
    step("Docker daemon", async () => {
      const docker = await ensureDocker(path.join(dir, "docker"));
      dockerPid = docker.pid;
      log(`testbed: base image ${BASE_IMAGE}`);
      return { docker, baseImage: await ensureBaseImage(new Docker({ socketPath: docker.socketPath }), dir) };
    }),
    step("OCI registry (docker-registry)", () => startOciRegistry(path.join(dir, "registry"))),
    step("npm registry (Verdaccio)", () => startVerdaccio(path.join(dir, "verdaccio"))),
    step("GitHub API stand-in", () => startGithubStub(path.join(dir, "github"))),
    step("Turborepo remote cache (turborepo-remote-cache)", () => startTurboCache(path.join(dir, "turbo-cache"))),
  ]);
  const failed = started.find((r) => r.status === "rejected");
  if (failed) {
    // Nothing is left running: the state file, which stopTestbed reads, is written only below.
    const pids = started.slice(1).flatMap((r) => (r.status === "fulfilled" ? [(r.value as { pid: number }).pid] : []));
    await Promise.all(pids.map((pid) => stopDaemon(pid)));
    if (dockerPid) await stopDaemon(dockerPid, 20_000);
    throw failed.reason;
  }
  const [{ docker, baseImage }, registry, npm, github, turboCache] = started.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
    { docker: Awaited<ReturnType<typeof ensureDocker>>; baseImage: string },
    Awaited<ReturnType<typeof startOciRegistry>>,
    Awaited<ReturnType<typeof startVerdaccio>>,
    Awaited<ReturnType<typeof startGithubStub>>,
    Awaited<ReturnType<typeof startTurboCache>>,
  ];

  const testbed: Testbed = {
    dir,
    docker: { host: docker.host, pid: docker.pid, baseImage },
    registry: {
      host: registry.host,
      url: registry.url,
      username: registry.username,
      password: registry.password,
      pid: registry.pid,
      logFile: registry.logFile,
    },
    npm: { url: npm.url, username: npm.username, password: npm.password, token: npm.token, pid: npm.pid, logFile: npm.logFile },
    github,
    turboCache,
  };
  writeFileSync(stateFile(dir), JSON.stringify(testbed, null, 2), { mode: 0o600 });
  return { testbed, started: true };
}

async function startGithubStub(dir: string, reuse?: { port: number; token: string }): Promise<Testbed["github"]> {
  mkdirSync(dir, { recursive: true });
  const port = reuse?.port ?? (await freePort());
  const token = reuse?.token ?? `ghs_${randomBytes(18).toString("hex")}`;
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "github-stub.ts");
  const logFile = path.join(dir, "stub.log");
  const pid = startDaemon(process.execPath, [script, String(port), path.join(dir, "state.json")], {
    logFile,
    env: { ...process.env, GITHUB_STUB_TOKEN: token },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("GitHub API stand-in", () => answers(`${url}/_stub/state`), { logFile });
  return { url, token, pid };
}

/** Stops every process the testbed started (dockerd only if it started it) and removes its state. */
export async function stopTestbed(): Promise<void> {
  const dir = testbedDir();
  const tb = readTestbed(dir);
  if (!tb) return;
  await Promise.all([
    stopDaemon(tb.npm.pid),
    stopDaemon(tb.registry.pid),
    stopDaemon(tb.github.pid),
    ...(tb.turboCache ? [stopDaemon(tb.turboCache.pid)] : []),
  ]);
  if (tb.docker.pid) await stopDaemon(tb.docker.pid, 20_000);
  rmSync(dir, { recursive: true, force: true });
}

/** Environment that points flotilla (and npm/pnpm/docker clients) at the testbed. */
export function testbedEnv(tb: Testbed): Record<string, string> {
  return {
    DOCKER_HOST: tb.docker.host,
    FLOTILLA_NPM_REGISTRY: `${tb.npm.url}/`,
    FLOTILLA_IMAGE_REGISTRY: tb.registry.host,
    FLOTILLA_IMAGE_REGISTRY_USERNAME: tb.registry.username,
    FLOTILLA_IMAGE_REGISTRY_PASSWORD: tb.registry.password,
    NODE_AUTH_TOKEN: tb.npm.token,
    GITHUB_API_URL: tb.github.url,
    GITHUB_TOKEN: tb.github.token,
  };
}

/**
 * Makes the GitHub stand-in know a repository (GitHub answers 404 for unknown ones). With
 * `remote` (the bare repository the test pushes to), a release for a tag the remote lacks is
 * handled as GitHub does: the tag is made there, at `target_commitish` or the default branch's
 * head, and listed in the repository's `inventedTags`. `releases` seeds existing releases (oldest first).
 */
export async function registerGithubRepo(
  tb: Testbed,
  owner: string,
  repo: string,
  opts: {
    remote?: string;
    defaultBranch?: string;
    releases?: { tag_name: string; name?: string; body?: string; prerelease?: boolean }[];
  } = {},
): Promise<void> {
  const res = await stubFetch(
    `${tb.github.url}/_stub/repos`,
    {
      method: "POST",
      body: JSON.stringify({ owner, repo, remote: opts.remote, default_branch: opts.defaultBranch, releases: opts.releases }),
    },
    // Registering a repository again changes nothing; seeding its releases twice would.
    { idempotent: !opts.releases?.length },
  );
  if (!res.ok) throw new Error(`GitHub stand-in: cannot add ${owner}/${repo}: HTTP ${res.status}`);
}

export interface GithubStubState {
  repos: Record<
    string,
    {
      releases: {
        id: number;
        tag_name: string;
        name: string | null;
        body: string;
        prerelease: boolean;
        make_latest: string;
        draft: boolean;
        target_commitish: string;
      }[];
      pulls: { number: number; title: string; body: string; state: string; head: { ref: string } }[];
      /** Tags GitHub would have created for releases of tags the remote lacked (should stay empty). */
      inventedTags: { tag: string; commit: string; from: string }[];
    }
  >;
  requests: { method: string; path: string; query: string; status: number }[];
}

/**
 * The stand-in's state: repositories with their releases, pull requests and invented tags, and
 * the requests it saw; with `repo` ("owner/name"), only that repository and its requests.
 */
export async function githubState(tb: Testbed, repo?: string): Promise<GithubStubState> {
  const q = repo ? `?repo=${encodeURIComponent(repo)}` : "";
  return (await (await stubFetch(`${tb.github.url}/_stub/state${q}`)).json()) as never;
}

/**
 * A request to the stand-in's control API (not the API flotilla is tested against), tried again
 * when it never reached the stand-in. Seen once as "fetch failed" in two faults tests at the
 * same moment, cause not recorded; likely a test worker whose event loop a synchronous child
 * process held for seconds (`pnpm install` in a test running beside it) timing out its connect.
 * A GET, or a POST the stand-in may receive twice (`idempotent`), is tried again after any
 * network error; another POST only when it was never sent. Also seen, with four test workers: a
 * POST on a kept-alive connection the stand-in was closing ("other side closed",
 * UND_ERR_SOCKET). A last failure names its cause.
 */
async function stubFetch(url: string, init: RequestInit = {}, opts: { idempotent?: boolean } = {}): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const unsent = cause?.code === "UND_ERR_CONNECT_TIMEOUT" || cause?.code === "ECONNREFUSED";
      if (attempt < 3 && (unsent || opts.idempotent || (init.method ?? "GET") === "GET")) {
        await new Promise((r) => setTimeout(r, 500 * attempt));
        continue;
      }
      throw new Error(
        `GitHub stand-in: ${init.method ?? "GET"} ${new URL(url).pathname}: ${(err as Error).message} (${cause?.code ?? cause?.message ?? "no cause"})`,
      );
    }
  }
}

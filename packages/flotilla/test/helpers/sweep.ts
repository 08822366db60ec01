/**
 * The kill-point sweep's parts, shared by the suite's sampled sweep
 * (test/release-invariants.e2e.test.ts) and the full sweep (tools/sweep/kill-sweep.ts), so both
 * prepare, kill and compare the same way: examples/ released against the testbed, killed with
 * SIGKILL (whole process group) right after a `--log-format json` event, and what a user sees
 * afterwards compared with an uninterrupted run's.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { githubState, registerGithubRepo } from "../../../../tools/src/testbed/index.ts";
import { OciRegistry } from "../../src/adapters/oci-registry.ts";
import { FLOTILLA_BIN, runFlotilla } from "./cli.ts";
import { envFor, packument, testbed, uniqueScope, verdaccioRequests, versionedExamples } from "./testbed.ts";

export const PUBLIC = ["tokens", "core", "ui"];
export const APPS = ["web", "api"];

/** examples/ after `changeset version`, built (so runs use --skip-build), with its own GitHub repository; `tweak` runs after the build. */
export async function preparedExamples(tweak?: (dir: string) => void) {
  const tb = testbed();
  const scope = uniqueScope();
  // Built as `pnpm -r run build` builds it; a tweak (the race's slower Dockerfile) comes after.
  const { dir, origin } = versionedExamples(scope, { tweak, built: true });
  const repo = `repo-${scope}`;
  await retried(() => registerGithubRepo(tb, "acme", repo, { remote: origin }));
  const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: dir, encoding: "utf8" }).trim();
  return { tb, scope, dir, origin, repo, commit, env: envFor(tb, { GITHUB_REPOSITORY: `acme/${repo}` }) };
}
export type Prepared = Awaited<ReturnType<typeof preparedExamples>>;

/** Tag → the commit it points at, on origin (annotated tags peeled). */
export function originTags(origin: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of execFileSync("git", ["ls-remote", "--tags", origin], { encoding: "utf8" }).split("\n").filter(Boolean)) {
    const [sha, ref] = line.split("\t") as [string, string];
    const name = ref.replace("refs/tags/", "");
    if (name.endsWith("^{}")) out[name.slice(0, -3)] = sha;
    else out[name] ??= sha;
  }
  return out;
}

function registry(p: Prepared): OciRegistry {
  return new OciRegistry({ host: p.tb.registry.host, username: p.tb.registry.username, password: p.tb.registry.password });
}

/** Every image tag of the apps → its digest (`app:tag`). */
export async function imageDigests(p: Prepared): Promise<Record<string, string>> {
  const reg = registry(p);
  const out: Record<string, string> = {};
  for (const app of APPS) {
    const repo = `${p.scope}/${app}`;
    for (const t of (await reg.tags(repo)).sort()) out[`${app}:${t}`] = (await reg.digest(repo, t)) ?? "none";
  }
  return out;
}

/**
 * What a user sees after a release, with the scope replaced by "S" so runs in different scopes
 * compare: every npm version and dist-tag, every image tag (and that the tags of an app name one
 * image: runs in different scopes build different images), every origin tag → commit, every
 * GitHub release (tag, name, body, prerelease, Latest, target), and whether a lock was left.
 */
export async function endState(p: Prepared) {
  // Each copy's commits differ: changesets' short hashes in the changelogs too.
  const norm = (s: string) => s.replaceAll(p.scope, "S").replace(/\b[0-9a-f]{7}\b/g, "<sha>");
  const npm: Record<string, unknown> = {};
  for (const n of PUBLIC) {
    const doc = await retried(() => packument(p.tb, `@${p.scope}/${n}`));
    npm[n] = doc ? { versions: Object.keys(doc.versions).sort(), distTags: doc["dist-tags"] } : null;
  }
  const digests = await retried(() => imageDigests(p));
  const images: Record<string, unknown> = {};
  for (const app of APPS) {
    const mine = Object.entries(digests).filter(([k]) => k.startsWith(`${app}:`));
    images[app] = { tags: mine.map(([k]) => k.slice(app.length + 1)), oneDigest: new Set(mine.map(([, d]) => d)).size <= 1 };
  }
  const tags = Object.fromEntries(
    Object.entries(originTags(p.origin)).map(([t, sha]) => [norm(t), sha === p.commit ? "release commit" : sha]),
  );
  const gh = (await stubState(p)).repos[`acme/${p.repo}`]!;
  const releases = gh.releases
    .map((r) => ({
      tag: norm(r.tag_name),
      name: norm(r.name ?? ""),
      body: norm(r.body ?? ""),
      prerelease: r.prerelease,
      latest: r.make_latest,
      target: r.target_commitish === p.commit ? "release commit" : r.target_commitish,
    }))
    .sort((a, b) => a.tag.localeCompare(b.tag));
  const lockLeft = execFileSync("git", ["ls-remote", p.origin, "refs/flotilla/lock/*"], { encoding: "utf8" }).trim() !== "";
  return { npm, images, tags, releases, invented: gh.inventedTags.length, lockLeft };
}
export type EndState = Awaited<ReturnType<typeof endState>>;

/**
 * Once more after a failed request: a keep-alive connection the service closed while idle (a
 * loaded machine), or the stand-in restarting (the testbed is shared) is not what is measured.
 */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch {
    await new Promise((r) => setTimeout(r, 2000));
    return fn();
  }
}

function stubState(p: Prepared) {
  return retried(() => githubState(p.tb, `acme/${p.repo}`));
}

/** Paths of the top-level differences between two end states (empty: identical). */
export function differences(got: EndState, want: EndState): string[] {
  const out: string[] = [];
  for (const k of Object.keys(want) as (keyof EndState)[]) {
    const a = got[k] as unknown;
    const b = want[k] as unknown;
    if (a !== null && b !== null && typeof a === "object" && typeof b === "object" && !Array.isArray(a)) {
      for (const sub of new Set([...Object.keys(a as object), ...Object.keys(b as object)]))
        if (JSON.stringify((a as Record<string, unknown>)[sub]) !== JSON.stringify((b as Record<string, unknown>)[sub]))
          out.push(`${k}.${sub}`);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) out.push(k);
  }
  return out;
}

/**
 * Successful writes per service for this release, by what they wrote: Verdaccio's PUTs (a version,
 * a dist-tag), the registry's manifest PUTs (an image tag), the stand-in's release creations.
 * Any key written more than once is a duplicate.
 */
export async function writes(p: Prepared): Promise<{ npm: Map<string, number>; oci: Map<string, number>; github: Map<string, number> }> {
  const count = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const npm = new Map<string, number>();
  for (const q of verdaccioRequests(p.tb, p.scope)) if (q.method === "PUT" && q.status === 201) count(npm, q.url);
  const oci = new Map<string, number>();
  const put = new RegExp(`"PUT /v2/(${p.scope}/[^ ]+)/manifests/([^ ]+) HTTP/[\\d.]+" 201 `);
  for (const line of readFileSync(p.tb.registry.logFile, "utf8").split("\n")) {
    const m = put.exec(line);
    if (m) count(oci, `${m[1]}:${m[2]}`);
  }
  const st = await stubState(p);
  const github = new Map<string, number>();
  const posts = st.requests.filter((q) => q.method === "POST" && q.path === `/repos/acme/${p.repo}/releases` && q.status === 201).length;
  // The stand-in's request log has no body: a creation is one release; more creations than releases are duplicates.
  const releases = st.repos[`acme/${p.repo}`]!.releases;
  for (const r of releases) count(github, r.tag_name);
  if (posts > releases.length) github.set("(extra creations)", posts - releases.length + 1);
  return { npm, oci, github };
}

export function duplicates(w: Awaited<ReturnType<typeof writes>>): string[] {
  return Object.entries(w).flatMap(([svc, m]) => [...m].filter(([, n]) => n > 1).map(([k, n]) => `${svc} ${k} ×${n}`));
}

/** One `--log-format json` event as the sweep reads it. */
export interface SweepEvent {
  event: string;
  step?: string;
  kind?: string;
  status?: string;
  package?: string | null;
  durationMs?: number | null;
  exitCode?: number;
}
const COUNTED = new Set(["plan", "lock", "build", "pack", "start", "end", "done"]);

/**
 * Runs `flotilla publish --log-format json` in its own process group and SIGKILLs the whole group
 * right after the event `stop` picks (counted events only: not log lines). Resolves with whether
 * it was killed, the events up to the kill (all of them, when never killed), and `late`: events
 * the run wrote after that one before the signal landed (the reader lags on a loaded machine).
 */
export function runKilledAfter(
  p: Prepared,
  stop: (e: SweepEvent, index: number) => boolean,
  opts: { concurrency?: number; onEvent?: (e: SweepEvent) => void; cwd?: string } = {},
): Promise<{ killed: boolean; events: SweepEvent[]; exitCode: number | null; notJson: string[]; late: number }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(GITHUB_|FLOTILLA_|NODE_AUTH_TOKEN|RUNNER_|CI$)/.test(k)));
  const args = [FLOTILLA_BIN, "publish", "--skip-build", "--log-format", "json", "--concurrency", String(opts.concurrency ?? 2)];
  const child = spawn(process.execPath, args, {
    cwd: opts.cwd ?? p.dir,
    env: { ...base, ...p.env },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  return new Promise((resolve) => {
    const events: SweepEvent[] = [];
    const notJson: string[] = [];
    let buf = "";
    let killed = false;
    let late = 0;
    child.stderr!.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const l of lines) {
        let e: SweepEvent;
        try {
          e = JSON.parse(l) as SweepEvent;
        } catch {
          notJson.push(l);
          continue;
        }
        if (!COUNTED.has(e.event)) continue;
        // Lines the run wrote before the signal landed, read after it: how late the kill was.
        if (killed) {
          late++;
          continue;
        }
        events.push(e);
        opts.onEvent?.(e);
        if (stop(e, events.length)) {
          try {
            process.kill(-child.pid!, "SIGKILL");
            killed = true;
          } catch {
            // The run had ended already (its last lines arrive after its exit): not killed.
          }
          return;
        }
      }
    });
    child.once("close", (code) => resolve({ killed, events, exitCode: code, notJson, late }));
  });
}

/** The nth event matching `match` (1-based), as a `stop` for runKilledAfter. */
export function nth(match: (e: SweepEvent) => boolean, n: number): (e: SweepEvent) => boolean {
  let seen = 0;
  return (e) => match(e) && ++seen === n;
}

/** Runs publish until it exits 0 (at most `max` times); returns how many runs that took, and the last output. */
export async function rerunUntilDone(p: Prepared, max = 5): Promise<{ runs: number; ok: boolean; output: string }> {
  let output = "";
  for (let i = 1; i <= max; i++) {
    const r = await runFlotilla(["publish", "--skip-build"], { cwd: p.dir, env: p.env });
    output = r.stdout + r.stderr;
    if (r.exitCode === 0) return { runs: i, ok: true, output };
  }
  return { runs: max, ok: false, output };
}

/**
 * Mounts the base image's layers into `repos` directly in the registry (as on a registry that
 * served this base image before). Behind a fault proxy the daemon sees a registry it never pushed
 * to, so it would upload the ~100 MB base again for each image; the faults measured are flotilla's
 * to survive, not a bulk upload's. (Used by faults.e2e.test.ts and the fault table.)
 */
export async function seedBaseLayers(tb: Prepared["tb"], repos: string[]): Promise<void> {
  const basic = `Basic ${Buffer.from(`${tb.registry.username}:${tb.registry.password}`).toString("base64")}`;
  const layers = await baseLayers(tb, basic);
  for (const repo of repos)
    for (const digest of layers) {
      const res = await fetch(`${tb.registry.url}/v2/${repo}/blobs/uploads/?mount=${digest}&from=testbed/base`, {
        method: "POST",
        headers: { authorization: basic },
      });
      if (res.status !== 201) throw new Error(`mount ${digest} into ${repo}: HTTP ${res.status}`);
    }
}

/**
 * The base image pushed once per process and registry as testbed/base:1, and its layers. Once:
 * the tests that seed run side by side, and two pushes of one tag at once once left the manifest
 * read without layers (a CI run of 1 Dec 2026); the read is checked and tried again besides.
 */
const pushedBase = new Map<string, Promise<string[]>>();
function baseLayers(tb: Prepared["tb"], basic: string): Promise<string[]> {
  let layers = pushedBase.get(tb.registry.url);
  if (!layers) {
    layers = (async () => {
      const { dockerClient, pushImage } = await import("../../src/adapters/docker.ts");
      const docker = await dockerClient({ DOCKER_HOST: tb.docker.host });
      const auth = { username: tb.registry.username, password: tb.registry.password, serveraddress: tb.registry.host };
      await docker.getImage(tb.docker.baseImage).tag({ repo: `${tb.registry.host}/testbed/base`, tag: "1" });
      await pushImage(docker, `${tb.registry.host}/testbed/base`, "1", auth);
      const accept = [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
      ].join(", ");
      type Manifest = { layers?: { digest: string }[]; manifests?: { digest: string; platform?: { os?: string } }[] };
      let last = "";
      let ref = "1";
      for (let attempt = 0; attempt < 6; attempt++) {
        if (attempt) await new Promise((r) => setTimeout(r, 500 * attempt));
        const res = await fetch(`${tb.registry.url}/v2/testbed/base/manifests/${ref}`, { headers: { authorization: basic, accept } });
        const body = await res.text();
        last = `HTTP ${res.status}: ${body.slice(0, 300)}`;
        let m: Manifest;
        try {
          m = JSON.parse(body) as Manifest;
        } catch {
          continue; // not JSON: read again
        }
        if (res.ok && Array.isArray(m.layers)) return m.layers.map((l) => l.digest);
        // An index (a store that pushes one): the image's own manifest, not an attestation's.
        const image = res.ok ? m.manifests?.find((x) => x.platform?.os && x.platform.os !== "unknown") : undefined;
        if (image) ref = image.digest;
      }
      throw new Error(`testbed/base:1 has no readable manifest after its push: ${last}`);
    })();
    layers.catch(() => pushedBase.delete(tb.registry.url));
    pushedBase.set(tb.registry.url, layers);
  }
  return layers;
}

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type Docker from "dockerode";
import tar from "tar-fs";
import { BuildkitProgress } from "./buildkit-status.ts";
import { OciRegistry, splitImageName } from "./oci-registry.ts";
import { isTransient, withRetry } from "./retry.ts";

// @balena/dockerignore is CommonJS with a default-export typing that does not match its module.exports.
const dockerignore = createRequire(import.meta.url)("@balena/dockerignore") as (opts?: { ignorecase?: boolean }) => {
  add(patterns: string): unknown;
  ignores(path: string): boolean;
};

/** The Engine API version flotilla speaks (Docker ≥ 20.10 serves it; unversioned paths are deprecated). */
const API_VERSION = "v1.41";

export interface BuildSpec {
  /** Absolute build context folder. */
  context: string;
  /** Dockerfile path relative to the context. */
  dockerfile: string;
  /** Local tag for the built image, e.g. `ghcr.io/acme/web:1.4.0`. */
  tag: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  platform?: string;
  /** The daemon's builder (default BuildKit, as `docker build`; see buildImage). */
  builder?: "buildkit" | "classic";
}

export interface AuthConfig {
  username: string;
  password: string;
  serveraddress: string;
}

/** Docker Engine through dockerode (loaded on first use); `DOCKER_HOST` honoured (unix socket or tcp). */
export async function dockerClient(env: Record<string, string | undefined>): Promise<Docker> {
  const { default: Docker } = await import("dockerode");
  const host = env.DOCKER_HOST;
  if (host?.startsWith("unix://")) return new Docker({ socketPath: host.slice(7), version: API_VERSION });
  if (host?.startsWith("tcp://")) {
    const u = new URL(host.replace(/^tcp:/, "http:"));
    return new Docker({ host: u.hostname, port: Number(u.port || 2375), version: API_VERSION });
  }
  return new Docker({ socketPath: "/var/run/docker.sock", version: API_VERSION });
}

export async function pingDocker(docker: Docker): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await docker.ping();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

/**
 * The build context as a tar stream that honours `.dockerignore` (the daemon does not apply it
 * to an uploaded context, REGISTRIES C4): paths are matched root-relative with
 * @balena/dockerignore, the Dockerfile and .dockerignore always included.
 */
export function contextStream(context: string, dockerfile: string): NodeJS.ReadableStream {
  const ignoreFile = path.join(context, ".dockerignore");
  const ig = dockerignore({ ignorecase: false });
  if (existsSync(ignoreFile)) ig.add(readFileSync(ignoreFile, "utf8"));
  const keep = new Set([dockerfile.split(path.sep).join("/"), ".dockerignore"]);
  return tar.pack(context, {
    ignore: (abs) => {
      const rel = path.relative(context, abs).split(path.sep).join("/");
      return rel !== "" && !keep.has(rel) && ig.ignores(rel);
    },
  });
}

interface StreamEvent {
  id?: string;
  stream?: string;
  status?: string;
  error?: string;
  errorDetail?: { message?: string };
  /** Classic build and push results: `{ ID }`, `{ Digest }`; BuildKit: its status (a base64 string) or `{ ID }`. */
  aux?: { ID?: string; Digest?: string; Tag?: string } | string;
}

/** The object form of an event's `aux`, if it has one. */
const auxOf = (e: StreamEvent) => (typeof e.aux === "object" ? e.aux : undefined);

/** Follows a progress stream; errors inside the 200 stream (REGISTRIES C3) reject. */
function follow(docker: Docker, stream: NodeJS.ReadableStream, onEvent?: (e: StreamEvent) => void): Promise<StreamEvent[]> {
  return new Promise((resolve, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, events: StreamEvent[]) => {
        if (err) return reject(err);
        const bad = events.find((e) => e.error || e.errorDetail?.message);
        if (bad) return reject(Object.assign(new Error(bad.errorDetail?.message ?? bad.error ?? "failed"), { events }));
        resolve(events);
      },
      onEvent,
    );
  });
}

/**
 * Builds an image; returns its ID. BuildKit by default (Engine API `version=2`, the builder
 * `docker build` uses since Docker 23): Dockerfiles written for it (`RUN --mount=type=cache`,
 * `COPY --chmod`) build as they do with `docker build`, and a build costs the daemon a fraction of
 * the classic builder's work (no container and no untar helper process per step: ~0.3 against
 * ~1.4 CPU-s for examples/apps/web, measured on the testbed's Docker 20.10). dockerode opens the
 * session BuildKit needs; it serves credentials only (no secrets, no SSH agent: `RUN
 * --mount=type=secret|ssh` finds nothing), and flotilla gives it none, so base images are pulled
 * anonymously as with the classic builder (never pass `authconfig` here: dockerode's session
 * would hand the same credentials to every registry a `FROM` names). A daemon that refuses
 * BuildKit gets the classic build instead, as does `images.builder: "classic"`. The classic
 * builder's cache ignores the platform (Docker 20.10: `FROM scratch` + `COPY` for amd64 after
 * arm64 returns the arm64 image), so an image of another platform is built again without cache.
 */
export async function buildImage(docker: Docker, spec: BuildSpec, onLine?: (line: string) => void): Promise<string> {
  let builder = spec.builder ?? "buildkit";
  let id: string;
  try {
    id = await buildOnce(docker, spec, builder, false, onLine);
  } catch (err) {
    if (builder !== "buildkit" || !NO_BUILDKIT.test((err as Error).message)) throw err;
    builder = "classic";
    onLine?.("the daemon refuses BuildKit: building with the classic builder\n");
    id = await buildOnce(docker, spec, builder, false, onLine);
  }
  if (!spec.platform) return id;
  const info = await docker.getImage(id).inspect();
  if (spec.platform.startsWith(`${info.Os}/${info.Architecture}`)) return id;
  return buildOnce(docker, spec, builder, true, onLine);
}

/** A daemon without BuildKit: disabled (HTTP 400 "buildkit is not enabled on daemon"), or Windows. */
const NO_BUILDKIT = /buildkit (is )?not (enabled|supported)|buildkit executor not implemented/i;

/** The step a classic build's progress line starts: "Step 2/3 : RUN …". */
const CLASSIC_STEP = /^Step \d+\/\d+ : (.*)$/m;

async function buildOnce(
  docker: Docker,
  spec: BuildSpec,
  builder: "buildkit" | "classic",
  nocache: boolean,
  onLine?: (line: string) => void,
): Promise<string> {
  const buildkit = builder === "buildkit" ? new BuildkitProgress(onLine) : undefined;
  // The classic builder names no failed step: the last one it started is the one that failed.
  let lastClassicStep = "";
  try {
    const stream = await docker.buildImage(
      contextStream(spec.context, spec.dockerfile) as never,
      {
        ...(buildkit ? { version: "2" } : { rm: true, forcerm: true }),
        ...(nocache ? { nocache: true } : {}),
        t: spec.tag,
        dockerfile: spec.dockerfile,
        buildargs: spec.buildArgs,
        labels: spec.labels,
        ...(spec.platform ? { platform: spec.platform } : {}),
      } as Docker.ImageBuildOptions,
    );
    const events = await follow(docker, stream, (e) => {
      if (buildkit?.read(e)) return;
      if (e.stream) {
        const m = CLASSIC_STEP.exec(e.stream);
        if (m) lastClassicStep = m[1]!.trim();
        onLine?.(e.stream);
      }
    });
    // Classic: `aux.ID`; BuildKit: the `moby.image.id` event's `aux.ID`.
    const built = events.map((e) => auxOf(e)?.ID).findLast(Boolean);
    return built ?? (await docker.getImage(spec.tag).inspect()).Id;
  } catch (err) {
    const step = buildkit ? buildkit.failedStep : lastClassicStep;
    const where = step ? ` at Dockerfile step "${step}"` : "";
    throw new Error(`docker build failed${where}: ${(err as Error).message.trim()}`, { cause: err });
  }
}

/** Push errors the daemon reports for a registry that failed for a while (5xx, resets, timeouts). */
const TRANSIENT_PUSH =
  /\b(5\d\d)\b|service unavailable|internal server error|bad gateway|gateway time-?out|too ?many ?requests|connection reset|broken pipe|unexpected EOF|\bEOF\b|i\/o timeout|timeout|timed out|connection refused|server closed|use of closed network connection|blob upload (unknown|invalid)/i;
/**
 * The daemon's registry client has no response timeout: a registry that stops answering mid-upload
 * would hold the push, and the release, forever. Progress events arrive at least every few seconds
 * while a push moves (byte counts, the daemon's own retry countdowns), so this long a silence
 * means it is stuck.
 */
export const PUSH_IDLE_MS = 120_000;
/** Idle periods a push may spend with a layer "Waiting" for an upload slot before it counts as stuck. */
export const PUSH_QUEUE_WAITS = 4;
/** Attempts of one push in all, however many of them brought a layer up (each waits up to 8 s before it). */
export const PUSH_MAX_ATTEMPTS = 30;
/**
 * Attempts after the first that may bring no new layer up, counted over the whole push. Once
 * every layer is up, an attempt is still ~10 requests (a HEAD per layer, the manifest), and the
 * daemon fails the push on any 503 among them: with 15% of requests failing, four attempts in
 * five fail. With 8, the fault table's oci:5xx cell failed that way once (1 Dec 2026: nine
 * fruitless attempts, about one time in seven at that rate); with 16, about one in forty-five,
 * fewer when earlier attempts were fruitful too. A registry that refuses every push at once
 * costs ~2 minutes of backoff before the push is given up; one that hangs, an idle timeout
 * (PUSH_IDLE_MS) per attempt.
 */
export const PUSH_FRUITLESS_RETRIES = 16;

/** A layer this push got into the repository: uploaded, or mounted from another repository ("Layer already exists" is not). */
const LAYER_UP = /^(Pushed|Mounted from )/;

/**
 * Which layers of a push are queued ("Waiting"), from the daemon's progress stream (JSON lines,
 * split anywhere), and which the push got into the repository (added to `up`, which may outlive
 * one attempt).
 */
export class LayerQueue {
  private rest = "";
  private readonly state = new Map<string, string>();
  idleWaits = 0;
  readonly up: Set<string>;
  constructor(up: Set<string> = new Set()) {
    this.up = up;
  }
  read(text: string): void {
    const lines = (this.rest + text).split("\n");
    this.rest = lines.pop() ?? "";
    for (const line of lines) {
      try {
        const e = JSON.parse(line) as { id?: string; status?: string };
        if (e.id && e.status) {
          this.state.set(e.id, e.status);
          if (LAYER_UP.test(e.status)) this.up.add(e.id);
        }
      } catch {
        // not a progress line
      }
    }
  }
  waiting(): boolean {
    return [...this.state.values()].some((s) => s === "Waiting");
  }
}

/** What the daemon says when the registry did not let it in (also seen when `/v2/` answered 503). */
const AUTH_PUSH = /unauthorized|authentication required|no basic auth credentials|denied/i;

export interface PushOptions {
  /**
   * Extra attempts after the first that bring no new layer up (default PUSH_FRUITLESS_RETRIES). An attempt that got a
   * layer up before it failed does not count: the next one starts from there. At most
   * PUSH_MAX_ATTEMPTS in all.
   */
  retries?: number;
  /** First pause, doubled each time (default 1 s). */
  baseMs?: number;
  /** A push without a progress event for this long is abandoned and retried (default PUSH_IDLE_MS). */
  idleMs?: number;
  /** Told about each retry. */
  onRetry?: (message: string) => void;
}

/**
 * Pushes one tag (always with `tag`: without it the daemon pushes every local tag). Returns the
 * digest. Transient registry faults are retried with backoff (the daemon retries single layer
 * uploads itself, not the push as a whole). Before each retry the registry is read: if the tag
 * already names this image (the push went through but its answer was lost), that is the result.
 * An "unauthorized" push is retried only when the registry accepts the credentials when asked
 * directly (the daemon reports a registry answering 503 on /v2/ that way); otherwise it fails.
 */
export async function pushImage(
  docker: Docker,
  repository: string,
  tag: string,
  auth: AuthConfig,
  opts: PushOptions = {},
): Promise<string> {
  const image = docker.getImage(`${repository}:${tag}`);
  const { repo } = splitImageName(repository);
  const registry = new OciRegistry({ host: auth.serveraddress, username: auth.username, password: auth.password });
  const localId = (await image.inspect()).Id;
  let attempts = 0;
  // Layers pushed or mounted, over every attempt: a registry failing a share of requests fails
  // most attempts of a push of several layers, but each gets some layers up, and the next one
  // skips them ("Layer already exists"), so an attempt that got one up is not counted.
  const up = new Set<string>();
  let upBefore = 0;
  let fruitless = 0;
  const once = () => {
    attempts++;
    upBefore = up.size;
    return pushOnce(docker, image, repository, tag, auth, opts.idleMs ?? PUSH_IDLE_MS, up);
  };
  return withRetry(once, {
    retries: PUSH_MAX_ATTEMPTS - 1,
    baseMs: opts.baseMs ?? 1000,
    maxMs: 8000,
    shouldRetry: async (err) => {
      if (up.size === upBefore) fruitless++;
      if (fruitless > (opts.retries ?? PUSH_FRUITLESS_RETRIES)) return false;
      if (isTransient(err)) return true;
      const msg = (err as Error).message ?? "";
      if (AUTH_PUSH.test(msg)) {
        // Permanent only when the registry itself refuses the credentials (not when it is down).
        const c = await registry.check();
        return c.ok || c.reason !== "credentials refused";
      }
      return TRANSIENT_PUSH.test(msg);
    },
    settled: async () => {
      // The image went up if the tag names it: the manifest's config is the image (classic
      // store), or the tag's digest is the image ID (containerd store, where the ID is the manifest's).
      const m = await registry.manifest(repo, tag);
      return m && (m.configDigest === localId || m.digest === localId) ? m.digest : undefined;
    },
    onRetry: (err, attempt) =>
      opts.onRetry?.(`push of ${repository}:${tag} failed (attempt ${attempt}): ${(err as Error).message}; retrying`),
  }).catch((err: Error) => {
    // Name the registry and the request: the daemon's own message can be as short as "EOF".
    const tries = attempts > 1 ? ` (${attempts} attempts)` : "";
    throw Object.assign(new Error(`docker push ${repository}:${tag} to ${auth.serveraddress} failed${tries}: ${err.message}`), {
      cause: err,
    });
  });
}

async function pushOnce(
  docker: Docker,
  image: Docker.Image,
  repository: string,
  tag: string,
  auth: AuthConfig,
  idleMs: number,
  up: Set<string>,
): Promise<string> {
  const stream = await image.push({ tag, authconfig: auth });
  let timer: NodeJS.Timeout | undefined;
  const queue = new LayerQueue(up);
  const stuck = new Promise<never>((_, reject) => {
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        // A layer queued behind other pushes' uploads (the daemon uploads a few layers at a time
        // across all pushes) says "Waiting" once, then nothing until its turn: not stuck, for a while.
        if (queue.waiting() && queue.idleWaits++ < PUSH_QUEUE_WAITS) return arm();
        // A TimeoutError is transient (retried). Closing the stream ends this attempt; the daemon
        // may keep a stuck layer upload going (it does not cancel one when its client goes).
        reject(Object.assign(new Error(`no progress for ${Math.round(idleMs / 1000)} s: timed out`), { name: "TimeoutError" }));
        (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      }, idleMs);
    };
    arm();
    stream.on("data", (chunk: Buffer) => {
      queue.read(chunk.toString("utf8"));
      queue.idleWaits = 0;
      arm();
    });
  });
  const events = await Promise.race([follow(docker, stream), stuck]).finally(() => clearTimeout(timer));
  for (const e of events) {
    const m = /digest: (sha256:[a-f0-9]{64})/.exec(e.status ?? "");
    if (m) return m[1]!;
  }
  const aux = events.map((e) => auxOf(e)?.Digest).find(Boolean);
  if (aux) return aux;
  throw new Error(`pushed ${repository}:${tag} but the daemon reported no digest`);
}

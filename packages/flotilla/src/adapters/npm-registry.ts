import { HttpError } from "./http-error.ts";

// libnpmpublish and npm-registry-fetch load on first write (they cost ~0.2 s of startup, and a
// no-op run never writes).
// Both CommonJS: read through `.default` (module.exports), which Node and the bundle both give; a
// named export of import() is Node's guess, which esbuild's chunks do not make (scripts/bundle.ts).
const npmPublish = async (...args: Parameters<typeof import("libnpmpublish").publish>) =>
  (await import("libnpmpublish")).default.publish(...args);
const npmFetch = async (url: string, opts: Record<string, unknown>) => {
  const mod = (await import("npm-registry-fetch")) as unknown as { default: (u: string, o: unknown) => Promise<unknown> };
  return mod.default(url, opts);
};

import { isTransient, PATIENT, withRetry } from "./retry.ts";

export interface Packument {
  versions: Set<string>;
  distTags: Record<string, string>;
}

/**
 * One npm registry, authenticated with a bearer token held in memory only: it is never written
 * to a file or passed to a process (npm-registry-fetch takes it as a nerf-darted option).
 */
export class NpmRegistry {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly fetchOpts: Record<string, unknown>;

  constructor(opts: { url: string; token: string | undefined }) {
    this.url = opts.url.replace(/\/+$/, "");
    this.token = opts.token;
    const nerf = `${this.url.replace(/^https?:/, "")}/:_authToken`;
    this.fetchOpts = {
      registry: `${this.url}/`,
      ...(this.token ? { [nerf]: this.token } : {}),
      retry: { retries: 2, factor: 2, minTimeout: 300, maxTimeout: 3000 },
      preferOnline: true,
      cache: undefined,
    };
  }

  private headers(accept: string): Record<string, string> {
    return { accept, ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
  }

  /**
   * The package's versions and dist-tags, or null when never published (404). Uses the
   * abbreviated document where the registry offers it (it holds versions and dist-tags) and
   * Node's fetch, whose pool keeps connections alive, so many requests share few sockets.
   */
  async packument(name: string): Promise<Packument | null> {
    return withRetry(async () => {
      const res = await fetch(`${this.url}/${escapeName(name)}`, {
        headers: this.headers("application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) {
        await res.body?.cancel();
        throw new HttpError(`GET ${this.url}/${escapeName(name)} answered HTTP ${res.status}`, res.status);
      }
      // A proxy's or maintenance HTML page answered 200 must name the request, not be a bare JSON.parse error.
      const text = await res.text();
      let doc: { versions?: Record<string, unknown>; "dist-tags"?: Record<string, string> };
      try {
        doc = JSON.parse(text);
      } catch {
        throw new HttpError(
          `${name}: GET ${this.url}/${escapeName(name)} answered HTTP ${res.status} with a body that is not a packument (${res.headers.get("content-type") ?? "no content-type"}: ${JSON.stringify(text.slice(0, 60))}); check the registry URL (npm.registry, FLOTILLA_NPM_REGISTRY) and any proxy in front of it`,
          res.status,
        );
      }
      return { versions: new Set(Object.keys(doc.versions ?? {})), distTags: doc["dist-tags"] ?? {} };
    });
  }

  /** One authenticated request: is the registry reachable, and is the token accepted? */
  async whoami(): Promise<{ ok: true; username: string } | { ok: false; status?: number; reason: string }> {
    try {
      // 5xx/429 answers are retried like resets (the retry policy only sees thrown errors);
      // patiently (PATIENT): a registry down for its first seconds is not a refusal.
      const res = await withRetry(async () => {
        const r = await fetch(`${this.url}/-/whoami`, { headers: this.headers("application/json"), signal: AbortSignal.timeout(15_000) });
        if (r.status < 500 && r.status !== 429) return r;
        await r.body?.cancel();
        throw new HttpError(`GET ${this.url}/-/whoami answered HTTP ${r.status}`, r.status);
      }, PATIENT);
      if (res.ok) {
        // Some registries (Verdaccio) answer 200 `{}` to an unknown token; npm treats a missing
        // username as "not logged in", and so does flotilla.
        const username = ((await res.json().catch(() => ({}))) as { username?: string }).username;
        return username ? { ok: true, username } : { ok: false, status: res.status, reason: "token refused" };
      }
      await res.body?.cancel();
      return { ok: false, status: res.status, reason: res.status === 401 || res.status === 403 ? "token refused" : `HTTP ${res.status}` };
    } catch (err) {
      const e = err as { cause?: { code?: string }; message: string };
      return { ok: false, reason: `unreachable (${e.cause?.code ?? e.message})` };
    }
  }

  /**
   * Publishes a packed tarball with npm's own publishing library. "Version exists" answers
   * (409, or GitHub's 403 "Cannot publish over existing version") are re-checked against the
   * packument and reported as `exists`.
   */
  async publish(
    manifest: Record<string, unknown> & { name: string; version: string },
    tarball: Buffer,
    opts: { tag: string; access?: "public" | "restricted"; provenance?: boolean },
  ): Promise<"published" | "exists"> {
    try {
      await withRetry(
        () =>
          npmPublish(manifest as never, tarball, {
            ...this.fetchOpts,
            defaultTag: opts.tag,
            ...(opts.access ? { access: opts.access } : {}),
            // npm's OIDC provenance (Sigstore), signed with the CI's identity; see npm/provenance.ts.
            ...(opts.provenance ? { provenance: true } : {}),
          } as never),
        { retries: 2 },
      );
      return "published";
    } catch (err) {
      const e = err as { statusCode?: number; code?: string; message: string };
      const maybeExists =
        e.statusCode === 409 ||
        e.code === "E409" ||
        e.code === "EPUBLISHCONFLICT" ||
        /existing version|cannot publish over|already (present|exists)/i.test(e.message);
      if (maybeExists || e.statusCode === 403) {
        const p = await this.packument(manifest.name).catch(() => null);
        if (p?.versions.has(manifest.version)) return "exists";
      }
      throw err;
    }
  }

  /** Points `tag` at `version` (PUT /-/package/<name>/dist-tags/<tag>, as `npm dist-tag add`). */
  async setDistTag(name: string, version: string, tag: string): Promise<void> {
    await npmFetch(`/-/package/${escapeName(name)}/dist-tags/${encodeURIComponent(tag)}`, {
      ...this.fetchOpts,
      method: "PUT",
      body: JSON.stringify(version),
      headers: { "content-type": "application/json" },
      ignoreBody: true,
    } as never);
  }

  /**
   * Can this registry move dist-tags? (GitHub Packages does not document it, SPEC §5.9.) Points
   * `latest` of the first already-published package at the version it already has: a real
   * dist-tag write that changes nothing. `unknown` when nothing is published yet.
   */
  async canMoveDistTags(names: string[]): Promise<{ result: "yes" | "unknown"; detail: string } | { result: "no"; detail: string }> {
    for (const name of names) {
      const latest = (await this.packument(name).catch(() => null))?.distTags.latest;
      if (!latest) continue;
      try {
        await this.setDistTag(name, latest, "latest");
        return { result: "yes", detail: `set ${name} latest → ${latest} (unchanged)` };
      } catch (err) {
        return { result: "no", detail: `moving a dist-tag of ${name} failed: ${(err as Error).message}` };
      }
    }
    return { result: "unknown", detail: "nothing published yet to try it on" };
  }

  /** Removes a dist-tag (the staging tag after promotion). A missing tag is fine. */
  async removeDistTag(name: string, tag: string): Promise<void> {
    try {
      await npmFetch(`/-/package/${escapeName(name)}/dist-tags/${encodeURIComponent(tag)}`, {
        ...this.fetchOpts,
        method: "DELETE",
        ignoreBody: true,
      } as never);
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
}

/** `@scope/name` → `@scope%2fname`, as registries expect in the path. */
export function escapeName(name: string): string {
  return name.replace("/", "%2f");
}

export { isTransient };

import { createHash } from "node:crypto";
import { HttpError } from "./http-error.ts";
import { isTransient, PATIENT, withRetry } from "./retry.ts";

/** Every manifest type flotilla handles; always sent, else old registries answer schema1 (REGISTRIES D2). */
const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/**
 * A client for the OCI distribution API of one registry host: list tags, HEAD a manifest for its
 * digest, copy a manifest to another tag (raw bytes, so the digest stays; no layer moves).
 * Auth: Basic, or the bearer-token flow of a `WWW-Authenticate: Bearer realm=…` challenge (ghcr.io),
 * with credentials sent only to the token realm. Hand-written: no well-kept Node client for the
 * distribution API exists (the docker CLI's and oras' are Go).
 */
export class OciRegistry {
  readonly host: string;
  private readonly base: string;
  private readonly creds: { username: string; password: string } | undefined;
  private readonly tokens = new Map<string, string>();

  constructor(opts: { host: string; username?: string; password?: string; insecure?: boolean }) {
    this.host = opts.host;
    const local = /^(127\.|localhost(:|$)|\[::1\])/.test(opts.host);
    this.base = `${opts.insecure || local ? "http" : "https"}://${opts.host}`;
    this.creds = opts.username && opts.password ? { username: opts.username, password: opts.password } : undefined;
  }

  private basic(): string | undefined {
    return this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString("base64")}` : undefined;
  }

  /**
   * A request with auth: tries the cached token (or nothing), answers a challenge once, retries
   * transient errors (5xx, 429, resets, timeouts). What still fails names the registry and the
   * request. `once` sends it a single time (the caller retries, reading the outcome in between).
   */
  private async request(path: string, init: RequestInit & { scope?: string; once?: boolean } = {}): Promise<Response> {
    const scope = init.scope ?? "";
    const send = (auth: string | undefined) =>
      fetch(`${this.base}${path}`, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), ...(auth ? { authorization: auth } : {}) },
        signal: AbortSignal.timeout(60_000),
        redirect: "follow",
      });
    const attempt = async () => {
      // Credentials go out only once the registry asked for them: Basic to a Basic registry,
      // and to a Bearer registry (ghcr.io) only to its token realm, never to /v2/*.
      const sent = this.tokens.get(scope) ?? (this.scheme === "basic" ? this.basic() : undefined);
      let res = await send(sent);
      if (res.status === 401) {
        const challenge = res.headers.get("www-authenticate") ?? "";
        await res.body?.cancel();
        this.scheme = /^bearer/i.test(challenge) ? "bearer" : "basic";
        // A token that came while this request was on its way (a request beside it fetched one)
        // is used, not fetched again; a token that was sent and refused is replaced.
        const newer = this.tokens.get(scope);
        const auth = this.scheme === "bearer" ? (newer && newer !== sent ? newer : await this.bearer(challenge, scope)) : this.basic();
        if (!auth) throw new HttpError(`${this.host}: authentication required and no credentials given`, 401);
        res = await send(auth);
      }
      if (res.status >= 500 || res.status === 429) {
        await res.body?.cancel();
        throw new HttpError(`OCI registry ${this.host}: ${init.method ?? "GET"} ${path}: HTTP ${res.status}`, res.status);
      }
      return res;
    };
    try {
      return await (init.once ? attempt() : withRetry(attempt));
    } catch (err) {
      throw this.named(err, init.method ?? "GET", path);
    }
  }

  /** A network failure as an error naming the registry and the request (the cause kept, transient or not). */
  private named(err: unknown, method: string, path: string): unknown {
    if (err instanceof HttpError) return err;
    const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    const why = e.name === "TimeoutError" ? "no answer in time" : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
    const out = new HttpError(`OCI registry ${this.host}: ${method} ${path}: ${why}`, 0);
    return Object.assign(out, { cause: err, code: e.cause?.code, transient: isTransient(err) });
  }

  /** What the registry's 401 challenge asked for; unknown until the first one. */
  private scheme: "unknown" | "basic" | "bearer" = "unknown";

  /** Token requests under way, by scope: requests sent side by side (floating tags) share one. */
  private readonly fetchingTokens = new Map<string, Promise<string>>();

  private bearer(challenge: string, scope: string): Promise<string> {
    const known = this.fetchingTokens.get(scope);
    if (known) return known;
    const fetching = this.fetchToken(challenge, scope).finally(() => this.fetchingTokens.delete(scope));
    this.fetchingTokens.set(scope, fetching);
    return fetching;
  }

  private async fetchToken(challenge: string, scope: string): Promise<string> {
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (!params.realm) throw new HttpError(`${this.host}: unreadable auth challenge`, 401);
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set("service", params.service);
    const wanted = scope || params.scope;
    if (wanted) url.searchParams.set("scope", wanted);
    const res = await fetch(url, { headers: this.basic() ? { authorization: this.basic()! } : {}, signal: AbortSignal.timeout(30_000) });
    if (!res.ok) {
      await res.body?.cancel();
      throw new HttpError(
        `${this.host}: token endpoint refused the credentials (HTTP ${res.status})`,
        res.status === 401 || res.status === 403 ? 401 : res.status,
      );
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new HttpError(`${this.host}: token endpoint returned no token`, 401);
    const auth = `Bearer ${token}`;
    this.tokens.set(scope, auth);
    return auth;
  }

  /** Are the credentials accepted? (GET /v2/ with auth.) */
  async check(): Promise<{ ok: true } | { ok: false; reason: string }> {
    try {
      // Patient (PATIENT): preflight asks first, and a registry down for its first seconds is not a refusal.
      const res = await withRetry(() => this.request("/v2/", { once: true }), {
        ...PATIENT,
        shouldRetry: (e) => isTransient(e) || (e as { transient?: boolean }).transient === true,
      });
      await res.body?.cancel();
      if (res.ok) return { ok: true };
      return { ok: false, reason: res.status === 401 || res.status === 403 ? "credentials refused" : `HTTP ${res.status}` };
    } catch (err) {
      const e = err as { status?: number; cause?: { code?: string }; message: string };
      return { ok: false, reason: e.status === 401 ? "credentials refused" : `unreachable (${e.cause?.code ?? e.message})` };
    }
  }

  /** Every tag of a repository (paginated through `Link`); [] when the repository does not exist. */
  async tags(repo: string): Promise<string[]> {
    const scope = `repository:${repo}:pull`;
    const out: string[] = [];
    let path: string | undefined = `/v2/${repo}/tags/list?n=1000`;
    while (path) {
      const res = await this.request(path, { scope });
      if (res.status === 404) {
        await res.body?.cancel();
        return out;
      }
      if (!res.ok) throw new HttpError(`listing tags of ${this.host}/${repo}: HTTP ${res.status}`, res.status);
      const body = (await res.json()) as { tags?: string[] | null };
      out.push(...(body.tags ?? []));
      const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
      path = next ? (next.startsWith("http") ? new URL(next).pathname + new URL(next).search : next) : undefined;
    }
    return out;
  }

  /** The digest a tag points at, or null when the tag does not exist. */
  async digest(repo: string, ref: string): Promise<string | null> {
    const res = await this.request(`/v2/${repo}/manifests/${ref}`, {
      method: "HEAD",
      headers: { accept: MANIFEST_ACCEPT },
      scope: `repository:${repo}:pull`,
    });
    if (res.status === 404) return null;
    if (!res.ok) throw new HttpError(`HEAD ${this.host}/${repo}:${ref}: HTTP ${res.status}`, res.status);
    return res.headers.get("docker-content-digest");
  }

  /** The manifest a tag or digest names: its digest, media type and (for an image) its config digest; null when absent. */
  async manifest(repo: string, ref: string): Promise<{ digest: string; mediaType: string; configDigest?: string } | null> {
    const raw = await this.rawManifest(repo, ref);
    if (!raw) return null;
    const config = (JSON.parse(raw.bytes.toString("utf8")) as { config?: { digest?: string } }).config;
    return { digest: raw.digest, mediaType: raw.mediaType, ...(config?.digest ? { configDigest: config.digest } : {}) };
  }

  /**
   * Points `tag` at the manifest `from` (tag or digest) refers to: raw bytes and media type kept.
   * The write is retried on transient faults; before each retry the tag is read, and if it
   * already names the manifest (the lost answer was a success) nothing is written again.
   */
  async copyTag(repo: string, from: string, tag: string): Promise<string> {
    const src = await this.rawManifest(repo, from, "pull,push");
    if (!src) throw new HttpError(`GET ${this.host}/${repo}:${from}: HTTP 404`, 404);
    return this.putManifest(repo, tag, src.mediaType, src.bytes);
  }

  /**
   * A manifest as stored: its bytes, media type and digest (of the bytes), or null when absent.
   * `access` "pull,push" when the caller writes it elsewhere next (a bearer token for both).
   */
  async rawManifest(
    repo: string,
    ref: string,
    access: "pull" | "pull,push" = "pull",
  ): Promise<{ bytes: Buffer; mediaType: string; digest: string } | null> {
    const res = await this.request(`/v2/${repo}/manifests/${ref}`, {
      headers: { accept: MANIFEST_ACCEPT },
      scope: `repository:${repo}:${access}`,
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) throw new HttpError(`GET ${this.host}/${repo}:${ref}: HTTP ${res.status}`, res.status);
    const bytes = Buffer.from(await res.arrayBuffer());
    const mediaType =
      (res.headers.get("content-type") ?? "").split(";")[0]!.trim() ||
      (JSON.parse(bytes.toString("utf8")) as { mediaType: string }).mediaType;
    return { bytes, mediaType, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
  }

  /** A manifest's descriptor (media type, digest, size: what an index lists), or null when absent. */
  async descriptor(repo: string, ref: string): Promise<{ mediaType: string; digest: string; size: number } | null> {
    const raw = await this.rawManifest(repo, ref);
    return raw && { mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.length };
  }

  /**
   * Puts a manifest (an image index, for multi-platform images) under `ref`; returns its digest.
   * Retried on transient faults; before each retry the tag is read, and a write that went through is not repeated (copyTag writes through here too).
   */
  async putManifest(repo: string, ref: string, mediaType: string, bytes: Buffer): Promise<string> {
    const scope = `repository:${repo}:pull,push`;
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    return withRetry(
      async () => {
        const put = await this.request(`/v2/${repo}/manifests/${ref}`, {
          method: "PUT",
          headers: { "content-type": mediaType },
          body: bytes,
          scope,
          once: true,
        });
        if (put.status !== 201 && put.status !== 200) {
          const text = await put.text();
          throw new HttpError(`PUT ${this.host}/${repo}:${ref}: HTTP ${put.status} ${text.slice(0, 300)}`, put.status);
        }
        await put.body?.cancel();
        return put.headers.get("docker-content-digest") ?? digest;
      },
      {
        // A tag write waits out a burst of 5xx (a registry restarting) for ~15–23 s, like preflight:
        // the fault table's 15% of 503s met four in a row on a floating tag's PUT.
        ...PATIENT,
        shouldRetry: (err) => isTransient((err as { cause?: unknown }).cause ?? err) || isTransient(err),
        settled: async () => ((await this.digest(repo, ref)) === digest ? digest : undefined),
      },
    );
  }

  /** Labels of the image a tag points at (from its config blob), for checks and tests. */
  async labels(repo: string, ref: string): Promise<Record<string, string>> {
    const scope = `repository:${repo}:pull`;
    const m = await this.request(`/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT }, scope });
    const manifest = (await m.json()) as { config?: { digest: string } };
    if (!manifest.config) return {};
    const c = await this.request(`/v2/${repo}/blobs/${manifest.config.digest}`, { scope });
    const config = (await c.json()) as { config?: { Labels?: Record<string, string> } };
    return config.config?.Labels ?? {};
  }
}

/** `ghcr.io/acme/web` → { host: "ghcr.io", repo: "acme/web" }. */
export function splitImageName(name: string): { host: string; repo: string } {
  const i = name.indexOf("/");
  return { host: name.slice(0, i), repo: name.slice(i + 1) };
}

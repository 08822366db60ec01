import type { Octokit as OctokitType } from "@octokit/rest";
import pLimit from "p-limit";
import { HttpError } from "./http-error.ts";
import { withRetry } from "./retry.ts";

/** Without an answer in this time a GitHub request fails (and the retry plugin tries again). */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * GitHub's documented secondary limit for content-creating requests: at most 80 a minute and
 * 500 an hour (REGISTRIES.md, GH-rate). The throttling plugin's own defaults are far slower for
 * releases (one write a second, one notifying write — a release — every 3 s), which made the
 * releases of a run the longest part of it; these limiters keep to the documented limits instead.
 */
export const CONTENT_WRITES = { perMinute: 80, perHour: 500, burst: 10, everyMs: 1_000 };

/**
 * A write limiter within those limits: the first `burst` of a run without a pause (a release of
 * a few packages does not wait on itself: changesets' own action creates all its releases back
 * to back), then one a second, as GitHub's best-practice guide asks of writes, so no minute holds
 * more than 10 + 60 = 70; and 500 an hour at most (a second limiter every job also passes; its
 * hour starts with the run). The throttling plugin only spaces the starts with it; the GitHub
 * class below runs the writes themselves one at a time.
 */
export function contentLimiter(Bottleneck: typeof import("bottleneck").default, id: string): import("bottleneck").default.Group {
  const { perHour, burst, everyMs } = CONTENT_WRITES;
  const hourly = new Bottleneck({
    id: `${id}-hour`,
    reservoir: perHour,
    reservoirRefreshAmount: perHour,
    reservoirRefreshInterval: 3_600_000,
  });
  const group = new Bottleneck.Group({
    id,
    maxConcurrent: 1,
    reservoir: burst,
    reservoirIncreaseAmount: 1,
    reservoirIncreaseInterval: everyMs,
    reservoirIncreaseMaximum: burst,
  });
  group.on("created", (limiter) => limiter.chain(hourly));
  return group;
}

export interface RepoRef {
  owner: string;
  repo: string;
}

export interface ExistingRelease {
  id: number;
  tag: string;
  draft: boolean;
  url: string;
  body: string;
}

/**
 * GitHub REST through @octokit/rest with the retry and throttling plugins (content-creating
 * requests are rate-limited at about 80 a minute; the throttler paces writes and waits when
 * told). `baseUrl` is GITHUB_API_URL for GitHub Enterprise (and the stand-in in tests).
 * 5xx answers, resets and timeouts are retried by the retry plugin (3 times, 1/4/9 s apart);
 * errors that remain name the service and the request (`GitHub API: POST /repos/…: HTTP 500 …`).
 */
export class GitHub {
  private readonly octokit: OctokitType;
  readonly ref: RepoRef;
  /**
   * Content-creating requests one at a time. The throttling plugin's write limiters only space
   * their starts (it runs the request itself in its global group, 10 at once), so a burst of
   * releases from parallel steps would be in flight together; GitHub asks for writes in series.
   */
  private readonly serial = pLimit(1);
  private constructor(octokit: OctokitType, ref: RepoRef) {
    this.octokit = octokit;
    this.ref = ref;
  }

  static async create(opts: { token: string; baseUrl: string; ref: RepoRef; log?: (m: string) => void }): Promise<GitHub> {
    const [{ Octokit }, { retry }, { throttling }, { default: Bottleneck }] = await Promise.all([
      import("@octokit/rest"),
      import("@octokit/plugin-retry"),
      import("@octokit/plugin-throttling"),
      import("bottleneck"),
    ]);
    const Client = Octokit.plugin(retry, throttling);
    const octokit = new Client({
      auth: opts.token,
      baseUrl: opts.baseUrl,
      userAgent: "flotilla",
      // A stalled connection fails after a while instead of hanging the release: the timeout
      // surfaces as a network error (status 500), which the retry plugin retries.
      request: {
        fetch: (url: string, init: RequestInit) => fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) }),
      },
      log: { debug: () => {}, info: () => {}, warn: (m: string) => opts.log?.(m), error: (m: string) => opts.log?.(m) },
      throttle: {
        // A release passes both (it is a write that notifies): each paces at the documented rate.
        write: contentLimiter(Bottleneck, "flotilla-write"),
        notifications: contentLimiter(Bottleneck, "flotilla-notifications"),
        onRateLimit: (retryAfter: number, options: { method: string; url: string }, _o: unknown, retryCount: number) => {
          opts.log?.(`GitHub rate limit on ${options.method} ${options.url}: retrying in ${retryAfter} s`);
          return retryCount < 3;
        },
        onSecondaryRateLimit: (retryAfter: number, options: { method: string; url: string }, _o: unknown, retryCount: number) => {
          opts.log?.(`GitHub secondary rate limit on ${options.method} ${options.url}: retrying in ${retryAfter} s`);
          return retryCount < 3;
        },
      },
    }) as unknown as OctokitType;
    return new GitHub(octokit, opts.ref);
  }

  /** The repository is there and the token can see it. */
  async check(): Promise<{ ok: true } | { ok: false; status: number; reason: string }> {
    try {
      // Beside the retry plugin's own retries: a preflight read failing on a transient fault would
      // end the run at exit 2, so it gets a second round (resets on kept-alive connections).
      await withRetry(() => this.octokit.rest.repos.get({ ...this.ref }), { retries: 2, baseMs: 500 });
      return { ok: true };
    } catch (err) {
      const status = (err as { status?: number }).status ?? 0;
      const reason =
        status === 401
          ? "the token was refused (Bad credentials)"
          : status === 404
            ? `repository ${this.ref.owner}/${this.ref.repo} not found, or the token cannot see it`
            : status === 0
              ? `unreachable (${(err as Error).message})`
              : `HTTP ${status}: ${(err as Error).message}`;
      return { ok: false, status, reason };
    }
  }

  /** Every release, drafts included (getReleaseByTag hides drafts), by tag: every page, 100 a page. */
  async releasesByTag(): Promise<Map<string, ExistingRelease>> {
    const all = await this.octokit.paginate(this.octokit.rest.repos.listReleases, { ...this.ref, per_page: 100 }).catch((err: unknown) => {
      throw named(err);
    });
    return new Map(all.map((r) => [r.tag_name, { id: r.id, tag: r.tag_name, draft: r.draft, url: r.html_url, body: r.body ?? "" }]));
  }

  /**
   * Creates the release of `tag`. `targetCommitish` (the release commit) is where GitHub would
   * create the tag if it were missing on the repository; GitHub ignores it when the tag exists.
   * A `422 already_exists` for this tag means an earlier attempt (a retried request whose answer
   * was lost, or a racing run) made it: the release is re-read and taken as done.
   */
  async createRelease(input: {
    tag: string;
    name: string;
    body: string;
    prerelease: boolean;
    makeLatest: boolean;
    targetCommitish?: string;
  }): Promise<string> {
    try {
      const res = await this.serial(() =>
        this.octokit.rest.repos.createRelease({
          ...this.ref,
          tag_name: input.tag,
          name: input.name,
          body: input.body,
          prerelease: input.prerelease,
          make_latest: input.makeLatest ? "true" : "false",
          ...(input.targetCommitish ? { target_commitish: input.targetCommitish } : {}),
        }),
      );
      return res.data.html_url;
    } catch (err) {
      if (!isAlreadyExists(err)) throw named(err);
      const existing = (await this.releasesByTag()).get(input.tag);
      if (!existing) throw named(err);
      return existing.url;
    }
  }

  async findOpenPull(head: string, base: string): Promise<{ number: number; url: string } | undefined> {
    const list = await this.octokit.rest.pulls.list({ ...this.ref, state: "open", head: `${this.ref.owner}:${head}`, base, per_page: 100 });
    const pr = list.data[0];
    return pr ? { number: pr.number, url: pr.html_url } : undefined;
  }

  async createPull(input: { head: string; base: string; title: string; body: string }): Promise<{ number: number; url: string }> {
    const res = await this.serial(() => this.octokit.rest.pulls.create({ ...this.ref, ...input }));
    return { number: res.data.number, url: res.data.html_url };
  }

  async updatePull(number: number, input: { title: string; body: string }): Promise<void> {
    await this.serial(() => this.octokit.rest.pulls.update({ ...this.ref, pull_number: number, ...input }));
  }
}

/** GitHub's answer to a second release for a tag: 422 with `already_exists` on `tag_name`. */
function isAlreadyExists(err: unknown): boolean {
  const e = err as { status?: number; response?: { data?: { errors?: { code?: string; field?: string }[] } } };
  return e.status === 422 && (e.response?.data?.errors ?? []).some((x) => x.code === "already_exists" && x.field === "tag_name");
}

/** An Octokit error as one line naming the service and the request; the status and the original kept. */
function named(err: unknown): Error {
  const e = err as { status?: number; message?: string; request?: { method?: string; url?: string } };
  if (!e.request?.url) return err as Error;
  const path = new URL(e.request.url).pathname;
  const status = e.status && e.status !== 500 ? `HTTP ${e.status}` : e.status === 500 ? "HTTP 500 or no answer" : "no answer";
  return Object.assign(new HttpError(`GitHub API: ${e.request.method} ${path}: ${status}: ${e.message}`, e.status ?? 0), { cause: err });
}

/** `owner/repo` from GITHUB_REPOSITORY, else from the origin URL. */
export function repoRef(env: Record<string, string | undefined>, originUrl: string | undefined): RepoRef | undefined {
  const full = env.GITHUB_REPOSITORY;
  if (full?.includes("/")) {
    const [owner, repo] = full.split("/");
    return { owner: owner!, repo: repo! };
  }
  if (!originUrl) return undefined;
  const m = /[/:]([^/:]+)\/([^/]+?)(\.git)?\/?$/.exec(originUrl);
  return m && !originUrl.startsWith("/") ? { owner: m[1]!, repo: m[2]! } : undefined;
}

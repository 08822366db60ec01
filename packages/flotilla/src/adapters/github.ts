import type { Octokit as OctokitType } from "@octokit/rest";

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
 */
export class GitHub {
  private readonly octokit: OctokitType;
  readonly ref: RepoRef;
  private constructor(octokit: OctokitType, ref: RepoRef) {
    this.octokit = octokit;
    this.ref = ref;
  }

  static async create(opts: { token: string; baseUrl: string; ref: RepoRef; log?: (m: string) => void }): Promise<GitHub> {
    const [{ Octokit }, { retry }, { throttling }] = await Promise.all([
      import("@octokit/rest"),
      import("@octokit/plugin-retry"),
      import("@octokit/plugin-throttling"),
    ]);
    const Client = Octokit.plugin(retry, throttling);
    const octokit = new Client({
      auth: opts.token,
      baseUrl: opts.baseUrl,
      userAgent: "flotilla",
      log: { debug: () => {}, info: () => {}, warn: (m: string) => opts.log?.(m), error: (m: string) => opts.log?.(m) },
      throttle: {
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
      await this.octokit.rest.repos.get({ ...this.ref });
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

  /** Every release, drafts included (getReleaseByTag hides drafts), by tag. */
  async releasesByTag(): Promise<Map<string, ExistingRelease>> {
    const all = await this.octokit.paginate(this.octokit.rest.repos.listReleases, { ...this.ref, per_page: 100 });
    return new Map(all.map((r) => [r.tag_name, { id: r.id, tag: r.tag_name, draft: r.draft, url: r.html_url, body: r.body ?? "" }]));
  }

  async createRelease(input: { tag: string; name: string; body: string; prerelease: boolean; makeLatest: boolean }): Promise<string> {
    const res = await this.octokit.rest.repos.createRelease({
      ...this.ref,
      tag_name: input.tag,
      name: input.name,
      body: input.body,
      prerelease: input.prerelease,
      make_latest: input.makeLatest ? "true" : "false",
    });
    return res.data.html_url;
  }

  async findOpenPull(head: string, base: string): Promise<{ number: number; url: string } | undefined> {
    const list = await this.octokit.rest.pulls.list({ ...this.ref, state: "open", head: `${this.ref.owner}:${head}`, base, per_page: 100 });
    const pr = list.data[0];
    return pr ? { number: pr.number, url: pr.html_url } : undefined;
  }

  async createPull(input: { head: string; base: string; title: string; body: string }): Promise<{ number: number; url: string }> {
    const res = await this.octokit.rest.pulls.create({ ...this.ref, ...input });
    return { number: res.data.number, url: res.data.html_url };
  }

  async updatePull(number: number, input: { title: string; body: string }): Promise<void> {
    await this.octokit.rest.pulls.update({ ...this.ref, pull_number: number, ...input });
  }
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

import pRetry from "p-retry";

/** Errors worth retrying: 5xx and 429 answers, connection resets, timeouts. */
export function isTransient(err: unknown): boolean {
  const e = err as { status?: number; statusCode?: number; code?: string; name?: string; cause?: { code?: string; name?: string } };
  const status = e.status ?? e.statusCode;
  if (status !== undefined && status !== 0) return status >= 500 || status === 429;
  const code = e.code ?? e.cause?.code;
  return (
    e.name === "TimeoutError" ||
    e.cause?.name === "TimeoutError" ||
    [
      "ECONNRESET",
      "ECONNREFUSED",
      "ETIMEDOUT",
      "EPIPE",
      "EAI_AGAIN",
      "UND_ERR_SOCKET",
      "UND_ERR_CONNECT_TIMEOUT",
      "UND_ERR_HEADERS_TIMEOUT",
      "UND_ERR_BODY_TIMEOUT",
    ].includes(code ?? "")
  );
}

/**
 * For preflight reads: a service down for its first seconds (a restart, a deploy) is waited out
 * — about 15–23 s of tries — instead of refusing the release with exit 2. A step's own requests
 * keep the shorter default: by then the service has answered once.
 */
export const PATIENT = { retries: 5, baseMs: 500, maxMs: 8000 } as const;

export interface RetryOptions<T> {
  /** Extra attempts after the first (default 3). */
  retries?: number;
  /** First pause; doubled each time, with jitter (default 250 ms). */
  baseMs?: number;
  /** Longest pause (default 10 s). */
  maxMs?: number;
  /** Which errors are retried (default `isTransient`). */
  shouldRetry?: (err: unknown) => boolean | Promise<boolean>;
  /**
   * Reads the outcome of a failed attempt before the next one: a write whose answer was lost
   * (reset, timeout after sending) may have happened. A value means it did: that is the result,
   * and nothing is written again.
   */
  settled?: () => Promise<T | undefined>;
  /** Told about each retry (for --verbose logs). */
  onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * Runs `fn`, retrying transient failures with exponential backoff. The one place retries are
 * decided for the adapters (registries, daemon pushes); GitHub's client has its own plugin.
 */
export function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions<T> = {}): Promise<T> {
  let failed = false;
  return pRetry(
    async () => {
      if (failed && opts.settled) {
        // The read-back is retried on its own: a transient fault on the read must not use up
        // an attempt of the write (under a share of 5xx, read + write both had to succeed).
        const done = await withRetry(opts.settled, { baseMs: opts.baseMs, maxMs: opts.maxMs });
        if (done !== undefined) return done;
      }
      try {
        return await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    },
    {
      retries: opts.retries ?? 3,
      minTimeout: opts.baseMs ?? 250,
      maxTimeout: opts.maxMs ?? 10_000,
      factor: 2,
      randomize: true,
      shouldRetry: async ({ error, attemptNumber, retriesLeft }) => {
        const again = await (opts.shouldRetry ?? isTransient)(error);
        if (again && retriesLeft > 0) opts.onRetry?.(error, attemptNumber);
        return again;
      },
    },
  );
}

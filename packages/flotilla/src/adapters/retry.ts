import pRetry from "p-retry";

/** Errors worth retrying: 5xx and 429 answers, connection resets, timeouts. */
export function isTransient(err: unknown): boolean {
  const e = err as { status?: number; statusCode?: number; code?: string; name?: string; cause?: { code?: string } };
  const status = e.status ?? e.statusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  const code = e.code ?? e.cause?.code;
  return (
    e.name === "TimeoutError" ||
    ["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT"].includes(code ?? "")
  );
}

/** Runs `fn`, retrying transient failures with exponential backoff (`retries` extra attempts). */
export function withRetry<T>(fn: () => Promise<T>, opts: { retries?: number; baseMs?: number } = {}): Promise<T> {
  return pRetry(fn, {
    retries: opts.retries ?? 3,
    minTimeout: opts.baseMs ?? 250,
    factor: 2,
    shouldRetry: ({ error }) => isTransient(error),
  });
}

/** The adapters' one retry policy: what is retried, and a lost answer read back instead of written twice. */
import { describe, expect, it } from "vitest";
import { HttpError } from "../src/adapters/http-error.ts";
import { isTransient, withRetry } from "../src/adapters/retry.ts";

const reset = () => Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });

describe("retry policy", () => {
  it("5xx, 429, resets and timeouts are transient; other answers are not", () => {
    expect(isTransient(new HttpError("x", 503))).toBe(true);
    expect(isTransient(new HttpError("x", 429))).toBe(true);
    expect(isTransient(new HttpError("x", 404))).toBe(false);
    expect(isTransient(new HttpError("x", 401))).toBe(false);
    expect(isTransient(reset())).toBe(true);
    expect(isTransient(Object.assign(new HttpError("no answer", 0), { cause: { code: "UND_ERR_SOCKET" } }))).toBe(true);
    expect(isTransient(new DOMException("timed out", "TimeoutError"))).toBe(true);
    expect(isTransient(new Error("bad input"))).toBe(false);
  });

  it("retries a transient failure, not a permanent one", async () => {
    let n = 0;
    expect(
      await withRetry(
        async () => {
          if (++n < 3) throw reset();
          return "ok";
        },
        { baseMs: 1 },
      ),
    ).toBe("ok");
    expect(n).toBe(3);
    n = 0;
    await expect(
      withRetry(
        async () => {
          n++;
          throw new HttpError("refused", 403);
        },
        { baseMs: 1 },
      ),
    ).rejects.toThrow("refused");
    expect(n).toBe(1);
  });

  it("reads the outcome before retrying a write: a lost answer that was a success is not written again", async () => {
    let writes = 0;
    let stored: string | undefined;
    const result = await withRetry(
      async () => {
        writes++;
        stored = "sha256:abc"; // the write happened…
        throw reset(); // …but its answer was lost
      },
      { baseMs: 1, settled: async () => stored },
    );
    expect(result).toBe("sha256:abc");
    expect(writes).toBe(1);
  });

  it("a read-back that meets a transient fault is read again, without using up an attempt of the write", async () => {
    let writes = 0;
    let reads = 0;
    const result = await withRetry(
      async () => {
        if (++writes === 1) throw new HttpError("PUT x: HTTP 503", 503); // refused, not done
        return "sha256:def";
      },
      {
        retries: 1,
        baseMs: 1,
        settled: async () => {
          if (++reads <= 2) throw new HttpError("HEAD x: HTTP 503", 503);
          return undefined; // not there: write again
        },
      },
    );
    expect(result).toBe("sha256:def");
    expect([writes, reads]).toEqual([2, 3]);
  });

  it("gives up after the retries, with the last error, and reports each retry", async () => {
    const seen: number[] = [];
    await expect(
      withRetry(
        async () => {
          throw new HttpError("GET x: HTTP 503", 503);
        },
        { retries: 2, baseMs: 1, onRetry: (_e, attempt) => seen.push(attempt) },
      ),
    ).rejects.toThrow("HTTP 503");
    expect(seen).toEqual([1, 2]);
  });
});

/**
 * The pacing of GitHub's content-creating requests (adapters/github.ts): one at a time, the first
 * CONTENT_WRITES.burst at once, then one every CONTENT_WRITES.everyMs, so that no minute holds more
 * than GitHub's documented 80. Only lower bounds on the gaps are asserted: a loaded machine can
 * only make them longer.
 */
import Bottleneck from "bottleneck";
import { describe, expect, it } from "vitest";
import { CONTENT_WRITES, contentLimiter } from "../src/adapters/github.ts";

describe("GitHub write pacing", () => {
  it("keeps every minute within GitHub's limit: a burst, then one a second, one request at a time", () => {
    const { perMinute, burst, everyMs } = CONTENT_WRITES;
    expect(burst + 60_000 / everyMs).toBeLessThanOrEqual(perMinute);
  });

  it("runs the burst, then waits a second before each further request, never two at once", async () => {
    const limiter = contentLimiter(Bottleneck, `pacing-${process.pid}`).key("one");
    const { burst, everyMs } = CONTENT_WRITES;
    const starts: number[] = [];
    let running = 0;
    let overlapped = false;
    const job = async () => {
      starts.push(performance.now());
      if (++running > 1) overlapped = true;
      await new Promise((r) => setTimeout(r, 5));
      running--;
    };
    await Promise.all(Array.from({ length: burst + 3 }, () => limiter.schedule(job)));
    expect(overlapped).toBe(false);
    // After the burst each request waits for the next token: a second after the one before (the
    // first token a second after the limiter started, which was before the first request).
    expect(starts[burst]! - starts[0]!).toBeGreaterThanOrEqual(everyMs - 50);
    for (let i = burst + 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(everyMs - 50);
    await limiter.disconnect();
  }, 20_000);
});

/**
 * The pacing of GitHub's content-creating requests (adapters/github.ts): the first
 * CONTENT_WRITES.burst at once, then one every CONTENT_WRITES.everyMs, so that no minute holds
 * more than GitHub's documented 80; and the requests themselves one at a time. Only lower bounds
 * on times are asserted, each from before the limiter existed: a loaded machine only delays.
 */
import { createServer } from "node:http";
import Bottleneck from "bottleneck";
import { describe, expect, it } from "vitest";
import { CONTENT_WRITES, contentLimiter, GitHub } from "../src/adapters/github.ts";

describe("GitHub write pacing", () => {
  it("keeps every minute within GitHub's limit", () => {
    const { perMinute, burst, everyMs } = CONTENT_WRITES;
    expect(burst + 60_000 / everyMs).toBeLessThanOrEqual(perMinute);
  });

  it("lets the burst through, then one more each second", async () => {
    const { burst, everyMs } = CONTENT_WRITES;
    const t0 = performance.now();
    const limiter = contentLimiter(Bottleneck, `pacing-${process.pid}`).key("one");
    const starts: number[] = [];
    await Promise.all(Array.from({ length: burst + 3 }, () => limiter.schedule(async () => void starts.push(performance.now()))));
    // The i-th request after the burst waits for the i-th token: i seconds after the limiter began.
    for (let i = 1; i <= 3; i++) expect(starts[burst + i - 1]! - t0).toBeGreaterThanOrEqual(i * everyMs - 5);
    await limiter.disconnect();
  }, 20_000);

  it("sends releases one at a time, however many steps ask at once", async () => {
    let inFlight = 0;
    let most = 0;
    let made = 0;
    const server = createServer((req, res) => {
      req.resume();
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        made++;
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ html_url: `https://x/releases/${made}` }));
      }, 50);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const gh = await GitHub.create({ token: "t0ken-for-test", baseUrl: `http://127.0.0.1:${port}`, ref: { owner: "o", repo: "r" } });
      const input = (i: number) => ({ tag: `p${i}@1.0.0`, name: `p${i}@1.0.0`, body: "", prerelease: false, makeLatest: false });
      await Promise.all(Array.from({ length: 5 }, (_, i) => gh.createRelease(input(i))));
      expect(made).toBe(5);
      expect(most).toBe(1);
    } finally {
      server.close();
    }
  });
});

/** The fault-injecting proxy does each fault it promises, repeatably (in-process target; no testbed). */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FaultPlan, type FaultProxy, startFaultProxy } from "../src/testbed/fault-proxy.ts";

let target: http.Server;
let targetUrl: string;
let served = 0;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
  target = http.createServer((req, res) => {
    served++;
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ host: req.headers.host, path: req.url, method: req.method }));
    });
  });
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", r));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  target.close();
});

async function proxy(plan: FaultPlan): Promise<FaultProxy> {
  const p = await startFaultProxy(targetUrl, plan);
  proxies.push(p);
  return p;
}
/** Status, or the error's name/code when no answer came. */
async function hit(url: string, init: RequestInit = {}): Promise<number | string> {
  try {
    const res = await fetch(url, { ...init, signal: init.signal ?? AbortSignal.timeout(5000) });
    await res.text();
    return res.status;
  } catch (err) {
    const e = err as { name: string; cause?: { code?: string } };
    return e.name === "TimeoutError" ? "timeout" : (e.cause?.code ?? e.name);
  }
}

describe("fault proxy", () => {
  it("forwards untouched, Host header kept (the target's absolute URLs lead back through the proxy)", async () => {
    const p = await proxy({});
    const res = await fetch(`${p.url}/v2/x?y=1`, { method: "POST", body: "abc" });
    expect(await res.json()).toEqual({ host: p.host, path: "/v2/x?y=1", method: "POST" });
  });

  it("a share of 5xx, the same faults for the same seed", async () => {
    const run = async (seed: number) => {
      const p = await proxy({ seed, error5xx: 0.3 });
      const out: (number | string)[] = [];
      for (let i = 0; i < 40; i++) out.push(await hit(`${p.url}/r${i}`));
      return out;
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const n503 = a.filter((s) => s === 503).length;
    expect(n503).toBeGreaterThan(4);
    expect(n503).toBeLessThan(24);
    expect(a.filter((s) => s !== 503 && s !== 200)).toEqual([]);
  });

  it("connection resets mid-request: not forwarded, the client sees a reset", async () => {
    const p = await proxy({ reset: 1 });
    const before = served;
    const r = await hit(`${p.url}/upload`, { method: "PATCH", body: "x".repeat(100_000) });
    expect(typeof r).toBe("string");
    expect(served).toBe(before);
    expect(p.counts()).toEqual({ reset: 1 });
  });

  it("a lost answer: the target did the work, the client sees a reset", async () => {
    const p = await proxy({ lostResponse: 1 });
    const before = served;
    const r = await hit(`${p.url}/manifests/1.0.0`, { method: "PUT", body: "{}" });
    expect(typeof r).toBe("string");
    expect(served).toBe(before + 1);
    expect(p.requests[0]).toMatchObject({ method: "PUT", fault: "lostResponse", status: 200 });
  });

  it("a stall outlasts the client's timeout; a slow answer arrives late", async () => {
    const stall = await proxy({ stall: 1, stallMs: 2000 });
    expect(await hit(stall.url, { signal: AbortSignal.timeout(300) })).toBe("timeout");
    const slow = await proxy({ slowMs: 400 });
    const t0 = Date.now();
    expect(await hit(slow.url)).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
  });

  it("down for the first moments, then up", async () => {
    const p = await proxy({ downMs: 500 });
    expect(typeof (await hit(p.url))).toBe("string");
    await new Promise((r) => setTimeout(r, 600));
    expect(await hit(p.url)).toBe(200);
  });

  it("a permanent fault answers every matching request until the plan changes; random faults can be narrowed", async () => {
    const p = await proxy({ permanent: [{ method: "POST", path: "/releases$", status: 500 }] });
    expect(await hit(`${p.url}/repos/a/b/releases`, { method: "POST", body: "{}" })).toBe(500);
    expect(await hit(`${p.url}/repos/a/b/releases`, { method: "POST", body: "{}" })).toBe(500);
    expect(await hit(`${p.url}/repos/a/b/releases`)).toBe(200);
    p.setPlan({ error5xx: 1, only: "^PUT " });
    expect(await hit(`${p.url}/repos/a/b/releases`, { method: "POST", body: "{}" })).toBe(200);
    expect(await hit(`${p.url}/x`, { method: "PUT", body: "{}" })).toBe(503);
    p.setPlan({ error5xx: 1, limit: 1 });
    expect([await hit(`${p.url}/a`), await hit(`${p.url}/b`)]).toEqual([503, 200]);
  });

  it("refuses a target off loopback", async () => {
    await expect(startFaultProxy("http://10.1.2.3:80", {})).rejects.toThrow(/loopback/);
  });
});

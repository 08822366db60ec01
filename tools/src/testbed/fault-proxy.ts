/**
 * A fault-injecting HTTP proxy for the testbed: it forwards to one target service (the OCI
 * registry, Verdaccio, the GitHub stand-in) and, per request, may answer a 5xx itself, reset the
 * connection, lose the answer of a request it did forward, stall past the client's timeout, or
 * answer slowly; it can also be down for its first seconds, and answer some requests with a
 * permanent error. Loopback only.
 *
 * Decisions come from a seeded generator, so a run with the same seed and the same request order
 * meets the same faults. Point a client at `url` (or, for images, use `host` as the registry
 * name: the Docker daemon treats 127.0.0.0/8 as an insecure registry, so its pushes go through
 * the proxy too). The `Host` header is passed on unchanged, so the target's absolute URLs
 * (upload locations, `Link` headers) lead back through the proxy.
 *
 * Hand-written on node:http rather than on a proxy library: each fault needs a different phase of
 * the exchange (before forwarding, after the target answered, mid-stream), which a proxy
 * library's single "forward" call does not expose.
 *
 * In-process: `await startFaultProxy(target, plan)`. As a process:
 * `node fault-proxy.ts <target-url> <port> '<plan JSON>'` (prints the URL when ready).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface PermanentFault {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** A regular expression (source) the request path, with its query, must match. */
  path: string;
  /** The status answered every time (e.g. 500). */
  status: number;
}

export interface FaultPlan {
  /** Seed of the generator (default 1). */
  seed?: number;
  /** Share (0–1) of requests answered `errorStatus` (default 503) by the proxy, not forwarded. */
  error5xx?: number;
  errorStatus?: number;
  /** Share of requests whose connection is reset once their headers (and first body bytes) arrived; not forwarded. */
  reset?: number;
  /** Share of requests forwarded (so done by the target) whose answer is then lost: the connection is reset. */
  lostResponse?: number;
  /** Share of requests held without an answer for `stallMs` (default 65 s), then dropped. */
  stall?: number;
  stallMs?: number;
  /** Share of requests (default all, when `slowMs` is set) answered `slowMs` late. */
  slow?: number;
  slowMs?: number;
  /** Every connection is dropped for `downMs` from the first one (the service is down when the client starts). */
  downMs?: number;
  /** Only requests whose "METHOD path" matches this regular expression (source) meet random faults. */
  only?: string;
  /** At most this many random faults under this plan (e.g. 1: the first matching request only). */
  limit?: number;
  /** Requests always answered with an error, whatever the random draws say. */
  permanent?: PermanentFault[];
}

export type FaultKind = "error5xx" | "reset" | "lostResponse" | "stall" | "slow" | "down" | "permanent";

export interface ProxiedRequest {
  method: string;
  path: string;
  fault?: FaultKind;
  /** The target's status, when it answered. */
  status?: number;
}

export interface FaultProxy {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>` (an image registry name). */
  host: string;
  port: number;
  /** Every request seen, in arrival order, with the fault it met. */
  requests: ProxiedRequest[];
  /** How many requests met each fault. */
  counts(): Partial<Record<FaultKind, number>>;
  /** Replaces the plan (e.g. to lift a permanent fault); `downMs` counts from the next connection. */
  setPlan(plan: FaultPlan): void;
  close(): Promise<void>;
}

/**
 * mulberry32: a tiny seeded generator, enough to make fault draws repeatable (not for
 * cryptography); a dependency for six lines of test tooling is not worth it.
 */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(target: string, initial: FaultPlan, opts: { port?: number } = {}): Promise<FaultProxy> {
  const to = new URL(target);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(to.hostname)) throw new Error(`fault proxy: loopback targets only, not ${to.host}`);
  let plan = initial;
  let random = seeded(plan.seed ?? 1);
  /** When the first connection came (under the current plan): `downMs` counts from it. */
  let firstAt: number | undefined;
  /** Random faults injected under the current plan (for `limit`). */
  let injected = 0;
  const requests: ProxiedRequest[] = [];
  // A fresh upstream connection per request: a pooled one the target closed while idle would
  // fail the next request with a reset that is the proxy's, not an injected fault.
  const agent = new http.Agent({ keepAlive: false });
  const sockets = new Set<import("node:net").Socket>();

  /** The fault a request meets (one draw per kind, in a fixed order, so the sequence is stable). */
  const decide = (method: string, path: string): FaultKind | undefined => {
    const permanent = plan.permanent?.find((p) => (!p.method || p.method === method) && new RegExp(p.path).test(path));
    if (permanent) return "permanent";
    if (plan.only && !new RegExp(plan.only).test(`${method} ${path}`)) return undefined;
    if (plan.limit !== undefined && injected >= plan.limit) return undefined;
    const draws: [FaultKind, number | undefined][] = [
      ["error5xx", plan.error5xx],
      ["reset", plan.reset],
      ["lostResponse", plan.lostResponse],
      ["stall", plan.stall],
      ["slow", plan.slowMs ? (plan.slow ?? 1) : undefined],
    ];
    for (const [kind, share] of draws) {
      const r = random();
      if (share && r < share) {
        injected++;
        return kind;
      }
    }
    return undefined;
  };

  const server = http.createServer((req, res) => {
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const fault = decide(method, path);
    const entry: ProxiedRequest = { method, path, ...(fault ? { fault } : {}) };
    requests.push(entry);
    const drop = () => req.socket.destroy();

    if (fault === "permanent") {
      const p = plan.permanent!.find((x) => (!x.method || x.method === method) && new RegExp(x.path).test(path))!;
      req.resume();
      res.writeHead(p.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `fault proxy: permanent ${p.status}`, errors: [{ code: "UNAVAILABLE", message: "injected" }] }));
      return;
    }
    if (fault === "error5xx") {
      req.resume();
      const status = plan.errorStatus ?? 503;
      res.writeHead(status, { "content-type": "application/json", connection: "close" });
      res.end(JSON.stringify({ message: `fault proxy: injected ${status}`, errors: [{ code: "UNAVAILABLE", message: "injected" }] }));
      return;
    }
    if (fault === "reset") {
      // Mid-request: the headers (and the first body bytes, if any) have arrived.
      req.once("data", drop);
      req.once("end", drop);
      return;
    }
    if (fault === "stall") {
      req.resume();
      setTimeout(drop, plan.stallMs ?? 65_000).unref();
      return;
    }

    const up = http.request(
      { host: to.hostname.replace(/^\[|\]$/g, ""), port: to.port, method, path, headers: { ...req.headers, connection: "close" }, agent },
      (ures) => {
        entry.status = ures.statusCode;
        if (fault === "lostResponse") {
          // The target did the work; the client never learns it.
          ures.resume();
          ures.on("end", drop);
          return;
        }
        const answer = () => {
          const headers = { ...ures.headers };
          delete headers.connection;
          delete headers["keep-alive"];
          res.writeHead(ures.statusCode ?? 502, headers);
          ures.pipe(res);
        };
        if (fault === "slow") setTimeout(answer, plan.slowMs);
        else answer();
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    firstAt ??= Date.now();
    if (plan.downMs && Date.now() - firstAt < plan.downMs) {
      requests.push({ method: "-", path: "-", fault: "down" });
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    requests,
    counts() {
      const out: Partial<Record<FaultKind, number>> = {};
      for (const r of requests) if (r.fault) out[r.fault] = (out[r.fault] ?? 0) + 1;
      return out;
    },
    setPlan(next) {
      plan = next;
      random = seeded(next.seed ?? 1);
      injected = 0;
      firstAt = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [target, port, planJson] = process.argv.slice(2);
  if (!target) {
    console.error("usage: node fault-proxy.ts <target-url> [port] ['<plan JSON>']");
    process.exit(2);
  }
  const proxy = await startFaultProxy(target, JSON.parse(planJson ?? "{}") as FaultPlan, { port: Number(port) || 0 });
  console.log(proxy.url);
  process.on("SIGTERM", () => {
    console.error(JSON.stringify(proxy.counts()));
    process.exit(0);
  });
}

import http from "node:http";
import type { AddressInfo } from "node:net";

export interface RecordedPut {
  url: string;
  /** The JSON body of the publish request (attachment data left as sent). */
  body: Record<string, unknown> & { versions?: Record<string, Record<string, unknown>>; access?: unknown };
}

/**
 * A pass-through HTTP proxy in front of the testbed's Verdaccio that keeps every JSON PUT body:
 * Verdaccio logs requests but not their bodies, and the publish request is what `access` and
 * the version manifest travel in. Everything else is forwarded untouched, both ways.
 */
export async function recordingProxy(target: string): Promise<{ url: string; puts: RecordedPut[]; close: () => Promise<void> }> {
  const to = new URL(target);
  const puts: RecordedPut[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      if (req.method === "PUT" && body.length > 0) {
        try {
          puts.push({ url: decodeURIComponent(req.url ?? ""), body: JSON.parse(body.toString("utf8")) });
        } catch {
          /* not JSON: nothing to record */
        }
      }
      const out = http.request(
        { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: { ...req.headers, host: to.host } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on("error", () => res.destroy());
      out.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    puts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { startDaemon, waitFor } from "./proc.ts";

export interface DockerService {
  /** Value for DOCKER_HOST. */
  host: string;
  socketPath: string;
  /** pid when the testbed started dockerd itself (then it also stops it). */
  pid: number | undefined;
}

async function pingSocket(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  // fetch cannot speak over a unix socket; use http.request.
  const http = await import("node:http");
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: "/_ping", timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/**
 * Uses the Docker daemon that answers on DOCKER_HOST (a unix socket) or /var/run/docker.sock;
 * starts Debian's dockerd when none answers (root needed, as on these machines).
 */
export async function ensureDocker(stateDir: string): Promise<DockerService> {
  const fromEnv = process.env.DOCKER_HOST?.startsWith("unix://") ? process.env.DOCKER_HOST.slice("unix://".length) : undefined;
  const socketPath = fromEnv ?? "/var/run/docker.sock";
  if (await pingSocket(socketPath)) return { host: `unix://${socketPath}`, socketPath, pid: undefined };
  mkdirSync(stateDir, { recursive: true });
  const logFile = path.join(stateDir, "dockerd.log");
  const pid = startDaemon("dockerd", ["--host", `unix://${socketPath}`, "--pidfile", path.join(stateDir, "dockerd.pid")], { logFile });
  await waitFor("dockerd", () => pingSocket(socketPath), { timeoutMs: 60_000, logFile });
  return { host: `unix://${socketPath}`, socketPath, pid };
}

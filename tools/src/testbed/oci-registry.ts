import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { htpasswdLine } from "./htpasswd.ts";
import { answers, freePort, startDaemon, waitFor } from "./proc.ts";

export interface OciRegistryService {
  /** host:port, as used in image names (`127.0.0.1:5001/acme/web`). */
  host: string;
  url: string;
  username: string;
  password: string;
  pid: number;
  logFile: string;
  storageDir: string;
}

/** CNCF distribution (Debian's docker-registry) on loopback with htpasswd (bcrypt) auth. */
export async function startOciRegistry(dir: string): Promise<OciRegistryService> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const username = "flotilla";
  const password = randomBytes(12).toString("hex");
  const storageDir = path.join(dir, "storage");
  mkdirSync(storageDir, { recursive: true });
  writeFileSync(path.join(dir, "htpasswd"), `${htpasswdLine(username, password)}\n`, { mode: 0o600 });
  const config = [
    "version: 0.1",
    "log:",
    "  level: info",
    "  accesslog:",
    "    disabled: false",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${storageDir}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString("hex")}`,
    "auth:",
    "  htpasswd:",
    "    realm: flotilla-testbed",
    `    path: ${path.join(dir, "htpasswd")}`,
    "",
  ].join("\n");
  const configFile = path.join(dir, "config.yml");
  writeFileSync(configFile, config, { mode: 0o600 });
  const logFile = path.join(dir, "registry.log");
  const pid = startDaemon("docker-registry", ["serve", configFile], { logFile });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("docker-registry", () => answers(`${url}/v2/`), { logFile });
  return { host: `127.0.0.1:${port}`, url, username, password, pid, logFile, storageDir };
}

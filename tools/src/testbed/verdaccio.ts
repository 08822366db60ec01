import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { htpasswdLine } from "./htpasswd.ts";
import { answers, freePort, startDaemon, waitFor } from "./proc.ts";

export interface NpmRegistryService {
  url: string;
  username: string;
  password: string;
  /** A token for `//host/:_authToken`, issued by Verdaccio at start. */
  token: string;
  pid: number;
  /** JSON lines, level http: one line per request (tests count publishes with it). */
  logFile: string;
}

/** Verdaccio on loopback: htpasswd auth, no self-registration, no uplinks (nothing leaves the machine). */
export async function startVerdaccio(dir: string): Promise<NpmRegistryService> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const username = "flotilla";
  const password = randomBytes(12).toString("hex");
  writeFileSync(path.join(dir, "htpasswd"), `${htpasswdLine(username, password)}\n`, { mode: 0o600 });
  const logFile = path.join(dir, "verdaccio.log");
  const config = [
    `storage: ${path.join(dir, "storage")}`,
    "auth:",
    "  htpasswd:",
    `    file: ${path.join(dir, "htpasswd")}`,
    "    max_users: -1",
    "uplinks: {}",
    "packages:",
    "  '**':",
    "    access: $authenticated",
    "    publish: $authenticated",
    "    unpublish: $authenticated",
    "server:",
    "  keepAliveTimeout: 60",
    "max_body_size: 10mb",
    "log:",
    "  type: file",
    `  path: ${logFile}`,
    "  format: json",
    "  level: http",
    "",
  ].join("\n");
  const configFile = path.join(dir, "config.yaml");
  writeFileSync(configFile, config, { mode: 0o600 });
  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve("verdaccio/package.json")), "bin", "verdaccio");
  const url = `http://127.0.0.1:${port}`;
  const pid = startDaemon(process.execPath, [bin, "--config", configFile, "--listen", `127.0.0.1:${port}`], {
    logFile: path.join(dir, "stdout.log"),
  });
  await waitFor("verdaccio", () => answers(`${url}/-/ping`), { logFile: path.join(dir, "stdout.log"), timeoutMs: 60_000 });
  // With max_users -1 a login must carry Basic auth, else Verdaccio treats it as a sign-up (PITFALLS 12).
  const res = await fetch(`${url}/-/user/org.couchdb.user:${username}`, {
    method: "PUT",
    headers: {
      "content-type": "application/json",
      authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`,
    },
    body: JSON.stringify({ name: username, password }),
  });
  const body = (await res.json()) as { token?: string };
  if (!res.ok || !body.token) throw new Error(`verdaccio login failed: HTTP ${res.status}`);
  return { url, username, password, token: body.token, pid, logFile };
}

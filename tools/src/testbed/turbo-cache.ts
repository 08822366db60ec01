import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { answers, freePort, startDaemon, waitFor } from "./proc.ts";

export interface TurboCacheService {
  /** What turbo reads from TURBO_API. */
  url: string;
  /** A throwaway static token (TURBO_TOKEN); the server refuses requests without it. */
  token: string;
  /** Any team name works with a static token; one is fixed so every runner shares the namespace. */
  team: string;
  pid: number;
  logFile: string;
}

/**
 * Turborepo's remote cache API served by `turborepo-remote-cache` (SPEC §11): local file storage
 * under the testbed directory, static token auth, loopback only.
 */
export async function startTurboCache(dir: string): Promise<TurboCacheService> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const token = `turbo_${randomBytes(18).toString("hex")}`;
  const team = "flotilla-testbed";
  const logFile = path.join(dir, "server.log");
  const bin = path.join(path.dirname(createRequire(import.meta.url).resolve("turborepo-remote-cache/package.json")), "dist", "cli.js");
  const pid = startDaemon(process.execPath, [bin], {
    logFile,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: String(port),
      TURBO_TOKEN: token,
      AUTH_MODE: "static",
      STORAGE_PROVIDER: "local",
      STORAGE_PATH: path.join(dir, "storage"),
      // STORAGE_PATH relative to the OS temp dir unless told otherwise.
      STORAGE_PATH_USE_TMP_FOLDER: "false",
      LOG_LEVEL: "warn",
    },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("turborepo-remote-cache", () => answers(`${url}/v8/artifacts/status`), { logFile });
  return { url, token, team, pid, logFile };
}

/** The environment turbo reads to use this cache. */
export function turboCacheEnv(c: Pick<TurboCacheService, "url" | "token" | "team">): Record<string, string> {
  return { TURBO_API: c.url, TURBO_TOKEN: c.token, TURBO_TEAM: c.team };
}
